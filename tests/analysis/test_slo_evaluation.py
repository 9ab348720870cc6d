"""The SLO engine on a demo snapshot, compared with the ground truth (tests may read scenario.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from slo_analysis import demo
from slo_analysis.analysis.slo_evaluation import SloEvaluation, evaluate_slos, status_table
from slo_analysis.core.budget import BREACHED
from slo_analysis.store import Snapshot, import_files


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[SloEvaluation]]:
    # The default demo (what `make demo` shows): 14 days, so every rolling interval is warm at the incident.
    root = tmp_path_factory.mktemp("slo")
    incident = demo.generate(root / "incident")
    import_files([p for p in incident.iterdir() if p.name != "scenario.json"], root / "snap")
    truth = json.loads((incident / "scenario.json").read_text())
    return truth, evaluate_slos(Snapshot.open(root / "snap"))


def _overlaps(windows: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    return windows.filter((pl.col("start") < end) & (pl.col("end") > start))


def test_incident_windows_match_the_ground_truth(story: tuple[dict, list[SloEvaluation]]) -> None:
    truth, evaluations = story
    onset, recovery = _t(truth["incident"]["onset"]), _t(truth["incident"]["recovery"])
    breached = {s.lower() for s in truth["breached_slos"]}
    checked = 0
    for ev in evaluations:
        if ev.slo.name.lower() not in breached:
            continue
        found = _overlaps(ev.incidents, onset, recovery)
        assert found.height == 1, (ev.slo.name, ev.incidents)
        w = found.row(0, named=True)
        assert abs(w["start"] - onset) <= timedelta(minutes=2), (ev.slo.name, w["start"], onset)
        assert abs(w["end"] - recovery) <= timedelta(minutes=5), (ev.slo.name, w["end"], recovery)
        checked += 1
    assert checked == 4  # latency and first response, from Application Signals and from OpenSLO


def test_breaches_are_exactly_the_slos_the_truth_says(story: tuple[dict, list[SloEvaluation]]) -> None:
    truth, evaluations = story
    onset, recovery = _t(truth["incident"]["onset"]), _t(truth["incident"]["recovery"])
    breached = {s.lower() for s in truth["breached_slos"]}
    for ev in evaluations:
        if ev.slo.name.lower() in breached:
            assert ev.breaches.height >= 1, ev.slo.name
            first = ev.breaches.row(0, named=True)
            assert onset < first["start"] < recovery, (ev.slo.name, first)
        else:
            assert ev.breaches.height == 0, (ev.slo.name, ev.breaches)
    table = status_table(evaluations)
    worst = dict(zip(table["slo"].str.to_lowercase(), table["worst_status"], strict=True))
    assert {name for name, status in worst.items() if status == BREACHED} == breached
    assert table["interval_covered"].min() == 1.0  # two weeks of data cover every SLO's (1- or 7-day) interval


def test_the_surge_is_at_risk_but_not_breached(story: tuple[dict, list[SloEvaluation]]) -> None:
    truth, evaluations = story
    start, end = _t(truth["surge"]["start"]), _t(truth["surge"]["end"])
    at_risk = [ev.slo.name for ev in evaluations if _overlaps(ev.at_risk, start, end).height]
    assert at_risk and {n.lower() for n in at_risk} <= {"firstresponse-5m"}, at_risk
    for ev in evaluations:
        assert _overlaps(ev.breaches, start, end + timedelta(days=1)).height == 0, ev.slo.name
        assert _overlaps(ev.incidents, start, end).height == 0, ev.slo.name


def test_the_decoy_day_is_clean(story: tuple[dict, list[SloEvaluation]]) -> None:
    truth, evaluations = story
    day = _t(truth["decoy_deployment"]["started"]).replace(hour=0, minute=0, second=0, microsecond=0)
    for ev in evaluations:
        for windows in (ev.breaches, ev.incidents, ev.at_risk):
            assert _overlaps(windows, day, day + timedelta(days=1)).height == 0, (ev.slo.name, windows)
