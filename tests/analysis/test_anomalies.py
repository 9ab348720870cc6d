"""Tests for analysis.anomalies and the NAB scorer of bench/nab_scoring.py."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from slo_analysis.analysis.anomalies import (
    DEFAULT_THRESHOLD,
    anomalous_windows,
    anomaly_scores,
    change_point_onset,
)
from slo_analysis.exceptions import FrameValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import nab_scoring  # noqa: E402

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def minutes(n: int, start: datetime = T0) -> list[datetime]:
    return [start + timedelta(minutes=i) for i in range(n)]


def test_scores_are_online_prefix_scores_equal_full_scores() -> None:
    rng = np.random.default_rng(3)
    n = 4 * 1440
    values = 100 + 20 * np.sin(np.arange(n) * 2 * np.pi / 1440) + rng.normal(0, 3, n)
    values[3000:3100] += 40
    full = anomaly_scores(minutes(n), values, step=60)
    for cut in (1500, 3050, 5000):
        prefix = anomaly_scores(minutes(cut), values[:cut], step=60)
        assert prefix.height == cut
        assert prefix.equals(full.head(cut)), f"prefix of {cut} points differs"


def test_columns_types_and_score_range() -> None:
    values = np.random.default_rng(1).normal(10, 1, 3000)
    out = anomaly_scores(minutes(3000), values)
    assert out.columns == ["timestamp", "value", "expected", "score"]
    assert out.schema["timestamp"] == pl.Datetime("ms", "UTC")
    scores = out["score"].drop_nulls()
    assert scores.len() > 2000  # half a day of warm-up
    assert scores.min() >= 0.0 and scores.max() <= 1.0  # type: ignore[operator]


def test_level_shift_fires_at_onset_and_not_on_noise_before() -> None:
    rng = np.random.default_rng(7)
    n = 3 * 1440
    values = rng.normal(100, 5, n)
    values[2 * 1440 + 300:] += 60
    out = anomaly_scores(minutes(n), values)
    windows = anomalous_windows(out)
    onset = T0 + timedelta(minutes=2 * 1440 + 300)
    assert windows.height >= 1
    # with a day or two of history, pure noise still sets a few chance records
    assert windows.filter(pl.col("start") < onset).height <= 2
    first_after = windows.filter(pl.col("start") >= onset)["start"][0]
    assert first_after == onset


def test_daily_seasonality_learnt_a_dip_at_the_peak_hour_is_anomalous() -> None:
    # The past-week record of deviations needs a week of seasonal-baseline history (seasonal baselines
    # start on day 2): the dip is on day 9.
    rng = np.random.default_rng(5)
    n = 10 * 1440
    season = 200 * np.clip(np.sin(np.arange(n) * 2 * np.pi / 1440), 0, None)  # busy half-day, quiet night
    values = 50 + season + rng.normal(0, 2, n)
    dip = 9 * 1440 + 360
    values[dip:dip + 20] -= 80  # still within the day's range, but far below its usual
    out = anomaly_scores(minutes(n), values)
    flagged = out.filter((pl.col("score") >= DEFAULT_THRESHOLD)
                         & (pl.col("timestamp") >= T0 + timedelta(days=9)))["timestamp"].to_list()
    assert T0 + timedelta(minutes=dip) in flagged
    # the regular daily ramps of day 9 are expected, not anomalies
    assert len(flagged) <= 25
    expected = out.filter(pl.col("timestamp") == T0 + timedelta(minutes=dip))["expected"][0]
    assert expected == pytest.approx(250, abs=10)


def test_duplicates_are_averaged_irregular_steps_resampled_and_gaps_skipped() -> None:
    ts = minutes(600)
    ts_irregular = [t + timedelta(seconds=(7 if i % 3 == 0 else 0)) for i, t in enumerate(ts)]
    values = [1.0 + (i % 5) for i in range(600)]
    ts_all = ts_irregular + [ts_irregular[10]]
    values_all = values + [values[10] + 2.0]  # duplicate timestamp: averaged
    gap = set(range(200, 260))
    keep = [i for i in range(601) if i not in gap]
    out = anomaly_scores([ts_all[i] for i in keep], [values_all[i] for i in keep])
    assert out.height == 600 - len(gap)
    assert out["timestamp"].diff().drop_nulls().dt.total_seconds().min() == 60
    assert out.filter(pl.col("timestamp") == ts[10])["value"][0] == pytest.approx(values[10] + 1.0)


def test_bad_input_names_the_column() -> None:
    with pytest.raises(FrameValidationError, match="'value'"):
        anomaly_scores(minutes(3), [1.0, 2.0])
    with pytest.raises(FrameValidationError, match="'timestamp'"):
        anomaly_scores([1, 2, 3], [1.0, 2.0, 3.0])  # type: ignore[list-item]
    assert anomaly_scores([], []).height == 0


def test_anomalous_windows_merge_and_peak() -> None:
    s = pl.DataFrame({"timestamp": minutes(10), "score": [0.0, 0.9, 0.6, 0.0, 0.0, 0.0, 0.0, 0.55, 0.0, 0.2]})
    w = anomalous_windows(s, merge_gap=timedelta(minutes=3))
    assert w.rows() == [(T0 + timedelta(minutes=1), T0 + timedelta(minutes=3), 0.9),
                        (T0 + timedelta(minutes=7), T0 + timedelta(minutes=8), 0.55)]
    assert anomalous_windows(s, threshold=0.95).height == 0


def test_change_point_onset_finds_the_shift_in_the_search_window() -> None:
    rng = np.random.default_rng(2)
    n = 1440
    values = rng.normal(50, 2, n)
    values[400:] += 10  # an earlier, smaller shift (5 sigmas) outside the search window
    values[1000:] += 20
    ts = minutes(n)
    onset = change_point_onset(ts, values, search=(T0 + timedelta(minutes=990), T0 + timedelta(minutes=1100)))
    assert onset is not None and abs((onset - (T0 + timedelta(minutes=1000))).total_seconds()) <= 120
    early = change_point_onset(ts, values, search=(T0 + timedelta(minutes=380), T0 + timedelta(minutes=420)),
                               margin=timedelta(minutes=10))
    assert early is not None and abs((early - (T0 + timedelta(minutes=400))).total_seconds()) <= 300
    assert change_point_onset(ts, rng.normal(50, 2, n)) is None


def test_change_point_onset_on_demo_latency(demo_snapshot: Path, small_demo: Path) -> None:
    import json

    import slo_analysis as sa

    truth = json.loads((small_demo / "scenario.json").read_text())["incident"]
    onset = datetime.fromisoformat(truth["onset"].replace("Z", "+00:00"))
    snap = sa.store.Snapshot.open(demo_snapshot)
    m = snap.scan("metrics").filter(
        (pl.col("metric") == "Latency") & (pl.col("stat") == "p99")
        & (pl.col("dimensions") == "Environment=prod,Operation=AssignAgent,Service=routing-service")).collect()
    found = change_point_onset(m["timestamp"], m["value"], search=(onset - timedelta(hours=1), onset),
                               margin=timedelta(minutes=30))
    assert found is not None and abs((found - onset).total_seconds()) <= 5 * 60


def test_scores_twenty_thousand_points_fast() -> None:
    import time

    values = np.random.default_rng(0).normal(size=20_000)
    t = time.perf_counter()
    out = anomaly_scores(minutes(20_000), values)
    assert out.height == 20_000
    assert time.perf_counter() - t < 3.0  # well under a second on a quiet machine; CI is shared


# ------------------------------------------------------------------------------------------ NAB scorer
def test_nab_scaled_sigmoid_golden_values() -> None:
    assert nab_scoring.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab_scoring.scaled_sigmoid(0.0) == 0.0
    assert nab_scoring.scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert nab_scoring.scaled_sigmoid(3.5) == -1.0
    assert nab_scoring.probation_rows(4032) == 604
    assert nab_scoring.probation_rows(100_000) == 750


def test_nab_file_score_hand_checked() -> None:
    # 20 rows, probation floor(0.15*20) = 3; one window rows 10..14 (w = 5)
    std = nab_scoring.PROFILES["standard"]
    wins = [(10, 14)]
    s = np.zeros(20)
    s[1] = 1.0  # in probation: ignored
    s[5] = 1.0  # before any window ended: -A_FP = -0.11
    s[11] = 1.0  # second row of the window: y = -(14-11+1)/5 = -0.8
    s[12] = 1.0  # later detection in the same window: adds nothing
    s[16] = 1.0  # after the window: A_FP * sigma(|16-14| / (5-1)) = 0.11 * sigma(0.5)
    fs = nab_scoring.score_file(s, wins, 0.5, std)
    tp = nab_scoring.scaled_sigmoid(-0.8) / nab_scoring.scaled_sigmoid(-1.0)
    expected = -0.11 + tp + 0.11 * (2 / (1 + math.exp(2.5)) - 1)
    assert fs.score == pytest.approx(expected)
    assert (fs.tp, fs.fp, fs.detected_windows) == (2, 2, 1)
    assert fs.fn == 3 and fs.tn == 20 - 3 - 5 - 2
    missed = nab_scoring.score_file(np.zeros(20), wins, 0.5, std)
    assert missed.score == -1.0
    assert nab_scoring.normalise(missed.score, 1, std) == 0.0
    assert nab_scoring.normalise(1.0, 1, std) == 100.0
    assert nab_scoring.normalise(46.6345, 116, std) == pytest.approx(70.10, abs=0.01)


def test_repeat_alarms_are_damped_for_the_refractory_period() -> None:
    from slo_analysis.analysis.anomalies import REFRACTORY_S, REPEAT_DAMPING

    rng = np.random.default_rng(4)
    n = 3 * 1440
    values = rng.normal(100, 5, n)
    values[2 * 1440 + 300:2 * 1440 + 310] += 80 * 1.5 ** np.arange(10)  # one event: a growing burst
    damped = anomaly_scores(minutes(n), values, step=60)
    raw = anomaly_scores(minutes(n), values, step=60, refractory_s=0)
    burst = slice(2 * 1440 + 300, 2 * 1440 + 310)
    assert (raw["score"][burst] >= DEFAULT_THRESHOLD).sum() >= 5  # undamped: a burst of alarms
    assert (damped["score"][burst] >= DEFAULT_THRESHOLD).sum() == 1  # damped: one alarm, at the onset
    assert damped["score"][2 * 1440 + 300] == raw["score"][2 * 1440 + 300]
    rest = damped["score"][2 * 1440 + 301:2 * 1440 + 301 + int(REFRACTORY_S // 60)]
    assert rest.max() < DEFAULT_THRESHOLD  # type: ignore[operator]
    assert damped["score"][2 * 1440 + 301] == pytest.approx(REPEAT_DAMPING * raw["score"][2 * 1440 + 301])
