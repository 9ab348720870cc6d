"""Error budgets, budget status and burn rates as time series over an SLI frame.

Every function takes the SLI frame of ``docs/slo-engine.md`` (``timestamp``, ``good``, ``bad`` on a
regular grid of ``period_s`` seconds) or anything with ``.frame``, ``.period_s`` and ``.method``
attributes (an ``SliSeries``), plus plain values for the goal and the interval. Nothing here reads a
clock: each row is evaluated at the *end* of its period, ``timestamp + period_s``, and sees only the
periods up to and including its own.

Semantics (Application Signals and the SRE Workbook):

- request-based: attainment = good / (good + bad) over the interval; budget = (1 - goal) x valid
  requests so far, so within a calendar interval it can grow again as good requests arrive;
- period-based: attainment = good periods / valid periods so far; budget = (1 - goal) x the number
  of periods in the *whole* interval (x ``period_s`` for seconds), so within a calendar interval it
  only shrinks;
- rolling intervals look back ``interval_s`` from each step; both budgets recover as bad periods
  roll out;
- status: ``INSUFFICIENT_DATA`` when the interval holds no valid event yet, ``BREACHED`` when the
  budget is exhausted (remaining < 0, which for request-based SLOs is attainment < goal), ``WARNING``
  when remaining / total < ``warning_threshold`` (a fraction, default 0.5), else ``OK``;
- burn rate over a look-back = (bad / total in the look-back) / (1 - goal).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timezone
>>> ts = pl.datetime_range(datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 1, 0, 3,
...     tzinfo=timezone.utc), "1m", eager=True, time_unit="ms", closed="left")
>>> sli = pl.DataFrame({"timestamp": ts, "good": [999.0, 990.0, 1000.0], "bad": [1.0, 10.0, 0.0]})
>>> rolling_budget(sli, 0.999, 120, period_s=60, method="request")["status"].to_list()
['WARNING', 'BREACHED', 'BREACHED']
>>> burn_rates(sli, 0.999, [60], period_s=60)["burn_1m"].round(6).to_list()
[1.0, 10.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from math import ceil
from typing import Any, Literal

import numpy as np
import polars as pl

from slo_analysis.exceptions import FrameValidationError

__all__ = [
    "OK",
    "WARNING",
    "BREACHED",
    "INSUFFICIENT_DATA",
    "STATUSES",
    "STATUS_DTYPE",
    "Method",
    "sli_parts",
    "window_label",
    "error_budget_seconds",
    "budget_consumed",
    "burn_rates",
    "rolling_budget",
    "calendar_budget",
    "calendar_interval_bounds",
    "stack_slis",
    "slo_groups",
    "budgets_for_many",
]

OK = "OK"
WARNING = "WARNING"
BREACHED = "BREACHED"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
STATUSES = (OK, WARNING, BREACHED, INSUFFICIENT_DATA)
STATUS_DTYPE = pl.Enum(STATUSES)
"""The ``status`` column's dtype: an Enum over :data:`STATUSES` (compares with the plain strings)."""

Method = Literal["request", "period"]
CalendarUnit = Literal["MINUTE", "HOUR", "DAY", "MONTH"]
_UNIT_S = {"MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def sli_parts(sli: Any, period_s: float | None = None, method: str | None = None) -> tuple[pl.DataFrame, float, str]:
    """Split an SLI (a frame, or an ``SliSeries``-like object) into ``(frame, period_s, method)``.

    Explicit arguments win over the object's attributes; the frame is checked for the SLI contract.

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0], "good": [1.0], "bad": [0.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> sli_parts(f, 60, "request")[1:]
    (60.0, 'request')
    """
    frame = sli.frame if hasattr(sli, "frame") else sli
    if period_s is None:
        period_s = getattr(sli, "period_s", None)
    if method is None:
        method = getattr(sli, "method", None) or "request"
    if period_s is None:
        raise ValueError("period_s is required (pass it, or an SliSeries that carries it)")
    if period_s <= 0:
        raise ValueError(f"period_s must be positive, got {period_s}")
    if method not in ("request", "period"):
        raise ValueError(f"method must be 'request' or 'period', got {method!r}")
    if not isinstance(frame, pl.DataFrame):
        raise FrameValidationError("sli", "<frame>", f"expected a polars DataFrame, got {type(frame).__name__}")
    for col in ("timestamp", "good", "bad"):
        if col not in frame.columns:
            raise FrameValidationError("sli", col, "missing column")
    if not isinstance(frame.schema["timestamp"], pl.Datetime):
        raise FrameValidationError("sli", "timestamp", f"expected Datetime, got {frame.schema['timestamp']}")
    return frame.select("timestamp", pl.col("good").cast(pl.Float64), pl.col("bad").cast(pl.Float64)), float(
        period_s
    ), str(method)


def window_label(seconds: float) -> str:
    """A compact label for a duration in seconds: ``3600 -> '1h'``, ``300 -> '5m'``, ``259200 -> '3d'``.

    Examples
    --------
    >>> [window_label(s) for s in (30, 300, 3600, 21600, 259200, 90)]
    ['30s', '5m', '1h', '6h', '3d', '90s']
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def error_budget_seconds(target: float, interval_s: float) -> float:
    """Error budget in seconds of an interval: ``(1 - target) x interval_s``.

    Examples
    --------
    >>> error_budget_seconds(0.999, 30 * 86400) / 60  # 43.2 minutes
    43.20000000000004
    """
    return (1.0 - target) * interval_s


def budget_consumed(burn_rate: float, window_s: float, slo_period_s: float) -> float:
    """Fraction of an SLO period's budget consumed by burning at ``burn_rate`` for ``window_s``.

    Examples
    --------
    >>> round(budget_consumed(14.4, 3600, 30 * 86400), 12)
    0.02
    """
    return burn_rate * window_s / slo_period_s


def _steps(seconds: float, period_s: float) -> int:
    """Number of whole periods covering ``seconds`` (rounded up, at least one)."""
    return max(1, ceil(seconds / period_s - 1e-9))


def burn_rates(
    sli: Any,
    target: float,
    lookbacks_s: Iterable[float],
    *,
    period_s: float | None = None,
    partial: bool = False,
) -> pl.DataFrame:
    """Burn rate ``(bad / total) / (1 - target)`` over several look-back windows at every step.

    The value at a row covers the ``ceil(lookback / period_s)`` periods ending with that row's period
    (evaluated at its end). Rows whose look-back reaches before the frame's first period are null
    unless ``partial=True``; a look-back holding no valid event is null. The cumulative sums of good
    and bad events are computed once; every look-back is a shift-and-subtract of them.

    Parameters
    ----------
    sli : SLI frame or SliSeries
    target : float
        The goal as a fraction (0.999).
    lookbacks_s : iterable of float
        Look-back windows in seconds; columns are named ``burn_<label>`` (``burn_1h``, ``burn_5m``).
    period_s : float, optional
        The grid's period, when ``sli`` is a bare frame.
    partial : bool
        Compute truncated look-backs at the start of the frame instead of null.

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0, 60_000], "good": [990.0, 1000.0], "bad": [10.0, 0.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> b = burn_rates(f, 0.99, [60, 120], period_s=60)
    >>> b["burn_1m"].round(9).to_list(), b["burn_2m"].round(9).to_list()
    ([1.0, 0.0], [None, 0.5])
    """
    frame, p, _ = sli_parts(sli, period_s, "request")
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be a fraction in (0, 1), got {target}")
    allowed = 1.0 - target
    steps = [(f"burn_{window_label(lb)}", _steps(lb, p)) for lb in lookbacks_s]
    cum = frame.select("timestamp", _cg=pl.col("good").cum_sum(), _cb=pl.col("bad").cum_sum())
    return cum.select("timestamp", *_burn_exprs(steps, allowed, partial))


def _burn_exprs(steps: list[tuple[str, int]], allowed: float, partial: bool) -> list[pl.Expr]:
    """Burn-rate expressions over cumulative sums ``_cg``/``_cb`` (shared by the one- and many-SLO paths)."""
    exprs = []
    for name, n in steps:
        bad = pl.col("_cb") - pl.col("_cb").shift(n, fill_value=0.0)
        total = bad + pl.col("_cg") - pl.col("_cg").shift(n, fill_value=0.0)
        ok = total > 0
        if not partial:
            # = _cb.shift(n - 1).is_not_null(), shifting a bitmap instead of a float column
            ok = ok & pl.col("_cb").is_not_null().shift(n - 1, fill_value=False)
        exprs.append(pl.when(ok).then(bad / total / allowed).alias(name))
    return exprs


def _status(remaining: pl.Expr, fraction: pl.Expr, total: pl.Expr, warning_threshold: float) -> pl.Expr:
    """Status as an Enum over :data:`STATUSES`, from a small integer code (no strings in the hot path)."""
    code = (
        pl.when(total <= 0)
        .then(pl.lit(3, pl.UInt8))
        .when(remaining < 0)
        .then(pl.lit(2, pl.UInt8))
        .when(fraction < warning_threshold)
        .then(pl.lit(1, pl.UInt8))
        .otherwise(pl.lit(0, pl.UInt8))
    )
    return code.cat.to(STATUS_DTYPE)


def _check_goal(target: float, warning_threshold: float) -> None:
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be a fraction in (0, 1), got {target}")
    if not 0.0 <= warning_threshold <= 1.0:
        raise ValueError(f"warning_threshold must be a fraction in [0, 1], got {warning_threshold}")


def _finish(
    df: pl.DataFrame, target: float, method: str, period_s: float, interval_periods: pl.Expr, warning_threshold: float
) -> pl.DataFrame:
    """Add attainment, budget and status columns to a frame with cumulative ``good``/``bad``/``total``."""
    _check_goal(target, warning_threshold)
    allowed = 1.0 - target
    budget_total = (pl.col("total") if method == "request" else interval_periods) * allowed
    df = df.with_columns(
        attainment=pl.when(pl.col("total") > 0).then(pl.col("good") / pl.col("total")),
        budget_total=budget_total,
    ).with_columns(budget_remaining=pl.col("budget_total") - pl.col("bad"))
    df = df.with_columns(
        remaining_fraction=pl.when(pl.col("budget_total") > 0).then(pl.col("budget_remaining") / pl.col("budget_total"))
    )
    seconds = [pl.col("budget_total") * period_s, pl.col("budget_remaining") * period_s]
    if method == "request":
        seconds = [pl.lit(None, pl.Float64), pl.lit(None, pl.Float64)]
    return df.with_columns(
        budget_total_s=seconds[0],
        budget_remaining_s=seconds[1],
        status=_status(
            pl.col("budget_remaining"), pl.col("remaining_fraction").fill_null(0.0), pl.col("total"), warning_threshold
        ),
    )


def rolling_budget(
    sli: Any,
    target: float,
    interval_s: float,
    *,
    period_s: float | None = None,
    method: str | None = None,
    warning_threshold: float = 0.5,
) -> pl.DataFrame:
    """Attainment, error budget and status at every step of a rolling interval.

    Each row looks back ``interval_s`` from the end of its period (truncated at the frame's first
    period). Columns: ``timestamp, interval_start, interval_end, good, bad, total`` (valid events in the
    look-back), ``attainment, budget_total, budget_remaining, remaining_fraction`` (budget in events:
    requests or periods), ``budget_total_s, budget_remaining_s`` (period-based only, else null) and
    ``status`` (:data:`STATUS_DTYPE`).

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0, 60_000, 120_000], "good": [1.0, 0.0, 1.0], "bad": [0.0, 1.0, 0.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> b = rolling_budget(f, 0.5, 120, period_s=60, method="period")
    >>> b.select("budget_total", "budget_remaining", "status").rows()
    [(1.0, 1.0, 'OK'), (1.0, 0.0, 'WARNING'), (1.0, 0.0, 'WARNING')]
    """
    frame, p, m = sli_parts(sli, period_s, method)
    cum = frame.with_columns(_cg=pl.col("good").cum_sum(), _cb=pl.col("bad").cum_sum())
    return _rolling_plan(cum, target, interval_s, p, m, warning_threshold)


def _rolling_plan(
    cum: pl.DataFrame,
    target: float,
    interval_s: float,
    p: float,
    m: str,
    warning_threshold: float,
    keep: Iterable[str] = (),
) -> pl.DataFrame:
    """The rolling-budget columns (after ``keep``) from cumulative sums ``_cg``/``_cb``.

    One plan serves :func:`rolling_budget` and :func:`budgets_for_many`, so both give the same numbers
    (eager: with these many columns polars' lazy engine was slower, not faster).
    """
    n = _steps(interval_s, p)
    df = cum.select(
        *keep,
        "timestamp",
        interval_start=pl.col("timestamp") + pl.duration(milliseconds=round(p * 1000)) - pl.duration(
            milliseconds=round(n * p * 1000)
        ),
        interval_end=pl.col("timestamp") + pl.duration(milliseconds=round(p * 1000)),
        good=pl.col("_cg") - pl.col("_cg").shift(n, fill_value=0.0),
        bad=pl.col("_cb") - pl.col("_cb").shift(n, fill_value=0.0),
    ).with_columns(total=pl.col("good") + pl.col("bad"))
    return _finish(df, target, m, p, pl.lit(float(n)), warning_threshold)


def stack_slis(
    slis: Mapping[str, Any], *, period_s: float | None = None, method: str | None = None
) -> tuple[pl.DataFrame, float, str]:
    """Many SLIs as one long frame ``slo, timestamp, good, bad``, with their common period and method.

    ``slo`` is an Enum over the mapping's keys in their order; each SLI's rows stay contiguous and in
    order, which the ``*_for_many`` functions rely on. Every SLI must share the period and method
    (stack period- and request-based SLOs separately).

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0, 60_000], "good": [1.0, 2.0], "bad": [0.0, 1.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> long, p, m = stack_slis({"a": f, "b": f.head(1)}, period_s=60, method="request")
    >>> long["slo"].to_list(), p, m
    (['a', 'a', 'b'], 60.0, 'request')
    """
    if not slis:
        raise ValueError("stack_slis needs at least one SLI")
    names = list(slis)
    bad_names = [k for k in names if not isinstance(k, str)]
    if bad_names:
        raise ValueError(f"SLI names must be strings, got {bad_names[0]!r}")
    dtype = pl.Enum(names)
    parts, common = [], None
    for name in names:
        frame, p, m = sli_parts(slis[name], period_s, method)
        if common is None:
            common = (p, m)
        elif (p, m) != common:
            raise ValueError(f"SLI {name!r}: period {p} s / method {m!r} differs from the first SLI's "
                             f"{common[0]} s / {common[1]!r}; stack them separately")
        parts.append(frame.select(pl.lit(name, dtype).alias("slo"), "timestamp", "good", "bad"))
    assert common is not None
    return pl.concat(parts), common[0], common[1]


def slo_groups(stacked: pl.DataFrame, key: str = "slo") -> tuple[np.ndarray, np.ndarray]:
    """Row offsets and lengths of each SLO's contiguous block in a stacked frame (see :func:`stack_slis`).

    Raises a ValueError when a key's rows are not contiguous in key order.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.DataFrame({"slo": ["a", "a", "b"]}, schema={"slo": pl.Enum(["a", "b"])})
    >>> [x.tolist() for x in slo_groups(s)]
    [[0, 2], [2, 1]]
    """
    if key not in stacked.columns:
        raise FrameValidationError("stacked SLI", key, "missing column (build the frame with stack_slis)")
    runs = stacked[key].to_physical().rle()
    lengths = runs.struct.field("len").to_numpy().astype(np.int64)
    values = runs.struct.field("value")
    if values.len() > 1 and not (values.diff().drop_nulls() > 0).all():
        raise FrameValidationError("stacked SLI", key, "each SLO's rows must be contiguous, in key order "
                                   "(build the frame with stack_slis)")
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return offsets, lengths


def budgets_for_many(
    stacked: pl.DataFrame,
    target: float,
    interval_s: float,
    lookbacks_s: Iterable[float] = (),
    *,
    period_s: float,
    method: str = "request",
    warning_threshold: float = 0.5,
    partial: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`rolling_budget` and :func:`burn_rates` for every SLO of a stacked frame.

    ``stacked`` comes from :func:`stack_slis`. Each SLO's rows are a zero-copy slice running the very
    expressions :func:`rolling_budget` and :func:`burn_rates` run (so the numbers are identical), with
    the cumulative sums computed once and shared by the budget and every burn-rate look-back. Returns
    ``(budget, burn)``: the columns of :func:`rolling_budget` and of :func:`burn_rates`, each after a
    leading ``slo`` column (chunked per SLO, not rechunked). ``burn`` is ``slo, timestamp`` only
    without ``lookbacks_s``. For many long SLIs, call it on groups of SLOs to bound memory.

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0, 60_000], "good": [990.0, 1000.0], "bad": [10.0, 0.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> long, p, m = stack_slis({"a": f, "b": f}, period_s=60, method="request")
    >>> budget, burn = budgets_for_many(long, 0.99, 120, [60], period_s=p, method=m)
    >>> budget["status"].to_list(), burn["burn_1m"].round(9).to_list()
    (['WARNING', 'OK', 'WARNING', 'OK'], [1.0, 0.0, 1.0, 0.0])
    """
    _, p, m = sli_parts(stacked.head(0), period_s, method)
    _check_goal(target, warning_threshold)
    steps = [(f"burn_{window_label(lb)}", _steps(lb, p)) for lb in lookbacks_s]
    burn = _burn_exprs(steps, 1.0 - target, partial)
    frame = stacked.select("slo", "timestamp", pl.col("good").cast(pl.Float64), pl.col("bad").cast(pl.Float64))
    budgets, burns = [], []
    for o, n in zip(*slo_groups(stacked), strict=True):
        cum = frame.slice(int(o), int(n)).with_columns(_cg=pl.col("good").cum_sum(), _cb=pl.col("bad").cum_sum())
        budgets.append(_rolling_plan(cum, target, interval_s, p, m, warning_threshold, keep=["slo"]))
        burns.append(cum.select("slo", "timestamp", *burn))
    return pl.concat(budgets, rechunk=False), pl.concat(burns, rechunk=False)

def _month_index(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[M]").astype(np.int64)


def calendar_interval_bounds(
    timestamps: pl.Series, start: datetime, duration: int, unit: str
) -> tuple[pl.Series, pl.Series]:
    """Start and end of the calendar interval holding each timestamp (Application Signals CalendarInterval).

    Intervals begin at ``start`` and last ``duration`` units (``MINUTE``, ``HOUR``, ``DAY``, ``MONTH``);
    months are calendar months counted from ``start`` (same day of month and time of day, clamped to the
    month's end by polars' ``offset_by``). Timestamps before ``start`` belong to earlier intervals.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> ts = pl.Series([datetime(2024, 1, 31, tzinfo=timezone.utc), datetime(2024, 2, 1, tzinfo=timezone.utc)],
    ...                dtype=pl.Datetime("ms", "UTC"))
    >>> s, e = calendar_interval_bounds(ts, datetime(2024, 1, 1, tzinfo=timezone.utc), 1, "MONTH")
    >>> [str(x.date()) for x in s], [str(x.date()) for x in e]
    (['2024-01-01', '2024-02-01'], ['2024-02-01', '2024-03-01'])
    """
    if duration < 1:
        raise ValueError(f"duration must be >= 1, got {duration}")
    unit = unit.upper()
    dtype = timestamps.dtype
    start_lit = pl.lit(start).cast(dtype)
    if unit in _UNIT_S:
        size_ms = _UNIT_S[unit] * duration * 1000
        start_ms = pl.Series([start], dtype=dtype).dt.epoch("ms")[0]
        k = (timestamps.dt.epoch("ms") - start_ms) // size_ms
        frame = pl.DataFrame({"k": k}).select(
            s=start_lit + pl.duration(milliseconds=pl.col("k") * size_ms),
            e=start_lit + pl.duration(milliseconds=(pl.col("k") + 1) * size_ms),
        )
        return frame["s"].alias("interval_start"), frame["e"].alias("interval_end")
    if unit != "MONTH":
        raise ValueError(f"unit must be MINUTE, HOUR, DAY or MONTH, got {unit!r}")
    ts_np = timestamps.dt.replace_time_zone(None).to_numpy()
    start_np = np.datetime64(start.replace(tzinfo=None), "ms")
    months = _month_index(ts_np) - _month_index(np.array([start_np]))[0]
    frame = pl.DataFrame({"ts": timestamps, "m": months}).with_columns(
        cand=start_lit.dt.offset_by(pl.format("{}mo", pl.col("m")))
    )
    frame = frame.with_columns(m=pl.when(pl.col("ts") < pl.col("cand")).then(pl.col("m") - 1).otherwise("m"))
    frame = frame.with_columns(k=pl.col("m").floordiv(duration) * duration).select(
        s=start_lit.dt.offset_by(pl.format("{}mo", pl.col("k"))),
        e=start_lit.dt.offset_by(pl.format("{}mo", pl.col("k") + duration)),
    )
    return frame["s"].alias("interval_start"), frame["e"].alias("interval_end")


def calendar_budget(
    sli: Any,
    target: float,
    start: datetime,
    duration: int = 1,
    unit: str = "MONTH",
    *,
    period_s: float | None = None,
    method: str | None = None,
    warning_threshold: float = 0.5,
) -> pl.DataFrame:
    """Attainment, error budget and status at every step of calendar intervals, resetting at each boundary.

    Counts accumulate from the start of the calendar interval holding each period (see
    :func:`calendar_interval_bounds`) up to the end of that period. The period-based budget is
    ``(1 - goal) x periods in the whole interval``: it only shrinks within an interval. The
    request-based budget is ``(1 - goal) x requests so far``: it grows with good requests. Columns as
    :func:`rolling_budget`.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> f = pl.DataFrame({"timestamp": [0, 60_000, 120_000], "good": [0.0, 1.0, 1.0], "bad": [1.0, 0.0, 0.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> t0 = datetime(1970, 1, 1, tzinfo=timezone.utc)
    >>> calendar_budget(f, 0.5, t0, 2, "MINUTE", period_s=60, method="period")["budget_remaining"].to_list()
    [0.0, 0.0, 1.0]
    """
    frame, p, m = sli_parts(sli, period_s, method)
    s, e = calendar_interval_bounds(frame["timestamp"], start, duration, unit)
    df = frame.with_columns(s, e).with_columns(
        good=pl.col("good").cum_sum().over("interval_start"),
        bad=pl.col("bad").cum_sum().over("interval_start"),
    ).with_columns(total=pl.col("good") + pl.col("bad"))
    periods = (pl.col("interval_end") - pl.col("interval_start")).dt.total_milliseconds() / (p * 1000.0)
    return _finish(df, target, m, p, periods, warning_threshold)
