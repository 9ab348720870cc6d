"""`make bench`: run every benchmark in bench/ and print their figures.

- bench_logs.py: the demo's request logs at --scale 10 into the requests frame, against a polars floor
  and a pandas baseline (issue: foundation).
- bench_slo.py: 200 SLOs x 90 days of SLIs, budgets, burn rates and windows, against a rolling-sum floor,
  scaling at 30/90/365 days (issue: SLO engine).
- bench_calls.py: GetMetricData calls planned (and made against a moto server) against the arithmetic
  minimum, for many request shapes (issue: live sources).
- bench_nab.py: anomaly scores on the NAB AWS CloudWatch series with NAB's scoring, threshold fixed in
  advance (issue: root cause).
- bench_sweep.py: the metric sweep over 2,000 series x 14 days at 1 minute, against a rolling-median floor.
- bench_traces.py: self-times, attribution and the service graph on 1 M synthetic spans, against a no-union
  polars floor and a pandas baseline.
- bench_log_mining.py: 1 M synthetic log lines through mine_templates against every line through drain3.
- bench_rca_scenarios.py: root-cause accuracy (top-1/top-3 culprit, "no deployment explains this") on 24
  simulated incidents.
- bench_viz.py: the review's figures, thinned against every period drawn (issue: notebooks).
- forecast_backtest.py: hold-out MAPE and interval coverage on the demo and the NAB elb series; and
  bench_capacity.py: forecast + saturation fit for 500 series of 90 days at 5 minutes (issue: capacity).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_logs.py", "bench_slo.py", "bench_calls.py", "bench_nab.py", "bench_sweep.py", "bench_traces.py",
              "bench_log_mining.py", "bench_rca_scenarios.py", "bench_viz.py", "forecast_backtest.py",
              "bench_capacity.py"]


def main() -> int:
    failed = []
    for script in BENCHMARKS:
        print(f"\n=== {script} ===", flush=True)
        if subprocess.run([sys.executable, str(HERE / script)]).returncode != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
