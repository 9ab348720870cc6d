"""Forecast backtest: hold out the last week, report MAPE, WAPE and 80 % / 95 % interval coverage.

Series: the demo's ELB RequestCount and SupportDesk TicketsCreated (hourly; 14 days, so 7 days to learn
from and 7 to predict), and the real NAB ``elb_request_count_8c0756`` series (5-minute, about 14 days,
``/work/shared/datasets/nab-aws-dev`` or ``$NAB_DIR``). Two seasonal-naive forecasts are scored in the same
run as baselines: the same hour one day earlier (the last training day, repeated) and one week earlier.

Run standalone::

    .venv/bin/python bench/forecast_backtest.py                  # reuses data/demo-snapshot if present
    .venv/bin/python bench/forecast_backtest.py --fresh-demo     # generates a 14-day demo (seed 7) first

Nothing here asserts a figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slo_analysis import demo  # noqa: E402
from slo_analysis.analysis.capacity import backtest, demand_series, regularise, ticket_arrivals  # noqa: E402
from slo_analysis.store import Snapshot, import_files  # noqa: E402

NAB = Path(os.environ.get("NAB_DIR", "/work/shared/datasets/nab-aws-dev")) / "elb_request_count_8c0756.csv"


def demo_snapshot(fresh: bool) -> Path:
    existing = ROOT / "data" / "demo-snapshot"
    if existing.is_dir() and not fresh:
        return existing
    root = Path(tempfile.mkdtemp(prefix="capacity-bench-"))
    incident = demo.generate(root / "incident", seed=7, days=14, scale=1.0)
    import_files([p for p in incident.iterdir() if p.name != "scenario.json"], root / "snapshot")
    return root / "snapshot"


def naive_mape(series: pl.DataFrame, holdout: timedelta, season: int) -> float:
    """MAPE of 'the same hour ``season`` hours earlier', the last training season repeated over the hold-out."""
    reg = regularise(series)
    n_test = int(holdout.total_seconds() // 3600)
    train, test = reg["value"].to_numpy()[:-n_test], reg["value"].to_numpy()[-n_test:]
    pred = np.tile(train[-season:], n_test // season + 1)[:n_test]
    pos = test > 0
    return float(np.mean(np.abs(test[pos] - pred[pos]) / test[pos]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fresh-demo", action="store_true", help="generate a 14-day demo instead of reusing one")
    args = ap.parse_args()
    snap = Snapshot.open(demo_snapshot(args.fresh_demo))
    series = {"demo ELB RequestCount": demand_series(snap), "demo TicketsCreated": ticket_arrivals(snap)}
    if NAB.exists():
        nab = pl.read_csv(NAB, try_parse_dates=True)
        series["NAB elb_request_count_8c0756"] = nab.select(pl.col("timestamp").dt.replace_time_zone("UTC")
                                                            .cast(pl.Datetime("ms", "UTC")), "value")
    else:
        print(f"NAB series not found at {NAB}: skipped")
    holdout = timedelta(days=7)
    print(f"{'series':32} {'hours':>5} {'MAPE':>7} {'WAPE':>7} {'cov80':>6} {'cov95':>6} {'weekly':>8} "
          f"{'naive-1d MAPE':>13} {'naive-7d MAPE':>13} {'fit s':>6}")
    for name, s in series.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = backtest(s, holdout=holdout)
        dt = time.perf_counter() - t0
        n1, n7 = naive_mape(s, holdout, 24), naive_mape(s, holdout, 168)
        print(f"{name:32} {regularise(s).height:5d} {bt.mape:7.1%} {bt.wape:7.1%} {bt.coverage80:6.1%} "
              f"{bt.coverage95:6.1%} {bt.model.weekly:>8} {n1:13.1%} {n7:13.1%} {dt:6.3f}", flush=True)
        for note in bt.model.notes:
            print(f"  note: {note}")


if __name__ == "__main__":
    main()
