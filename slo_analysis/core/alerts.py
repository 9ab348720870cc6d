"""Burn-rate alert policies as data, and backtests of them over an SLI's history.

A rule fires at a step when *every* one of its look-back windows burns strictly above its factor
(``burn > factor``, as in ``rate > factor * (1 - SLO)``; ``op="gte"`` for ``>=``, as an OpenSLO
``AlertCondition`` may say), evaluated at the end of each period; with ``for_s`` (pyrra's ``for:``,
OpenSLO's ``alertAfter``) the condition must have held that long first. It resets at the first step
where the condition no longer holds. Budget consumed when a rule fires at its factor is
``factor x long window / SLO period``.

Burn rates within :data:`BURN_TOLERANCE` x ``max(factor, 1)`` of the factor count as *equal* to it.
Windowed sums are differences of cumulative sums, whose rounding error (about 1e-13 relative on a few
days of 1-second periods, growing with history length / window) would otherwise let a steady burn
exactly at the factor (1.44 % errors at 99.9 % against 14.4) fire at a random step. A burn above the
factor by more than the tolerance (1e-9 relative: 14.400000015 for 14.4) still fires.

The SLO period of "budget consumed" is the SLO's own interval when the SLO itself is passed
(``backtest(sli, slo, ...)``; a calendar month is the month of the SLI's last period); with a bare
target it is ``slo_period_s``, 30 days unless given.

Policies (sources):

- :func:`workbook_policy`: SRE Workbook ch. 5, "Alerting on SLOs", recommended parameters for a
  30-day SLO: page 1h & 5m > 14.4 (2 %), page 6h & 30m > 6 (5 %), ticket 3d & 6h > 1 (10 %). For
  another SLO period the windows stay and the factors keep the same budget fractions.
- :func:`sloth_policy`: sloth's default alert-window catalog (``internal/alert/windows/google-30d.yaml``
  and ``google-28d.yaml``): page quick 2 % 1h/5m, page slow 5 % 6h/30m, ticket quick 10 % 1d/2h,
  ticket slow 10 % 3d/6h; factor = budget % x SLO period / long window (14.4, 6, 3, 1 at 30 days;
  13.44, 5.6, 2.8, 0.933 at 28 days). Sloth ships only 30d and 28d; other periods need a custom
  catalog, which this function approximates with the same windows.
- :func:`pyrra_policy`: pyrra's ``Windows(sloWindow)`` (``slo/rules.go``): factors 14, 7, 2, 1 with
  long/short/for windows 1h/5m/2m, 6h/30m/15m, 1d/2h/1h, 4d/6h/3h for a 28-day window, all scaled by
  window / 28 d and rounded to the minute; the first two are critical, the last two warning.
- :func:`application_signals_policy`: Application Signals ``BurnRateConfigurations`` give look-back
  windows (``LookBackWindowMinutes``); the alarm threshold on each burn-rate metric is the user's.
  Each becomes a single-window rule.

Examples
--------
>>> [(r.name, r.factor) for r in workbook_policy().rules]
[('page-1h', 14.4), ('page-6h', 6.0), ('ticket-3d', 1.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from slo_analysis.core.budget import burn_rates, sli_parts, window_label
from slo_analysis.core.model import SLO, interval_length
from slo_analysis.core.windows import mask_windows

__all__ = [
    "AlertRule",
    "AlertPolicy",
    "BacktestResult",
    "DAY_S",
    "BURN_TOLERANCE",
    "workbook_policy",
    "sloth_policy",
    "pyrra_policy",
    "application_signals_policy",
    "custom_policy",
    "alert_episodes",
    "backtest",
    "compare_policies",
]

DAY_S = 86400.0
BURN_TOLERANCE = 1e-9
"""Relative tolerance of burn-rate comparisons (module docstring)."""
_TS = pl.Datetime("ms", "UTC")


@dataclass(frozen=True)
class AlertRule:
    """One multi-window burn-rate rule: fires when every window in ``windows_s`` burns above ``factor``.

    Examples
    --------
    >>> r = AlertRule("page-1h", "page", (3600.0, 300.0), 14.4)
    >>> r.long_s, round(r.budget_consumed(30 * DAY_S), 12)
    (3600.0, 0.02)
    """

    name: str
    severity: str
    windows_s: tuple[float, ...]
    factor: float
    for_s: float = 0.0
    op: str = "gt"

    def __post_init__(self) -> None:
        if not self.windows_s or any(w <= 0 for w in self.windows_s):
            raise ValueError(f"rule {self.name!r}: windows_s must be positive seconds, got {self.windows_s}")
        if self.factor < 0 or self.for_s < 0:
            raise ValueError(f"rule {self.name!r}: factor and for_s must be >= 0")
        if self.op not in ("gt", "gte"):
            raise ValueError(f"rule {self.name!r}: op must be 'gt' (burn > factor) or 'gte', got {self.op!r}")

    def condition(self, burn: pl.Expr) -> pl.Expr:
        """``burn > factor`` (``>=`` for ``gte``) with the :data:`BURN_TOLERANCE`: True where a window fires.

        >>> r = AlertRule("r", "page", (3600.0,), 14.4)
        >>> pl.select(at=r.condition(pl.lit(14.4 * (1 + 1e-13))), above=r.condition(pl.lit(14.4001))).row(0)
        (False, True)
        """
        slack = BURN_TOLERANCE * max(self.factor, 1.0)
        return burn >= self.factor - slack if self.op == "gte" else burn > self.factor + slack

    @property
    def long_s(self) -> float:
        """The longest window."""
        return max(self.windows_s)

    def budget_consumed(self, slo_period_s: float) -> float:
        """Fraction of the SLO period's budget burnt when the rule fires at its factor."""
        return self.factor * self.long_s / slo_period_s


@dataclass(frozen=True)
class AlertPolicy:
    """A named set of alert rules."""

    name: str
    rules: tuple[AlertRule, ...]


@dataclass
class BacktestResult:
    """The outcome of :func:`backtest`: alert episodes, per-incident detection and a summary row."""

    alerts: pl.DataFrame
    incidents: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def workbook_policy(slo_period_s: float = 30 * DAY_S) -> AlertPolicy:
    """The SRE Workbook's multi-window multi-burn-rate policy (14.4 / 6 / 1 at 30 days).

    Examples
    --------
    >>> [r.factor for r in workbook_policy(15 * DAY_S).rules]
    [7.2, 3.0, 0.5]
    """
    scale = slo_period_s / (30 * DAY_S)
    return AlertPolicy(
        "workbook",
        (
            AlertRule("page-1h", "page", (3600.0, 300.0), 14.4 * scale),
            AlertRule("page-6h", "page", (21600.0, 1800.0), 6.0 * scale),
            AlertRule("ticket-3d", "ticket", (3 * DAY_S, 21600.0), 1.0 * scale),
        ),
    )


def sloth_policy(slo_period_s: float = 30 * DAY_S) -> AlertPolicy:
    """Sloth's default windows; factor = budget % x SLO period / long window.

    Examples
    --------
    >>> [round(r.factor, 6) for r in sloth_policy().rules]
    [14.4, 6.0, 3.0, 1.0]
    >>> [round(r.factor, 6) for r in sloth_policy(28 * DAY_S).rules]
    [13.44, 5.6, 2.8, 0.933333]
    """
    spec = (
        ("page-quick", "page", 2.0, 3600.0, 300.0),
        ("page-slow", "page", 5.0, 21600.0, 1800.0),
        ("ticket-quick", "ticket", 10.0, DAY_S, 7200.0),
        ("ticket-slow", "ticket", 10.0, 3 * DAY_S, 21600.0),
    )
    return AlertPolicy(
        "sloth",
        tuple(AlertRule(n, s, (lw, sw), pct * slo_period_s / (100.0 * lw)) for n, s, pct, lw, sw in spec),
    )


def pyrra_policy(slo_period_s: float = 28 * DAY_S) -> AlertPolicy:
    """Pyrra's four rules, windows scaled by SLO period / 28 days and rounded to the minute.

    Examples
    --------
    >>> [(window_label(r.long_s), window_label(min(r.windows_s)), r.for_s, r.factor) for r in pyrra_policy().rules]
    [('1h', '5m', 120.0, 14.0), ('6h', '30m', 900.0, 7.0), ('1d', '2h', 3600.0, 2.0), ('4d', '6h', 10800.0, 1.0)]
    """
    base = 28 * DAY_S

    def scaled(seconds: float) -> float:
        return float(round(seconds * slo_period_s / base / 60.0) * 60)

    spec = (
        ("critical-1h", "critical", 3600.0, 300.0, 120.0, 14.0),
        ("critical-6h", "critical", 21600.0, 1800.0, 900.0, 7.0),
        ("warning-1d", "warning", DAY_S, 7200.0, 3600.0, 2.0),
        ("warning-4d", "warning", 4 * DAY_S, 21600.0, 10800.0, 1.0),
    )
    return AlertPolicy(
        "pyrra",
        tuple(AlertRule(n, s, (scaled(lw), scaled(sw)), f, scaled(fo)) for n, s, lw, sw, fo, f in spec),
    )


def application_signals_policy(
    configs: Iterable[tuple[float, float]] | Iterable[dict[str, Any]], name: str = "application-signals"
) -> AlertPolicy:
    """Single-window rules from Application Signals ``BurnRateConfigurations`` and the user's thresholds.

    ``configs`` holds ``(look_back_window_minutes, threshold)`` pairs or dicts with
    ``LookBackWindowMinutes`` and ``Threshold``.

    Examples
    --------
    >>> p = application_signals_policy([{"LookBackWindowMinutes": 60, "Threshold": 14.4}])
    >>> p.rules[0].windows_s, p.rules[0].factor
    ((3600.0,), 14.4)
    """
    rules = []
    for c in configs:
        minutes, threshold = (c["LookBackWindowMinutes"], c["Threshold"]) if isinstance(c, dict) else c
        label = f"burn-{window_label(minutes * 60)}"
        rules.append(AlertRule(label, "alarm", (float(minutes) * 60.0,), float(threshold)))
    return AlertPolicy(name, tuple(rules))


def custom_policy(
    name: str, rules: Sequence[AlertRule | tuple[str, str, Sequence[float], float] | Mapping[str, Any]]
) -> AlertPolicy:
    """A policy from rules, ``(name, severity, windows_s, factor)`` tuples, or mappings of
    :class:`AlertRule` fields (e.g. the ``rules`` of ``sources.openslo.alert_policies_from_openslo``).

    Examples
    --------
    >>> custom_policy("mine", [("fast", "page", (600, 60), 20.0)]).rules[0].long_s
    600.0
    >>> custom_policy("slo", [{"name": "burn", "severity": "page", "windows_s": (3600.0,), "factor": 14.4,
    ...                        "for_s": 300.0, "op": "gte"}]).rules[0].for_s
    300.0
    """
    out = []
    for r in rules:
        if isinstance(r, AlertRule):
            out.append(r)
        elif isinstance(r, Mapping):
            fields = {**r, "windows_s": tuple(float(w) for w in r["windows_s"]), "factor": float(r["factor"]),
                      "for_s": float(r.get("for_s", 0.0))}
            out.append(AlertRule(**fields))
        else:
            out.append(AlertRule(r[0], r[1], tuple(float(w) for w in r[2]), float(r[3])))
    return AlertPolicy(name, tuple(out))


def _goal(sli: pl.DataFrame, target: float | SLO, slo_period_s: float | None) -> tuple[float, float]:
    """(target, SLO period in seconds) from a bare target or an SLO (its interval, at the SLI's last period)."""
    if isinstance(target, SLO):
        if slo_period_s is None:
            last = sli["timestamp"].max() if sli.height else None
            at = last if isinstance(last, datetime) and target.interval.kind == "calendar" else None
            slo_period_s = interval_length(target, at).total_seconds()
        return target.target, float(slo_period_s)
    return float(target), 30 * DAY_S if slo_period_s is None else float(slo_period_s)


def alert_episodes(
    sli: Any,
    target: float | SLO,
    policy: AlertPolicy,
    *,
    period_s: float | None = None,
    slo_period_s: float | None = None,
    burn: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """When each rule of a policy fired and reset over the SLI's history.

    Columns: ``policy, rule, severity, fired_at, reset_at`` (null when still firing at the end of the
    data), ``duration_s``, ``burn_at_fire`` (long window) and ``budget_consumed_at_fire`` (= burn x long
    window / SLO period).

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0, 60_000, 120_000], "good": [1000.0, 900.0, 1000.0],
    ...                   "bad": [0.0, 100.0, 0.0]}, schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> p = custom_policy("x", [("r", "page", (60,), 50.0)])
    >>> alert_episodes(f, 0.999, p, period_s=60).select("fired_at", "reset_at").rows()[0][0].second
    0
    """
    frame, p, _ = sli_parts(sli, period_s, "request")
    target, slo_period_s = _goal(frame, target, slo_period_s)
    windows = sorted({w for r in policy.rules for w in r.windows_s})
    br = burn if burn is not None else burn_rates(frame, target, windows, period_s=p)
    p_ms = round(p * 1000)
    last_end = frame["timestamp"].max()
    parts = []
    for rule in policy.rules:
        cond = pl.all_horizontal(
            [rule.condition(pl.col(f"burn_{window_label(w)}")).fill_null(False) for w in rule.windows_s]
        )
        mask = br.select(cond).to_series()
        long_col = f"burn_{window_label(rule.long_s)}"
        runs = mask_windows(br["timestamp"], mask, p)
        ep = runs.select(
            fired_at=pl.col("start") + pl.duration(milliseconds=p_ms + round(rule.for_s * 1000)),
            reset_at=pl.when(pl.col("end") <= pl.lit(last_end)).then(pl.col("end") + pl.duration(milliseconds=p_ms)),
            _end_eval=pl.col("end"),
        ).filter(pl.col("fired_at") <= pl.col("_end_eval"))
        ep = ep.with_columns(_at=pl.col("fired_at") - pl.duration(milliseconds=p_ms)).join(
            br.select(pl.col("timestamp").alias("_at"), pl.col(long_col).alias("burn_at_fire")), on="_at", how="left"
        )
        parts.append(
            ep.select(
                policy=pl.lit(policy.name),
                rule=pl.lit(rule.name),
                severity=pl.lit(rule.severity),
                fired_at="fired_at",
                reset_at="reset_at",
                duration_s=(pl.col("reset_at") - pl.col("fired_at")).dt.total_milliseconds() / 1000.0,
                long_window_s=pl.lit(rule.long_s),
                burn_at_fire="burn_at_fire",
                budget_consumed_at_fire=pl.col("burn_at_fire") * rule.long_s / slo_period_s,
            )
        )
    schema: dict[str, Any] = {"policy": pl.String, "rule": pl.String, "severity": pl.String,
              "fired_at": _TS, "reset_at": _TS, "duration_s": pl.Float64, "long_window_s": pl.Float64,
              "burn_at_fire": pl.Float64, "budget_consumed_at_fire": pl.Float64}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([x.cast(pl.Schema(schema)) for x in parts]).sort("fired_at")


def backtest(
    sli: Any,
    target: float | SLO,
    policy: AlertPolicy,
    incidents: pl.DataFrame,
    *,
    period_s: float | None = None,
    slo_period_s: float | None = None,
) -> BacktestResult:
    """Backtest an alert policy against known incidents (a frame with ``start`` and ``end``).

    An alert episode *belongs* to an incident when it fires in ``[start, end + its long window)`` or is
    still firing at ``start``; the rest are false alerts. An incident's detection is the first
    belonging episode (``max(fired_at, start)``); its delay is measured from ``start``; the budget
    consumed before detection is the integral of the per-period burn rate over ``[start, detected_at)``
    divided by the SLO period (a fraction of the SLO period's budget).

    Parameters
    ----------
    sli : SliSeries or frame
        ``timestamp``, ``good``, ``bad`` on a regular grid.
    target : SLO or float
        the SLO (its target, and its interval as the SLO period), or a bare target.
    policy : AlertPolicy
    incidents : polars.DataFrame
        ``start`` and ``end`` of each known incident.
    period_s : float, optional
        the SLI's period when ``sli`` is a bare frame.
    slo_period_s : float, optional
        the SLO period in seconds; default the SLO's interval length, or 30 days for a bare target.

    Examples
    --------
    The demo's CreateTicket availability SLO (7 days rolling) against its own incident window, with
    pyrra's rules for a 7-day SLO: detected one minute after the onset, having burnt 1.98 % of the
    week's budget (0.46 % of a 30-day budget, the default for a bare target):

    >>> import slo_analysis as sa
    >>> from slo_analysis.analysis import sli_for_slo
    >>> from slo_analysis.core import align_window, incident_windows, interval_length, slos_from_frame
    >>> snap = sa.store.Snapshot.open(demo_snapshot())
    >>> slo = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Availability")
    >>> sli = sli_for_slo(snap, slo, align_window(snap.window, 60))
    >>> incidents = incident_windows(sli, slo.target)
    >>> week = interval_length(slo).total_seconds()
    >>> r = backtest(sli, slo, pyrra_policy(week), incidents)
    >>> r.incidents["delay_s"][0], round(r.incidents["budget_consumed_before_detection"][0], 4)
    (60.0, 0.0198)
    >>> round(backtest(sli, slo.target, pyrra_policy(week), incidents).summary[
    ...     "mean_budget_consumed_before_detection"], 4)
    0.0046

    A synthetic ten-minute outage:

    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> ts = pl.datetime_range(datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 1, 3,
    ...     tzinfo=timezone.utc), "1m", eager=True, time_unit="ms", closed="left")
    >>> bad = [1000.0 if 90 <= i < 100 else 0.0 for i in range(180)]
    >>> f = pl.DataFrame({"timestamp": ts, "good": [1000.0 - b for b in bad], "bad": bad})
    >>> inc = pl.DataFrame({"start": [ts[90]], "end": [ts[100]]})
    >>> r = backtest(f, 0.999, workbook_policy(), inc, period_s=60)
    >>> r.incidents["delay_s"].to_list(), r.summary["false_alerts"]
    ([60.0], 0)
    """
    frame, p, _ = sli_parts(sli, period_s, "request")
    target, slo_period_s = _goal(frame, target, slo_period_s)
    alerts = alert_episodes(frame, target, policy, period_s=p, slo_period_s=slo_period_s)
    inc = incidents.select(pl.col("start").cast(_TS), pl.col("end").cast(_TS)).with_row_index("incident")
    pairs = inc.join(alerts.with_row_index("alert"), how="cross").filter(
        (
            (pl.col("fired_at") >= pl.col("start"))
            & (pl.col("fired_at") < pl.col("end") + pl.duration(milliseconds=(pl.col("long_window_s") * 1000)))
        )
        | (
            (pl.col("fired_at") < pl.col("start"))
            & (pl.col("reset_at").is_null() | (pl.col("reset_at") > pl.col("start")))
        )
    )
    first = (
        pairs.with_columns(detected_at=pl.max_horizontal("fired_at", "start"))
        .sort("detected_at")
        .group_by("incident")
        .agg(pl.col("detected_at").first(), pl.col("rule").first().alias("detected_by"),
             pl.col("severity").first())
    )
    # C(x): burn-seconds of the periods ending at or before x; consumed = C(detected_at) - C(start)
    p_ms = round(p * 1000)
    total = pl.col("good") + pl.col("bad")
    per_period = pl.when(total > 0).then(pl.col("bad") / total).otherwise(0.0) / (1.0 - target) * p
    cum = frame.select(t=pl.col("timestamp") + pl.duration(milliseconds=p_ms), c=per_period.cum_sum()).sort("t")
    det = inc.join(first, on="incident", how="left")

    def cum_at(col: str, name: str) -> pl.DataFrame:
        known = det.filter(pl.col(col).is_not_null()).sort(col)
        joined = known.join_asof(cum, left_on=col, right_on="t", strategy="backward")
        return joined.select("incident", pl.col("c").fill_null(0.0).alias(name))

    a = cum_at("start", "c0")
    b = cum_at("detected_at", "c1")
    out = det.join(a, on="incident", how="left").join(b, on="incident", how="left").with_columns(
        detected=pl.col("detected_at").is_not_null(),
        delay_s=(pl.col("detected_at") - pl.col("start")).dt.total_milliseconds() / 1000.0,
        budget_consumed_before_detection=(pl.col("c1") - pl.col("c0").fill_null(0.0)) / slo_period_s,
    ).sort("incident")
    related = pairs["alert"].unique()
    alerts = alerts.with_row_index("alert").with_columns(in_incident=pl.col("alert").is_in(related.implode())).drop(
        "alert"
    )
    false_alerts = alerts.filter(~pl.col("in_incident"))
    summary: dict[str, Any] = {
        "policy": policy.name,
        "alerts": alerts.height,
        "false_alerts": false_alerts.height,
        "false_pages": false_alerts.filter(pl.col("severity").is_in(["page", "critical"])).height,
        "incidents": out.height,
        "detected": int(out["detected"].sum()),
        "missed": int((~out["detected"]).sum()),
        "mean_delay_s": out["delay_s"].mean(),
        "max_delay_s": out["delay_s"].max(),
        "mean_budget_consumed_before_detection": out["budget_consumed_before_detection"].mean(),
    }
    return BacktestResult(alerts=alerts, incidents=out.drop("c0", "c1"), summary=summary)


def compare_policies(
    sli: Any,
    target: float | SLO,
    policies: Sequence[AlertPolicy],
    incidents: pl.DataFrame,
    *,
    period_s: float | None = None,
    slo_period_s: float | None = None,
) -> pl.DataFrame:
    """Backtest several policies and put their summaries side by side, one row per policy.

    Parameters are those of :func:`backtest`.

    Examples
    --------
    The demo's CreateTicket availability incident (as in :func:`backtest`), three policies for its
    7-day period:

    >>> import slo_analysis as sa
    >>> from slo_analysis.analysis import sli_for_slo
    >>> from slo_analysis.core import align_window, incident_windows, interval_length, slos_from_frame
    >>> snap = sa.store.Snapshot.open(demo_snapshot())
    >>> slo = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Availability")
    >>> sli = sli_for_slo(snap, slo, align_window(snap.window, 60))
    >>> week = interval_length(slo).total_seconds()
    >>> t = compare_policies(sli, slo, [workbook_policy(week), sloth_policy(week), pyrra_policy(week)],
    ...                      incident_windows(sli, slo.target))
    >>> t.select("policy", "detected", "false_pages", "max_delay_s").rows()
    [('workbook', 1, 1, 0.0), ('sloth', 1, 1, 0.0), ('pyrra', 1, 1, 60.0)]

    A single clean period and no incidents: one summary row per policy, in order:

    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0], "good": [1.0], "bad": [0.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> none = pl.DataFrame(schema={"start": pl.Datetime("ms", "UTC"), "end": pl.Datetime("ms", "UTC")})
    >>> compare_policies(f, 0.999, [workbook_policy(), sloth_policy()], none, period_s=60)["policy"].to_list()
    ['workbook', 'sloth']
    """
    rows = [
        backtest(sli, target, pol, incidents, period_s=period_s, slo_period_s=slo_period_s).summary
        for pol in policies
    ]
    return pl.DataFrame(
        rows,
        schema={"policy": pl.String, "alerts": pl.Int64, "false_alerts": pl.Int64, "false_pages": pl.Int64,
                "incidents": pl.Int64, "detected": pl.Int64, "missed": pl.Int64, "mean_delay_s": pl.Float64,
                "max_delay_s": pl.Float64, "mean_budget_consumed_before_detection": pl.Float64},
        orient="row",
    )
