"""Deployment correlation on hand-built evidence: the arithmetic of the score and the verdict."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from slo_analysis.analysis.suspects import (
    EXPLAIN_THRESHOLD,
    ServiceEvidence,
    candidate_changes,
    metric_shift,
    rank_suspects,
    verdict,
)

ONSET = datetime(2026, 11, 11, 14, 0, tzinfo=UTC)


def _deps(rows: list[tuple[str, str, datetime, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"id": pl.String, "service": pl.String, "started_at": pl.Datetime("ms", "UTC"),
                                      "finished_at": pl.Datetime("ms", "UTC")}, orient="row")


def test_candidates_are_changes_started_before_the_onset_within_the_lookback() -> None:
    deps = _deps([
        ("early", "a", ONSET - timedelta(days=2), ONSET - timedelta(days=2) + timedelta(minutes=5)),
        ("yesterday", "a", ONSET - timedelta(hours=20), ONSET - timedelta(hours=19, minutes=50)),
        ("rolling", "b", ONSET - timedelta(minutes=10), ONSET + timedelta(hours=1)),
        ("grace", "c", ONSET + timedelta(minutes=1), ONSET + timedelta(minutes=8)),
        ("after", "d", ONSET + timedelta(minutes=20), ONSET + timedelta(minutes=30)),
    ])
    assert candidate_changes(deps, ONSET)["id"].to_list() == ["yesterday", "rolling", "grace"]


def test_score_is_timing_and_path_times_the_weighted_observations() -> None:
    deps = _deps([("d-1", "svc", ONSET - timedelta(minutes=55), ONSET - timedelta(minutes=45))])
    ev = {"svc": ServiceEvidence(on_path=False, metric_effect=0.6, metric_p_value=1e-4, self_share_delta=0.075,
                                 new_templates=())}
    row = rank_suspects(deps, ONSET, ev).row(0, named=True)
    expected = math.sqrt(math.exp(-1.0)) * 0.25 * (0.35 * 0.6 + 0.40 * 0.5 + 0.25 * 0.0)
    assert math.isclose(row["score"], expected, rel_tol=1e-9)
    assert row["minutes_before_onset"] == 45.0
    assert "not on the SLO's request path" in row["evidence"] and "finished 45 min before" in row["evidence"]


def test_an_insignificant_metric_shift_and_a_shared_dependency_weigh_less() -> None:
    deps = _deps([("d-1", "svc", ONSET - timedelta(minutes=5), ONSET)])
    strong = rank_suspects(deps, ONSET, {"svc": ServiceEvidence(on_path=True, metric_effect=0.9, metric_p_value=1e-6,
                                                               error_share_delta=0.2)})["score"][0]
    weak = rank_suspects(deps, ONSET, {"svc": ServiceEvidence(on_path=True, metric_effect=0.9, metric_p_value=0.2,
                                                             error_share_delta=0.2, shared_dependency="DynamoDB")}
                         )["score"][0]
    assert strong > EXPLAIN_THRESHOLD > weak
    assert math.isclose(weak, 0.40 * 0.3)


def test_verdict_names_the_culprit_or_the_alternative() -> None:
    deps = _deps([("d-1", "svc", ONSET - timedelta(minutes=5), ONSET - timedelta(minutes=1))])
    good = rank_suspects(deps, ONSET, {"svc": ServiceEvidence(on_path=True, metric_effect=1.0, metric_p_value=1e-9,
                                                             self_share_delta=0.5, new_templates=("x",))})
    v = verdict(good)
    assert v.explained and v.deployment_id == "d-1" and "likely cause" in v.statement
    weak = rank_suspects(deps, ONSET, {"svc": ServiceEvidence(on_path=True, self_share_delta=0.0)})
    v = verdict(weak, load_ratio=2.4, load_evidence="2.4x the usual rate")
    assert not v.explained and v.alternative == "load" and "No deployment explains" in v.statement
    v = verdict(weak, load_ratio=2.4, dependency="DynamoDB", dependency_evidence="throttled for 2 callers")
    assert v.alternative == "dependency:DynamoDB"
    v = verdict(rank_suspects(deps.clear(), ONSET, {}), load_ratio=1.0)
    assert not v.explained and v.alternative is None and "no change in the look-back" in v.statement


def test_metric_shift_finds_a_latency_rise_and_ignores_noise() -> None:
    rng = np.random.default_rng(3)
    ts = [ONSET - timedelta(hours=2) + timedelta(minutes=i) for i in range(240)]
    latency = np.r_[rng.normal(100, 5, 120), rng.normal(160, 5, 120)]
    flat = rng.normal(100, 5, 240)
    rows = []
    for svc, values in (("slow", latency), ("calm", flat)):
        dims = f"Environment=prod,Operation=Op,Service={svc}"
        rows += [(t, "ApplicationSignals", "Latency", dims, "p99", 60, "Milliseconds", float(v))
                 for t, v in zip(ts, values, strict=True)]
    columns = ["timestamp", "namespace", "metric", "dimensions", "stat", "period_s", "unit", "value"]
    metrics = pl.DataFrame(rows, schema=columns, orient="row").with_columns(pl.col("timestamp").dt.cast_time_unit("ms"))
    before, after = (ts[0], ONSET), (ONSET, ts[-1] + timedelta(minutes=1))
    effect, p, name = metric_shift(metrics, "slow", before, after)  # type: ignore[misc]
    assert name == "latency" and effect > 0.95 and p < 1e-10
    effect, p, _ = metric_shift(metrics, "calm", before, after)  # type: ignore[misc]
    assert p > 0.001 and abs(effect) < 0.3
    assert metric_shift(metrics, "absent", before, after) is None
