"""Benchmark the SLO core: N SLOs x D days at 1-minute periods.

For every SLO (synthetic request-based SLI with daily seasonality, noise and a few incidents) it runs
what ``slo-analysis`` runs per SLO: the rolling 30-day budget as a time series (attainment, remaining
budget, status), burn rates over six look-back windows (5m, 30m, 1h, 2h, 6h, 1d... see LOOKBACKS),
breach windows and incident windows. It prints the wall time, peak RSS, the time of a single polars
rolling-sum pass over the same data in the same run (the floor) and the ratio, then the same figures
at 30, 90 and 365 days (cost should grow linearly).

Run standalone::

    .venv/bin/python bench/bench_slo.py                 # 200 SLOs x 90 days, then scaling
    .venv/bin/python bench/bench_slo.py --slos 20 --no-scaling

Synthetic data is generated before the clock starts. Nothing here asserts a timing.
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

from slo_analysis.core.budget import burn_rates, rolling_budget  # noqa: E402
from slo_analysis.core.windows import breach_windows, incident_windows  # noqa: E402

LOOKBACKS = (300.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
TARGET = 0.999


def make_slis(n_slos: int, days: int, seed: int = 1) -> list[pl.DataFrame]:
    """Synthetic 1-minute SLI frames: seasonal traffic, ~0.03 % background errors, a few incidents."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    ts = pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_unit="ms")
    minute = np.arange(n)
    season = 1.0 + 0.5 * np.sin(2 * np.pi * minute / 1440.0)
    frames = []
    for _ in range(n_slos):
        total = np.floor(rng.uniform(200, 2000) * season)
        ratio = np.full(n, 0.0003)
        for start in rng.integers(0, n - 120, size=max(1, days // 15)):
            ratio[start : start + rng.integers(5, 90)] = rng.uniform(0.005, 0.5)
        bad = rng.binomial(total.astype(np.int64), ratio).astype(np.float64)
        frames.append(pl.DataFrame({"timestamp": ts, "good": total - bad, "bad": bad}))
    return frames


STAGES = ("budget", "burn", "breach", "incident")


def run_ours(frames: list[pl.DataFrame], stages: dict[str, float] | None = None) -> int:
    """Budgets, six burn rates, breach and incident windows for every SLO; returns windows found.

    The incident windows reuse the six burn rates (their conditions use 5m, 30m, 1h and 6h of them).
    With ``stages``, the seconds spent in each stage are added to it.
    """
    found = 0
    clock = time.perf_counter
    for f in frames:
        t0 = clock()
        b = rolling_budget(f, TARGET, 30 * 86400, period_s=60, method="request")
        t1 = clock()
        br = burn_rates(f, TARGET, LOOKBACKS, period_s=60)
        t2 = clock()
        found += breach_windows(b, 60).height
        t3 = clock()
        found += incident_windows(f, TARGET, period_s=60, burn=br).height
        t4 = clock()
        if stages is not None:
            for name, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                stages[name] = stages.get(name, 0.0) + dt
    return found


def run_floor(frames: list[pl.DataFrame]) -> float:
    """One polars rolling-sum pass (1-hour window) over the same data."""
    acc = 0.0
    for f in frames:
        acc += f.select(pl.col("bad").rolling_sum(60).sum()).item() or 0.0
    return acc


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n_slos: int, days: int) -> dict[str, float]:
    frames = make_slis(n_slos, days)
    t0 = time.perf_counter()
    run_floor(frames)
    floor = time.perf_counter() - t0
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    found = run_ours(frames, stages)
    ours = time.perf_counter() - t0
    return {"slos": n_slos, "days": days, "rows": n_slos * days * 1440, "ours_s": ours, "floor_s": floor,
            "ratio": ours / floor, "windows": found, "peak_rss_mb": peak_rss_mb(),
            **{f"stage_{k}": v for k, v in stages.items()}}


def show(r: dict[str, float]) -> None:
    print(f"{int(r['slos'])} SLOs x {int(r['days'])} d ({r['rows'] / 1e6:.1f} M periods): "
          f"ours {r['ours_s']:.2f} s, floor {r['floor_s']:.3f} s, ratio {r['ratio']:.1f}x, "
          f"{r['rows'] / r['ours_s'] / 1e6:.1f} M periods/s, {int(r['windows'])} windows, "
          f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    print("  stages: " + ", ".join(f"{k} {r['stage_' + k]:.2f} s ({r['stage_' + k] / r['floor_s']:.1f}x floor)"
                                   for k in STAGES), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slos", type=int, default=200)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--no-scaling", action="store_true", help="skip the 30/90/365-day scaling runs")
    args = ap.parse_args()
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads")
    main_run = measure(args.slos, args.days)
    show(main_run)
    if not args.no_scaling:
        print("scaling (same SLO count):")
        per_row = []
        for days in (30, 90, 365):
            r = main_run if days == args.days else measure(args.slos, days)
            show(r)
            per_row.append(r["ours_s"] / r["rows"] * 1e9)
        print("ns per period: " + ", ".join(f"{x:.0f}" for x in per_row))


if __name__ == "__main__":
    main()
