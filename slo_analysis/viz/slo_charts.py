"""SLO charts of a review: the SLI against its target, the error budget burning down, the burn rates.

- :func:`sli_timeline`: attainment over the SLO's interval against the target (top) and the SLI per
  bucket (bottom), with breach, incident and at-risk windows shaded and deployments marked;
- :func:`budget_burndown`: the remaining error budget (fraction) coloured by budget status, with the
  WARNING threshold and the zero line;
- :func:`burn_rate_chart`: the burn rates over the look-back windows of an alert policy, the rules'
  thresholds, and the alert episodes that fired.

Long series are thinned to about ``max_points`` buckets (sums for the SLI, the worst value for the
budget and burn rates), so peaks survive and a 14-day review stays light.

Examples
--------
>>> import slo_analysis as sa
>>> from slo_analysis.analysis.slo_evaluation import evaluate_slo, snapshot_window
>>> from slo_analysis.core.model import slos_from_frame
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> slo = slos_from_frame(snap.read("slos"))[1]
>>> ev = evaluate_slo(snap, slo, snapshot_window(snap))
>>> fig = sli_timeline(ev, deployments=snap.read("deployments"))
>>> [t.name for t in fig.data][:2]
['Attainment (rolling 1d)', 'Target 99 %']
>>> sorted({s.name for s in fig.layout.shapes if s.name})
['At risk', 'Breach', 'Incident (page burn rate)', 'Interval not yet full']
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from slo_analysis.analysis.slo_evaluation import SloEvaluation
from slo_analysis.core.alerts import AlertPolicy
from slo_analysis.core.budget import STATUSES, burn_rates, sli_parts, window_label
from slo_analysis.core.model import interval_length
from slo_analysis.viz.overlays import (
    add_deployments,
    add_windows,
    bucket_seconds,
    finish_figure,
    format_duration,
    require_columns,
    thin,
    zoom_to,
)
from slo_analysis.viz.theme import PALETTE, SEQUENCE, STATUS_COLOURS, apply_theme, new_figure, to_display_tz

__all__ = ["WINDOW_COLOURS", "sli_timeline", "budget_burndown", "burn_rate_chart"]

#: shading of the windows a review marks (opacity is applied separately)
WINDOW_COLOURS: dict[str, str] = {
    "breach": PALETTE["vermillion"],
    "incident": PALETTE["purple"],
    "at_risk": PALETTE["yellow"],
    "warmup": PALETTE["grey"],
    "page": PALETTE["vermillion"],
    "ticket": PALETTE["orange"],
    "alert": PALETTE["purple"],
}
_SEVERITY_LABEL = {"page": "Page alert firing", "critical": "Page alert firing", "ticket": "Ticket alert firing",
                   "warning": "Ticket alert firing"}


def _pct(x: float) -> str:
    """99.9 % style: as many decimals as the goal needs."""
    text = f"{x * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _time_title(tz: str) -> str:
    return f"time ({tz})"


def _every(span_s: float, period_s: float, max_points: int, zoom: tuple[datetime, datetime] | None) -> int:
    """Bucket seconds: about ``max_points`` over the window, or over ``zoom`` (at most 8x that in all)."""
    if zoom is None:
        return bucket_seconds(span_s, period_s, max_points)
    zoomed = bucket_seconds((zoom[1] - zoom[0]).total_seconds(), period_s, max_points)
    return max(zoomed, bucket_seconds(span_s, period_s, 8 * max_points))


def _shade_evaluation(fig: go.Figure, ev: SloEvaluation, tz: str) -> None:
    start, end = ev.window
    if ev.warm_from > start:
        warm = pl.DataFrame({"start": [start], "end": [min(ev.warm_from, end)]})
        add_windows(fig, warm, name="Interval not yet full", colour=WINDOW_COLOURS["warmup"], opacity=0.10, tz=tz)
    # attainment row: breach (attainment under target) and at-risk; SLI row: incidents (when it burnt)
    add_windows(fig, ev.at_risk, name="At risk", colour=WINDOW_COLOURS["at_risk"], opacity=0.30, tz=tz,
                clip=ev.window, yref="y domain")
    add_windows(fig, ev.breaches, name="Breach", colour=WINDOW_COLOURS["breach"], opacity=0.18, tz=tz,
                clip=ev.window, end_default=end, yref="y domain")
    add_windows(fig, ev.incidents, name="Incident (page burn rate)", colour=WINDOW_COLOURS["incident"],
                opacity=0.30, tz=tz, clip=ev.window, yref="y2 domain")


def sli_timeline(
    evaluation: SloEvaluation,
    *,
    deployments: pl.DataFrame | None = None,
    tz: str = "UTC",
    zoom: tuple[datetime, datetime] | None = None,
    max_points: int = 1500,
    height: int = 520,
) -> go.Figure:
    """The SLO's attainment against its target, and its SLI per bucket, with the review's windows.

    Top: attainment over the SLO's interval (the rolling or calendar budget's ``attainment``) and the
    target. Bottom: the SLI per bucket, good / (good + bad) events (requests, or periods for a
    period-based SLO), with the number of valid events in the hover. Shaded across both: breach windows
    (vermillion), incident windows (page burn-rate conditions, reddish purple), at-risk periods (light
    yellow) and the warm-up before a full interval of data (grey). ``deployments`` (a deployments frame)
    adds a marker per deployment inside the window.

    Parameters
    ----------
    evaluation : SloEvaluation
        From :func:`slo_analysis.analysis.slo_evaluation.evaluate_slo` / ``evaluate_slos``.
    deployments : polars.DataFrame, optional
        Deployments frame (``id, service, started_at, finished_at, version_from, version_to, actor``).
    tz : str
        Display time zone of the x axis and hovers.
    zoom : (datetime, datetime), optional
        Open the chart on this range (an incident of an hour is a sliver of a 14-day window); the
        rest stays one zoom-out away.
    max_points : int
        Thin the series to about this many buckets over the window, or over ``zoom`` when given
        (then at most eight times as many over the window).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    ev = evaluation
    slo = ev.slo
    frame, period_s, method = sli_parts(ev.sli)
    start, end = ev.window
    every = _every((end - start).total_seconds(), period_s, max_points, zoom)
    unit = "periods" if method == "period" else "events"

    budget = ev.budget
    require_columns(budget, ("timestamp", "attainment", "status"), "budget")
    att = thin(budget.with_columns(_t=pl.col("timestamp") + pl.duration(seconds=period_s)), every,
               [pl.col("attainment").min(), pl.col("_t").last()])
    sli = thin(frame, every, [pl.col("good").sum(), pl.col("bad").sum()]).with_columns(
        total=pl.col("good") + pl.col("bad")
    ).with_columns(ratio=pl.when(pl.col("total") > 0).then(pl.col("good") / pl.col("total")))

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.62, 0.38])
    label = window_label(interval_length(slo).total_seconds())
    kind = "rolling" if slo.interval.kind != "calendar" else "calendar"
    att_x = to_display_tz(att["_t"], tz)
    fig.add_trace(go.Scatter(
        x=att_x, y=att["attainment"], mode="lines", name=f"Attainment ({kind} {label})",
        line={"color": PALETTE["blue"], "width": 2.2},
        hovertemplate="attainment %{y:.3%} (worst in bucket, at its end)<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=[att_x[0], att_x[-1]] if len(att_x) else [], y=[slo.target, slo.target], mode="lines",
        name=f"Target {_pct(slo.target)}", line={"color": PALETTE["black"], "width": 1.5, "dash": "dash"},
        hovertemplate=f"target {_pct(slo.target)}<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=to_display_tz(sli["timestamp"], tz), y=sli["ratio"], mode="lines", name=f"SLI per {format_duration(every)}",
        line={"color": PALETTE["sky"], "width": 1.2}, customdata=sli.select("total", "bad").to_numpy(),
        hovertemplate=f"SLI %{{y:.2%}} of %{{customdata[0]:,.0f}} valid {unit} "
                      f"(%{{customdata[1]:,.0f}} bad)<extra></extra>",
    ), row=2, col=1)
    fig.add_trace(go.Scatter(
        x=[att_x[0], att_x[-1]] if len(att_x) else [], y=[slo.target, slo.target], mode="lines",
        showlegend=False, line={"color": PALETTE["black"], "width": 1, "dash": "dash"}, hoverinfo="skip",
    ), row=2, col=1)

    _shade_evaluation(fig, ev, tz)
    add_deployments(fig, deployments, tz=tz, window=ev.window)
    what = "of requests good" if method == "request" else f"of {format_duration(period_s)} periods good"
    apply_theme(fig, f"{slo.name}: attainment vs target {_pct(slo.target)} ({slo.method}-based, {what})",
                height=height)
    worst = att["attainment"].min()
    lo = min(float(worst) if isinstance(worst, (int, float)) else slo.target, slo.target)
    pad = max((1.0 - lo) * 0.15, 1e-4)
    decimals = len(_pct(slo.target).split()[0].partition(".")[2]) + 1
    fig.update_yaxes(title_text="attainment", tickformat=f".{decimals}%", range=[lo - pad, 1.0 + pad / 3], row=1, col=1)
    fig.update_yaxes(title_text=f"SLI per {format_duration(every)}", tickformat=".0%", row=2, col=1)
    fig.update_xaxes(title_text=_time_title(tz), row=2, col=1)
    fig.update_layout(hovermode="x unified")
    return finish_figure(zoom_to(fig, zoom, tz))


def _status_segments(fig: go.Figure, x: Any, y: pl.Series, status: pl.Series) -> None:
    """One line trace per status; each point also joins the previous one so segments connect."""
    codes = status.cast(pl.String).to_list()
    values = y.to_list()
    for s in STATUSES:
        ys = [v if (c == s or (i + 1 < len(codes) and codes[i + 1] == s)) else None
              for i, (v, c) in enumerate(zip(values, codes, strict=True))]
        if all(v is None for v in ys):
            continue
        fig.add_trace(go.Scatter(
            x=x, y=ys, mode="lines", name=f"Budget remaining: {s}", connectgaps=False,
            line={"color": STATUS_COLOURS[s], "width": 2.2},
            hovertemplate=f"%{{y:.1%}} of the error budget left ({s})<extra></extra>",
        ))


def budget_burndown(
    evaluation: SloEvaluation,
    *,
    deployments: pl.DataFrame | None = None,
    tz: str = "UTC",
    zoom: tuple[datetime, datetime] | None = None,
    max_points: int = 1500,
    height: int = 400,
) -> go.Figure:
    """The fraction of error budget left over the SLO's interval, coloured by budget status.

    The line is green while OK, orange under the WARNING threshold, vermillion once BREACHED (below
    0), grey without data; thinned buckets show their lowest value and worst status. Dashed lines mark
    the WARNING threshold (the SLO's ``warning_threshold``) and 0 (budget exhausted); breach windows
    are shaded and ``deployments`` marked; ``zoom`` opens the chart on a (start, end) range.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    ev = evaluation
    budget = ev.budget
    require_columns(budget, ("timestamp", "remaining_fraction", "status"), "budget")
    _, period_s, _ = sli_parts(ev.sli)
    start, end = ev.window
    every = _every((end - start).total_seconds(), period_s, max_points, zoom)
    b = thin(
        budget.with_columns(_t=pl.col("timestamp") + pl.duration(seconds=period_s),
                            _code=pl.col("status").cast(pl.String).replace_strict(
                                {"INSUFFICIENT_DATA": 0, "OK": 1, "WARNING": 2, "BREACHED": 3},
                                return_dtype=pl.Int8)),
        every, [pl.col("remaining_fraction").min(), pl.col("_code").max(), pl.col("_t").last()],
    ).with_columns(status=pl.col("_code").replace_strict({0: "INSUFFICIENT_DATA", 1: "OK", 2: "WARNING",
                                                          3: "BREACHED"}, return_dtype=pl.String))
    x = to_display_tz(b["_t"], tz)
    warn = ev.slo.warning_threshold
    span = format_duration(interval_length(ev.slo).total_seconds())
    kind = "rolling" if ev.slo.interval.kind != "calendar" else "calendar"
    fig = new_figure(f"{ev.slo.name}: error budget remaining ({span} {kind} interval)",
                     x_title=_time_title(tz), y_title="error budget remaining", height=height)
    _status_segments(fig, x, b["remaining_fraction"], b["status"])
    ends = [x[0], x[-1]] if len(x) else []
    fig.add_trace(go.Scatter(x=ends, y=[warn, warn], mode="lines", name=f"WARNING below {warn:.0%}",
                             line={"color": STATUS_COLOURS["WARNING"], "width": 1.2, "dash": "dash"},
                             hovertemplate=f"WARNING threshold {warn:.0%}<extra></extra>"))
    fig.add_trace(go.Scatter(x=ends, y=[0.0, 0.0], mode="lines", name="Budget exhausted (0)",
                             line={"color": STATUS_COLOURS["BREACHED"], "width": 1.2, "dash": "dash"},
                             hovertemplate="budget exhausted<extra></extra>"))
    add_windows(fig, ev.breaches, name="Breach", colour=WINDOW_COLOURS["breach"], opacity=0.14, tz=tz,
                clip=ev.window, end_default=end)
    add_deployments(fig, deployments, tz=tz, window=ev.window)
    fig.update_yaxes(tickformat=".0%")
    return finish_figure(zoom_to(fig, zoom, tz))


def burn_rate_chart(
    sli: Any,
    target: float,
    policy: AlertPolicy,
    *,
    alerts: pl.DataFrame | None = None,
    tz: str = "UTC",
    zoom: tuple[datetime, datetime] | None = None,
    period_s: float | None = None,
    log_y: bool = True,
    floor: float = 0.01,
    max_points: int = 1500,
    title: str | None = None,
    height: int = 420,
) -> go.Figure:
    """Burn rates over every look-back window of ``policy``, its thresholds and the alerts that fired.

    Each line is :func:`slo_analysis.core.budget.burn_rates` for one window (thinned buckets show their
    highest value, so a spike that crossed a threshold stays visible). Each rule's factor is a
    horizontal dashed line labelled with its name and windows; ``alerts`` (``alert_episodes`` or
    ``backtest(...).alerts``: ``rule, severity, fired_at, reset_at``) are shaded while firing, vermillion
    for pages, orange for tickets. On the log axis (default) rates below ``floor`` (and 0) are drawn at
    ``floor``; the hover shows the real value. ``zoom`` opens the chart on a (start, end) range.

    Parameters
    ----------
    sli : SliSeries or SLI frame
    target : float
        The goal as a fraction (0.999).
    policy : AlertPolicy
        E.g. :func:`slo_analysis.core.alerts.workbook_policy`.
    alerts : polars.DataFrame, optional
        Alert episodes to shade.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> import polars as pl
    >>> from slo_analysis.core.alerts import workbook_policy, alert_episodes
    >>> f = pl.DataFrame({"timestamp": pl.datetime_range(pl.datetime(2026, 1, 1, time_zone="UTC"),
    ...     pl.datetime(2026, 1, 1, 3, time_zone="UTC"), "1m", eager=True, closed="left", time_unit="ms"),
    ...     "good": [990.0] * 180, "bad": [10.0] * 180})
    >>> fig = burn_rate_chart(f, 0.999, workbook_policy(), period_s=60,
    ...                       alerts=alert_episodes(f, 0.999, workbook_policy(), period_s=60))
    >>> [t.name for t in fig.data][:3]
    ['burn rate 5m', 'burn rate 30m', 'burn rate 1h']
    """
    frame, p, _ = sli_parts(sli, period_s, "request")
    windows = sorted({w for r in policy.rules for w in r.windows_s})
    br = burn_rates(frame, target, windows, period_s=p)
    names = [f"burn_{window_label(w)}" for w in windows]
    every = 0
    if br.height:
        every = _every(br.height * p, p, max_points, zoom)
        br = thin(br.with_columns(_t=pl.col("timestamp") + pl.duration(seconds=p)), every,
                  [pl.col(n).max() for n in names] + [pl.col("_t").last()])
    x = to_display_tz(br["_t"] if br.height else pl.Series([], dtype=pl.Datetime("ms", "UTC")), tz)
    fig = new_figure(title or f"Burn rates, {policy.name} alert policy (goal {_pct(target)})",
                     x_title=_time_title(tz),
                     y_title="burn rate (x the sustainable rate" + (", log)" if log_y else ")"), height=height)
    colours = [c for c in SEQUENCE if c not in (WINDOW_COLOURS["page"], WINDOW_COLOURS["ticket"])]
    for i, (w, n) in enumerate(zip(windows, names, strict=True)):
        real = br[n]
        shown = real.fill_null(float("nan")).clip(lower_bound=floor) if log_y else real
        fig.add_trace(go.Scatter(
            x=x, y=shown, mode="lines", name=f"burn rate {window_label(w)}", customdata=real.to_numpy(),
            line={"color": colours[i % len(colours)], "width": 1.0 + 1.4 * i / max(1, len(windows) - 1)},
            hovertemplate=f"{window_label(w)} look-back: %{{customdata:.2f}}x"
                          f"{' (max in ' + format_duration(every) + ')' if every > p else ''}<extra></extra>",
        ))
    ends = [x[0], x[-1]] if len(x) else []
    dashes = ("dash", "dot", "dashdot", "longdash")
    for k, rule in enumerate(policy.rules):
        colour = WINDOW_COLOURS["page"] if rule.severity in ("page", "critical") else WINDOW_COLOURS["ticket"]
        wins = " & ".join(window_label(w) for w in rule.windows_s)
        fig.add_trace(go.Scatter(
            x=ends, y=[rule.factor, rule.factor], mode="lines", name=f"{rule.name}: {wins} > {rule.factor:g}",
            line={"color": colour, "width": 1.3, "dash": dashes[k % len(dashes)]},
            hovertemplate=f"{rule.name} ({rule.severity}) fires when {wins} all burn above {rule.factor:g}x"
                          "<extra></extra>",
        ))
    if alerts is not None and not alerts.is_empty():
        require_columns(alerts, ("fired_at", "reset_at"), "alerts")
        last = frame["timestamp"].max()
        end_default = last + timedelta(seconds=p) if isinstance(last, datetime) else None
        sev = alerts["severity"] if "severity" in alerts.columns else pl.Series(["alert"] * alerts.height)
        for group in ("page", "ticket", "alert"):
            if group == "page":
                mask = sev.is_in(["page", "critical"])
            elif group == "ticket":
                mask = sev.is_in(["ticket", "warning"])
            else:
                mask = ~sev.is_in(["page", "critical", "ticket", "warning"])
            add_windows(fig, alerts.filter(mask), name=_SEVERITY_LABEL.get(group, "Alert firing"),
                        colour=WINDOW_COLOURS[group], opacity=0.15, tz=tz, start_column="fired_at",
                        end_column="reset_at", end_default=end_default)
    if log_y:
        top = max([floor * 10] + [float(v) for v in (br[n].max() for n in names) if isinstance(v, (int, float))])
        ticks = [10.0 ** k for k in range(math.floor(math.log10(floor)), math.ceil(math.log10(top)) + 1)]
        fig.update_yaxes(type="log", tickvals=ticks,
                         ticktext=[f"≤{t:g}" if t <= floor else f"{t:g}x" for t in ticks])
    return finish_figure(zoom_to(fig, zoom, tz))
