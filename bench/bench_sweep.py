"""Benchmark the metric sweep: N series x D days at 1 minute, some with injected shifts.

Generates ``--series`` (2,000) series of ``--days`` (14) days at 1-minute resolution (daily cycle with
a random phase and amplitude, Gaussian noise, a few random spikes), injects a level shift into
``--shifts`` (20) of them at the incident start (4 to 20 noise sigmas, up or down), then runs
``sweep_metrics`` over a one-hour incident at the end. Prints wall time, series/s, peak RSS, the time of
one polars rolling-median pass over the same data (the floor: the sweep runs several such passes)
and the ratio, and how many injected shifts ranked in the top ``--shifts`` and crossed the threshold
within 5 minutes of the incident start.

Run standalone::

    .venv/bin/python bench/bench_sweep.py
    .venv/bin/python bench/bench_sweep.py --series 200 --days 10

Data are generated before the clock starts. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slo_analysis.analysis.metric_sweep import sweep_metrics  # noqa: E402

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def make_metrics(n_series: int, days: int, n_shifts: int, seed: int = 1) -> tuple[pl.DataFrame, set[str], datetime]:
    """The canonical metrics frame (key columns categorical to keep it small), shifted series, incident start."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    start_i = n - 60
    minute = np.arange(n)
    level = rng.uniform(50, 500, n_series)
    amp = rng.uniform(0.0, 0.6, n_series) * level
    phase = rng.uniform(0, 2 * np.pi, n_series)
    noise = rng.uniform(0.02, 0.08, n_series) * level
    x = (level[:, None] + amp[:, None] * np.sin(2 * np.pi * minute[None, :] / 1440 + phase[:, None])
         + rng.normal(0, 1, (n_series, n)) * noise[:, None])
    spikes = rng.integers(0, start_i - 1440, size=n_series * 3)
    x[np.repeat(np.arange(n_series), 3), spikes] += rng.uniform(3, 8, n_series * 3) * np.repeat(noise, 3)
    shifted = rng.choice(n_series, size=n_shifts, replace=False)
    sizes = rng.uniform(4, 20, n_shifts) * rng.choice([-1.0, 1.0], n_shifts)
    for s, size in zip(shifted, sizes, strict=True):
        x[s, start_i:] += size * noise[s]
    names = [f"Service=svc-{i:04d}" for i in range(n_series)]
    ts = pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_unit="ms")
    frame = pl.DataFrame({
        "timestamp": pl.concat([ts] * n_series),
        "namespace": pl.Series(["App"], dtype=pl.Categorical).extend_constant("App", n * n_series - 1),
        "metric": pl.Series(["Latency"], dtype=pl.Categorical).extend_constant("Latency", n * n_series - 1),
        "dimensions": pl.Series(names, dtype=pl.Categorical).gather(np.repeat(np.arange(n_series), n)),
        "stat": pl.Series(["Average"], dtype=pl.Categorical).extend_constant("Average", n * n_series - 1),
        "period_s": pl.repeat(60, n * n_series, dtype=pl.Int64, eager=True),
        "unit": pl.Series(["Milliseconds"], dtype=pl.Categorical).extend_constant("Milliseconds", n * n_series - 1),
        "value": x.reshape(-1),
    })
    return frame, {names[s] for s in shifted}, T0 + timedelta(minutes=start_i)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--shifts", type=int, default=20)
    args = parser.parse_args()
    frame, shifted, start = make_metrics(args.series, args.days, args.shifts)
    print(f"{args.series} series x {args.days} days at 1 min = {frame.height:,} datapoints; "
          f"{len(shifted)} injected shifts at {start:%Y-%m-%d %H:%M}")

    t = time.perf_counter()
    floor = frame.lazy().select(pl.col("value").rolling_median(720, min_samples=30).over("dimensions")).collect()
    floor_s = time.perf_counter() - t
    del floor

    t = time.perf_counter()
    sweep = sweep_metrics(frame.lazy(), (start, start + timedelta(hours=1)))
    sweep_s = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    top = sweep.head(len(shifted))
    hits = top.filter(pl.col("dimensions").is_in(sorted(shifted)))
    on_time = sweep.filter(pl.col("dimensions").is_in(sorted(shifted))
                           & (pl.col("first_anomalous_at") >= start)
                           & (pl.col("first_anomalous_at") <= start + timedelta(minutes=5)))
    false_crossings = sweep.filter(~pl.col("dimensions").is_in(sorted(shifted))
                                   & pl.col("first_anomalous_at").is_not_null()).height
    print(f"sweep: {sweep_s:.1f} s ({args.series / sweep_s:,.0f} series/s, "
          f"{frame.height / sweep_s / 1e6:.2f} M datapoints/s); peak RSS {rss_mb:,.0f} MB")
    print(f"floor (one polars rolling median over every series): {floor_s:.1f} s; sweep / floor = "
          f"{sweep_s / floor_s:.1f}x")
    print(f"injected shifts in the top {len(shifted)}: {hits.height}/{len(shifted)}; crossing the threshold "
          f"within 5 min of the start: {on_time.height}/{len(shifted)}; other series crossing in the search "
          f"span (2 h lead + 1 h incident): {false_crossings}/{args.series - len(shifted)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
