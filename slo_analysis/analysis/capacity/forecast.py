"""Demand forecasting: request or ticket rates with daily and weekly seasonality, trend and prediction intervals.

The model, fitted with statsmodels' :class:`~statsmodels.tsa.ar_model.AutoReg` (ordinary least squares, so
500 series fit in seconds; its forecast variance gives the prediction intervals), works on
``log(1 + y)`` of an hourly series (finer series are summed to ``every`` first):

- a constant and a linear trend (in log space: a constant growth rate, reported per 30 days);
- daily seasonality as Fourier terms of the hour of the (UTC) day, ``daily_harmonics`` pairs;
- weekly seasonality: with at least ``weekly_min_days`` (14) days of history, a level per day of the week
  (six dummies, ``"dow"``: traffic steps between weekdays and weekends rather than drifting smoothly);
  with less, only a weekend level shift (one dummy: a weekday/weekend contrast can be learnt from a single
  week, a level per weekday cannot); ``"fourier"`` (3 pairs of hour-of-week terms) and ``"none"`` are the
  alternatives. Fourteen days hold two weekly cycles, so each weekday's level rests on two days: one unusual
  day (the demo's surge) moves it, and its coefficient has a wide error;
- autoregressive lags (1 and 2 by default) for the short-term persistence left over.

Log space makes seasonality multiplicative (the weekend halves every hour rather than subtracting a
constant) and keeps forecasts positive. Gaps and ``exclude`` windows (incidents) are filled by linear
interpolation before fitting. ``growth_per_30d`` overrides the fitted trend for what-if questions.

Why not MSTL or exponential smoothing: with two weekly cycles MSTL's weekly component is mostly noise,
Holt-Winters with a 168-step season needs two full cycles just to initialise, and state-space models
(``UnobservedComponents``, SARIMAX) fit by maximum likelihood at 10-100x the cost. See ``docs/capacity.md``.

Examples
--------
>>> import numpy as np, polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> ts = pl.datetime_range(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 25, 23, tzinfo=UTC), "1h",
...                        eager=True, time_unit="ms")
>>> h = np.arange(ts.len())
>>> y = 1000 * (1 + 0.5 * np.sin(2 * np.pi * h / 24)) * np.exp(np.random.default_rng(3).normal(0, 0.05, h.size))
>>> fc = forecast_demand(pl.DataFrame({"timestamp": ts, "value": y}), horizon=timedelta(days=7))
>>> fc.forecast.columns
['timestamp', 'mean', 'lo80', 'hi80', 'lo95', 'hi95']
>>> fc.forecast.height, fc.weekly
(168, 'dow')
>>> bt = backtest(pl.DataFrame({"timestamp": ts, "value": y}), holdout=timedelta(days=7))
>>> bt.mape < 0.1 and bt.coverage95 > 0.8
True
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from statsmodels.tsa.ar_model import AutoReg

from slo_analysis.analysis.capacity.capacity_data import Window, drop_windows, every_seconds
from slo_analysis.analysis.capacity.errors import CapacityError
from slo_analysis.frames import UTC_MS

__all__ = ["Forecast", "Backtest", "forecast_demand", "backtest", "regularise"]

log = logging.getLogger(__name__)
_Z80, _Z95 = 1.2815515655446004, 1.959963984540054


@dataclass(frozen=True)
class Forecast:
    """A fitted demand model: the history with its fit, and the forecast with 80 % and 95 % intervals."""

    history: pl.DataFrame  # timestamp, value, fitted (null for the first lags)
    forecast: pl.DataFrame  # timestamp, mean, lo80, hi80, lo95, hi95 (per bucket, same unit as value)
    every: str
    weekly: str  # "dow", "fourier", "weekend" or "none"
    growth_per_30d: float  # multiplicative growth per 30 days used by the forecast (0.1 = +10 %)
    fitted_growth_per_30d: float  # what the trend term alone says
    residual_sd: float  # in log space
    notes: tuple[str, ...] = ()

    def peak(self) -> dict[str, object]:
        """The forecast bucket with the highest mean, and the highest upper 95 % bound over the horizon."""
        f = self.forecast
        i = int(f["mean"].arg_max() or 0)
        return {"timestamp": f["timestamp"][i], "mean": float(f["mean"][i]), "hi80": float(f["hi80"][i]),
                "hi95": float(f["hi95"][i]), "max_hi95": float(f["hi95"].max())}  # type: ignore[arg-type]

    def to_frame(self) -> pl.DataFrame:
        """History and forecast in one long frame: ``timestamp, kind, value, mean, lo80, hi80, lo95, hi95``."""
        h = self.history.select("timestamp", pl.lit("history").alias("kind"), "value",
                                pl.col("fitted").alias("mean"))
        f = self.forecast.select("timestamp", pl.lit("forecast").alias("kind"), pl.lit(None, pl.Float64)
                                 .alias("value"), "mean", "lo80", "hi80", "lo95", "hi95")
        return pl.concat([h, f], how="diagonal_relaxed")

    def summary(self) -> dict[str, object]:
        return {"every": self.every, "weekly": self.weekly, "growth_per_30d": self.growth_per_30d,
                "fitted_growth_per_30d": self.fitted_growth_per_30d, "residual_sd": self.residual_sd,
                "history_rows": self.history.height, "horizon_rows": self.forecast.height, **self.peak(),
                "notes": list(self.notes)}


@dataclass(frozen=True)
class Backtest:
    """Hold-out accuracy: MAPE and WAPE of the mean, and the share of actuals inside each interval."""

    mape: float  # mean of |actual - forecast| / actual over buckets with actual > 0
    wape: float  # sum |actual - forecast| / sum actual (robust to quiet hours)
    coverage80: float
    coverage95: float
    n: int
    frame: pl.DataFrame  # timestamp, actual, mean, lo80, hi80, lo95, hi95
    model: Forecast

    def summary(self) -> dict[str, float | int]:
        return {"mape": self.mape, "wape": self.wape, "coverage80": self.coverage80,
                "coverage95": self.coverage95, "n": self.n}


def regularise(series: pl.DataFrame, *, every: str = "1h", exclude: Sequence[Window] = ()) -> pl.DataFrame:
    """``series`` (``timestamp, value``) summed per ``every`` on a complete grid; gaps and ``exclude`` windows
    filled by linear interpolation (the ends by the nearest value). Returns ``timestamp, value, filled``."""
    for c in ("timestamp", "value"):
        if c not in series.columns:
            raise CapacityError(f"demand series: missing column {c!r} (have {series.columns})")
    s = series.select(pl.col("timestamp").cast(UTC_MS), pl.col("value").cast(pl.Float64)).drop_nulls().sort("timestamp")
    if s.height == 0:
        raise CapacityError("demand series: no rows")
    agg = s.group_by_dynamic("timestamp", every=every).agg(pl.col("value").sum())
    lo: datetime = agg["timestamp"].min()  # type: ignore[assignment]
    hi: datetime = agg["timestamp"].max()  # type: ignore[assignment]
    grid = pl.DataFrame({"timestamp": pl.datetime_range(lo, hi, every, eager=True, time_unit="ms", time_zone="UTC")})
    out = grid.join(agg, on="timestamp", how="left")
    kept = drop_windows(out, exclude).select("timestamp", pl.lit(True).alias("_k"))
    out = out.join(kept, on="timestamp", how="left").with_columns(
        pl.when(pl.col("_k").is_null()).then(None).otherwise(pl.col("value")).alias("value")).drop("_k")
    out = out.with_columns(pl.col("value").is_null().alias("filled"))
    return out.with_columns(pl.col("value").interpolate().forward_fill().backward_fill())


def _design(hours: np.ndarray, t_end: float, daily_k: int, weekly: str) -> np.ndarray:
    """Exogenous columns at epoch-hours ``hours``: trend (per 30 days), daily and weekly terms."""
    cols = [(hours - t_end) / 720.0]
    for k in range(1, daily_k + 1):
        a = 2 * np.pi * k * hours / 24.0
        cols += [np.sin(a), np.cos(a)]
    if weekly == "fourier":
        hw = hours + 72.0  # epoch (a Thursday) + 3 days: week starts Monday 00:00 UTC
        for k in range(1, 4):
            a = 2 * np.pi * k * hw / 168.0
            cols += [np.sin(a), np.cos(a)]
    elif weekly == "dow":
        dow = np.floor((hours / 24.0 + 3.0) % 7.0)  # 0 = Monday
        cols += [(dow == d).astype(np.float64) for d in range(1, 7)]
    elif weekly == "weekend":
        dow = np.floor((hours / 24.0 + 3.0) % 7.0)  # 0 = Monday
        cols.append((dow >= 5).astype(np.float64))
    return np.column_stack(cols)


def forecast_demand(series: pl.DataFrame, horizon: timedelta | int, *, every: str = "1h",
                    daily_harmonics: int = 4, weekly: str = "auto", weekly_min_days: int = 14,
                    lags: Sequence[int] = (1, 2), growth_per_30d: float | None = None,
                    trend_min_days: float = 28.0, exclude: Sequence[Window] = ()) -> Forecast:
    """Fit the demand model to ``series`` (``timestamp, value``) and forecast ``horizon`` ahead.

    ``horizon`` is a duration or a number of ``every`` buckets. ``weekly`` is ``"auto"``, ``"dow"``,
    ``"fourier"``, ``"weekend"`` or ``"none"``. ``growth_per_30d`` (e.g. ``0.05``) replaces the fitted trend from the
    end of the history on: the what-if growth. With less than ``trend_min_days`` of history and no
    ``growth_per_30d``, the trend is fitted (so it does not leak into the seasonal terms) but not
    extrapolated: two weeks cannot tell growth from a busy week, and a quarter-long projection of it
    would dominate every other term (the forecast is flat, growth 0, and a note says so).
    Raises :class:`CapacityError` when the history is shorter than two days.
    """
    step_s = every_seconds(every)
    reg = regularise(series, every=every, exclude=exclude)
    n = reg.height
    per_day = 86400 // step_s
    if n < 2 * per_day or step_s > 86400:
        raise CapacityError(f"demand series: {n} buckets of {every}; need at least two days of history")
    steps = horizon if isinstance(horizon, int) else int(horizon.total_seconds() // step_s)
    if steps < 1:
        raise CapacityError(f"horizon {horizon!r}: shorter than one {every} bucket")
    ts_ms = reg["timestamp"].dt.epoch("ms").to_numpy().astype(np.float64)
    hours = ts_ms / 3_600_000.0
    days = n * step_s / 86400.0
    notes: list[str] = []
    if weekly == "auto":
        weekly = "dow" if days >= weekly_min_days else "weekend"
        if weekly == "weekend":
            notes.append(f"{days:.1f} days of history: weekly seasonality reduced to a weekend level shift")
        elif days < 3 * 7:
            notes.append(f"{days:.1f} days of history hold {int(days // 7)} weekly cycles: the weekly shape "
                         "is barely identifiable")
    if weekly == "weekend":
        dow = np.floor((hours / 24.0 + 3.0) % 7.0)
        if (dow >= 5).all() or (dow < 5).all():
            weekly = "none"
            notes.append("the history has no weekday/weekend contrast: no weekly term")
    k = min(daily_harmonics, max(1, per_day // 2 - 1))
    y = np.log1p(np.clip(reg["value"].to_numpy(), 0.0, None))
    t_end = float(hours[-1])
    exog = _design(hours, t_end, k, weekly)
    lag_list = [int(v) for v in lags if int(v) * step_s <= 86400 and int(v) < n // 4]
    hours_oos = t_end + np.arange(1, steps + 1) * step_s / 3600.0
    exog_oos = _design(hours_oos, t_end, k, weekly)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' frequency / convergence chatter; checked below
        res = AutoReg(y, lags=lag_list or 0, trend="c", exog=exog).fit()
        pred = res.get_prediction(start=n, end=n + steps - 1, exog_oos=exog_oos)
    mean = np.asarray(pred.predicted_mean, dtype=np.float64)
    se = np.sqrt(np.asarray(pred.var_pred_mean, dtype=np.float64))
    params = np.asarray(res.params)
    phi = float(params[1:1 + len(lag_list)].sum()) if lag_list else 0.0
    beta_trend = float(params[1 + len(lag_list)])
    fitted_log_growth = beta_trend / max(1e-6, 1.0 - phi)  # long-run effect of the trend term in an ARX model
    fitted_growth = math.expm1(fitted_log_growth)
    if growth_per_30d is None and days < trend_min_days:
        growth_per_30d = 0.0
        notes.append(f"{days:.1f} days of history (< {trend_min_days:g}): fitted trend {fitted_growth:+.1%}/30 d "
                     "not extrapolated; pass growth_per_30d for a what-if growth")
    growth = fitted_growth if growth_per_30d is None else growth_per_30d
    if growth_per_30d is not None:
        if growth_per_30d <= -1:
            raise CapacityError(f"growth_per_30d={growth_per_30d}: must be > -1 (a -100 % growth empties demand)")
        mean = mean + (math.log1p(growth_per_30d) - fitted_log_growth) * (hours_oos - t_end) / 720.0
    fitted = np.full(n, np.nan)
    fv = np.asarray(res.fittedvalues, dtype=np.float64)
    fitted[n - fv.size:] = np.expm1(fv)
    history = reg.select("timestamp", "value").with_columns(pl.Series("fitted", fitted).fill_nan(None))
    ts_oos = (pl.Series("timestamp", (ts_ms[-1] + np.arange(1, steps + 1) * step_s * 1000).astype(np.int64))
              .cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"))

    def back(v: np.ndarray) -> np.ndarray:
        return np.clip(np.expm1(v), 0.0, None)

    fc = pl.DataFrame({"timestamp": ts_oos, "mean": back(mean), "lo80": back(mean - _Z80 * se),
                       "hi80": back(mean + _Z80 * se), "lo95": back(mean - _Z95 * se),
                       "hi95": back(mean + _Z95 * se)})
    sd = float(np.sqrt(res.sigma2))
    log.debug("forecast: %d buckets, weekly=%s, lags=%s, growth %.3f/30d, sd %.3f", n, weekly, lag_list, growth, sd)
    return Forecast(history, fc, every, weekly, growth, fitted_growth, sd, tuple(notes))


def backtest(series: pl.DataFrame, *, holdout: timedelta = timedelta(days=7), every: str = "1h",
             exclude: Sequence[Window] = (), **kwargs: object) -> Backtest:
    """Hold out the last ``holdout`` of ``series``, forecast it from the rest, score mean and intervals.

    Extra keyword arguments go to :func:`forecast_demand`. Buckets of the hold-out inside ``exclude`` are
    not scored.
    """
    reg = regularise(series, every=every)
    last: datetime = reg["timestamp"].max()  # type: ignore[assignment]
    cut = last - holdout + timedelta(seconds=every_seconds(every))
    train = reg.filter(pl.col("timestamp") < cut).select("timestamp", "value")
    test = reg.filter(pl.col("timestamp") >= cut).select("timestamp", pl.col("value").alias("actual"))
    fc = forecast_demand(train, test.height, every=every, exclude=exclude, **kwargs)  # type: ignore[arg-type]
    frame = drop_windows(test.join(fc.forecast, on="timestamp", how="inner"), exclude)
    a, m = frame["actual"].to_numpy(), frame["mean"].to_numpy()
    pos = a > 0
    mape = float(np.mean(np.abs(a[pos] - m[pos]) / a[pos])) if pos.any() else math.nan
    wape = float(np.abs(a - m).sum() / a.sum()) if a.sum() > 0 else math.nan
    cov80 = float(((a >= frame["lo80"].to_numpy()) & (a <= frame["hi80"].to_numpy())).mean())
    cov95 = float(((a >= frame["lo95"].to_numpy()) & (a <= frame["hi95"].to_numpy())).mean())
    return Backtest(mape, wape, cov80, cov95, frame.height, frame, fc)
