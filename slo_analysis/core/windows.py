"""Windows a reviewer cares about: breaches, incidents (burn-rate conditions) and at-risk periods.

All windows are half-open ``[start, end)`` in ``Datetime("ms", "UTC")``; a period's row stands for
``[timestamp, timestamp + period_s)`` and a condition computed at a row is known at the period's end.

Rules (documented here once, used by every function below):

- **Runs.** A window is a maximal run of consecutive periods where a mask holds. ``merge_gap_s``
  merges two runs separated by a gap strictly shorter than it (hysteresis); windows shorter than
  ``min_duration_s`` are dropped after merging.
- **Incident condition.** A period belongs to the raw incident when any condition holds, a condition
  being "every one of its look-back windows burns strictly above its factor" (default: the Workbook's
  two page conditions, 1h & 5m > 14.4 or 6h & 30m > 6).
- **Onset refinement.** A burn-rate condition lags the onset (by up to its long window). For each raw
  incident the *baseline* is the per-period bad ratio ``bad / (good + bad)`` over ``baseline_s``
  (default 24 h) ending one long window before the raw start. A period is *elevated* when its bad ratio
  exceeds ``max(median + k x 1.4826 x MAD, 1 - target)`` of the baseline (a robust z-score with
  ``k = mad_k = 3``, floored at the ratio that burns budget faster than 1x). The onset is the first
  elevated period after the last run of at least ``quiet_periods`` (default 3) non-elevated periods
  before the raw start, searched no further back than the long window. The end is the end of the last
  elevated period before the raw end. Periods without data are not elevated. Without any elevated
  period in reach the raw bounds are kept. Refinement trims a raw window's ends; it never splits one
  (a condition like 6h & 30m > 6 can hold through a quiet gap, keeping two bursts in one incident).
- **At risk.** At every step that is neither BREACHED nor INSUFFICIENT_DATA, the time to exhaustion at
  the current burn rate ``b`` (over ``lookback_s``, default 1 h) is ``remaining_fraction x L / b``,
  ``L`` the interval length (a burn rate of 1 spends a whole budget in ``L``). The step is at risk
  when that time is within ``horizon_s`` (default 24 h; ``None``: the rest of a calendar interval, or
  ``L`` for a rolling one) and ``b`` exceeds ``min_burn_rate`` (default 1: burning no faster than the
  SLO allows is sustainable). For request-based SLOs this assumes traffic stays as it was.

Examples
--------
>>> import polars as pl
>>> f = pl.DataFrame({"timestamp": [0, 60_000, 120_000], "ok": [False, True, True]},
...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
>>> mask_windows(f["timestamp"], f["ok"], 60)["duration_s"].to_list()
[120.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from slo_analysis.core.budget import (
    BREACHED,
    INSUFFICIENT_DATA,
    burn_rates,
    sli_parts,
    slo_groups,
    window_label,
)

__all__ = [
    "Condition",
    "PAGE_CONDITIONS",
    "mask_windows",
    "burn_condition",
    "breach_windows",
    "incident_windows",
    "breach_windows_for_many",
    "incident_windows_for_many",
    "at_risk_periods",
]

Condition = tuple[tuple[float, ...], float]
"""A burn-rate condition: ``((window_s, ...), factor)``; it holds when every window burns above factor."""

PAGE_CONDITIONS: tuple[Condition, ...] = (((3600.0, 300.0), 14.4), ((21600.0, 1800.0), 6.0))

_SCHEMA = {"start": pl.Datetime("ms", "UTC"), "end": pl.Datetime("ms", "UTC"), "duration_s": pl.Float64}
_INCIDENT_SCHEMA: dict[str, pl.DataType] = {
    "start": pl.Datetime("ms", "UTC"), "end": pl.Datetime("ms", "UTC"), "duration_s": pl.Float64(),
    "condition_start": pl.Datetime("ms", "UTC"), "condition_end": pl.Datetime("ms", "UTC"),
    "baseline_ratio": pl.Float64(), "threshold_ratio": pl.Float64(), "peak_bad_ratio": pl.Float64(),
    "bad": pl.Float64(),
}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def mask_windows(
    timestamps: pl.Series,
    mask: pl.Series,
    period_s: float,
    *,
    merge_gap_s: float = 0.0,
    min_duration_s: float = 0.0,
    values: dict[str, pl.Series] | None = None,
    aggs: Sequence[pl.Expr] = (),
) -> pl.DataFrame:
    """Maximal runs where ``mask`` holds, as ``[start, end)`` windows (nulls count as False).

    Runs separated by less than ``merge_gap_s`` are merged; windows shorter than ``min_duration_s``
    are dropped. ``values`` adds columns that ``aggs`` may aggregate per window.

    Examples
    --------
    >>> import polars as pl
    >>> ts = pl.Series([0, 60_000, 120_000, 180_000], dtype=pl.Datetime("ms", "UTC"))
    >>> m = pl.Series([True, False, True, True])
    >>> mask_windows(ts, m, 60)["duration_s"].to_list()
    [60.0, 120.0]
    >>> mask_windows(ts, m, 60, merge_gap_s=120)["duration_s"].to_list()
    [240.0]
    """
    return _runs(timestamps, mask, period_s, merge_gap_s=merge_gap_s, min_duration_s=min_duration_s,
                 values=values, aggs=aggs)


def _breaks(a: np.ndarray, step: int) -> np.ndarray:
    """True at 0 and wherever ``a[i] != a[i - 1] + step`` (no ``np.diff(prepend=)``: it copies the array)."""
    out = np.ones(a.size, dtype=bool)
    if a.size > 1:
        np.not_equal(a[1:], a[:-1] + step, out=out[1:])
    return out


def _runs(
    timestamps: pl.Series,
    mask: pl.Series,
    period_s: float,
    *,
    merge_gap_s: float = 0.0,
    min_duration_s: float = 0.0,
    values: dict[str, pl.Series] | None = None,
    aggs: Sequence[pl.Expr] = (),
    key: pl.Series | None = None,
) -> pl.DataFrame:
    """:func:`mask_windows`, and with ``key`` (an SLO column of a stacked frame) runs never cross keys.

    With a key the result starts with the key column; rows stay in key order, then time order.
    """
    p = pl.duration(milliseconds=_ms(period_s))
    # only the rows where the mask holds are grouped: a run starts where the row index jumps (or the key changes)
    # (filter, not gather: gathering from a chunked column cost over 10x more)
    keep = mask.fill_null(False).cast(pl.Boolean)
    rows = np.flatnonzero(keep.to_numpy())
    starts = _breaks(rows, 1)
    df = pl.DataFrame({"timestamp": timestamps.filter(keep)})
    first: list[pl.Expr] = []
    if key is not None:
        k = key.filter(keep)
        codes = k.to_physical().cast(pl.Int64).to_numpy()
        starts |= _breaks(codes, 0)
        df = df.with_columns(k)
        first = [pl.col(key.name).first()]
    # run ids never decrease: flagged sorted, polars groups them without hashing (7x faster on long runs)
    df = df.with_columns(_run=pl.Series(np.cumsum(starts)).set_sorted())
    if values:
        df = df.with_columns(**{k: v.filter(keep) for k, v in values.items()})
    runs = (
        df
        .group_by("_run", maintain_order=True)
        .agg(*first, pl.col("timestamp").first().alias("start"), (pl.col("timestamp").last() + p).alias("end"), *aggs)
        .drop("_run")
    )
    if merge_gap_s > 0 and runs.height > 1:
        gap = pl.duration(milliseconds=_ms(merge_gap_s))
        new = pl.col("start") - pl.col("end").shift(1) >= gap
        if key is not None:
            new = new | (pl.col(key.name) != pl.col(key.name).shift(1))
        runs = runs.with_columns(_g=new.fill_null(True).cum_sum())
        extra = [c for c in runs.columns if c not in ("start", "end", "_g") and (key is None or c != key.name)]
        # merged windows: extra columns combine with min/max by name (worst_* -> min, peak_* -> max, else sum)
        comb = [
            pl.col(c).min() if c.startswith(("worst", "min")) else pl.col(c).max() if c.startswith(("peak", "max"))
            else pl.col(c).sum()
            for c in extra
        ]
        runs = runs.group_by("_g", maintain_order=True).agg(
            *first, pl.col("start").first(), pl.col("end").last(), *comb
        ).drop("_g")
    runs = runs.with_columns(duration_s=(pl.col("end") - pl.col("start")).dt.total_milliseconds() / 1000.0)
    runs = runs.filter(pl.col("duration_s") >= min_duration_s)
    lead = [] if key is None else [key.name]
    cols = [*lead, "start", "end", "duration_s"] + [c for c in runs.columns if c not in _SCHEMA and c not in lead]
    return runs.select(cols).cast(_SCHEMA)  # type: ignore[arg-type]


def burn_condition(
    sli: Any,
    target: float,
    conditions: Sequence[Condition] = PAGE_CONDITIONS,
    *,
    period_s: float | None = None,
    burn: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Burn rates of every window the conditions use, and whether any condition holds at each step.

    ``burn`` is an optional output of :func:`~slo_analysis.core.budget.burn_rates` for the same SLI and
    target holding (at least) every ``burn_<window>`` column the conditions use: it is reused instead of
    computing the burn rates again.

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0, 60_000], "good": [1000.0, 900.0], "bad": [0.0, 100.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> burn_condition(f, 0.99, [((60.0,), 5.0)], period_s=60)["condition"].to_list()
    [False, True]
    """
    windows = sorted({w for ws, _ in conditions for w in ws}, reverse=True)
    names = [f"burn_{window_label(w)}" for w in windows]
    if burn is None or not all(c in burn.columns for c in names):
        burn = burn_rates(sli, target, windows, period_s=period_s)
    # Series, not a frame select: burn-rate columns come in several chunks (from their shifts) and a
    # select would copy them into one first
    cols = {name: burn[name] for name in names}
    condition = pl.repeat(False, burn.height, eager=True)
    for ws, factor in conditions:
        holds = pl.repeat(True, burn.height, eager=True)
        for w in ws:
            holds = holds & (cols[f"burn_{window_label(w)}"] > factor).fill_null(False)
        condition = condition | holds
    return pl.DataFrame([burn["timestamp"], *cols.values(), condition.alias("condition")])


def breach_windows(budget: pl.DataFrame, period_s: float, *, merge_gap_s: float = 0.0) -> pl.DataFrame:
    """Maximal windows where a budget frame's status is BREACHED.

    ``budget`` is the output of :func:`~slo_analysis.core.budget.rolling_budget` or
    :func:`~slo_analysis.core.budget.calendar_budget`. Columns: ``start, end, duration_s,
    worst_attainment, min_budget_remaining``.

    Examples
    --------
    >>> import polars as pl
    >>> from slo_analysis.core.budget import rolling_budget
    >>> f = pl.DataFrame({"timestamp": [0, 60_000, 120_000], "good": [1.0, 0.0, 1.0], "bad": [0.0, 1.0, 0.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> b = rolling_budget(f, 0.9, 120, period_s=60, method="period")
    >>> breach_windows(b, 60).select("duration_s", "worst_attainment").rows()
    [(120.0, 0.5)]
    """
    return _breaches(budget, period_s, merge_gap_s, None)


def _breaches(budget: pl.DataFrame, period_s: float, merge_gap_s: float, key: str | None) -> pl.DataFrame:
    return _runs(
        budget["timestamp"],
        budget["status"] == BREACHED,
        period_s,
        merge_gap_s=merge_gap_s,
        values={"_a": budget["attainment"], "_r": budget["budget_remaining"]},
        aggs=[pl.col("_a").min().alias("worst_attainment"), pl.col("_r").min().alias("min_budget_remaining")],
        key=None if key is None else budget[key],
    )


def breach_windows_for_many(budget: pl.DataFrame, period_s: float, *, merge_gap_s: float = 0.0) -> pl.DataFrame:
    """:func:`breach_windows` for every SLO of a stacked budget frame, in one pass.

    ``budget`` is the first frame :func:`~slo_analysis.core.budget.budgets_for_many` returns (a leading
    ``slo`` column). The result is :func:`breach_windows`' columns after ``slo``; an SLO's rows equal
    :func:`breach_windows` of its own budget.

    Examples
    --------
    >>> import polars as pl
    >>> from slo_analysis.core.budget import budgets_for_many, stack_slis
    >>> f = pl.DataFrame({"timestamp": [0, 60_000, 120_000], "good": [1.0, 0.0, 1.0], "bad": [0.0, 1.0, 0.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> long, p, m = stack_slis({"a": f, "b": f.head(1)}, period_s=60, method="period")
    >>> b, _ = budgets_for_many(long, 0.9, 120, period_s=p, method=m)
    >>> breach_windows_for_many(b, 60).select("slo", "duration_s").rows()
    [('a', 120.0)]
    """
    slo_groups(budget.select("slo"))  # checks the layout
    return _breaches(budget, period_s, merge_gap_s, "slo")


def _refine(
    ts: np.ndarray,
    ratio: np.ndarray,
    start: int,
    end: int,
    period_ms: int,
    long_ms: int,
    baseline_ms: int,
    floor: float,
    mad_k: float,
    quiet: int,
) -> tuple[int, int, float, float]:
    """Refined ``(onset_ms, end_ms, baseline, threshold)`` for a raw window ``[start, end)`` in ms."""
    b0, b1 = np.searchsorted(ts, [start - long_ms - baseline_ms, start - long_ms])
    base = ratio[b0:b1]
    base = base[~np.isnan(base)]
    if base.size:
        med = float(np.median(base))
        mad = float(np.median(np.abs(base - med)))
    else:
        med, mad = 0.0, 0.0
    thr = max(med + mad_k * 1.4826 * mad, floor)
    s0, s1, e1 = np.searchsorted(ts, [start - long_ms, start, end])
    elevated = np.nan_to_num(ratio[s0:e1], nan=-np.inf) > thr
    onset, stop = start, end
    head = elevated[: s1 - s0 + 1]
    if head.any():
        # last run of `quiet` non-elevated periods before the raw start: positions where a window of
        # `quiet` periods holds no elevated one (cumulative sums, no loop over periods)
        c = np.concatenate([[0], np.cumsum(head)])
        idx = np.arange(quiet, head.size + 1)
        quiet_end = idx[(c[idx] - c[idx - quiet]) == 0]  # exclusive end of a quiet run
        first = int(quiet_end[-1]) if quiet_end.size else 0
        after = np.flatnonzero(head[first:])
        if after.size:
            onset = int(ts[s0 + first + after[0]])
    body_from = int(np.searchsorted(ts, onset))
    body = np.flatnonzero(np.nan_to_num(ratio[body_from:e1], nan=-np.inf) > thr)
    if body.size:
        stop = int(ts[body_from + body[-1]]) + period_ms
    return onset, max(stop, onset + period_ms), med, thr


def incident_windows(
    sli: Any,
    target: float,
    conditions: Sequence[Condition] = PAGE_CONDITIONS,
    *,
    period_s: float | None = None,
    merge_gap_s: float = 900.0,
    min_duration_s: float = 0.0,
    baseline_s: float = 86400.0,
    mad_k: float = 3.0,
    quiet_periods: int = 3,
    refine: bool = True,
    burn: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Incident windows: where a burn-rate condition holds, merged, with onset and end refined.

    See the module docstring for the rules. ``burn`` optionally passes burn rates already computed for
    this SLI and target (see :func:`burn_condition`). Columns: ``start, end, duration_s`` (refined),
    ``condition_start, condition_end`` (the raw, merged condition window), ``baseline_ratio,
    threshold_ratio`` (the onset rule's figures), ``peak_bad_ratio`` and ``bad`` (bad events in
    ``[start, end)``).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> ts = pl.datetime_range(datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 1, 4,
    ...     tzinfo=timezone.utc), "1m", eager=True, time_unit="ms", closed="left")
    >>> bad = [100.0 if 120 <= i < 150 else 0.0 for i in range(240)]
    >>> f = pl.DataFrame({"timestamp": ts, "good": [1000.0 - b for b in bad], "bad": bad})
    >>> w = incident_windows(f, 0.999, period_s=60)
    >>> w.select(pl.col("start").dt.strftime("%H:%M"), pl.col("end").dt.strftime("%H:%M")).rows()
    [('02:00', '02:30')]
    """
    frame, p, _ = sli_parts(sli, period_s, "request")
    cond = burn_condition(frame, target, conditions, period_s=p, burn=burn)
    return _incidents(
        frame, cond["condition"], p, target, conditions, None, merge_gap_s, min_duration_s, baseline_s, mad_k,
        quiet_periods, refine,
    )


def incident_windows_for_many(
    stacked: pl.DataFrame,
    target: float,
    conditions: Sequence[Condition] = PAGE_CONDITIONS,
    *,
    period_s: float,
    merge_gap_s: float = 900.0,
    min_duration_s: float = 0.0,
    baseline_s: float = 86400.0,
    mad_k: float = 3.0,
    quiet_periods: int = 3,
    refine: bool = True,
    burn: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """:func:`incident_windows` for every SLO of a stacked SLI frame (one goal for all of them).

    ``stacked`` comes from :func:`~slo_analysis.core.budget.stack_slis`; ``burn`` optionally is the
    burn frame :func:`~slo_analysis.core.budget.budgets_for_many` returned for it (same rows) holding
    every look-back the conditions use. The conditions, runs and merges are evaluated once over all
    SLOs; each raw window is refined on its own SLO's rows. The result is :func:`incident_windows`'
    columns after ``slo``; an SLO's rows equal :func:`incident_windows` of its own SLI.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> from slo_analysis.core.budget import stack_slis
    >>> ts = pl.datetime_range(datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 1, 4,
    ...     tzinfo=timezone.utc), "1m", eager=True, time_unit="ms", closed="left")
    >>> bad = [100.0 if 120 <= i < 150 else 0.0 for i in range(240)]
    >>> f = pl.DataFrame({"timestamp": ts, "good": [1000.0 - b for b in bad], "bad": bad})
    >>> long, p, _ = stack_slis({"quiet": f.with_columns(bad=pl.lit(0.0)), "noisy": f}, period_s=60)
    >>> w = incident_windows_for_many(long, 0.999, period_s=p)
    >>> w.select("slo", pl.col("start").dt.strftime("%H:%M"), pl.col("end").dt.strftime("%H:%M")).rows()
    [('noisy', '02:00', '02:30')]
    """
    _, p, _ = sli_parts(stacked.head(0), period_s, "request")
    offsets, lengths = slo_groups(stacked)
    frame = stacked.select("slo", "timestamp", pl.col("good").cast(pl.Float64), pl.col("bad").cast(pl.Float64))
    windows = sorted({w for ws, _ in conditions for w in ws}, reverse=True)
    names = [f"burn_{window_label(w)}" for w in windows]
    if burn is None or not all(c in burn.columns for c in names):
        burn = pl.concat(
            [burn_rates(frame.slice(int(o), int(n)), target, windows, period_s=p) for o, n in zip(offsets, lengths,
                                                                                                  strict=True)],
            rechunk=False,
        )
    elif burn.height != frame.height:
        raise ValueError(f"burn has {burn.height} rows, the stacked SLI {frame.height}: pass the burn frame "
                         "budgets_for_many returned for the same stacked frame")
    cond = burn_condition(frame, target, conditions, period_s=p, burn=burn)
    return _incidents(
        frame, cond["condition"], p, target, conditions, (offsets, lengths), merge_gap_s, min_duration_s,
        baseline_s, mad_k, quiet_periods, refine,
    )


def _incidents(
    frame: pl.DataFrame,
    condition: pl.Series,
    p: float,
    target: float,
    conditions: Sequence[Condition],
    groups: tuple[np.ndarray, np.ndarray] | None,
    merge_gap_s: float,
    min_duration_s: float,
    baseline_s: float,
    mad_k: float,
    quiet_periods: int,
    refine: bool,
) -> pl.DataFrame:
    """Incident windows of one SLI (``groups`` None) or of every SLO of a stacked frame (row offsets, lengths).

    One code path for both, so an SLO's windows are the same either way.
    """
    key = None if groups is None else frame["slo"]
    lead = [] if key is None else ["slo"]
    schema = _INCIDENT_SCHEMA if key is None else {"slo": key.dtype, **_INCIDENT_SCHEMA}
    raw = _runs(frame["timestamp"], condition, p, merge_gap_s=merge_gap_s, key=key)
    raw = raw.rename({"start": "condition_start", "end": "condition_end"}).drop("duration_s")
    if raw.height == 0:
        return pl.DataFrame(schema=schema)
    offsets, lengths = groups if groups is not None else (np.zeros(1, np.int64), np.array([frame.height]))
    # the group (row block) of each raw window: group codes are strictly increasing (see slo_groups)
    if key is None:
        gi = np.zeros(raw.height, np.int64)
    else:
        group_codes = key.to_physical().gather(offsets).cast(pl.Int64).to_numpy()
        gi = np.searchsorted(group_codes, raw["slo"].to_physical().cast(pl.Int64).to_numpy())
    # timestamps (ms) and bad ratios of the SLOs that have windows only, each SLO's block on its own
    blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def block(g: int) -> tuple[np.ndarray, np.ndarray]:
        if g not in blocks:
            part = frame.slice(int(offsets[g]), int(lengths[g]))
            good, bad = part["good"].to_numpy(), part["bad"].to_numpy()
            total = good + bad
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(total > 0, bad / total, np.nan)
            blocks[g] = part["timestamp"].dt.epoch("ms").to_numpy(), ratio
        return blocks[g]

    long_ms = _ms(max((w for ws, _ in conditions for w in ws), default=p))
    rows = []
    cs_ms, ce_ms = raw["condition_start"].dt.epoch("ms").to_list(), raw["condition_end"].dt.epoch("ms").to_list()
    for g, cs, ce in zip(gi.tolist(), cs_ms, ce_ms, strict=True):
        if refine:
            floor = 1.0 - target
            rows.append(_refine(*block(g), cs, ce, _ms(p), long_ms, _ms(baseline_s), floor, mad_k, quiet_periods))
        else:
            rows.append((cs, ce, float("nan"), float("nan")))
    ref = pl.DataFrame(
        rows, schema={"start": pl.Int64, "end": pl.Int64, "baseline_ratio": pl.Float64, "threshold_ratio": pl.Float64},
        orient="row",
    ).with_columns(pl.col("start", "end").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"), _grp=pl.Series(gi))
    out = pl.concat([ref, raw], how="horizontal")
    # refinement can make neighbours overlap or touch: merge them again (within an SLO)
    new = pl.col("start") > pl.col("end").cum_max().shift(1)
    if key is not None:
        new = (pl.col("start") > pl.col("end").cum_max().over("slo").shift(1)) | (
            pl.col("slo") != pl.col("slo").shift(1)
        )
    out = out.sort([*lead, "start"]).with_columns(_g=new.fill_null(True).cum_sum())
    out = out.group_by("_g", maintain_order=True).agg(
        *[pl.col(c).first() for c in lead], pl.col("_grp").first(),
        pl.col("start").min(), pl.col("end").max(), pl.col("condition_start").min(), pl.col("condition_end").max(),
        pl.col("baseline_ratio").first(), pl.col("threshold_ratio").first(),
    )
    out = out.with_columns(duration_s=(pl.col("end") - pl.col("start")).dt.total_milliseconds() / 1000.0).filter(
        pl.col("duration_s") >= min_duration_s
    )
    # the rows inside each (disjoint, sorted) window, found by binary search in its SLO's block
    grp = out["_grp"].to_numpy()
    lo = np.empty(out.height, np.int64)
    hi = np.empty(out.height, np.int64)
    starts_ms, ends_ms = out["start"].dt.epoch("ms").to_numpy(), out["end"].dt.epoch("ms").to_numpy()
    for g in np.unique(grp).tolist():
        sel = grp == g
        ts = block(g)[0]
        lo[sel] = offsets[g] + np.searchsorted(ts, starts_ms[sel])
        hi[sel] = offsets[g] + np.searchsorted(ts, ends_ms[sel])
    inside = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)] or [np.zeros(0, np.int64)])
    stats = (
        frame.select("good", "bad")
        .gather(inside)
        .with_columns(_w=pl.Series(np.repeat(np.arange(out.height), hi - lo), dtype=pl.UInt32))
        .group_by("_w")
        .agg(
            peak_bad_ratio=pl.when(pl.col("good") + pl.col("bad") > 0)
            .then(pl.col("bad") / (pl.col("good") + pl.col("bad")))
            .max(),
            bad=pl.col("bad").sum(),
        )
    )
    out = out.with_row_index("_w").join(stats, on="_w", how="left").sort("_w")
    return out.select(
        *lead, "start", "end", "duration_s", "condition_start", "condition_end", "baseline_ratio", "threshold_ratio",
        "peak_bad_ratio", pl.col("bad").fill_null(0.0),
    )


def at_risk_periods(
    sli: Any,
    target: float,
    budget: pl.DataFrame,
    *,
    lookback_s: float = 3600.0,
    horizon_s: float | None = 86400.0,
    period_s: float | None = None,
    min_burn_rate: float = 1.0,
) -> pl.DataFrame:
    """Steps where the current burn rate would exhaust the remaining budget within a horizon.

    ``budget`` is the budget frame of the same SLI (rolling or calendar). Steps already BREACHED or
    INSUFFICIENT_DATA are not counted, nor steps burning at ``min_burn_rate`` or less: a burn rate of 1
    spends the budget exactly as fast as the SLO allows (and over a rolling interval old bad events roll
    out about as fast), so only a faster burn puts the SLO on the verge of breaching.
    Columns: ``timestamp, burn_rate, remaining_fraction, time_to_exhaustion_s, exhausted_at, status``.
    Use :func:`mask_windows` on the result to get windows.

    Examples
    --------
    >>> import polars as pl
    >>> from slo_analysis.core.budget import rolling_budget
    >>> f = pl.DataFrame({"timestamp": [0, 60_000, 120_000], "good": [1000.0, 1000.0, 997.0],
    ...                   "bad": [0.0, 0.0, 3.0]}, schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> b = rolling_budget(f, 0.99, 3600, period_s=60, method="request")
    >>> r = at_risk_periods(f, 0.99, b, lookback_s=60, horizon_s=14400, period_s=60)
    >>> r.height  # burn rate 0.3: slower than the SLO allows, so not at risk
    0
    >>> r = at_risk_periods(f, 0.99, b, lookback_s=60, horizon_s=14400, period_s=60, min_burn_rate=0.0)
    >>> r["time_to_exhaustion_s"].round(1).to_list()
    [10800.0]
    """
    frame, p, _ = sli_parts(sli, period_s, "request")
    br = burn_rates(frame, target, [lookback_s], period_s=p, partial=True)
    col = f"burn_{window_label(lookback_s)}"
    length_s = (pl.col("interval_end") - pl.col("interval_start")).dt.total_milliseconds() / 1000.0
    df = budget.select(
        "timestamp", "interval_start", "interval_end", "remaining_fraction", "status"
    ).join(br.select("timestamp", pl.col(col).alias("burn_rate")), on="timestamp", how="left")
    eval_at = pl.col("timestamp") + pl.duration(milliseconds=_ms(p))
    tte = pl.col("remaining_fraction") * length_s / pl.col("burn_rate")
    if horizon_s is None:
        rest = (pl.col("interval_end") - eval_at).dt.total_milliseconds() / 1000.0
        horizon = pl.when(rest > 0).then(rest).otherwise(length_s)
    else:
        horizon = pl.lit(float(horizon_s))
    df = df.with_columns(time_to_exhaustion_s=pl.when(pl.col("burn_rate") > 0).then(tte), _h=horizon)
    df = df.filter(
        ~pl.col("status").is_in([BREACHED, INSUFFICIENT_DATA])
        & (pl.col("burn_rate") > min_burn_rate)
        & (pl.col("time_to_exhaustion_s") <= pl.col("_h"))
    )
    return df.select(
        "timestamp",
        "burn_rate",
        "remaining_fraction",
        "time_to_exhaustion_s",
        exhausted_at=eval_at + pl.duration(milliseconds=(pl.col("time_to_exhaustion_s") * 1000).cast(pl.Int64)),
        status=pl.col("status"),
    )
