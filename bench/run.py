"""`make bench`: run every benchmark in bench/ and print their figures.

- bench_logs.py: the demo's request logs at --scale 10 into the requests frame, against a polars floor
  and a pandas baseline (issue: foundation).
- bench_slo.py: 200 SLOs x 90 days of SLIs, budgets, burn rates and windows, against a rolling-sum floor,
  scaling at 30/90/365 days (issue: SLO engine).
- bench_calls.py: GetMetricData calls planned (and made against a moto server) against the arithmetic
  minimum, for many request shapes (issue: live sources).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_logs.py", "bench_slo.py", "bench_calls.py"]


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
