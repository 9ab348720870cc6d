"""Root-cause charts: template counts add up to the mined lines, the suspects table highlights the top
row, lift colours significance, the timeline puts the ground truth's moments where they happened."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from chart_checks import ALLOWED, as_utc, colours, parse_utc

from slo_analysis.analysis.log_templates import mine_templates, template_counts
from slo_analysis.exceptions import FrameValidationError
from slo_analysis.store import Snapshot
from slo_analysis.viz import PALETTE, lift_chart, suspects_table, template_counts_chart, timeline_chart
from slo_analysis.viz.rca_charts import KIND_COLOURS

T0 = datetime(2026, 11, 11, 13, 0, tzinfo=UTC)





def test_template_counts_on_the_demo_logs(demo_snapshot: Path) -> None:
    mining = mine_templates(Snapshot.open(demo_snapshot).scan("logs"))
    counts = template_counts(mining, "1h")
    fig = template_counts_chart(counts, mining.templates, top=5, tz="Europe/Berlin")
    assert len(fig.data) == 6 and fig.data[-1].name.startswith("other (")
    assert sum(sum(t.y) for t in fig.data) == int(counts["count"].sum())  # every line once, "other" included
    biggest = counts.group_by("template_id").agg(pl.col("count").sum()).sort("count", descending=True)
    top_text = mining.templates.filter(pl.col("template_id") == biggest["template_id"][0])["template"][0]
    assert fig.data[0].name.startswith(top_text[:40])
    assert sum(fig.data[0].y) == biggest["count"][0]
    assert fig.data[0].x[0].utcoffset() == timedelta(hours=1)
    assert fig.data[-1].line.color == PALETTE["grey"]
    fig.to_json()
    assert colours(fig) <= ALLOWED


def test_template_counts_chosen_ids_stacked_and_log() -> None:
    ts = [T0 + timedelta(hours=h) for h in range(3)]
    counts = pl.DataFrame({"timestamp": ts * 2 + ts[1:2], "template_id": [0, 0, 0, 1, 1, 1, 2],
                           "count": [900, 950, 920, 1, 2, 3, 40]})
    templates = pl.DataFrame({"template_id": [0, 1, 2], "service": ["web", "web", "routing-service"],
                              "template": ["INFO request completed", "INFO cache refreshed",
                                           "WARN slow query on agent_skills " + "x" * 80]})
    fig = template_counts_chart(counts, templates, template_ids=[2], stacked=True, log_y=True)
    new, other = fig.data
    assert list(new.y) == [0, 40, 0]  # buckets without lines are zero, not gaps
    assert new.name.endswith("… [routing-service]") and len(new.name) < 70
    assert "x" * 80 in new.hovertemplate.replace("<br>", "")  # the full text in the hover
    assert other.name == "other (2 templates)" and list(other.y) == [901, 952, 923]
    assert new.stackgroup == other.stackgroup == "t"
    assert fig.layout.yaxis.type == "log"
    with pytest.raises(FrameValidationError, match="template_id"):
        template_counts_chart(counts.drop("template_id"), templates)


def suspects() -> pl.DataFrame:
    return pl.DataFrame({
        "rank": [2, 1, 3], "deployment_id": ["ecs-svc/41", "d-7KQ2M4XJB", "FF-2291"],
        "service": ["kb-search", "routing-service", "notify-worker"],
        "started_at": [T0, T0, T0],
        "finished_at": [T0 - timedelta(hours=21), T0 + timedelta(hours=2, minutes=18), None],
        "score": [0.2234, 0.9123, 0.05],
        "evidence": ["decoy", "self time of AssignAgent x6 after the change", "off path"],
        "trace_score": [0.0, 0.8, 0.0]})


def test_suspects_table_top_row_highlighted() -> None:
    fig = suspects_table(suspects(), tz="Europe/Berlin")
    table = fig.data[0]
    assert table.type == "table"
    assert [h.replace("<b>", "").replace("</b>", "") for h in table.header.values] == [
        "#", "change", "service", "finished", "score", "evidence"]  # extra columns left out
    cells = table.cells.values
    assert list(cells[0]) == ["1", "2", "3"] and cells[1][0] == "d-7KQ2M4XJB"  # sorted by rank
    assert cells[3][0] == "2026-11-11 16:18 CET" and cells[3][2] == ""
    assert cells[4][0] == "0.91"
    fills = table.cells.fill.color
    assert all(col[0] == PALETTE["yellow"] and set(col[1:]) == {"white"} for col in fills)
    assert "d-7KQ2M4XJB" in fig.layout.title.text
    fig.to_json()
    assert colours(fig) <= ALLOWED


def test_suspects_table_without_rank_and_empty() -> None:
    fig = suspects_table(suspects().drop("rank").head(2), top=1)
    assert list(fig.data[0].cells.values[0]) == ["1"] and list(fig.data[0].cells.values[1]) == ["ecs-svc/41"]
    empty = suspects_table(suspects().clear())
    assert len(empty.data[0].cells.values[0]) == 0
    with pytest.raises(FrameValidationError, match="deployment_id"):
        suspects_table(pl.DataFrame({"x": [1]}))


def test_lift_chart_significance_and_reference_line() -> None:
    lift = pl.DataFrame({
        "dimension": ["version", "tier", "az", "tier", "version"],
        "value": ["2.4.0", "enterprise", "a", "free", "2.3.1"],
        "lift": [4.2, 1.3, 1.05, 0.7, 0.2], "p_value": [1e-12, 0.001, 0.5, 0.01, 1e-9],
        "significant": [True, True, False, True, True], "bad_count": [390, 300, 150, 100, 10],
        "total_count": [900, 2000, 1600, 3000, 4100]}).sample(fraction=1.0, shuffle=True, seed=3)
    fig = lift_chart(lift)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["significant, over-represented"].y) == ["version=2.4.0", "tier=enterprise"]
    assert by_name["significant, over-represented"].marker.color == PALETTE["vermillion"]
    assert list(by_name["not significant"].y) == ["az=a"]
    assert list(by_name["significant, under-represented"].x) == [0.7, 0.2]
    assert list(fig.layout.yaxis.categoryarray)[-1] == "version=2.4.0"  # highest lift on top
    ref = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(ref) == 1 and ref[0].x0 == ref[0].x1 == 1.0
    assert "390 bad of 900 requests" in by_name["significant, over-represented"].hovertext[0]
    assert colours(fig) <= ALLOWED
    top2 = lift_chart(lift.drop("significant", "p_value"), top=2)
    assert [t.name for t in top2.data] == ["not significant"] and list(top2.data[0].y) == [
        "version=2.4.0", "tier=enterprise"]


def test_timeline_from_the_ground_truth(small_demo: Path) -> None:
    truth = json.loads((small_demo / "scenario.json").read_text())
    inc, culprit = truth["incident"], truth["culprit_deployment"]
    events = pl.DataFrame({
        "timestamp": [parse_utc(t) for t in (culprit["started"], inc["onset"], inc["detection"],
                                             inc["rollback_started"], inc["recovery"], inc["detection"])],
        "kind": ["change", "onset", "detection", "mitigation", "recovery", "alarm"],
        "label": [culprit["id"], "onset", "alarm", "rollback", "recovered", "p99 alarm"]},
        schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    fig = timeline_chart(events, tz="America/Los_Angeles")
    kinds = {t.name: t for t in fig.data if t.mode == "markers+text"}
    assert list(kinds) == ["change", "onset", "alarm", "detection", "mitigation", "recovery"]
    for row in events.iter_rows(named=True):
        trace = kinds[row["kind"]]
        assert as_utc(trace.x[0]) == row["timestamp"] and trace.text[0] == row["label"]
        assert trace.marker.color == KIND_COLOURS[row["kind"]]
    assert kinds["onset"].x[0].utcoffset() == timedelta(hours=-8)
    lanes = {name: t.y[0] for name, t in kinds.items()}
    assert lanes["change"] > lanes["onset"] > lanes["recovery"]  # one lane per kind, in story order
    ttd = (parse_utc(inc["detection"]) - parse_utc(inc["onset"])).total_seconds()
    detect = next(t for t in fig.data if t.name.startswith("time to detect"))
    assert [as_utc(x) for x in detect.x] == [parse_utc(inc["onset"]), parse_utc(inc["detection"])]
    assert detect.name.endswith(f"{int(ttd // 60)} min {int(ttd % 60)} s")
    assert any(t.name.startswith("time to recover") for t in fig.data)
    fig.to_json()
    assert colours(fig) <= ALLOWED


def test_timeline_without_onset_and_other_kinds() -> None:
    events = pl.DataFrame({"timestamp": [T0, T0 + timedelta(minutes=3)], "kind": ["change", "page"],
                           "label": ["deploy", "someone paged"]},
                          schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    fig = timeline_chart(events)
    assert [t.name for t in fig.data] == ["change", "page"]  # no durations without an onset
    assert fig.data[1].marker.color == PALETTE["grey"]
    with pytest.raises(FrameValidationError, match="'label'"):
        timeline_chart(events.drop("label"))
