"""Trace charts: the waterfall keeps every span in tree order with its real offsets; the service graph
puts callers left of callees, sizes edges by calls and paints hot edges vermillion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from chart_checks import ALLOWED, colours

from slo_analysis import frames
from slo_analysis.analysis.trace_graph import service_graph
from slo_analysis.exceptions import FrameValidationError
from slo_analysis.store import Snapshot
from slo_analysis.viz import PALETTE, ChartDataError, service_graph_chart, trace_waterfall
from slo_analysis.viz.trace_charts import SERVICE_COLOURS, graph_layers

T0 = datetime(2026, 11, 11, 14, 0, tzinfo=UTC)



def spans_frame(rows: list[tuple[str, str | None, str, str, float, float | None, bool]]) -> pl.DataFrame:
    """(span_id, parent_id, service, name, start ms, duration ms or None, fault) -> a spans frame."""
    data = [{"trace_id": "t1", "span_id": s, "parent_id": p, "service": svc, "name": n, "kind": "subsegment",
             "start": T0 + timedelta(milliseconds=a), "end": None if d is None else T0 + timedelta(milliseconds=a + d),
             "duration_ms": d, "fault": f, "error": False, "throttle": False, "in_progress": d is None,
             "http_status": 500 if f else 200}
            for s, p, svc, n, a, d, f in rows]
    return frames.conform(pl.DataFrame(data), "spans")


@pytest.fixture(scope="module")
def demo_spans(demo_snapshot: Path) -> pl.DataFrame:
    return Snapshot.open(demo_snapshot).read("spans")


def test_waterfall_tree_order_offsets_and_faults() -> None:
    spans = spans_frame([
        ("c2", "root", "web", "db", 50.0, 30.0, True),  # listed before its parent and sibling
        ("root", None, "web", "web", 0.0, 100.0, True),
        ("c1", "root", "web", "api", 10.0, 20.0, False),
        ("g1", "c1", "api", "api", 12.0, 15.0, False),
        ("open", "root", "web", "cache", 90.0, None, False),  # in progress: runs to the trace's end
    ])
    fig = trace_waterfall(spans, "t1", tz="Europe/Berlin")
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in bars] == ["web", "api"]
    assert [b.marker.color for b in bars] == list(SERVICE_COLOURS[:2])
    rows: dict[int, tuple[float, float]] = {}
    for b in bars:
        rows.update({y: (base, x) for y, base, x in zip(b.y, b.base, b.x, strict=True)})
    labels = list(fig.layout.yaxis.ticktext)
    assert [lab.replace("\u00a0", "") for lab in labels] == ["web", "api (web)", "api", "db (web)", "cache (web)"]
    assert [len(lab) - len(lab.lstrip("\u00a0")) for lab in labels] == [0, 3, 6, 3, 3]  # indented by depth
    assert rows[0] == (0.0, 100.0) and rows[2] == (12.0, 15.0) and rows[3] == (50.0, 30.0)
    assert rows[4] == (90.0, pytest.approx(10.0))
    assert fig.layout.yaxis.autorange == "reversed"
    fault = next(t for t in fig.data if t.name == "Fault (5xx)")
    assert sorted(zip(fault.y, fault.x, strict=True)) == [(0, 100.0), (3, 80.0)]
    assert fault.marker.color == PALETTE["vermillion"]
    assert "15:00:00 CET" in fig.layout.title.text  # 14:00 UTC shown in Berlin time
    assert colours(fig) <= ALLOWED


def test_waterfall_on_a_demo_trace(demo_spans: pl.DataFrame) -> None:
    tid = demo_spans.group_by("trace_id").len().sort(["len", "trace_id"], descending=[True, False])["trace_id"][0]
    trace = demo_spans.filter(pl.col("trace_id") == tid)
    fig = trace_waterfall(demo_spans.lazy(), tid)
    bars = [t for t in fig.data if t.type == "bar"]
    assert sum(len(b.x) for b in bars) == trace.height
    assert {b.name for b in bars} == set(trace["service"].unique())
    longest = max(x for b in bars for x in b.x)
    assert longest == pytest.approx(float(trace["duration_ms"].max()), abs=1.5)  # ms precision of start/end
    fig.to_json()
    with pytest.raises(ChartDataError, match="no-such-trace"):
        trace_waterfall(demo_spans, "no-such-trace")
    with pytest.raises(FrameValidationError, match="parent_id"):
        trace_waterfall(demo_spans.drop("parent_id"), tid)


def test_graph_layers_longest_path_and_cycles() -> None:
    assert graph_layers([("a", "b"), ("b", "c"), ("a", "c")]) == {"a": 0, "b": 1, "c": 2}
    assert graph_layers([("a", "b"), ("b", "a"), ("b", "c")]) == {"a": 0, "b": 1, "c": 2}
    assert graph_layers([("x", "x")]) == {"x": 0}
    layers = graph_layers([("p", "q"), ("q", "p")])  # a cycle without a root still gets layers
    assert sorted(layers.values()) == [0, 1]


def test_service_graph_on_the_demo(demo_spans: pl.DataFrame) -> None:
    edges = service_graph(demo_spans)
    hot = {("ticket-api", "routing-service")}
    fig = service_graph_chart(edges, hot=hot)
    nodes = next(t for t in fig.data if t.name == "services")
    pos = {n: (x, y) for n, x, y in zip(nodes.text, nodes.x, nodes.y, strict=True)}
    assert set(pos) == set(edges["caller"]) | set(edges["callee"])
    for a, b in edges.select("caller", "callee").iter_rows():
        assert pos[a][0] < pos[b][0]  # the demo's graph is acyclic: every caller left of its callee
    arrows = list(fig.layout.annotations)
    assert len(arrows) == edges.height
    by_pair = {(a, b): ann for (a, b), ann in zip(edges.select("caller", "callee").iter_rows(), arrows, strict=True)}
    assert by_pair[("ticket-api", "routing-service")].arrowcolor == PALETTE["vermillion"]
    assert all(ann.arrowcolor == PALETTE["grey"] for pair, ann in by_pair.items() if pair not in hot)
    calls = dict(zip(zip(edges["caller"], edges["callee"], strict=True), edges["calls"], strict=True))
    ordered = sorted(by_pair, key=lambda p: calls[p])
    widths = [by_pair[p].arrowwidth for p in ordered]
    assert widths == sorted(widths) and widths[0] < widths[-1]  # width grows with calls
    outlined = {n for n, c in zip(nodes.text, nodes.marker.line.color, strict=True) if c == PALETTE["vermillion"]}
    assert outlined == {"ticket-api", "routing-service"}
    fig.to_json()
    assert colours(fig) <= ALLOWED


def test_service_graph_hover_and_missing_columns() -> None:
    edges = pl.DataFrame({"caller": ["web", "web", "api"], "callee": ["api", "search", "db"], "calls": [1000, 10, 800],
                          "fault_rate": [0.0125, 0.0, 0.0], "p99_ms": [250.0, 90.0, 40.0], "extra": [1, 2, 3]})
    fig = service_graph_chart(edges)
    hover = next(t for t in fig.data if t.name == "calls (hover)")
    assert "<b>web → api</b><br>1,000 calls<br>fault rate 1.25%<br>p99 250 ms" in hover.hovertext
    assert "hot path" not in [t.name for t in fig.data]
    with pytest.raises(FrameValidationError, match="'calls'"):
        service_graph_chart(edges.drop("calls"))
