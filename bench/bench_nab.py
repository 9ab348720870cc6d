"""NAB score of ``analysis.anomalies.anomaly_scores`` on the NAB realAWSCloudwatch development subset.

Every file is scored with the same settings and the one module threshold ``DEFAULT_THRESHOLD`` (never
tuned per file). Scoring follows NAB (bench/nab_scoring.py): windows from windows.json, probation
ignored, the earliest detection in a window counts, FPs weighted by the scaled sigmoid, per-profile
normalisation against the null and perfect detectors over the windows of these files. It also prints
the score at a few other thresholds, the wall time and the throughput.

Run standalone::

    .venv/bin/python bench/bench_nab.py
    .venv/bin/python bench/bench_nab.py --data /path/to/nab-aws-dev --sweep

The threshold and method were chosen on these same six files (there is no held-out set here), so the
figure is a development score, not a blind one. Nothing here asserts a score or a timing.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from nab_scoring import PROFILES, normalise, score_file  # noqa: E402

from slo_analysis.analysis.anomalies import DEFAULT_THRESHOLD, REFRACTORY_S, anomaly_scores  # noqa: E402

DATA = Path("/work/shared/datasets/nab-aws-dev")


def load(data: Path) -> dict[str, tuple[pl.DataFrame, list[tuple[int, int]]]]:
    """Each file's rows (timestamp, value) and its windows as inclusive row-index pairs."""
    windows = json.loads((data / "windows.json").read_text())
    out = {}
    for csv in sorted(data.glob("*.csv")):
        rows = pl.read_csv(csv, try_parse_dates=False).with_columns(
            pl.col("timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC", time_unit="ms"),
            pl.col("value").cast(pl.Float64))
        index = {t: i for i, t in enumerate(rows["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S").to_list())}
        wins = [(index[a.split(".")[0]], index[b.split(".")[0]]) for a, b in windows.get(csv.name, [])]
        out[csv.name] = (rows, sorted(wins))
    return out


def detector_scores(rows: pl.DataFrame, **kwargs: float) -> np.ndarray:
    """anomaly_scores for every row of the file (a row takes the score of its grid step)."""
    scored = anomaly_scores(rows["timestamp"], rows["value"], **kwargs)  # type: ignore[arg-type]
    joined = rows.with_row_index("_i").sort("timestamp").join_asof(
        scored.select("timestamp", "score"), on="timestamp", strategy="backward").sort("_i")
    return joined["score"].fill_null(0.0).to_numpy()


def alarms_only(scores: np.ndarray, threshold: float, refractory: int) -> np.ndarray:
    """``scores`` with every point within ``refractory`` rows after an alarm set to 0 (the library's damping,
    relative to ``threshold`` instead of DEFAULT_THRESHOLD)."""
    out = scores.copy()
    last = -refractory - 1
    for i in np.flatnonzero(scores >= threshold):
        if i - last <= refractory:
            out[i] = 0.0
        else:
            last = int(i)
    return out


def evaluate(files: dict[str, tuple[pl.DataFrame, list[tuple[int, int]]]], threshold: float,
             scores: dict[str, np.ndarray], profile: str, *, verbose: bool = False) -> float:
    weights = PROFILES[profile]
    raw = 0.0
    n_windows = 0
    for name, (_, wins) in files.items():
        fs = score_file(scores[name], wins, threshold, weights)
        raw += fs.score
        n_windows += fs.windows
        if verbose:
            print(f"  {name:34s} raw {fs.score:7.3f}  normalised {normalise(fs.score, fs.windows, weights):6.1f}"
                  f"  windows {fs.detected_windows}/{fs.windows}  TP rows {fs.tp:4d}  FP rows {fs.fp:4d}")
    return normalise(raw, n_windows, weights)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sweep", action="store_true", help="also print the score at other thresholds")
    parser.add_argument("--baseline-s", type=float, default=None)
    parser.add_argument("--history-s", type=float, default=None)
    parser.add_argument("--short-s", type=float, default=None)
    args = parser.parse_args()
    kwargs = {k: v for k, v in (("baseline_s", args.baseline_s), ("history_s", args.history_s),
                                ("short_s", args.short_s)) if v is not None}
    files = load(args.data)
    points = sum(rows.height for rows, _ in files.values())
    t0 = time.perf_counter()
    scores = {name: detector_scores(rows, **kwargs) for name, (rows, _) in files.items()}
    elapsed = time.perf_counter() - t0
    print(f"{len(files)} files, {points} points, {sum(len(w) for _, w in files.values())} windows; "
          f"scored in {elapsed:.3f} s ({points / elapsed:,.0f} points/s)")
    print(f"threshold DEFAULT_THRESHOLD = {DEFAULT_THRESHOLD}" + (f", settings {kwargs}" if kwargs else ""))
    for profile in PROFILES:
        print(f"{profile}:")
        total = evaluate(files, DEFAULT_THRESHOLD, scores, profile, verbose=profile == "standard")
        print(f"  overall normalised score ({profile}): {total:.1f}")
    if args.sweep:
        # Repeat alarms are damped relative to DEFAULT_THRESHOLD; to score another threshold fairly, score
        # without damping and damp relative to that threshold (what the detector would do if set there).
        refractory = round(REFRACTORY_S / 300.0)  # these files have a 5-minute step (one row per step)
        undamped = {name: detector_scores(rows, refractory_s=0.0, **kwargs) for name, (rows, _) in files.items()}
        for th in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9):
            damped = {name: alarms_only(s, th, refractory) for name, s in undamped.items()}
            print(f"  threshold {th:.2f}: standard {evaluate(files, th, damped, 'standard'):6.1f}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
