"""SLIs as per-period SLI frames (the contract in ``docs/slo-engine.md``).

Every function returns an :class:`SliSeries`: one row per period on the regular grid
``start, start + period, ...`` covering the half-open window ``[start, end)`` (whose length must be a
whole number of periods; :func:`align_window` widens a window to one), with ``timestamp``
(``Datetime("ms", "UTC")``, the period start), ``good`` and ``bad`` (``Float64``). A period with no
data, or excluded, has ``good = bad = 0``.

Semantics
---------
- Comparisons: a value is *good* when ``value <comparison> threshold`` holds (``LessThan 800``: 799.9
  is good, 800 is bad), as Application Signals compares the SLI metric with ``MetricThreshold``.
- Period-based missing data (:func:`period_sli_from_series`): ``missing="good"`` (default) counts a
  period without a datapoint as good, ``"bad"`` as bad, ``"exclude"`` leaves it out (good = bad = 0).
  The default treats "no datapoint" as "nothing was served badly": Application Signals metrics have no
  datapoint in a minute without requests, and the demo's ground truth counts such periods as good.
  When several datapoints fall in one period the period is good only if all of them are, or, with a
  ``slice_target`` (OpenSLO ``timeSliceTarget``), if at least that share of them is.
- Time slices from event counts (OpenSLO ``Timeslices`` / ``RatioTimeslices`` on a ratio metric): the
  counts of a request-based SLI on the slice grid become one slice per period.
  :func:`timeslices_sli`: a slice is good (1) when ``good / (good + bad) >= slice_target``, else bad (1);
  :func:`ratio_timeslices_sli`: a slice scores ``good = ratio``, ``bad = 1 - ratio``, so attainment
  (sum good / sum slices) is the mean of the slices' ratios. A slice without events follows the same
  ``missing`` policy as a period without a datapoint.
- First response (:func:`first_response_sli`): the window end is the moment of observation. A ticket
  counts in the period of its creation; it is good when its first response (before the window end)
  came within the threshold (``<=``), bad when it came later, bad when still unanswered and more than
  the threshold has passed (``end - created > threshold``), and not counted otherwise (right-censored:
  it may still be answered in time).
- Exclusions (:func:`apply_exclusions`): a period that overlaps an excluded interval is excluded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import polars as pl

from slo_analysis.core.model import SLO, ExclusionWindow, MetricRef
from slo_analysis.exceptions import SloAnalysisError

__all__ = [
    "SLI_COLUMNS",
    "SliError",
    "SliSeries",
    "Window",
    "MissingPolicy",
    "align_window",
    "period_grid",
    "compare",
    "request_sli_from_requests",
    "request_sli_from_counts",
    "period_sli_from_series",
    "first_response_sli",
    "timeslices_sli",
    "ratio_timeslices_sli",
    "apply_exclusions",
]

Window = tuple[datetime, datetime]
MissingPolicy = Literal["good", "bad", "exclude"]
Frame = pl.DataFrame | pl.LazyFrame
SLI_COLUMNS: dict[str, pl.DataType] = {"timestamp": pl.Datetime("ms", "UTC"), "good": pl.Float64(),
                                       "bad": pl.Float64()}


class SliError(SloAnalysisError, ValueError):
    """An SLI cannot be computed from these inputs (bad window, missing column, unknown policy)."""


@dataclass(frozen=True)
class SliSeries:
    """A per-period SLI frame with its period (seconds) and method (``request`` | ``period``)."""

    frame: pl.DataFrame
    period_s: int
    method: Literal["request", "period"]

    def __post_init__(self) -> None:
        for col, dtype in SLI_COLUMNS.items():
            if col not in self.frame.columns or self.frame.schema[col] != dtype:
                raise SliError(f"SLI frame column {col!r} must be {dtype!r}")
        if self.method not in ("request", "period"):
            raise SliError(f"SLI method must be 'request' or 'period', got {self.method!r}")

    @property
    def window(self) -> Window:
        """The ``[start, end)`` the grid covers."""
        ts = self.frame["timestamp"]
        if ts.is_empty():
            raise SliError("an empty SLI has no window")
        start = ts[0]
        return start, ts[-1] + timedelta(seconds=self.period_s)


def _ms(t: datetime, what: str = "window") -> int:
    if not isinstance(t, datetime) or t.tzinfo is None:
        raise SliError(f"{what}: expected a timezone-aware datetime, got {t!r}")
    return int((t.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))


def _grid(window: Window, period_s: int) -> tuple[int, int, int]:
    """(start_ms, period_ms, n) of the grid; checks the window."""
    if isinstance(period_s, bool) or not isinstance(period_s, int) or period_s < 1:
        raise SliError(f"period_s must be a positive integer, got {period_s!r}")
    start, end = _ms(window[0]), _ms(window[1])
    if end <= start:
        raise SliError(f"window end {window[1]} is not after its start {window[0]}")
    p = period_s * 1000
    if (end - start) % p:
        raise SliError(f"window [{window[0]}, {window[1]}) is not a whole number of {period_s} s periods "
                       "(use align_window)")
    return start, p, (end - start) // p


def align_window(window: Window, period_s: int) -> Window:
    """Widen ``window`` to period boundaries (epoch-aligned): floor the start, ceil the end.

    >>> align_window((datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, 10, tzinfo=UTC)), 60)[1]
    datetime.datetime(2026, 1, 1, 0, 2, tzinfo=datetime.timezone.utc)
    """
    p = period_s * 1000
    s, e = _ms(window[0]), _ms(window[1])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + timedelta(milliseconds=(s // p) * p), epoch + timedelta(milliseconds=-(-e // p) * p)


def period_grid(window: Window, period_s: int) -> pl.Series:
    """The period starts of ``window`` as a ``Datetime("ms", "UTC")`` series named ``timestamp``.

    Examples
    --------
    >>> t0 = datetime(2026, 11, 2, tzinfo=UTC)
    >>> period_grid((t0, t0 + timedelta(minutes=3)), 60).dt.strftime("%H:%M").to_list()
    ['00:00', '00:01', '00:02']

    The hourly grid of the demo snapshot (three days; its window ends a few seconds before midnight):

    >>> import slo_analysis as sa
    >>> grid = period_grid(align_window(sa.store.Snapshot.open(demo_snapshot()).window, 3600), 3600)
    >>> grid.len(), grid[-1].strftime("%d %H:%M")
    (72, '04 23:00')
    """
    start, p, n = _grid(window, period_s)
    return pl.Series("timestamp", start + np.arange(n, dtype=np.int64) * p).cast(pl.Datetime("ms", "UTC"))


def _series(window: Window, period_s: int, good: np.ndarray, bad: np.ndarray,
            method: Literal["request", "period"]) -> SliSeries:
    frame = pl.DataFrame({"timestamp": period_grid(window, period_s),
                          "good": pl.Series(good, dtype=pl.Float64), "bad": pl.Series(bad, dtype=pl.Float64)})
    return SliSeries(frame, period_s, method)


def _need(df: Frame, cols: Iterable[str], what: str) -> pl.LazyFrame:
    lf = df.lazy()
    have = lf.collect_schema().names()
    missing = [c for c in cols if c not in have]
    if missing:
        raise SliError(f"{what} frame lacks column(s) {', '.join(missing)}")
    return lf


def _index(lf: pl.LazyFrame, start: int, p: int, n: int, ts: str = "timestamp") -> pl.LazyFrame:
    """Rows within the grid with their period index ``_i``."""
    t = pl.col(ts).dt.epoch("ms")
    return lf.filter((t >= start) & (t < start + n * p)).with_columns(_i=((t - start) // p).cast(pl.Int64))


def _bincount(idx: pl.Series, weights: pl.Series | None, n: int) -> np.ndarray:
    i = idx.to_numpy()
    w = None if weights is None else weights.cast(pl.Float64).fill_null(0.0).to_numpy()
    return np.bincount(i, weights=w, minlength=n).astype(np.float64)[:n]


def compare(values: pl.Expr, threshold: float, comparison: str) -> pl.Expr:
    """``values <comparison> threshold`` as a boolean expression (True = good).

    >>> pl.select(compare(pl.lit(800.0), 800.0, "LessThan")).item()
    False
    """
    if comparison == "LessThan":
        return values < threshold
    if comparison == "LessThanOrEqualTo":
        return values <= threshold
    if comparison == "GreaterThan":
        return values > threshold
    if comparison == "GreaterThanOrEqualTo":
        return values >= threshold
    raise SliError(f"unknown comparison operator {comparison!r}")


def request_sli_from_requests(requests: Frame, slo: SLO, window: Window, period_s: int = 60) -> SliSeries:
    """A request-based SLI from the ``requests`` frame.

    Rows of ``slo.service`` and ``slo.operation`` (when set) in ``window``. Availability: a request
    is bad when ``fault`` (5xx). Latency: a request is good when ``latency_ms <comparison>
    threshold``, bad otherwise (faults included, as in the Latency metric).

    Parameters
    ----------
    requests : polars.DataFrame or LazyFrame
        the canonical requests frame (timestamp, service, operation, latency_ms, fault).
    slo : SLO
        an availability or latency SLO.
    window : (datetime, datetime)
        ``[start, end)``, timezone-aware, a whole number of periods long.
    period_s : int
        period of the SLI grid, seconds.

    Returns
    -------
    SliSeries
        method ``request``; good and bad are request counts per period.

    Examples
    --------
    CreateTicket availability over the demo's incident hours (3 November, 14:00 to 16:00), per hour:

    >>> import slo_analysis as sa
    >>> from slo_analysis.core.model import slos_from_frame
    >>> snap = sa.store.Snapshot.open(demo_snapshot())
    >>> slo = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Availability")
    >>> t0 = datetime(2026, 11, 3, 14, tzinfo=UTC)
    >>> sli = request_sli_from_requests(snap.scan("requests"), slo, (t0, t0 + timedelta(hours=2)), 3600)
    >>> sli.frame["good"].to_list(), sli.frame["bad"].to_list()
    ([103.0, 98.0], [6.0, 2.0])
    """
    start, p, n = _grid(window, period_s)
    lf = _need(requests, ("timestamp", "service", "operation", "latency_ms", "fault"), "requests")
    if slo.sli_kind not in ("availability", "latency"):
        raise SliError(f"SLO {slo.name}: a {slo.sli_kind} SLI is not defined on requests (use count metrics)")
    if slo.service is not None:
        lf = lf.filter(pl.col("service") == slo.service)
    if slo.operation is not None:
        lf = lf.filter(pl.col("operation") == slo.operation)
    if slo.sli_kind == "availability":
        is_bad = pl.col("fault").fill_null(False)
    else:
        assert slo.threshold is not None and slo.comparison is not None
        is_bad = ~compare(pl.col("latency_ms"), slo.threshold, slo.comparison).fill_null(False)
    df = _index(lf, start, p, n).select("_i", _bad=is_bad.cast(pl.Float64)).collect()
    total = _bincount(df["_i"], None, n)
    bad = _bincount(df["_i"], df["_bad"], n)
    return _series(window, period_s, total - bad, bad, "request")


def _metric_rows(metrics: pl.LazyFrame, ref: MetricRef) -> pl.LazyFrame:
    if ref.expression is not None or ref.metric is None or ref.namespace is None or ref.statistic is None:
        raise SliError(f"metric {ref.role}: needs namespace, metric and statistic (metric math is not evaluated)")
    lf = metrics.filter((pl.col("namespace") == ref.namespace) & (pl.col("metric") == ref.metric)
                        & (pl.col("dimensions") == ref.dimensions) & (pl.col("stat") == ref.statistic))
    # the same metric stored at several periods would count twice: keep the finest
    return lf.filter(pl.col("period_s") == pl.col("period_s").min())


def _counts(metrics: pl.LazyFrame, ref: MetricRef, start: int, p: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(sum per period, whether the period had a datapoint)."""
    df = _index(_metric_rows(metrics, ref), start, p, n).select("_i", "value").collect()
    return _bincount(df["_i"], df["value"], n), _bincount(df["_i"], None, n) > 0


def request_sli_from_counts(metrics: Frame, slo: SLO, window: Window, period_s: int = 60, *,
                            total: MetricRef | None = None, good: MetricRef | None = None,
                            bad: MetricRef | None = None) -> SliSeries:
    """A request-based SLI from count metrics in the ``metrics`` frame.

    ``total`` with ``bad`` (Application Signals availability: ``Latency`` SampleCount and ``Fault``
    Sum, so availability = 1 - Fault / SampleCount) or with ``good`` (a custom ratio SLI). The
    references default to the SLO's ``metrics`` of those roles. Datapoints are summed into the
    period their timestamp falls in (``period_s`` should be a multiple of the metric period). A
    period with a total and no bad (good) datapoint has no bad (all good) events; bad counts are
    capped at the period's total, and good = total - bad.

    Parameters
    ----------
    metrics : polars.DataFrame or LazyFrame
        the canonical metrics frame.
    slo : SLO
    window : (datetime, datetime)
    period_s : int
    total, good, bad : MetricRef, optional
        override the SLO's metric references.

    Returns
    -------
    SliSeries
        method ``request``.

    Examples
    --------
    The same demo hours as :func:`request_sli_from_requests`, from the SLO's ``Latency`` SampleCount
    (total) and ``Fault`` Sum (bad) metrics: the same counts.

    >>> import slo_analysis as sa
    >>> from slo_analysis.core.model import slos_from_frame
    >>> snap = sa.store.Snapshot.open(demo_snapshot())
    >>> slo = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Availability")
    >>> [(m.role, m.metric, m.statistic) for m in slo.metrics]
    [('total', 'Latency', 'SampleCount'), ('bad', 'Fault', 'Sum')]
    >>> t0 = datetime(2026, 11, 3, 14, tzinfo=UTC)
    >>> sli = request_sli_from_counts(snap.scan("metrics"), slo, (t0, t0 + timedelta(hours=2)), 3600)
    >>> sli.frame["good"].to_list(), sli.frame["bad"].to_list()
    ([103.0, 98.0], [6.0, 2.0])
    """
    start, p, n = _grid(window, period_s)
    lf = _need(metrics, ("timestamp", "namespace", "metric", "dimensions", "stat", "period_s", "value"), "metrics")
    total = total or slo.metric("total")
    if good is None and bad is None:
        good, bad = slo.metric("good"), slo.metric("bad")
    if total is None or (good is None and bad is None):
        raise SliError(f"SLO {slo.name}: a count SLI needs a total metric and a good or bad metric")
    t, _ = _counts(lf, total, start, p, n)
    if bad is not None:
        b, _ = _counts(lf, bad, start, p, n)
        b = np.minimum(b, t)
    else:
        assert good is not None
        g, _ = _counts(lf, good, start, p, n)
        b = t - np.minimum(g, t)
    return _series(window, period_s, t - b, b, "request")


def period_sli_from_series(series: Frame, threshold: float, comparison: str, window: Window, period_s: int, *,
                           missing: MissingPolicy = "good", slice_target: float | None = None) -> SliSeries:
    """A period-based SLI: each period is good when its value compares well with the threshold.

    Parameters
    ----------
    series : polars.DataFrame or LazyFrame
        ``timestamp`` and ``value`` (e.g. a p99 latency metric). Null and NaN values are missing.
    threshold : float
    comparison : str
        ``LessThan`` | ``LessThanOrEqualTo`` | ``GreaterThan`` | ``GreaterThanOrEqualTo``; good when
        ``value <comparison> threshold``.
    window : (datetime, datetime)
    period_s : int
    missing : {"good", "bad", "exclude"}
        a period without a value is good (default), bad, or not counted (good = bad = 0).
    slice_target : float, optional
        the share of a period's datapoints that must be good for the period to be good, in ``(0, 1]``
        (OpenSLO ``timeSliceTarget``); by default all of them.

    Returns
    -------
    SliSeries
        method ``period``; good and bad are 1.0 / 0.0 per period.

    Examples
    --------
    The demo's p99 latency per minute against 800 ms, on the first hour of the demo:

    >>> import slo_analysis as sa
    >>> m = sa.store.Snapshot.open(demo_snapshot()).scan("metrics")
    >>> p99 = m.filter((pl.col("metric") == "Latency") & (pl.col("stat") == "p99") & (pl.col("period_s") == 60)
    ...                & (pl.col("dimensions").str.contains("Operation=CreateTicket,")))
    >>> t0 = datetime(2026, 11, 2, tzinfo=UTC)
    >>> sli = period_sli_from_series(p99, 800.0, "LessThan", (t0, t0 + timedelta(hours=1)), 60)
    >>> sli.frame.height, sli.frame["good"].sum(), sli.method
    (60, 60.0, 'period')
    """
    if missing not in ("good", "bad", "exclude"):
        raise SliError(f"missing-data policy must be 'good', 'bad' or 'exclude', got {missing!r}")
    _check_slice_target(slice_target)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise SliError(f"threshold must be a finite number, got {threshold!r}")
    start, p, n = _grid(window, period_s)
    lf = _need(series, ("timestamp", "value"), "series")
    v = pl.col("value").cast(pl.Float64)
    df = (_index(lf, start, p, n).filter(v.is_not_null() & v.is_not_nan())
          .select("_i", _bad=(~compare(v, float(threshold), comparison)).cast(pl.Float64)).collect())
    count = _bincount(df["_i"], None, n)
    seen = count > 0
    n_bad = _bincount(df["_i"], df["_bad"], n)
    if slice_target is None:
        ok = n_bad == 0
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = (count - n_bad) / count >= slice_target
    bad = np.where(seen, ~ok, missing == "bad").astype(np.float64)
    good = np.where(seen, ok, missing == "good").astype(np.float64)
    return _series(window, period_s, good, bad, "period")


def _check_slice_target(slice_target: float | None) -> None:
    if slice_target is not None and (isinstance(slice_target, bool) or not isinstance(slice_target, int | float)
                                     or not 0 < slice_target <= 1):
        raise SliError(f"slice_target must be a fraction in (0, 1], got {slice_target!r}")


def _slice_ratios(counts: SliSeries, missing: MissingPolicy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(good and bad event ratios per slice, 0 without events; whether the slice had events)."""
    if not isinstance(counts, SliSeries) or counts.method != "request":
        raise SliError("time slices are built from a request-based SliSeries of event counts (e.g. "
                       "request_sli_from_counts on the slice grid)")
    if missing not in ("good", "bad", "exclude"):
        raise SliError(f"missing-data policy must be 'good', 'bad' or 'exclude', got {missing!r}")
    g, b = counts.frame["good"].to_numpy(), counts.frame["bad"].to_numpy()
    total = g + b
    seen = total > 0
    safe = np.where(seen, total, 1.0)
    return np.where(seen, g / safe, 0.0), np.where(seen, b / safe, 0.0), seen


def _slices(counts: SliSeries, good: np.ndarray, bad: np.ndarray, seen: np.ndarray,
            missing: MissingPolicy) -> SliSeries:
    good = np.where(seen, good, 1.0 if missing == "good" else 0.0)
    bad = np.where(seen, bad, 1.0 if missing == "bad" else 0.0)
    frame = counts.frame.with_columns(good=pl.Series(good, dtype=pl.Float64), bad=pl.Series(bad, dtype=pl.Float64))
    return SliSeries(frame, counts.period_s, "period")


def timeslices_sli(counts: SliSeries, slice_target: float, *, missing: MissingPolicy = "good") -> SliSeries:
    """OpenSLO ``Timeslices`` on a ratio SLI: a slice is good when its good-event ratio meets the target.

    Parameters
    ----------
    counts : SliSeries
        a request-based SLI whose period is the time slice (good and bad event counts per slice).
    slice_target : float
        ``timeSliceTarget`` in ``(0, 1]``: a slice is good when ``good / (good + bad) >= slice_target``.
    missing : {"good", "bad", "exclude"}
        a slice without events is good (default), bad, or not counted.

    Returns
    -------
    SliSeries
        method ``period``, same grid; good and bad are 1.0 / 0.0 per slice, so attainment is
        good slices / slices.

    Examples
    --------
    Tickets answered within 5 minutes, per 5-minute slice, on the first six hours of the demo; a slice
    is good when 90 % of its tickets were answered in time:

    >>> import slo_analysis as sa
    >>> from slo_analysis.core.model import slos_from_frame
    >>> snap = sa.store.Snapshot.open(demo_snapshot())
    >>> fr = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "FirstResponse-5m")
    >>> t0 = datetime(2026, 11, 2, tzinfo=UTC)
    >>> counts = request_sli_from_counts(snap.scan("metrics"), fr, (t0, t0 + timedelta(hours=6)), 300)
    >>> slices = timeslices_sli(counts, 0.9)
    >>> slices.method, slices.frame.height, slices.frame["good"].sum(), slices.frame["bad"].sum()
    ('period', 72, 71.0, 1.0)

    One slice (05:25) had 1 of 2 tickets late: the only bad slice. Averaging ratios instead
    (:func:`ratio_timeslices_sli`) charges it half a slice:

    >>> ratio_timeslices_sli(counts).frame["bad"].sum()
    0.5
    """
    _check_slice_target(slice_target)
    if slice_target is None:
        raise SliError("timeslices_sli needs a slice_target in (0, 1]")
    ratio, _, seen = _slice_ratios(counts, missing)
    ok = ratio >= slice_target
    return _slices(counts, ok.astype(np.float64), (~ok).astype(np.float64), seen, missing)


def ratio_timeslices_sli(counts: SliSeries, *, missing: MissingPolicy = "good") -> SliSeries:
    """OpenSLO ``RatioTimeslices``: each slice scores its good-event ratio, so attainment is their mean.

    Parameters
    ----------
    counts : SliSeries
        a request-based SLI whose period is the time slice.
    missing : {"good", "bad", "exclude"}
        a slice without events scores 1 (default), 0, or is not counted.

    Returns
    -------
    SliSeries
        method ``period``, same grid; ``good = good / (good + bad)`` and ``bad = 1 - good`` per slice.

    Examples
    --------
    Two slices, one with 9 of 10 requests good and one with 1 of 1: the mean ratio is 0.95, where
    counting occurrences would give 10 / 11.

    >>> t0 = datetime(2026, 11, 2, tzinfo=UTC)
    >>> f = pl.DataFrame({"timestamp": period_grid((t0, t0 + timedelta(minutes=10)), 300),
    ...                   "good": [9.0, 1.0], "bad": [1.0, 0.0]})
    >>> s = ratio_timeslices_sli(SliSeries(f, 300, "request"))
    >>> s.frame["good"].to_list(), round(s.frame["good"].sum() / s.frame.height, 9)
    ([0.9, 1.0], 0.95)
    """
    good, bad, seen = _slice_ratios(counts, missing)
    return _slices(counts, good, bad, seen, missing)


def first_response_sli(events: Frame, threshold_s: float, window: Window, period_s: int = 60) -> SliSeries:
    """The first-response SLI from ticket lifecycle events, right-censored at the window end.

    Parameters
    ----------
    events : polars.DataFrame or LazyFrame
        ``ticket_id``, ``event`` (``ticket_created``, ``first_response``; others are ignored) and
        ``timestamp``. The earliest event of each kind per ticket counts.
    threshold_s : float
        seconds allowed between creation and first response (inclusive).
    window : (datetime, datetime)
        tickets created in ``[start, end)`` count, in the period of their creation; ``end`` is the
        moment of observation, so responses at or after it are not seen.
    period_s : int

    Returns
    -------
    SliSeries
        method ``request``; good and bad are ticket counts. A ticket unanswered at ``end`` is bad
        only when ``end - created > threshold``; otherwise it is not counted.

    Examples
    --------
    Tickets answered within 5 minutes in the demo's first six hours, per hour:

    >>> import slo_analysis as sa
    >>> from slo_analysis.analysis.slo_status import ticket_events_from_logs
    >>> events = ticket_events_from_logs(sa.store.Snapshot.open(demo_snapshot()).scan("logs"))
    >>> t0 = datetime(2026, 11, 2, tzinfo=UTC)
    >>> sli = first_response_sli(events, 300, (t0, t0 + timedelta(hours=6)), 3600)
    >>> sli.frame["good"].to_list(), sli.frame["bad"].to_list()
    ([28.0, 29.0, 29.0, 27.0, 29.0, 26.0], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    """
    if isinstance(threshold_s, bool) or not isinstance(threshold_s, int | float) or threshold_s < 0:
        raise SliError(f"threshold_s must be a non-negative number, got {threshold_s!r}")
    start, p, n = _grid(window, period_s)
    end = start + n * p
    lf = _need(events, ("ticket_id", "event", "timestamp"), "events")
    t = pl.col("timestamp").dt.epoch("ms")
    lf = lf.filter(pl.col("ticket_id").is_not_null() & (t < end))
    created = (lf.filter(pl.col("event") == "ticket_created").group_by("ticket_id")
               .agg(created=t.min()).filter(pl.col("created") >= start))
    first = lf.filter(pl.col("event") == "first_response").group_by("ticket_id").agg(responded=t.min())
    limit = float(threshold_s) * 1000.0
    delay = (pl.col("responded") - pl.col("created")).cast(pl.Float64)
    waited = (pl.lit(end) - pl.col("created")).cast(pl.Float64)
    df = (created.join(first, on="ticket_id", how="left")
          .with_columns(_i=((pl.col("created") - start) // p).cast(pl.Int64),
                        _good=pl.col("responded").is_not_null() & (delay <= limit),
                        _bad=pl.when(pl.col("responded").is_not_null()).then(delay > limit).otherwise(waited > limit))
          .select("_i", "_good", "_bad").collect())
    good = _bincount(df["_i"], df["_good"].cast(pl.Float64), n)
    bad = _bincount(df["_i"], df["_bad"].cast(pl.Float64), n)
    return _series(window, period_s, good, bad, "request")


def apply_exclusions(sli: SliSeries, windows: Iterable[ExclusionWindow | tuple[datetime, datetime]]) -> SliSeries:
    """Exclude every period that overlaps an exclusion window (good = bad = 0).

    ``windows`` holds :class:`~slo_analysis.core.model.ExclusionWindow` objects (expanded over the
    SLI's own window, :attr:`SliSeries.window`) or explicit ``(start, end)`` intervals.

    Examples
    --------
    Excluding a maintenance hour from the demo's CreateTicket availability (the incident hours of
    :func:`request_sli_from_requests`): its periods count neither good nor bad.

    >>> import slo_analysis as sa
    >>> from slo_analysis.core.model import slos_from_frame
    >>> snap = sa.store.Snapshot.open(demo_snapshot())
    >>> slo = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Availability")
    >>> t0 = datetime(2026, 11, 3, 14, tzinfo=UTC)
    >>> sli = request_sli_from_requests(snap.scan("requests"), slo, (t0, t0 + timedelta(hours=2)), 3600)
    >>> upgrade = ExclusionWindow(duration=1, unit="HOUR", start=t0, reason="database upgrade")
    >>> out = apply_exclusions(sli, [upgrade])
    >>> out.frame["good"].to_list(), out.frame["bad"].to_list()
    ([0.0, 98.0], [0.0, 2.0])
    """
    if sli.frame.is_empty():
        return sli
    win = sli.window
    spans: list[tuple[int, int]] = []
    for w in windows:
        occ = w.occurrences(win) if isinstance(w, ExclusionWindow) else [w]
        spans.extend((_ms(s, "exclusion start"), _ms(e, "exclusion end")) for s, e in occ)
    if not spans:
        return sli
    ts = sli.frame["timestamp"].dt.epoch("ms").to_numpy()
    p = sli.period_s * 1000
    s_arr = np.array(sorted(s for s, _ in spans), dtype=np.int64)
    # a period [t, t + p) overlaps [s, e) when s < t + p and e > t: take, for each period, the latest
    # end among intervals starting before the period ends
    order = np.argsort([s for s, _ in spans], kind="stable")
    ends_sorted = np.maximum.accumulate(np.array([spans[i][1] for i in order], dtype=np.int64))
    k = np.searchsorted(s_arr, ts + p, side="left") - 1
    hit = (k >= 0) & (ends_sorted[np.clip(k, 0, None)] > ts)
    frame = sli.frame.with_columns(good=pl.when(pl.Series(hit)).then(0.0).otherwise(pl.col("good")),
                                   bad=pl.when(pl.Series(hit)).then(0.0).otherwise(pl.col("bad")))
    return SliSeries(frame, sli.period_s, sli.method)
