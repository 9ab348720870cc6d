"""Load the demo's request logs at --scale 10 and compare with a floor and a pandas baseline.

Generates the demo (scale 10, 2 days by default) under bench/out/ when missing, then, in a fresh
process per measurement (so peak RSS is each approach's own), times on the same export files:

- floor:  polars reads the lines, splits timestamp and message, ``str.json_decode`` of the message
          (in parallel chunks, the fastest way polars offers; ``floor-1call`` is the literal single call);
- pandas: a straightforward pandas approach (read lines, ``json.loads`` per message);
- ours:   ``logs_from_export_file`` + ``requests_from_logs``, the path `slo-analysis import` takes.

Prints events/s, wall time, peak RSS and the ratios ours/floor and pandas/ours. Timings are the best of
``--repeat`` runs. Nothing here asserts a timing; the figures go in the closing note.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APPROACHES = {"floor": "floor_polars", "floor-1call": "floor_polars_naive", "pandas": "pandas_baseline",
              "ours": "ours"}

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
import bench_load_logs as b
paths = json.loads(sys.argv[1])
t0 = time.perf_counter()
n = b.{func}(paths)
dt = time.perf_counter() - t0
print(json.dumps({{"events": n, "seconds": dt,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def ensure_demo(out: Path, scale: float, days: int, seed: int) -> Path:
    folder = out / f"demo-s{scale:g}-d{days}-seed{seed}"
    if not (folder / "scenario.json").exists():
        print(f"generating demo at scale {scale:g}, {days} days into {folder} ...", flush=True)
        subprocess.run([str(Path(sys.executable).with_name("slo-analysis")), "demo", "generate", "--out",
                        str(folder), "--scale", str(scale), "--days", str(days), "--seed", str(seed)],
                       check=True)
    return folder


def run_once(func: str, paths: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD.format(here=str(HERE), func=func), json.dumps(paths)],
                         check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def measure_all(paths: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """Best of ``repeat`` runs per approach, the approaches interleaved round by round so that a change
    in the machine's load hits them alike (pandas, the slow baseline, runs in the first round only)."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in APPROACHES}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per approach (best time kept; pandas runs once)")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()

    folder = ensure_demo(args.out, args.scale, args.days, args.seed)
    paths = sorted(str(p) for p in (folder / "logs" / "export").rglob("*.gz"))
    size = sum(Path(p).stat().st_size for p in paths)
    print(f"inputs: {len(paths)} Logs export objects, {size / 1e6:.1f} MB gzipped, from {folder}")
    results = measure_all(paths, args.repeat)
    events = {r["events"] for r in results.values()}
    print(f"\n{'approach':<12} {'events':>11} {'seconds':>9} {'events/s':>12} {'peak RSS MB':>12}")
    for name, r in results.items():
        print(f"{name:<12} {r['events']:>11,} {r['seconds']:>9.2f} {r['events'] / r['seconds']:>12,.0f} "
              f"{r['peak_rss_mb']:>12,.0f}")
    ours, floor, pandas = (results[k]["seconds"] for k in ("ours", "floor", "pandas"))
    print(f"\nours / floor  = {ours / floor:.2f}x   (target <= 1.5x; vs the single-call floor: "
          f"{ours / results['floor-1call']['seconds']:.2f}x)")
    print(f"pandas / ours = {pandas / ours:.1f}x   (target >= 8x)")
    if len(events) != 1:
        print(f"note: the approaches parsed different request counts: "
              f"{ {k: v['events'] for k, v in results.items()} }")


if __name__ == "__main__":
    main()
