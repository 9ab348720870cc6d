"""Benchmark capacity planning: forecast and saturation fit for N series of D days at 5 minutes.

Each synthetic series is a service's 5-minute request count (daily and weekly seasonality, growth, noise)
and its p99 latency against load per instance (an M/M/c-shaped curve with noise). Per series the benchmark
runs what a capacity session runs: aggregate to hourly, fit the demand model and forecast 30 days with
intervals (``forecast_demand``), and fit latency against load with the USL and M/M/c (``fit_saturation``).
It prints the wall time of each stage, peak RSS, and a floor measured in the same run: the hourly
aggregation plus one ``numpy.linalg.lstsq`` of the same regression (the least any OLS forecaster does).

Run standalone::

    .venv/bin/python bench/bench_capacity.py                 # 500 series x 90 days
    .venv/bin/python bench/bench_capacity.py --series 50

Synthetic data is generated before the clock starts. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slo_analysis.analysis.capacity import (  # noqa: E402
    CapacityError,
    fit_saturation,
    forecast_demand,
    mmc_latency,
    regularise,
)

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def make_series(n: int, days: int, seed: int = 1) -> list[tuple[pl.DataFrame, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    steps = days * 288
    ts = pl.datetime_range(T0, T0 + timedelta(minutes=5 * (steps - 1)), "5m", eager=True, time_unit="ms")
    k = np.arange(steps)
    hour = (k % 288) / 12.0
    weekend = ((k // 288) % 7) >= 5
    out = []
    for _ in range(n):
        base = rng.uniform(50, 5000)
        shape = (1 + 0.6 * np.sin(2 * np.pi * (hour - 8) / 24)) * np.where(weekend, rng.uniform(0.4, 0.9), 1.0)
        growth = np.power(1 + rng.uniform(-0.05, 0.25), k / (288 * 30))
        counts = rng.poisson(base * shape * growth).astype(np.float64)
        servers, mu = int(rng.integers(1, 9)), rng.uniform(0.5, 5.0)
        load = rng.uniform(0.05, 0.9, 600) * servers * mu
        lat = 1000 * mmc_latency(load, rng.uniform(0.02, 0.2), mu, servers) * np.exp(rng.normal(0, 0.05, load.size))
        out.append((pl.DataFrame({"timestamp": ts, "value": counts}), load, lat))
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor(data: list[tuple[pl.DataFrame, np.ndarray, np.ndarray]]) -> float:
    t0 = time.perf_counter()
    for s, _, _ in data:
        y = np.log1p(regularise(s)["value"].to_numpy())
        h = np.arange(y.size, dtype=np.float64)
        X = np.column_stack([np.ones_like(h), h] + [f(2 * np.pi * k * h / 24) for k in range(1, 5)
                                                    for f in (np.sin, np.cos)])
        np.linalg.lstsq(X, y, rcond=None)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--days", type=int, default=90)
    args = ap.parse_args()
    data = make_series(args.series, args.days)
    rows = args.series * args.days * 288
    print(f"{args.series} series x {args.days} d at 5 min ({rows / 1e6:.1f} M points), "
          f"polars {pl.thread_pool_size()} threads; data generated, peak RSS {peak_rss_mb():.0f} MB", flush=True)
    base = floor(data)
    t_fc = t_fit = 0.0
    mape_in, knees, failed, unconverged = [], 0, 0, 0
    warnings.simplefilter("ignore")
    for s, load, lat in data:
        t0 = time.perf_counter()
        fc = forecast_demand(s, timedelta(days=30))
        t1 = time.perf_counter()
        try:
            fit = fit_saturation(load, lat, latency="p99")
        except CapacityError:
            fit = None
            failed += 1
        t2 = time.perf_counter()
        t_fc += t1 - t0
        t_fit += t2 - t1
        h = fc.history.drop_nulls()
        mape_in.append(float((abs(h["value"] - h["fitted"]) / h["value"]).mean()))  # type: ignore[arg-type]
        if fit is not None:
            knees += int(np.isfinite(fit.knee_load))
            unconverged += int(not fit.usl.converged)
    total = t_fc + t_fit
    print(f"forecast (hourly, 30 d ahead, intervals): {t_fc:.1f} s, {t_fc / args.series * 1000:.0f} ms/series")
    print(f"saturation (USL + M/M/c, 400 draws):      {t_fit:.1f} s, {t_fit / args.series * 1000:.0f} ms/series")
    print(f"total {total:.1f} s ({args.series / total:.1f} series/s, {rows / total / 1e6:.2f} M points/s); "
          f"floor (aggregate + one lstsq) {base:.2f} s, forecast/floor {t_fc / base:.1f}x; "
          f"peak RSS {peak_rss_mb():.0f} MB")
    print(f"in-sample MAPE median {np.median(mape_in):.1%}; knee found for {knees}/{args.series} series; "
          f"{unconverged} USL fits stopped unconverged; {failed} saturation fits failed")


if __name__ == "__main__":
    main()
