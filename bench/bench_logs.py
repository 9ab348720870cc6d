"""Load the demo's request logs at --scale 10 into the requests frame, against a floor and a pandas baseline.

Generates the demo (scale 10, ``--days`` 2 by default) under bench/out/ when missing, then, in a fresh
process per measurement (so peak RSS is each approach's own), times on the same export files:

- floor:  a bare ``polars.read_ndjson`` of the messages, which decodes the message JSON; the gunzip and
          the stripping of each line's ``<timestamp> `` prefix it needs are timed with it (the
          ``read_ndjson`` call alone is printed too);
- pandas: the straightforward pandas approach (line by line ``json.loads``, records into a DataFrame);
- ours:   ``logs_from_export_file`` + ``requests_from_logs``, the path `slo-analysis import` takes.

Prints events/s, wall time, peak RSS, ours / floor against the target (<= 1.5x) and pandas / ours against
the target (>= 8x), each with PASS or MISS. Timings are the best of ``--repeat`` runs (pandas runs once).

Why 2 days: generating the demo holds the whole simulation in memory, about 3 GB at scale 1 over 14 days
and roughly proportional to scale x days. Scale 10 over 2 days peaked at 5.0 GB RSS (measured with
/usr/bin/time), which fits an 8 GB machine; 3 days would need ~7.5 GB and 14 days ~35 GB. The days used
are printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPROACHES = {"floor": "floor_ndjson", "pandas": "pandas_baseline", "ours": "ours"}
TARGET_VS_FLOOR = 1.5  # ours / floor at most
TARGET_VS_PANDAS = 8.0  # pandas / ours at least

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
import bench_load_logs as b
paths = json.loads(sys.argv[1])
t0 = time.perf_counter()
n = b.{func}(paths)
dt = time.perf_counter() - t0
print(json.dumps({{"events": n, "seconds": dt, "splits": b.SPLITS,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def ensure_demo(out: Path, scale: float, days: int, seed: int) -> Path:
    """The demo folder for these arguments, generated (and its time and peak RSS printed) when missing."""
    folder = out / f"demo-s{scale:g}-d{days}-seed{seed}"
    if (folder / "scenario.json").exists():
        print(f"demo: scale {scale:g}, {days} days, seed {seed}: reusing {folder}")
        return folder
    print(f"demo: generating scale {scale:g}, {days} days, seed {seed} into {folder} ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("slo-analysis")), "demo", "generate", "--out",
                    str(folder), "--scale", str(scale), "--days", str(days), "--seed", str(seed)], check=True)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far: the generator
    print(f"demo: generated in {time.perf_counter() - t0:.0f} s, peak RSS {rss:,.0f} MB")
    return folder


def run_once(func: str, paths: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD.format(here=str(HERE), func=func), json.dumps(paths)],
                         check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def measure_all(paths: list[str], repeat: int) -> dict[str, dict]:
    """Best of ``repeat`` runs per approach, the approaches interleaved round by round so that a change
    in the machine's load hits them alike (pandas, the slow baseline, runs in the first round only)."""
    runs: dict[str, list[dict]] = {name: [] for name in APPROACHES}
    for round_ in range(repeat):
        for name, func in APPROACHES.items():
            if name == "pandas" and round_ > 0:
                continue
            runs[name].append(run_once(func, paths))
    best = {}
    for name, rs in runs.items():
        best[name] = min(rs, key=lambda r: r["seconds"])
        best[name]["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rs)
    return best


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--days", type=int, default=2, help="days of demo (memory grows with scale x days)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per approach (best time kept; pandas runs once)")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()

    folder = ensure_demo(args.out, args.scale, args.days, args.seed)
    paths = sorted(str(p) for p in (folder / "logs" / "export").rglob("*.gz"))
    size = sum(Path(p).stat().st_size for p in paths)
    print(f"inputs: {len(paths)} Logs export objects, {size / 1e6:.1f} MB gzipped ({args.days} days at scale "
          f"{args.scale:g})")
    with open("/proc/loadavg") as fh:
        print(f"load average before: {fh.read().split()[0]} (other work on the machine slows every approach)")
    results = measure_all(paths, args.repeat)
    print(f"\n{'approach':<8} {'requests':>11} {'seconds':>9} {'events/s':>12} {'peak RSS MB':>12}  parts (s)")
    for name, r in results.items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in r["splits"].items())
        print(f"{name:<8} {r['events']:>11,} {r['seconds']:>9.2f} {r['events'] / r['seconds']:>12,.0f} "
              f"{r['peak_rss_mb']:>12,.0f}  {parts}")
    ours, floor, pandas = (results[k]["seconds"] for k in ("ours", "floor", "pandas"))
    print(f"\nours / floor  = {ours / floor:.2f}x  target <= {TARGET_VS_FLOOR:g}x  "
          f"{_verdict(ours / floor <= TARGET_VS_FLOOR)}")
    print(f"pandas / ours = {pandas / ours:.1f}x  target >= {TARGET_VS_PANDAS:g}x  "
          f"{_verdict(pandas / ours >= TARGET_VS_PANDAS)}")
    events = {r["events"] for r in results.values()}
    if len(events) != 1:
        print(f"note: the approaches found different request counts: { {k: v['events'] for k, v in results.items()} }")


if __name__ == "__main__":
    main()
