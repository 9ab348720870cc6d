"""Sweep every metric series of a snapshot for what moved during an incident, and when it started.

:func:`sweep_metrics` scores every series (namespace, metric, dimensions, stat) of the canonical
metrics frame with the online detector of :mod:`slo_analysis.analysis.anomalies`, all series at once
(one matrix per period, scored in column blocks), over ``[incident start - baseline_s - warmup_s,
incident end)``.

For each series it reports how far it departed from its baseline during the incident, in which
direction, and when its score first crossed the threshold, searching from ``lead_s`` (2 h) before the
incident start, so a cause that moved before the SLO breached shows up ahead of its symptoms.

Missing datapoints of ``Sum`` and ``SampleCount`` series are zeros (CloudWatch stores no datapoint
when nothing was counted); other statistics leave them missing.

Examples
--------
>>> import json
>>> from datetime import datetime
>>> import slo_analysis as sa
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> sweep = sweep_metrics(snap.scan("metrics"),
...                       (datetime.fromisoformat("2026-11-11T14:00:00+00:00"),
...                        datetime.fromisoformat("2026-11-11T15:30:00+00:00")))
>>> sweep.columns[:6]
['namespace', 'metric', 'dimensions', 'stat', 'unit', 'departure']
>>> sweep["rank"].to_list()[:3]
[1, 2, 3]
"""

from __future__ import annotations

import logging
import math
import warnings
from datetime import datetime

import numpy as np
import polars as pl

from slo_analysis.analysis.anomalies import DEFAULT_THRESHOLD, score_matrix
from slo_analysis.exceptions import FrameValidationError

__all__ = ["SWEEP_COLUMNS", "COUNT_STATS", "sweep_metrics"]

log = logging.getLogger(__name__)

UTC_MS = pl.Datetime("ms", "UTC")
KEY = ["namespace", "metric", "dimensions", "stat"]
#: Statistics whose missing datapoints mean "nothing counted" (zero).
COUNT_STATS = frozenset({"Sum", "SampleCount"})
#: The columns of the sweep, in order.
SWEEP_COLUMNS = ["namespace", "metric", "dimensions", "stat", "unit", "departure", "direction", "peak_score",
                 "first_anomalous_at", "baseline_value", "incident_value", "rank"]
_Z_CLIP = 100.0
_BLOCK = 256


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=pl.Schema({
        "namespace": pl.String(), "metric": pl.String(), "dimensions": pl.String(), "stat": pl.String(),
        "unit": pl.String(), "departure": pl.Float64(), "direction": pl.String(), "peak_score": pl.Float64(),
        "first_anomalous_at": UTC_MS, "baseline_value": pl.Float64(), "incident_value": pl.Float64(),
        "rank": pl.UInt32()}))


def _ms(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError(f"incident bounds must be timezone-aware, got {t!r}")
    return round(t.timestamp() * 1000)


def _sweep_period(data: pl.DataFrame, keys: pl.DataFrame, period_s: int, origin_ms: int, end_ms: int,
                  inc_ms: tuple[int, int], search_from_ms: int, threshold: float) -> pl.DataFrame:
    """Score every series of one period on a shared grid; one summary row per series."""
    step_ms = period_s * 1000
    n = max(1, math.ceil((end_ms - origin_ms) / step_ms))
    k = keys.height
    idx = ((data["timestamp"].dt.epoch("ms") - origin_ms) // step_ms).to_numpy()
    cols = np.searchsorted(keys["_sid"].to_numpy(), data["_sid"].to_numpy())  # keys are sorted by _sid
    inside = (idx >= 0) & (idx < n)
    flat = idx[inside] * k + cols[inside]
    # duplicates (same series and step) are averaged
    sums = np.bincount(flat, weights=data["value"].to_numpy()[inside], minlength=n * k)
    hits = np.bincount(flat, minlength=n * k)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(hits > 0, sums / np.maximum(hits, 1), np.nan).reshape(n, k)
    del sums, hits, flat
    counts = keys["stat"].is_in(list(COUNT_STATS)).to_numpy()
    x[:, counts] = np.nan_to_num(x[:, counts], nan=0.0)

    grid_ms = origin_ms + np.arange(n, dtype=np.int64) * step_ms
    search = (grid_ms >= search_from_ms) & (grid_ms < inc_ms[1])
    incident = (grid_ms >= inc_ms[0]) & (grid_ms < inc_ms[1])
    out = {name: np.full(k, np.nan) for name in ("departure", "peak", "first", "base", "inc")}
    for lo in range(0, k, _BLOCK):
        hi = min(k, lo + _BLOCK)
        expected, z, score = score_matrix(x[:, lo:hi], float(period_s))
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns: NaN, as intended
            zi = np.clip(z[incident], -_Z_CLIP, _Z_CLIP)
            out["departure"][lo:hi] = np.nanmean(zi, axis=0) if zi.size else np.nan
            out["base"][lo:hi] = np.nanmean(expected[incident], axis=0) if incident.any() else np.nan
            out["inc"][lo:hi] = np.nanmean(x[incident, lo:hi], axis=0) if incident.any() else np.nan
            ss = score[search]
            out["peak"][lo:hi] = np.nanmax(np.where(np.isnan(ss), -np.inf, ss), axis=0) if ss.size else np.nan
            hit = np.nan_to_num(ss, nan=0.0) >= threshold
            first_row = np.argmax(hit, axis=0) if ss.size else np.zeros(hi - lo, dtype=np.int64)
            any_hit = hit.any(axis=0) if ss.size else np.zeros(hi - lo, dtype=bool)
            out["first"][lo:hi] = np.where(any_hit, grid_ms[search][first_row] if ss.size else 0, np.nan)
    peak = np.where(np.isinf(out["peak"]), np.nan, out["peak"])
    return keys.select(pl.col(KEY + ["unit"]).cast(pl.String)).with_columns(
        pl.Series("departure", out["departure"]).fill_nan(None),
        pl.Series("peak_score", peak).fill_nan(None),
        pl.Series("first_anomalous_at", out["first"]).fill_nan(None).cast(pl.Int64)
        .cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
        pl.Series("baseline_value", out["base"]).fill_nan(None),
        pl.Series("incident_value", out["inc"]).fill_nan(None),
    )


def sweep_metrics(
    metrics: pl.LazyFrame | pl.DataFrame,
    incident: tuple[datetime, datetime],
    *,
    baseline_s: float = 7 * 86400.0,
    lead_s: float = 7200.0,
    threshold: float = DEFAULT_THRESHOLD,
    warmup_s: float = 3 * 86400.0,
) -> pl.DataFrame:
    """Rank every metric series by how much, and how early, it moved around an incident.

    Parameters
    ----------
    metrics
        The canonical metrics frame (timestamp, namespace, metric, dimensions, stat, period_s, unit,
        value), lazy or eager; only ``[incident start - baseline_s - warmup_s, incident end)`` is read.
    incident
        ``(start, end)``, timezone-aware, half-open.
    baseline_s
        History before the incident used as baseline (7 days). The online score needs about a day
        of it to be meaningful; seasonal baselines need two days.
    lead_s
        How long before the incident start the search for the first anomalous point begins (2 h).
    threshold
        Score at or above which a point is anomalous.
    warmup_s
        Extra history read before ``baseline_s`` (3 days) so the seasonal baselines are warm when the
        baseline span starts.

    Returns
    -------
    polars.DataFrame
        One row per series, columns ``namespace, metric, dimensions, stat, unit``; ``departure``
        (mean robust z-score against the baseline over the incident, clipped to +-100 per step;
        signed), ``direction`` ("up" / "down"), ``peak_score`` (highest score from ``lead_s`` before
        the incident to its end), ``first_anomalous_at`` (first step in that span scoring at or above
        ``threshold``, null if none), ``baseline_value`` / ``incident_value`` (means over the incident
        of the baseline forecast and of the value), ``rank`` (1 = first). Series that crossed the
        threshold come first, then larger departures (compared on a log2 scale, so 10 and 14 sigmas
        are "comparable"), then the earliest ``first_anomalous_at``, then the exact size.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> n = 3 * 1440
    >>> rows = []
    >>> for name, jump in (("flat", 0.0), ("jumps", 50.0)):
    ...     for i in range(n):
    ...         v = 100.0 + (i % 7) + (jump if i >= n - 60 else 0.0)
    ...         rows.append((t0 + timedelta(minutes=i), "App", name, "", "Average", 60, "Count", v))
    >>> frame = pl.DataFrame(rows, orient="row", schema=["timestamp", "namespace", "metric", "dimensions",
    ...                                                  "stat", "period_s", "unit", "value"])
    >>> end = t0 + timedelta(minutes=n)
    >>> sweep = sweep_metrics(frame, (end - timedelta(hours=1), end))
    >>> sweep.select("metric", "direction", "rank").rows()
    [('jumps', 'up', 1), ('flat', 'up', 2)]
    """
    start, end = incident
    inc_ms = (_ms(start), _ms(end))
    if inc_ms[1] <= inc_ms[0]:
        raise ValueError(f"empty incident window {start} .. {end}")
    lazy = metrics.lazy()
    names = lazy.collect_schema().names()
    for col in ("timestamp", *KEY, "period_s", "value"):
        if col not in names:
            raise FrameValidationError("metrics", col, "missing column")
    # Seasonal baselines need two days of data and a spread: read three days before the baseline span, so the past-week
    # deviation record at the incident holds deviations from the seasonal baseline, not from the
    # rolling one that stands in while the seasonal one warms up.
    origin_ms = inc_ms[0] - round((baseline_s + warmup_s) * 1000)
    search_from_ms = inc_ms[0] - round(lead_s * 1000)
    cols = ["timestamp", *KEY, "period_s", "value"] + (["unit"] if "unit" in names else [])
    data = (
        lazy.select(cols)
        .with_columns(pl.col("timestamp").cast(UTC_MS))
        .filter((pl.col("timestamp").dt.epoch("ms") >= origin_ms) & (pl.col("timestamp").dt.epoch("ms") < inc_ms[1])
                & pl.col("value").is_not_null() & pl.col("value").is_finite())
        .collect()
    )
    if "unit" not in data.columns:
        data = data.with_columns(pl.lit(None, pl.String).alias("unit"))
    if data.height == 0:
        return _empty()
    keys = (data.group_by(KEY).agg(pl.col("period_s").mode().first().alias("period_s"),
                                   pl.col("unit").drop_nulls().first().alias("unit"))
            .sort(KEY).with_row_index("_sid"))
    data = data.join(keys.select(*KEY, "_sid"), on=KEY, how="left").select("_sid", "timestamp", "value")
    parts = []
    for (period_s,), group in keys.group_by("period_s", maintain_order=True):
        period = int(period_s) if isinstance(period_s, int | float) and period_s > 0 else 60  # type: ignore[redundant-expr]
        group = group.sort("_sid")
        sids = group["_sid"]
        log.debug("sweeping %d series at %d s", group.height, period)
        parts.append(_sweep_period(data.filter(pl.col("_sid").is_in(sids.implode())), group, period,
                                   origin_ms - origin_ms % (period * 1000), inc_ms[1], inc_ms, search_from_ms,
                                   threshold))
    table = pl.concat(parts)
    crossed = pl.col("first_anomalous_at").is_not_null()
    size = pl.col("departure").abs()
    return (
        table.with_columns(
            pl.when(pl.col("departure") >= 0).then(pl.lit("up"))
            .when(pl.col("departure") < 0).then(pl.lit("down")).alias("direction"),
        )
        .sort([crossed, size.clip(lower_bound=1.0).log(2).floor(), "first_anomalous_at", size, *KEY],
              descending=[True, True, False, True, False, False, False, False], nulls_last=True)
        .with_row_index("rank", offset=1)
        .select(SWEEP_COLUMNS)
    )
