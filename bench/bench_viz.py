"""Benchmark the review's figures: build time and JSON size of the SLO charts and the latency heatmap.

A review embeds every figure in one HTML file, so what matters is how long a figure takes to build and
how many bytes it adds. For a synthetic request-based SLO at 1-minute periods over D days (daily
seasonality, noise, one incident) it builds ``sli_timeline``, ``budget_burndown`` and
``burn_rate_chart`` (Workbook policy, with its alert episodes) twice in the same run: thinned to the
default ~1500 points (what the package does) and unthinned (every period drawn, the baseline), and
prints build seconds, ``fig.to_json()`` megabytes and the ratios. Then ``latency_heatmap`` over N
synthetic requests (log-normal latencies, a slow tail during the incident) from a LazyFrame.

Run standalone::

    .venv/bin/python bench/bench_viz.py                  # 14 and 90 days; 2 million requests
    .venv/bin/python bench/bench_viz.py --days 30 --requests 500000

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

from slo_analysis.analysis.slo_evaluation import SloEvaluation  # noqa: E402
from slo_analysis.core.alerts import alert_episodes, workbook_policy  # noqa: E402
from slo_analysis.core.budget import rolling_budget  # noqa: E402
from slo_analysis.core.model import SLO, Interval  # noqa: E402
from slo_analysis.core.sli import SliSeries  # noqa: E402
from slo_analysis.core.windows import breach_windows, incident_windows  # noqa: E402
from slo_analysis.viz import budget_burndown, burn_rate_chart, latency_heatmap, sli_timeline  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TARGET = 0.999


def make_evaluation(days: int, seed: int = 1) -> SloEvaluation:
    """A 7-day rolling request-based SLO over ``days`` of 1-minute periods with one 80-minute incident."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    minute = np.arange(n)
    total = np.maximum(1.0, 200 + 120 * np.sin(2 * np.pi * (minute % 1440) / 1440) + rng.normal(0, 15, n)).round()
    ratio = np.full(n, 0.0002)
    start = int(n * 0.7)
    ratio[start:start + 80] = 0.08
    bad = rng.binomial(total.astype(np.int64), ratio).astype(float)
    ts = pl.datetime_range(T0, T0 + timedelta(minutes=n), "1m", eager=True, closed="left", time_unit="ms")
    sli = SliSeries(pl.DataFrame({"timestamp": ts, "good": total - bad, "bad": bad}), 60, "request")
    slo = SLO(name="bench-availability", sli_kind="availability", method="request", target=TARGET,
              interval=Interval("rolling", 7, "DAY"))
    budget = rolling_budget(sli, TARGET, 7 * 86400)
    warm = T0 + timedelta(days=7)
    empty = pl.DataFrame(schema={"start": pl.Datetime("ms", "UTC"), "end": pl.Datetime("ms", "UTC"),
                                 "duration_s": pl.Float64})
    return SloEvaluation(slo=slo, window=(T0, T0 + timedelta(minutes=n)), sli=sli, budget=budget,
                         breaches=breach_windows(budget.filter(pl.col("timestamp") >= warm), 60),
                         incidents=incident_windows(sli, TARGET), at_risk=empty, warm_from=warm)


def make_requests(n: int, days: int, seed: int = 2) -> pl.LazyFrame:
    rng = np.random.default_rng(seed)
    offs = np.sort(rng.integers(0, days * 86400 * 1000, n))
    lat = rng.lognormal(np.log(120), 0.45, n)
    slow = (offs > days * 86400 * 1000 * 0.7) & (offs < days * 86400 * 1000 * 0.7 + 80 * 60 * 1000)
    lat[slow] *= rng.uniform(5, 25, int(slow.sum()))
    ts = pl.Series(np.datetime64(T0.replace(tzinfo=None), "ms") + offs.astype("timedelta64[ms]"))
    return pl.DataFrame({"timestamp": ts.dt.replace_time_zone("UTC"), "service": ["ticket-api"] * n,
                         "operation": ["CreateTicket"] * n, "latency_ms": lat}).lazy()


def build_slo_figures(ev: SloEvaluation, max_points: int) -> tuple[float, int]:
    policy = workbook_policy()
    alerts = alert_episodes(ev.sli, TARGET, policy)
    t = time.perf_counter()
    figs = [sli_timeline(ev, max_points=max_points), budget_burndown(ev, max_points=max_points),
            burn_rate_chart(ev.sli, TARGET, policy, alerts=alerts, max_points=max_points)]
    size = sum(len(f.to_json()) for f in figs)
    return time.perf_counter() - t, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, nargs="*", default=[14, 90])
    ap.add_argument("--requests", type=int, default=2_000_000)
    args = ap.parse_args()

    print("SLO charts (sli_timeline + budget_burndown + burn_rate_chart, build + to_json):")
    print(f"{'days':>5} {'periods':>8} {'thinned s':>10} {'MB':>7} {'every period s':>15} {'MB':>7} "
          f"{'time ratio':>11} {'size ratio':>11}")
    for days in args.days:
        ev = make_evaluation(days)
        build_slo_figures(ev, 1500)  # warm-up: imports, plotly validators
        thin_s, thin_b = build_slo_figures(ev, 1500)
        full_s, full_b = build_slo_figures(ev, 10 ** 9)
        print(f"{days:>5} {days * 1440:>8} {thin_s:>10.2f} {thin_b / 1e6:>7.2f} {full_s:>15.2f} {full_b / 1e6:>7.2f} "
              f"{full_s / thin_s:>10.1f}x {full_b / thin_b:>10.1f}x")

    days = max(args.days)
    lf = make_requests(args.requests, days)
    floor_t = time.perf_counter()
    lf.select(pl.col("timestamp").dt.truncate("5m"), pl.col("latency_ms").log10()).collect()
    floor_s = time.perf_counter() - floor_t
    t = time.perf_counter()
    fig = latency_heatmap(lf, service="ticket-api", operation="CreateTicket", bucket="1h")
    size = len(fig.to_json())
    heat_s = time.perf_counter() - t
    print(f"\nlatency_heatmap: {args.requests:,} requests over {days} days, 1h buckets: {heat_s:.2f} s "
          f"({args.requests / heat_s / 1e6:.1f} M requests/s), {size / 1e6:.2f} MB JSON; "
          f"polars floor (truncate + log10 only) {floor_s:.2f} s, ratio {heat_s / floor_s:.1f}x")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
