"""Headroom: the forecast peak against the saturation curve and the latency SLO.

Given a demand :class:`~slo_analysis.analysis.capacity.forecast.Forecast` (requests per bucket), a
:class:`~slo_analysis.analysis.capacity.saturation.SaturationFit` (latency against load per instance) and
the instance count:

- **at the peak**: the forecast's busiest bucket (mean and upper 95 % bound), times a burst factor (the
  busiest minute over the bucket mean), spread over the instances, gives the load per instance; with it the
  utilisation (of the USL maximum throughput) and the predicted latency against the SLO threshold;
- **safe load** per instance: the highest load whose predicted latency stays under the threshold, capped at
  ``max_utilisation`` of the maximum throughput (a queue run at 100 % has no room for a bad minute);
- **run-out date**: from the peak on, demand grows at the forecast's growth rate (or a what-if rate);
  the date its peak (mean, and upper bound) reaches the safe load of the current instances;
- **instances needed**: the fewest instances keeping the upper-bound peak at or below the safe load.

Examples
--------
>>> import numpy as np, polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> from slo_analysis.analysis.capacity.forecast import forecast_demand
>>> from slo_analysis.analysis.capacity.saturation import fit_saturation, usl_latency
>>> ts = pl.datetime_range(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 18, 23, tzinfo=UTC), "1h",
...                        eager=True, time_unit="ms")
>>> y = 3600 * 8 * (1 + 0.5 * np.sin(2 * np.pi * np.arange(ts.len()) / 24))  # requests per hour, peak 12/s
>>> fc = forecast_demand(pl.DataFrame({"timestamp": ts, "value": y}), horizon=timedelta(days=30),
...                      growth_per_30d=0.2)
>>> x = np.linspace(1.0, 15.0, 40)
>>> fit = fit_saturation(x, 1000 * usl_latency(x, 5.0, 0.05, 0.02))
>>> hr = headroom(fc, fit, instances=2, threshold_ms=500.0)
>>> hr.meets_slo, hr.instances_needed, hr.runout_date.date().isoformat()
(True, 2, '2026-06-06')
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from slo_analysis.analysis.capacity.capacity_data import every_seconds
from slo_analysis.analysis.capacity.errors import CapacityError, CapacityWarning
from slo_analysis.analysis.capacity.forecast import Forecast
from slo_analysis.analysis.capacity.saturation import SaturationFit

__all__ = ["Headroom", "headroom", "headroom_timeline", "what_if"]

_MONTH_S = 30 * 86400.0


@dataclass(frozen=True)
class Headroom:
    """Headroom at the forecast peak for one instance count and one SLO threshold."""

    instances: int
    threshold_ms: float
    latency: str  # the fitted latency column, e.g. "latency_p99_ms"
    growth_per_30d: float
    peak_at: datetime
    peak_rps: float  # mean forecast at the peak bucket, requests/s, burst factor applied
    peak_rps_hi95: float
    load_per_instance: float
    load_per_instance_hi95: float
    utilisation: float  # of the USL maximum throughput per instance
    utilisation_hi95: float
    latency_ms: float  # USL prediction at the mean peak
    latency_hi95_ms: float  # USL prediction at the upper-bound peak
    mmc_latency_hi95_ms: float
    safe_load_per_instance: float
    meets_slo: bool  # the upper-bound peak stays at or below the safe load
    runout_date: datetime | None  # mean peak reaches the safe load (None: not within the horizon)
    runout_date_hi95: datetime | None
    instances_needed: int  # for the upper-bound peak
    warnings: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, object]:
        """All fields as a plain dict."""
        return asdict(self)


def _safe_load(fit: SaturationFit, threshold_ms: float, max_utilisation: float, model: str) -> float:
    cap = fit.usl.max_throughput if model == "usl" else fit.mmc.max_throughput
    by_latency = fit.load_at_latency(threshold_ms, model=model)
    return min(by_latency, max_utilisation * cap) if math.isfinite(cap) else by_latency


def _runout(start: datetime, rps: float, growth: float, capacity_rps: float, horizon_days: float) -> datetime | None:
    if rps >= capacity_rps:
        return start
    if growth <= 0 or rps <= 0:
        return None
    months = math.log(capacity_rps / rps) / math.log1p(growth)
    if months * 30.0 > horizon_days:
        return None
    return start + timedelta(seconds=months * _MONTH_S)


def headroom(forecast: Forecast, fit: SaturationFit, *, instances: int, threshold_ms: float, burst: float = 1.0,
             max_utilisation: float = 0.85, model: str = "usl", horizon_days: float = 730.0) -> Headroom:
    """Headroom of ``instances`` at the forecast peak against ``threshold_ms`` (see the module docstring).

    ``burst`` multiplies bucket means into busiest-minute rates (see
    :func:`~slo_analysis.analysis.capacity.capacity_data.burst_factor`); ``model`` (``"usl"`` or ``"mmc"``)
    picks the curve for the safe load. Loads beyond the fitted range add a :class:`CapacityWarning`.
    """
    if instances < 1:
        raise CapacityError(f"instances={instances}: need at least one instance")
    if not 0 < max_utilisation <= 1:
        raise CapacityError(f"max_utilisation={max_utilisation}: must be in (0, 1]")
    step = every_seconds(forecast.every)
    pk = forecast.peak()
    rps = float(pk["mean"]) / step * burst  # type: ignore[arg-type]
    rps_hi = float(pk["hi95"]) / step * burst  # type: ignore[arg-type]
    x, x_hi = rps / instances, rps_hi / instances
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapacityWarning)
        pred = fit.predict([x, x_hi])
    notes = [str(w.message) for w in caught if issubclass(w.category, CapacityWarning)]
    for n in notes:
        warnings.warn(n, CapacityWarning, stacklevel=2)
    safe = _safe_load(fit, threshold_ms, max_utilisation, model)
    cap = fit.usl.max_throughput
    start: datetime = pk["timestamp"]  # type: ignore[assignment]
    need = max(1, math.ceil(rps_hi / safe)) if safe > 0 else 0
    if safe <= 0:
        notes.append(f"no load keeps the predicted {fit.latency} under {threshold_ms} ms: the SLO is not met "
                     "even idle")
    return Headroom(
        instances=instances, threshold_ms=threshold_ms, latency=fit.latency, growth_per_30d=forecast.growth_per_30d,
        peak_at=start, peak_rps=rps, peak_rps_hi95=rps_hi, load_per_instance=x, load_per_instance_hi95=x_hi,
        utilisation=x / cap if math.isfinite(cap) else 0.0, utilisation_hi95=x_hi / cap if math.isfinite(cap) else 0.0,
        latency_ms=float(pred["usl_ms"][0]), latency_hi95_ms=float(pred["usl_ms"][1]),
        mmc_latency_hi95_ms=float(pred["mmc_ms"][1]), safe_load_per_instance=safe, meets_slo=x_hi <= safe,
        runout_date=_runout(start, rps, forecast.growth_per_30d, safe * instances, horizon_days),
        runout_date_hi95=_runout(start, rps_hi, forecast.growth_per_30d, safe * instances, horizon_days),
        instances_needed=need, warnings=tuple(notes))


def headroom_timeline(forecast: Forecast, fit: SaturationFit, *, instances: int, threshold_ms: float,
                      burst: float = 1.0, max_utilisation: float = 0.85, model: str = "usl",
                      days: int = 180) -> pl.DataFrame:
    """Daily peak demand from the forecast start, extended by the growth rate past the forecast horizon.

    Returns ``date, peak_rps, peak_rps_hi95, load_per_instance, utilisation, headroom`` (``headroom`` =
    1 - upper-bound load / safe load: 0 is the run-out) and ``source`` (``forecast`` or ``trend``).
    """
    step = every_seconds(forecast.every)
    daily = (forecast.forecast.group_by_dynamic("timestamp", every="1d")
             .agg(pl.col("mean").max(), pl.col("hi95").max()).rename({"timestamp": "date"}))
    last = daily.tail(1)
    start = last["date"][0]
    base_mean, base_hi = float(last["mean"][0]), float(last["hi95"][0])
    ext_n = max(0, days - daily.height)
    k = np.arange(1, ext_n + 1)
    factor = np.power(1.0 + forecast.growth_per_30d, k / 30.0)
    ext = pl.DataFrame({"date": pl.datetime_range(start + timedelta(days=1), start + timedelta(days=int(ext_n)),
                                                  "1d", eager=True, time_unit="ms", time_zone="UTC")
                        if ext_n else pl.Series([], dtype=daily["date"].dtype),
                        "mean": base_mean * factor, "hi95": base_hi * factor})
    both = pl.concat([daily.with_columns(pl.lit("forecast").alias("source")),
                      ext.with_columns(pl.lit("trend").alias("source"))], how="vertical_relaxed")
    safe = _safe_load(fit, threshold_ms, max_utilisation, model)
    cap = fit.usl.max_throughput
    return both.select(
        "date",
        (pl.col("mean") / step * burst).alias("peak_rps"),
        (pl.col("hi95") / step * burst).alias("peak_rps_hi95"),
        (pl.col("mean") / step * burst / instances).alias("load_per_instance"),
        (pl.col("mean") / step * burst / instances / (cap if math.isfinite(cap) else math.inf)).alias("utilisation"),
        (1.0 - pl.col("hi95") / step * burst / instances / safe).alias("headroom"),
        "source",
    )


def what_if(forecast: Forecast, fit: SaturationFit, *, threshold_ms: float, growth_rates: Sequence[float],
            instance_counts: Sequence[int], burst: float = 1.0, max_utilisation: float = 0.85,
            model: str = "usl", horizon_days: float = 730.0) -> pl.DataFrame:
    """Headroom for every (growth rate per 30 days, instance count) pair, without refitting.

    The forecast peak is rescaled from the fitted growth to each what-if rate over the time from the
    forecast start to the peak. Returns ``growth_per_30d, instances, load_per_instance_hi95, latency_hi95_ms,
    meets_slo, runout_date, instances_needed``.
    """
    step = every_seconds(forecast.every)
    pk = forecast.peak()
    t0: datetime = forecast.forecast["timestamp"][0]
    months = (pk["timestamp"] - t0).total_seconds() / _MONTH_S  # type: ignore[operator]
    safe = _safe_load(fit, threshold_ms, max_utilisation, model)
    rows = []
    for g in growth_rates:
        scale = ((1.0 + g) / (1.0 + forecast.growth_per_30d)) ** months
        rps_hi = float(pk["hi95"]) / step * burst * scale  # type: ignore[arg-type]
        for n in instance_counts:
            x_hi = rps_hi / n
            lat = float(fit.usl.latency_ms(np.array([x_hi]))[0])
            rows.append((g, n, x_hi, lat, x_hi <= safe,
                         _runout(pk["timestamp"], rps_hi, g, safe * n, horizon_days),  # type: ignore[arg-type]
                         max(1, math.ceil(rps_hi / safe)) if safe > 0 else 0))
    return pl.DataFrame(rows, schema={"growth_per_30d": pl.Float64, "instances": pl.Int64,
                                      "load_per_instance_hi95": pl.Float64, "latency_hi95_ms": pl.Float64,
                                      "meets_slo": pl.Boolean, "runout_date": pl.Datetime("ms", "UTC"),
                                      "instances_needed": pl.Int64}, orient="row")
