"""Benchmark the SLO core: N SLOs x D days at 1-minute periods, from metrics to incident windows.

For every SLO (synthetic Application Signals availability metrics: ``Latency`` SampleCount and
``Fault`` Sum per minute, with daily seasonality, ~0.03 % background faults and a few incidents) it
runs, timed:

- ``sli``: the metrics split by dimensions (``split_by_dimensions``), ``request_sli_from_counts`` per
  SLO and the SLIs stacked into one long frame (``stack_slis``);
- ``budget+burn``: the rolling 30-day budget as a time series (attainment, remaining budget, status)
  and burn rates over six look-backs (``LOOKBACKS``) for every SLO (``budgets_for_many``: the
  cumulative sums are shared by both);
- ``breach``: breach windows (``breach_windows_for_many``);
- ``incident``: incident windows, reusing the burn rates (``incident_windows_for_many``).

The floor is one polars rolling-sum pass (1-hour window) over the same SLI data of every SLO (the
``bad`` column of the stacked SLIs, made contiguous outside the clock), timed in the same run. SLOs
are processed in groups of about ``--group-periods`` periods so memory stays bounded at any length;
metrics are generated per group and the generation is not timed. It prints the wall and CPU time of
each stage and their sum, the floor and the ratio, peak RSS, then the same at 30, 90 and 365 days with
the cost per period (it should stay flat: linear scaling). The batch functions give the same numbers
as the per-SLO ones (tests/core/test_budget.py, test_windows.py).

Run standalone::

    .venv/bin/python bench/bench_slo.py                 # 200 SLOs x 90 days, then scaling
    .venv/bin/python bench/bench_slo.py --slos 20 --no-scaling

Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slo_analysis.core.budget import budgets_for_many, stack_slis  # noqa: E402
from slo_analysis.core.model import SLO, MetricRef  # noqa: E402
from slo_analysis.core.sli import request_sli_from_counts  # noqa: E402
from slo_analysis.core.windows import breach_windows_for_many, incident_windows_for_many  # noqa: E402

LOOKBACKS = (300.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
TARGET = 0.999
NAMESPACE = "ApplicationSignals"
STAGES = ("sli", "budget+burn", "breach", "incident")


def slo_of(i: int) -> SLO:
    """The availability SLO of synthetic service ``i``: 1 - Fault / SampleCount over 30 rolling days."""
    dims = f"Environment=prod,Operation=GET /items,Service=svc-{i:04d}"
    return SLO(
        name=f"svc-{i:04d}-availability", sli_kind="availability", method="request", target=TARGET,
        metrics=(MetricRef("total", NAMESPACE, "Latency", dims, "SampleCount", 60),
                 MetricRef("bad", NAMESPACE, "Fault", dims, "Sum", 60)),
    )


def make_metrics(first: int, count: int, days: int, seed: int = 1) -> pl.DataFrame:
    """Canonical ``metrics`` rows of SLOs ``first .. first + count - 1``: per-minute requests and faults."""
    n = days * 1440
    ts = (np.int64(T0.timestamp() * 1000) + np.arange(n, dtype=np.int64) * 60_000)
    season = 1.0 + 0.5 * np.sin(2 * np.pi * np.arange(n) / 1440.0)
    parts = []
    for i in range(first, first + count):
        rng = np.random.default_rng([seed, i])
        total = np.floor(rng.uniform(200, 2000) * season)
        ratio = np.full(n, 0.0003)
        for start in rng.integers(0, n - 120, size=max(1, days // 15)):
            ratio[start : start + rng.integers(5, 90)] = rng.uniform(0.005, 0.5)
        bad = rng.binomial(total.astype(np.int64), ratio).astype(np.float64)
        slo = slo_of(i)
        for ref, values in ((slo.metric("total"), total), (slo.metric("bad"), bad)):
            assert ref is not None
            parts.append(pl.DataFrame({"timestamp": ts, "value": values}).select(
                pl.col("timestamp").cast(pl.Datetime("ms", "UTC")), namespace=pl.lit(NAMESPACE),
                metric=pl.lit(ref.metric), dimensions=pl.lit(ref.dimensions), stat=pl.lit(ref.statistic),
                period_s=pl.lit(60, pl.Int32), value="value"))
    return pl.concat(parts)


def groups(n_slos: int, days: int, group_periods: int) -> Iterator[tuple[int, int]]:
    """``(first, count)`` of each group of SLOs holding about ``group_periods`` periods."""
    size = max(1, group_periods // (days * 1440))
    for first in range(0, n_slos, size):
        yield first, min(size, n_slos - first)


def run_group(metrics: pl.DataFrame, first: int, count: int, days: int, stages: dict[str, float]) -> tuple[int, float]:
    """Every stage for one group of SLOs, then the floor over its SLIs; returns (windows, floor seconds)."""
    clock, cpu = time.perf_counter, time.process_time
    window = (T0, T0 + timedelta(days=days))
    t0, c0 = clock(), cpu()
    by_dims = split_by_dimensions(metrics)
    slis = {}
    for i in range(first, first + count):
        slo = slo_of(i)
        ref = slo.metric("total")
        assert ref is not None
        slis[slo.name] = request_sli_from_counts(by_dims[ref.dimensions], slo, window, 60)
    stacked, p, m = stack_slis(slis)
    t1, c1 = clock(), cpu()
    budget, burn = budgets_for_many(stacked, TARGET, 30 * 86400, LOOKBACKS, period_s=p, method=m)
    t2, c2 = clock(), cpu()
    found = breach_windows_for_many(budget, p).height
    t3, c3 = clock(), cpu()
    found += incident_windows_for_many(stacked, TARGET, period_s=p, burn=burn).height
    t4, c4 = clock(), cpu()
    # the floor reads one contiguous column: on the stacked (one chunk per SLO) column it took 2x longer
    bad = stacked["bad"].rechunk()
    t5, c5 = clock(), cpu()
    bad.rolling_sum(60).sum()
    floor, floor_cpu = clock() - t5, cpu() - c5
    stages["floor_cpu"] = stages.get("floor_cpu", 0.0) + floor_cpu
    for name, dt, dc in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), (c1 - c0, c2 - c1, c3 - c2, c4 - c3),
                            strict=True):
        stages[name] = stages.get(name, 0.0) + dt
        stages[name + "_cpu"] = stages.get(name + "_cpu", 0.0) + dc
    return found, floor


def split_by_dimensions(metrics: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The metrics rows of each ``dimensions`` value, as zero-copy slices when each value's rows are contiguous.

    Metrics are stored series by series (as fetched), so one pass comparing neighbours (``rle``) finds
    the blocks; hashing every row (``partition_by``) cost about 20x more. Falls back to it otherwise.
    """
    runs = metrics["dimensions"].rle()
    values = runs.struct.field("value").to_list()
    if len(set(values)) != len(values):
        return {k[0]: v for k, v in metrics.partition_by("dimensions", as_dict=True).items()}
    lengths = runs.struct.field("len").to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return {v: metrics.slice(int(o), int(n)) for v, o, n in zip(values, offsets, lengths, strict=True)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n_slos: int, days: int, group_periods: int) -> dict[str, float]:
    stages: dict[str, float] = {}
    found, floor = 0, 0.0
    for first, count in groups(n_slos, days, group_periods):
        metrics = make_metrics(first, count, days)
        f, fl = run_group(metrics, first, count, days, stages)
        found, floor = found + f, floor + fl
        del metrics
    ours = sum(stages[k] for k in STAGES)
    ours_cpu = sum(stages[k + "_cpu"] for k in STAGES)
    return {"slos": n_slos, "days": days, "rows": n_slos * days * 1440, "ours_s": ours, "floor_s": floor,
            "ratio": ours / floor, "windows": found, "peak_rss_mb": peak_rss_mb(),
            "ours_cpu_s": ours_cpu, "floor_cpu_s": stages["floor_cpu"],
            **{f"stage_{k}": v for k, v in stages.items()}}


def show(r: dict[str, float]) -> None:
    print(f"{int(r['slos'])} SLOs x {int(r['days'])} d ({r['rows'] / 1e6:.1f} M periods): "
          f"ours {r['ours_s']:.2f} s, floor {r['floor_s']:.3f} s, ratio {r['ratio']:.1f}x, "
          f"{r['rows'] / r['ours_s'] / 1e6:.1f} M periods/s, {int(r['windows'])} windows, "
          f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    print("  wall: " + ", ".join(f"{k} {r['stage_' + k]:.2f} s ({r['stage_' + k] / r['floor_s']:.1f}x floor)"
                                 for k in STAGES), flush=True)
    print(f"  CPU (all threads; steadier than wall on a busy machine): ours {r['ours_cpu_s']:.2f} s, floor "
          f"{r['floor_cpu_s']:.3f} s, ratio {r['ours_cpu_s'] / r['floor_cpu_s']:.1f}x; "
          + ", ".join(f"{k} {r['stage_' + k + '_cpu']:.2f} s" for k in STAGES), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slos", type=int, default=200)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--group-periods", type=int, default=1_000_000,
                    help="periods per group of SLOs processed together (bounds memory)")
    ap.add_argument("--no-scaling", action="store_true", help="skip the 30/90/365-day scaling runs")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads, {os.cpu_count()} CPUs, "
          f"load average {load:.2f} at start")
    main_run = measure(args.slos, args.days, args.group_periods)
    show(main_run)
    if not args.no_scaling:
        print("scaling (same SLO count):")
        per_row = []
        for days in (30, 90, 365):
            r = main_run if days == args.days else measure(args.slos, days, args.group_periods)
            show(r)
            per_row.append(r["ours_s"] / r["rows"] * 1e9)
        print("ns per period: " + ", ".join(f"{x:.0f}" for x in per_row))
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
