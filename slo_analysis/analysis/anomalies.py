"""Anomaly scores and change points on one metric series.

:func:`anomaly_scores` is an online detector: every score depends only on the series up to that point,
so it behaves the same on a snapshot as it would have live. It works in three stages, all vectorised:

1. **Resample.** Duplicate timestamps are averaged, the series is put on a regular grid at its median
   step (aligned to multiples of the step since the epoch); missing grid points stay missing (gaps
   are skipped, never interpolated).
2. **Baseline and residual.** Up to three baselines forecast each point from the past only: a rolling
   median of the last ``baseline_s`` seconds (12 h), the median of the same time of day over the
   previous seven days (once two days are behind the point) and of the same time of week over the
   previous weeks (once two weeks are behind it). At each point the baseline whose median absolute
   residual over the last ``spread_s`` (1 day) is smallest is used, so seasonality is used exactly when
   the history shows that it predicts better. ``z`` = residual / (1.4826 x that median absolute residual).
3. **Novelty score.** The absolute residual (averaged over ``short_s``; by default one step) is compared
   with the largest absolute residual of the previous ``history_s`` (1 day). Its relative excess
   ``e = |r| / max_past|r| - 1`` (0 when not a new record) becomes the score ``1 - 2 ** (-e / NOVELTY_HALF)``:
   0 for anything seen in the past day, 0.5 for a deviation 20 % beyond the day's largest, 1 for
   one far beyond it. The same is done for the median absolute residual over ``sustain_s`` (2 h)
   against its own past-day record, so a level shift hidden among past spikes is still seen; the
   score is the larger of the two. A shift fires at its onset and decays as the baseline absorbs it; the history
   is the tail distribution, so heavy-tailed (spiky) series do not flood with alarms the way a
   Gaussian tail on a robust z-score does (measured: docs/anomalies.md).
4. **Refractory period.** After an alarm (a score at or above :data:`DEFAULT_THRESHOLD`), the scores of
   the next ``refractory_s`` (6 h) are multiplied by :data:`REPEAT_DAMPING`, so one event raises one
   alarm rather than a burst. Whether a point is damped depends only on earlier scores.

:data:`DEFAULT_THRESHOLD` marks a point anomalous. :func:`anomalous_windows` merges anomalous points
into windows and :func:`change_point_onset` estimates, offline, when a shift began.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> import numpy as np
>>> t0 = datetime(2026, 11, 2, tzinfo=UTC)
>>> ts = [t0 + timedelta(minutes=i) for i in range(2000)]
>>> values = np.random.default_rng(1).normal(100.0, 5.0, 2000)
>>> values[1500:] += 60.0
>>> scores = anomaly_scores(ts, values)
>>> scores.columns
['timestamp', 'value', 'expected', 'score']
>>> windows = anomalous_windows(scores)
>>> bool((windows["start"] == t0 + timedelta(minutes=1500)).any())  # the shift's first step is flagged
True
>>> change_point_onset(ts, values).isoformat()
'2026-11-03T01:00:00+00:00'
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from slo_analysis.exceptions import FrameValidationError

__all__ = [
    "DEFAULT_THRESHOLD",
    "NOVELTY_HALF",
    "REFRACTORY_S",
    "REPEAT_DAMPING",
    "anomaly_scores",
    "score_matrix",
    "anomalous_windows",
    "change_point_onset",
]

log = logging.getLogger(__name__)

#: A point whose score is at or above this is anomalous: its deviation from the baseline exceeds the
#: largest of the past day by NOVELTY_HALF (20 %) or more, and no alarm fired in the previous
#: REFRACTORY_S. Chosen once for every series (never per series) on the NAB AWS CloudWatch development
#: set; see docs/anomalies.md for the score at other thresholds.
DEFAULT_THRESHOLD = 0.5
#: The relative excess over the past day's largest deviation that scores 0.5.
NOVELTY_HALF = 0.2
#: After an alarm (score >= DEFAULT_THRESHOLD), scores of the next 6 hours are damped (repeat alarms).
REFRACTORY_S = 6 * 3600.0
#: The factor applied to the score during the refractory period (keeps repeat alarms below the threshold).
REPEAT_DAMPING = 0.45

_DAY_S = 86400.0
_MAD_TO_SIGMA = 1.4826
_MAX_GRID = 20_000_000

UTC_MS = pl.Datetime("ms", "UTC")


# ----------------------------------------------------------------------------------------- helpers
def _nanmedian_axis0(stack: np.ndarray, min_count: int) -> np.ndarray:
    """Median along axis 0 ignoring NaN; NaN where fewer than ``min_count`` values are present."""
    moved = np.moveaxis(stack, 0, -1)
    count = np.sum(~np.isnan(moved), axis=-1)
    last = np.sort(np.ascontiguousarray(moved), axis=-1)  # a sorted copy (NaN last); the input is kept
    top = last.shape[-1] - 1
    lo = np.clip((count - 1) // 2, 0, top)[..., None]
    hi = np.clip(count // 2, 0, top)[..., None]
    med = 0.5 * (np.take_along_axis(last, lo, -1)[..., 0] + np.take_along_axis(last, hi, -1)[..., 0])
    return np.where(count >= max(min_count, 1), med, np.nan)


def _lag(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` shifted down by ``k`` rows (row i holds x[i-k]), NaN-filled."""
    out = np.full_like(x, np.nan)
    if k < x.shape[0]:
        out[k:] = x[: x.shape[0] - k]
    return out


def _rolling(x: np.ndarray, op: str, window: int, min_samples: int, *, shift: int = 0) -> np.ndarray:
    """A polars rolling ``op`` down each column of a 2-D array (NaN = missing, skipped)."""
    frame = pl.from_numpy(x, schema=[f"c{i}" for i in range(x.shape[1])]).select(pl.all().fill_nan(None))
    window = max(int(window), 1)
    min_samples = max(1, min(int(min_samples), window))
    expr = getattr(pl.all(), f"rolling_{op}")(window, min_samples=min_samples)
    if shift:
        expr = expr.shift(shift)
    out = frame.select(expr).to_numpy().astype(np.float64)
    return out


def _past_median(x: np.ndarray, window: int, min_samples: int, blocks: int = 64) -> np.ndarray:
    """Rolling median of the ``window`` steps before each row (the row itself excluded), per column.

    Long windows use medians of block medians: blocks of ``window // blocks`` steps (anchored at row 0, so
    a prefix gives the same result), a row seeing only the blocks completed before it. That keeps the
    cost near one pass however long the window, at the price of a median that moves once per block.
    """
    block = max(1, window // blocks)
    if block == 1:
        return _rolling(x, "median", window, min_samples, shift=1)
    n, k = x.shape
    n_blocks = n // block
    out = np.full_like(x, np.nan)
    if n_blocks == 0:
        return out
    stacked = x[: n_blocks * block].reshape(n_blocks, block, k).transpose(1, 0, 2)
    medians = _nanmedian_axis0(stacked, max(1, block // 2))
    per_block = _rolling(medians, "median", max(1, window // block), max(1, min_samples // block))
    # row i sees the blocks completed before it: the last is floor(i / block) - 1
    rows = np.arange(n) // block - 1
    valid = rows >= 0
    out[valid] = per_block[rows[valid]]
    return out


def _seasonal(x: np.ndarray, period: int, lags: int, min_lags: int) -> np.ndarray:
    """Median of x at the same phase ``1..lags`` periods back; NaN with fewer than ``min_lags`` of them."""
    if period < 2 or period * min_lags >= x.shape[0]:
        return np.full_like(x, np.nan)
    stack = np.stack([_lag(x, k * period) for k in range(1, lags + 1) if k * period < x.shape[0]])
    return _nanmedian_axis0(stack, min_lags)


def _refractory(score: np.ndarray, steps: int, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Damp, per column, the scores of the ``steps`` rows after each alarm (``>= threshold``).

    An alarm is a point at or above the threshold with no alarm in the ``steps`` rows before it, so
    whether a row is damped depends only on earlier rows. Alarms are found by jumping from one to the
    next (``searchsorted``), so the loop runs once per alarm, not once per row.
    """
    if steps <= 0:
        return score
    out = score.copy()
    with np.errstate(invalid="ignore"):
        above = np.nan_to_num(score, nan=0.0) >= threshold
    for col in np.flatnonzero(above.any(axis=0)):
        hits = np.flatnonzero(above[:, col])
        damp = np.zeros(score.shape[0], dtype=bool)
        k = 0
        while k < hits.size:
            alarm = int(hits[k])
            damp[alarm + 1:alarm + 1 + steps] = True
            k = int(np.searchsorted(hits, alarm + steps, side="right"))
        out[damp, col] *= REPEAT_DAMPING
    return out


# --------------------------------------------------------------------------------- scoring core
def score_matrix(
    x: np.ndarray,
    step_s: float,
    *,
    baseline_s: float = 12 * 3600.0,
    history_s: float = _DAY_S,
    spread_s: float = _DAY_S,
    short_s: float = 0.0,
    sustain_s: float = 7200.0,
    seasonal: bool = True,
    refractory_s: float = REFRACTORY_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score every column of a regular-grid matrix at once (rows = grid steps, NaN = no data).

    The vectorised core behind :func:`anomaly_scores` and the metric sweep. Causal: row ``i`` of every
    output depends only on rows ``<= i``.

    Parameters
    ----------
    x
        ``(n_steps, n_series)`` float array on a regular grid of ``step_s`` seconds.
    step_s, baseline_s, history_s, spread_s, short_s, sustain_s, seasonal, refractory_s
        See :func:`anomaly_scores`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(expected, z, score)``, each shaped like ``x``: the chosen baseline forecast, the signed robust
        z-score of the residual against it, and the score in [0, 1] (NaN where ``x`` is NaN or the
        history is too short).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(3000, 3))
    >>> x[2500:, 1] += 8.0
    >>> expected, z, score = score_matrix(x, 60.0)
    >>> bool(score[2500, 1] > DEFAULT_THRESHOLD), bool(np.nanmax(score[2000:, 0]) < 1.0)
    (True, True)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    w_base = max(3, round(baseline_s / step_s))
    w_spread = max(10, round(spread_s / step_s))
    w_hist = max(10, round(history_s / step_s))
    w_short = max(1, round(short_s / step_s))
    w_sustain = max(1, round(sustain_s / step_s))

    candidates = [_past_median(x, w_base, max(2, min(w_base // 4, 30)))]
    if seasonal and abs(_DAY_S / step_s - round(_DAY_S / step_s)) < 1e-9:
        day = round(_DAY_S / step_s)
        if 2 * day < n:
            candidates.append(_seasonal(x, day, 7, 2))
        if 14 * day < n:
            candidates.append(_seasonal(x, 7 * day, 4, 2))

    best_expected = np.full_like(x, np.nan)
    best_scale = np.full_like(x, np.inf)
    for expected in candidates:
        spread = _past_median(np.abs(x - expected), w_spread, max(5, w_base // 2))
        ok = np.isfinite(spread) & np.isfinite(expected) & (spread < best_scale)
        best_expected = np.where(ok, expected, best_expected)
        best_scale = np.where(ok, spread, best_scale)
    best_expected = np.where(np.isfinite(best_expected), best_expected, candidates[0])

    level = np.abs(np.where(np.isfinite(best_expected), best_expected, 0.0))
    resid = x - best_expected
    # Robust z for callers (sweep direction and size); a flat history's zero spread is floored.
    scale = _MAD_TO_SIGMA * np.where(np.isfinite(best_scale), best_scale, np.nan)
    scale = np.maximum(scale, np.maximum(1e-3 * level, 1e-9))
    z = resid / scale

    # Novelty: the deviation against the largest one of the past ``history_s``, for single steps
    # (spikes) and for the median over ``sustain_s`` (level shifts hidden among past spikes).
    absres = np.abs(resid)
    score = np.full_like(x, np.nan)
    for window in (w_short, w_sustain):
        if window == w_short:
            dev = _rolling(absres, "mean", window, 1)
        elif window <= 32:
            dev = _rolling(absres, "median", window, max(1, window // 2))
        else:  # a long window: median of 4-step block medians (lags by at most one block)
            dev = _past_median(absres, window, max(1, window // 2), blocks=window // 4)
        dev = np.where(np.isnan(x), np.nan, dev)
        record = _rolling(dev, "max", w_hist, max(10, w_hist // 14), shift=window)
        record = np.maximum(record, np.maximum(1e-6 * level, 1e-12))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            excess = np.maximum(dev / record - 1.0, 0.0)
            part = 1.0 - np.exp2(-excess / NOVELTY_HALF)
        part = np.where(np.isnan(dev) | np.isnan(record), np.nan, part)
        score = np.fmax(score, part)
    return best_expected, z, _refractory(score, max(0, round(refractory_s / step_s)))


# ------------------------------------------------------------------------------------ public API
def _step_seconds(step: timedelta | float | None, ts_ms: np.ndarray) -> float:
    if step is not None:
        s = step.total_seconds() if isinstance(step, timedelta) else float(step)
        if s <= 0:
            raise ValueError(f"step must be positive, got {step!r}")
        return s
    diffs = np.diff(ts_ms)
    diffs = diffs[diffs > 0]
    if diffs.size == 0:
        return 60.0
    return float(np.median(diffs)) / 1000.0


def _as_frame(timestamps: Sequence[datetime] | pl.Series | np.ndarray, values: Sequence[float] | pl.Series
              | np.ndarray) -> pl.DataFrame:
    ts = pl.Series("timestamp", timestamps)
    if ts.dtype == pl.Datetime:
        ts = ts.dt.replace_time_zone("UTC") if ts.dtype.time_zone is None else ts.dt.convert_time_zone("UTC")  # type: ignore[attr-defined]
        ts = ts.cast(UTC_MS)
    elif ts.len() or ts.dtype != pl.Null:
        raise FrameValidationError("series", "timestamp", f"expected datetimes, found {ts.dtype}")
    vals = pl.Series("value", values, dtype=pl.Float64, strict=False)
    if ts.len() != vals.len():
        raise FrameValidationError("series", "value", f"{vals.len()} values for {ts.len()} timestamps")
    frame = pl.DataFrame([ts.cast(UTC_MS), vals])
    return (frame.filter(pl.col("timestamp").is_not_null() & pl.col("value").is_not_null()
                         & pl.col("value").is_finite())
            .group_by("timestamp").agg(pl.col("value").mean()).sort("timestamp"))


def _to_grid(frame: pl.DataFrame, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(grid timestamps in ms, values) of a deduplicated, sorted series; NaN where a step has no data."""
    ts = frame["timestamp"].dt.epoch("ms").to_numpy()
    step_ms = step_s * 1000.0
    origin = int(ts[0] - np.mod(ts[0], step_ms))  # aligned to the epoch, as CloudWatch periods are
    idx = np.floor((ts - origin) / step_ms).astype(np.int64)
    n = int(idx[-1]) + 1
    if n > _MAX_GRID:
        raise FrameValidationError("series", "timestamp",
                                   f"{n} steps of {step_s:g} s between the first and last timestamp; pass step")
    sums = np.bincount(idx, weights=frame["value"].to_numpy(), minlength=n)
    counts = np.bincount(idx, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    grid_ts = origin + np.round(np.arange(n) * step_ms).astype(np.int64)
    return grid_ts, grid


def anomaly_scores(
    timestamps: Sequence[datetime] | pl.Series | np.ndarray,
    values: Sequence[float] | pl.Series | np.ndarray,
    *,
    step: timedelta | float | None = None,
    baseline_s: float = 12 * 3600.0,
    history_s: float = _DAY_S,
    spread_s: float = _DAY_S,
    short_s: float = 0.0,
    sustain_s: float = 7200.0,
    seasonal: bool = True,
    refractory_s: float = REFRACTORY_S,
) -> pl.DataFrame:
    """Online anomaly score of every point of one series.

    Parameters
    ----------
    timestamps, values
        The series, in any order; duplicate timestamps are averaged, null / NaN values dropped.
    step
        Grid step (timedelta or seconds). By default the median step between distinct timestamps:
        the only quantity read from the whole series; pass it to make the scores strictly online.
    baseline_s
        Look-back of the rolling median baseline (12 h).
    history_s
        Look-back of the largest past deviation a new one is compared with (1 day).
    spread_s
        Look-back of the residual spread that picks the baseline and scales ``z`` (1 day).
    short_s
        Averaging window of the absolute residual (0: one step, no averaging).
    sustain_s
        Window of the median absolute residual, the second novelty channel (2 h): it catches a level
        shift whose single steps are no larger than past spikes.
    seasonal
        Also try the same-time-of-day and same-time-of-week medians as baselines.
    refractory_s
        After an alarm (score at or above :data:`DEFAULT_THRESHOLD`), the scores of this long (6 h) are
        multiplied by :data:`REPEAT_DAMPING` (0.45), so they stay below the threshold: one event, one
        alarm. 0 turns it off.

    Returns
    -------
    polars.DataFrame
        One row per grid step holding data: ``timestamp`` (grid step start, ``Datetime("ms", "UTC")``),
        ``value`` (mean of the points in the step), ``expected`` (baseline forecast, null before any
        history), ``score`` (0..1, null while the history is too short to judge).

    Examples
    --------
    >>> import slo_analysis as sa
    >>> snap = sa.store.Snapshot.open(demo_snapshot())
    >>> m = snap.scan("metrics").filter(
    ...     (pl.col("metric") == "Latency") & (pl.col("stat") == "p99")
    ...     & (pl.col("dimensions") == "Environment=prod,Operation=CreateTicket,Service=ticket-api")).collect()
    >>> s = anomaly_scores(m["timestamp"], m["value"])
    >>> bool(s["score"].max() > DEFAULT_THRESHOLD)
    True
    """
    frame = _as_frame(timestamps, values)
    schema = pl.Schema({"timestamp": UTC_MS, "value": pl.Float64(), "expected": pl.Float64(),
                        "score": pl.Float64()})
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    step_s = _step_seconds(step, frame["timestamp"].dt.epoch("ms").to_numpy())
    grid_ts, grid = _to_grid(frame, step_s)
    expected, _, score = score_matrix(grid[:, None], step_s, baseline_s=baseline_s, history_s=history_s,
                                      spread_s=spread_s, short_s=short_s, sustain_s=sustain_s,
                                      seasonal=seasonal, refractory_s=refractory_s)
    keep = ~np.isnan(grid)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(grid_ts[keep]).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
            "value": grid[keep],
            "expected": expected[keep, 0],
            "score": score[keep, 0],
        },
        schema=schema,
    ).with_columns(pl.col("expected", "score").fill_nan(None))


def anomalous_windows(scores: pl.DataFrame, threshold: float = DEFAULT_THRESHOLD,
                      merge_gap: timedelta = timedelta(minutes=15)) -> pl.DataFrame:
    """Merge points scoring at or above ``threshold`` into half-open windows.

    Parameters
    ----------
    scores
        A frame with ``timestamp`` and ``score`` (as :func:`anomaly_scores` returns).
    threshold
        Score at or above which a point is anomalous.
    merge_gap
        Anomalous points closer than this belong to one window.

    Returns
    -------
    polars.DataFrame
        ``start`` (first anomalous point), ``end`` (one median step after the last one), ``peak_score``,
        sorted by ``start``.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = pl.DataFrame({"timestamp": [t0 + timedelta(minutes=i) for i in range(6)],
    ...                   "score": [0.1, 0.9, 0.8, 0.1, 0.1, 0.7]})
    >>> anomalous_windows(s, merge_gap=timedelta(minutes=2))["peak_score"].to_list()
    [0.9, 0.7]
    """
    for col in ("timestamp", "score"):
        if col not in scores.columns:
            raise FrameValidationError("scores", col, "missing column")
    out_schema = pl.Schema({"start": UTC_MS, "end": UTC_MS, "peak_score": pl.Float64()})
    s = scores.select(pl.col("timestamp").cast(UTC_MS), pl.col("score").cast(pl.Float64)).sort("timestamp")
    diffs = s["timestamp"].diff().drop_nulls()
    step = diffs.filter(diffs > timedelta(0)).median() if diffs.len() else None
    step_td = step if isinstance(step, timedelta) else timedelta(minutes=1)
    hits = s.filter(pl.col("score") >= threshold)
    if hits.height == 0:
        return pl.DataFrame(schema=out_schema)
    return (
        hits.with_columns(
            (pl.col("timestamp").diff() >= merge_gap).fill_null(True).cum_sum().alias("_w"))
        .group_by("_w")
        .agg(pl.col("timestamp").min().alias("start"), (pl.col("timestamp").max() + step_td).alias("end"),
             pl.col("score").max().alias("peak_score"))
        .sort("start")
        .select(out_schema.names())
    )


def change_point_onset(
    timestamps: Sequence[datetime] | pl.Series | np.ndarray,
    values: Sequence[float] | pl.Series | np.ndarray,
    *,
    search: tuple[datetime, datetime] | None = None,
    margin: timedelta = timedelta(hours=2),
    min_shift: float = 3.0,
    step: timedelta | float | None = None,
) -> datetime | None:
    """Offline estimate of when the biggest level shift in (or near) ``search`` began.

    Method: ``ruptures`` PELT with the ``l2`` cost on the resampled series (gaps filled by carrying
    the last value forward), scaled by its robust step-to-step noise, over ``search`` widened by
    ``margin`` on both sides plus as much context again. ``l2`` detects changes of mean, which is what
    a deployment or a failing dependency does to latency, error and traffic series; ``rbf`` is O(n^2)
    in memory and also fires on variance changes (busy hours). PELT rather than Binseg: PELT puts a
    change point where a ramp starts, Binseg's greedy split lands mid-ramp (5 minutes late on the
    demo's AssignAgent p99). ruptures' PELT runs Python loops, so spans over 200 steps are searched on
    a lattice of ``n // 200`` steps. The penalty is the BIC-like
    ``3 log n`` on unit-variance data. Each change point is weighed by the shift it starts, ``|mean
    after - mean before|`` over the adjacent segments in robust-sigma units; the largest wins if it
    reaches ``min_shift`` sigmas.

    Parameters
    ----------
    timestamps, values
        The series (any order; duplicates averaged).
    search
        ``(start, end)``: only change points in ``[start - margin, end + margin)`` count. None: anywhere.
    margin
        Widening of ``search`` (2 h), so a cause that moved a little before the symptoms is found.
    min_shift
        Smallest significant shift, in robust sigmas of the series' step-to-step noise.
    step
        Grid step, as in :func:`anomaly_scores`.

    Returns
    -------
    datetime or None
        The timestamp of the first step of the new segment, or None when no shift is significant.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> ts = [t0 + timedelta(minutes=i) for i in range(300)]
    >>> vals = [10.0 + (i % 3) * 0.1 + (5.0 if i >= 200 else 0.0) for i in range(300)]
    >>> change_point_onset(ts, vals, search=(t0 + timedelta(hours=3), t0 + timedelta(hours=4))).isoformat()
    '2026-01-01T03:20:00+00:00'
    >>> change_point_onset(ts, [10.0 + (i % 3) * 0.1 for i in range(300)]) is None
    True
    """
    import ruptures as rpt

    frame = _as_frame(timestamps, values)
    if frame.height < 8:
        return None
    step_s = _step_seconds(step, frame["timestamp"].dt.epoch("ms").to_numpy())
    grid_ts, grid = _to_grid(frame, step_s)
    lo_ms, hi_ms = -np.inf, np.inf
    if search is not None:
        lo_ms = (search[0] - margin).timestamp() * 1000.0
        hi_ms = (search[1] + margin).timestamp() * 1000.0
    # Fit on the search span plus the same length of context on each side (bounded), not all history.
    if search is not None:
        span = hi_ms - lo_ms
        sel = (grid_ts >= lo_ms - span) & (grid_ts < hi_ms + span)
        grid_ts, grid = grid_ts[sel], grid[sel]
    filled = pl.Series(grid).fill_nan(None).fill_null(strategy="forward").fill_null(strategy="backward")
    y = filled.to_numpy().astype(np.float64)
    if y.size < 8 or np.all(np.isnan(y)):
        return None
    noise = _MAD_TO_SIGMA * float(np.median(np.abs(np.diff(y)))) / math.sqrt(2.0)
    if noise <= 0:
        noise = float(np.std(y)) or 1.0
    signal = ((y - np.median(y)) / noise).reshape(-1, 1)
    algo = rpt.Pelt(model="l2", min_size=3, jump=max(1, len(signal) // 200)).fit(signal)
    bkps = algo.predict(pen=3.0 * math.log(len(signal)))
    bounds = [0, *bkps]
    best: tuple[float, int] | None = None
    for i in range(1, len(bounds) - 1):
        cp = bounds[i]
        if not lo_ms <= grid_ts[cp] < hi_ms:
            continue
        before = signal[bounds[i - 1]:cp, 0]
        after = signal[cp:bounds[i + 1], 0]
        shift = abs(float(np.mean(after)) - float(np.mean(before)))
        if shift >= min_shift and (best is None or shift > best[0]):
            best = (shift, cp)
    if best is None:
        return None
    ms = int(grid_ts[best[1]])
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)
