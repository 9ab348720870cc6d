"""NAB scoring (Numenta Anomaly Benchmark), restated from /work/shared/datasets/nab-aws-dev/SCORING.md.

Pure numpy; used by bench_nab.py and unit-tested in tests/analysis/test_anomalies.py.

- Probation: the first ``min(floor(0.15 N), 750)`` rows are neither scored nor counted.
- Each row gets a weight: inside a window ``[l, r]`` (width ``w``) ``A_TP * sigma(-(r-i+1)/w) / sigma(-1)``;
  outside every window ``-A_FP`` before the first window ends, else ``A_FP * sigma(|i - r'| / (w' - 1))``
  for the last window ``[l', r']`` that ended before ``i``; ``sigma(y) = 2 / (1 + exp(5 y)) - 1``
  (``-1`` for ``y >= 3``, as in NAB's code; SCORING.md says ``> 3``, a difference of 6e-7 at ``y = 3``).
- File score: the weights of the detections outside windows, plus per window the best (earliest)
  detection's weight, or ``-A_FN`` when the window holds none.
- Normalised score of a set of files: ``100 (S - S_null) / (S_perfect - S_null)`` with
  ``S_perfect = A_TP * windows`` and ``S_null = -A_FN * windows``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PROFILES", "FileScore", "scaled_sigmoid", "probation_rows", "row_weights", "score_file", "normalise"]

PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}


def scaled_sigmoid(y: float) -> float:
    """NAB's scaled sigmoid: 2 / (1 + exp(5 y)) - 1, and -1 from y = 3 on (NAB's sweeper.py tests ``>= 3.0``)."""
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n: int, probationary_percent: float = 0.15) -> int:
    """Rows at the start of a file that are never scored."""
    return min(math.floor(probationary_percent * n), math.floor(probationary_percent * 5000))


def row_weights(n: int, windows: list[tuple[int, int]], profile: dict[str, float]) -> np.ndarray:
    """The weight a detection at each row would earn (windows as inclusive row-index pairs, sorted)."""
    weights = np.empty(n, dtype=np.float64)
    norm = scaled_sigmoid(-1.0)
    last_end: tuple[int, int] | None = None  # (r', w') of the last window that ended before row i
    wi = 0
    for i in range(n):
        while wi < len(windows) and windows[wi][1] < i:
            last_end = (windows[wi][1], windows[wi][1] - windows[wi][0] + 1)
            wi += 1
        if wi < len(windows) and windows[wi][0] <= i <= windows[wi][1]:
            lo, hi = windows[wi]
            w = hi - lo + 1
            weights[i] = profile["tp"] * scaled_sigmoid(-(hi - i + 1) / w) / norm
        elif last_end is None:
            weights[i] = -profile["fp"]
        else:
            r, w = last_end
            weights[i] = profile["fp"] * scaled_sigmoid(abs(i - r) / (w - 1))
    return weights


@dataclass(frozen=True)
class FileScore:
    """Raw NAB score of one file at one threshold, with the confusion counts."""

    score: float
    tp: int
    fp: int
    fn: int
    tn: int
    windows: int
    detected_windows: int


def score_file(anomaly_score: np.ndarray, windows: list[tuple[int, int]], threshold: float,
               profile: dict[str, float]) -> FileScore:
    """NAB's raw score of one file's detector output."""
    s = np.nan_to_num(np.asarray(anomaly_score, dtype=np.float64), nan=0.0)
    n = s.size
    probation = probation_rows(n)
    weights = row_weights(n, windows, profile)
    detected = s >= threshold
    detected[:probation] = False
    inside = np.zeros(n, dtype=bool)
    for lo, hi in windows:
        inside[lo:hi + 1] = True
    total = float(np.sum(weights[detected & ~inside]))
    found = 0
    for lo, hi in windows:
        if hi < probation:  # NAB only scores windows holding a non-probation row (none do in these files)
            continue
        hits = np.flatnonzero(detected[lo:hi + 1])
        if hits.size:
            total += float(weights[lo + hits[0]])  # earliest = best: the weight falls across the window
            found += 1
        else:
            total -= profile["fn"]
    counted = np.arange(n) >= probation
    return FileScore(
        score=total,
        tp=int(np.sum(detected & inside)),
        fp=int(np.sum(detected & ~inside)),
        fn=int(np.sum(~detected & inside & counted)),
        tn=int(np.sum(~detected & ~inside & counted)),
        windows=len(windows),
        detected_windows=found,
    )


def normalise(raw: float, n_windows: int, profile: dict[str, float]) -> float:
    """100 (S - S_null) / (S_perfect - S_null) over files holding ``n_windows`` windows."""
    perfect = profile["tp"] * n_windows
    null = -profile["fn"] * n_windows
    return 100.0 * (raw - null) / (perfect - null)
