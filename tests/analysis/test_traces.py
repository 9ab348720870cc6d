"""Trace analysis: self-time, attribution, service graph, critical path and exemplars.

Hand-built trees check the arithmetic; the demo snapshot (ground truth in scenario.json, read here
only) checks that the analysis points at the routing-service deployment's slow SQL query.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from slo_analysis import frames
from slo_analysis.analysis.trace_graph import critical_path, downstream_of, service_graph, slowest_critical_paths
from slo_analysis.analysis.traces import (
    attribution,
    exemplars,
    operations,
    parent_index,
    self_times,
    service_attribution,
    trace_roots,
)
from slo_analysis.exceptions import FrameValidationError, SloAnalysisError
from slo_analysis.store import Snapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def span(sid: str, parent: str | None, start: float, dur: float | None, *, trace: str = "t1", service: str = "svc",
         name: str | None = None, kind: str = "subsegment", namespace: str | None = None, fault: bool = False,
         error: bool = False, cause: str | None = None, url: str | None = None, method: str | None = None,
         operation: str | None = None) -> dict[str, Any]:
    """One row of a spans frame; ``start``/``dur`` in ms from T0."""
    begin = T0 + timedelta(milliseconds=start)
    return {"trace_id": trace, "span_id": sid, "parent_id": parent, "service": service, "name": name or service,
            "kind": kind, "namespace": namespace, "start": begin,
            "end": None if dur is None else begin + timedelta(milliseconds=dur), "duration_ms": dur,
            "http_method": method, "http_url": url, "fault": fault, "error": error, "throttle": False,
            "in_progress": dur is None, "cause": cause,
            "annotations": [] if operation is None else [{"key": "operation", "value": operation}]}


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return frames.conform(pl.DataFrame(rows, schema_overrides={"start": frames.UTC_MS, "end": frames.UTC_MS,
                                                               "annotations": frames.KEY_VALUES}), "spans")


def by_id(df: pl.DataFrame, column: str) -> dict[str, Any]:
    return dict(zip(df["span_id"], df[column], strict=True))


# ------------------------------------------------------------------------------------------ self-time
def test_self_time_counts_overlapping_children_once_and_clips_to_the_parent() -> None:
    spans = frame([
        span("root", None, 0, 100, kind="segment"),
        span("a", "root", 10, 40),   # [10, 50)
        span("b", "root", 30, 30),   # [30, 60): overlaps a -> union [10, 60)
        span("c", "root", 70, 10),   # [70, 80)
        span("late", "root", 95, 50),  # async: only [95, 100) counts
        span("a1", "a", 20, 5),
    ])
    st = by_id(self_times(spans), "self_ms")
    assert st["root"] == pytest.approx(100 - (50 + 10 + 5))
    assert st["a"] == pytest.approx(35)
    assert st["b"] == pytest.approx(30) and st["late"] == pytest.approx(50)


def test_self_time_of_an_in_progress_span_is_null_and_never_negative() -> None:
    spans = frame([
        span("root", None, 0, 10, kind="segment"),
        span("open", "root", 2, None),
        span("big", "root", -5, 30),  # starts before and ends after its parent: covers all of it
    ])
    st = by_id(self_times(spans), "self_ms")
    assert st["open"] is None
    assert st["root"] == pytest.approx(0.0)


def test_union_matches_brute_force_on_random_trees() -> None:
    rng = np.random.default_rng(3)
    rows, expected = [], {}
    for trace in ("t1", "t2"):
        for p in range(4):  # several parents side by side: each parent's union is its own
            pid, p0, width = f"{trace}-p{p}", int(rng.integers(0, 5000)), int(rng.integers(200, 1000))
            rows.append(span(pid, None, p0, width, trace=trace, kind="segment"))
            covered = np.zeros(width, dtype=bool)
            for i in range(int(rng.integers(0, 40))):
                s, d = int(rng.integers(p0 - 50, p0 + width)), int(rng.integers(1, 120))
                rows.append(span(f"{pid}-k{i}", pid, s, d, trace=trace))
                covered[max(s - p0, 0):max(min(s + d - p0, width), 0)] = True
            expected[pid] = width - covered.sum()
    st = by_id(self_times(frame(rows)), "self_ms")
    assert {k: st[k] for k in expected} == pytest.approx(expected)


def test_parent_rows_stay_within_the_trace() -> None:
    spans = frame([span("a", None, 0, 10, trace="t1", kind="segment"), span("b", "a", 1, 2, trace="t1"),
                   span("a", None, 0, 10, trace="t2", kind="segment"), span("b", "a", 1, 2, trace="t2"),
                   span("c", "zz", 1, 2, trace="t2")])
    assert parent_index(spans).to_list() == [None, 0, None, 2, None]


def test_error_origin_is_the_deepest_failing_span() -> None:
    spans = frame([
        span("root", None, 0, 100, kind="segment", fault=True),
        span("call", "root", 1, 90, fault=True),
        span("db", "call", 2, 80, fault=True, cause="timeout"),
        span("ok", "root", 95, 2),
    ])
    origin = by_id(self_times(spans), "error_origin")
    assert origin == {"root": False, "call": False, "db": True, "ok": False}


def test_operations_inherit_through_nested_subsegments_and_normalise_routes() -> None:
    spans = frame([
        span("web", None, 0, 100, kind="segment", service="web", method="GET",
             url="https://x.example/tickets/T-fbecdc?x=1"),
        span("s1", "web", 1, 90, service="web", name="handler"),
        span("s2", "s1", 2, 80, service="web", name="api", namespace="remote"),
        span("api", "s2", 3, 70, kind="segment", service="api", operation="GetTicket"),
        span("db", "api", 4, 10, service="api", name="DynamoDB", namespace="aws"),
        span("orphan", "gone", 0, 5, service="api", name="lost"),
        span("t2", None, 0, 5, trace="t2", kind="segment", service="web", method="POST",
             url="https://x.example/tickets/T-9a59b7/replies"),
    ])
    ops = dict(zip(spans["span_id"], operations(spans), strict=True))
    assert ops["web"] == ops["s1"] == ops["s2"] == "GET /tickets/{id}"
    assert ops["api"] == ops["db"] == "GetTicket"
    assert ops["orphan"] == "lost"
    assert ops["t2"] == "POST /tickets/{id}/replies"


def test_missing_column_is_named() -> None:
    with pytest.raises(FrameValidationError, match="'duration_ms'"):
        self_times(frame([span("r", None, 0, 1, kind="segment")]).drop("duration_ms"))


def test_roots_pick_the_parentless_span() -> None:
    spans = frame([span("c", "r", 1, 5), span("r", None, 0, 10, kind="segment"),
                   span("x", None, 0, 3, trace="t2", kind="segment")])
    roots = trace_roots(spans).sort("trace_id")
    assert roots["span_id"].to_list() == ["r", "x"]


# ------------------------------------------------------------------------------------------- demo
@pytest.fixture(scope="module")
def spans(demo_snapshot: Path) -> pl.DataFrame:
    return Snapshot.open(demo_snapshot).read("spans")


@pytest.fixture(scope="module")
def scenario(small_demo: Path) -> dict[str, Any]:
    return json.loads((small_demo / "scenario.json").read_text())


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def windows(scenario: dict[str, Any]) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    inc = scenario["incident"]
    onset, recovery = _t(inc["onset"]), _t(inc["recovery"])
    return (onset, recovery), (_t(scenario["window"]["start"]), onset)


def test_demo_self_times_add_up_to_the_root_duration(spans: pl.DataFrame) -> None:
    st = self_times(spans)
    per_trace = st.group_by("trace_id").agg(pl.col("self_ms").sum())
    roots = trace_roots(spans).join(per_trace, on="trace_id")
    # calls are sequential in the demo: self-times partition the trace (ms-rounded timestamps aside)
    assert (roots["self_ms"] - roots["duration_ms"]).abs().max() < 5.0  # type: ignore[operator]
    assert st.height == spans.height


def test_demo_attribution_points_at_the_new_sql_query(spans: pl.DataFrame, windows: Any,
                                                      scenario: dict[str, Any]) -> None:
    incident, baseline = windows
    att = attribution(spans, incident, baseline)
    top = att.row(0, named=True)
    assert top["service"] == scenario["culprit_deployment"]["service"]
    assert top["name"] == "agent_skills@aurora-prod"
    assert top["incident_self_ms_p99"] > 2 * top["baseline_self_ms_p99"]
    assert top["self_share_delta"] == att["self_share_delta"].max()
    assert top["incident_error_origin_share"] > top["baseline_error_origin_share"]
    for w in ("baseline", "incident"):
        assert att[f"{w}_self_share"].sum() == pytest.approx(1.0)
    assert att["rank"].to_list() == list(range(1, att.height + 1))


def test_demo_service_attribution(spans: pl.DataFrame, windows: Any, scenario: dict[str, Any]) -> None:
    sv = service_attribution(spans, *windows)
    assert sv["service"][0] == scenario["culprit_deployment"]["service"]
    row = sv.row(0, named=True)
    assert row["self_share_delta"] > 0.3 and row["error_share_delta"] > 0
    decoy = sv.filter(pl.col("service") == scenario["decoy_deployment"]["service"]).row(0, named=True)
    assert decoy["self_share_delta"] <= 0


def test_attribution_reuses_a_self_times_frame(spans: pl.DataFrame, windows: Any) -> None:
    a = attribution(spans, *windows)
    b = attribution(self_times(spans), *windows)
    assert a.equals(b)


def test_demo_service_graph_and_request_path(spans: pl.DataFrame) -> None:
    edges = service_graph(spans)
    down = downstream_of(edges, "ticket-api")
    assert "routing-service" in down and "agent_skills@aurora-prod" in down
    assert "routing-service" not in downstream_of(edges, "kb-search")
    assert "kb-search" in downstream_of(edges, "support-web")
    calls = dict(zip(zip(edges["caller"], edges["callee"], strict=True), edges["calls"], strict=True))
    routing_segments = spans.filter((pl.col("service") == "routing-service") & (pl.col("kind") == "segment")).height
    assert calls[("ticket-api", "routing-service")] == routing_segments
    assert ("routing-service", "DynamoDB") in calls
    assert (edges["fault_rate"] == edges["faults"] / edges["calls"]).all()


def test_service_graph_window_and_parallel_calls() -> None:
    spans = frame([
        span("r", None, 0, 100, kind="segment", service="web"),
        span("c1", "r", 1, 50, service="web", name="api", namespace="remote", fault=True),
        span("api", "c1", 2, 40, kind="segment", service="api"),
        span("c2", "r", 1, 60, service="web", name="S3", namespace="aws"),
        span("r2", None, 10_000, 10, trace="t2", kind="segment", service="web"),
        span("c3", "r2", 10_001, 5, trace="t2", service="web", name="api", namespace="remote"),
    ])
    edges = service_graph(spans)
    assert edges.select("caller", "callee", "calls").rows() == [("web", "S3", 1), ("web", "api", 2)]
    early = service_graph(spans, (T0, T0 + timedelta(seconds=1)))
    api = early.filter(callee="api").row(0, named=True)
    assert api["calls"] == 1 and api["fault_rate"] == 1.0 and api["total_ms"] == 50.0


# ------------------------------------------------------------------------------------ critical path
def test_critical_path_takes_the_last_returning_parallel_call() -> None:
    spans = frame([
        span("r", None, 0, 120, kind="segment"),
        span("a", "r", 0, 100),   # returns last: on the path
        span("b", "r", 10, 40),   # hidden behind a
        span("s", "r", 100, 10),  # sequential after a
        span("a1", "a", 20, 30),
    ])
    cp = critical_path(spans, "t1")
    on = by_id(cp, "on_path_ms")
    assert "b" not in on
    assert on == pytest.approx({"r": 10.0, "a": 70.0, "a1": 30.0, "s": 10.0})
    assert cp["share"].sum() == pytest.approx(1.0)
    assert by_id(cp, "depth") == {"r": 0, "a": 1, "a1": 2, "s": 1}


def test_critical_path_of_an_overlapping_call_keeps_its_visible_part() -> None:
    spans = frame([
        span("r", None, 0, 130, kind="segment"),
        span("a", "r", 0, 100),
        span("b", "r", 50, 70),  # [50, 120): returns last; a is on the path only before b starts
    ])
    on = by_id(critical_path(spans, "t1"), "on_path_ms")
    assert on == pytest.approx({"r": 10.0, "b": 70.0, "a": 50.0})


def test_critical_path_of_an_unknown_trace_raises() -> None:
    with pytest.raises(SloAnalysisError, match="nope"):
        critical_path(frame([span("r", None, 0, 1, kind="segment")]), "nope")


def test_demo_slowest_critical_paths(spans: pl.DataFrame, windows: Any) -> None:
    incident, baseline = windows
    scp = slowest_critical_paths(spans, incident, n=10)
    assert scp.select("service", "name").row(0) == ("routing-service", "agent_skills@aurora-prod")
    assert scp["share"].sum() == pytest.approx(1.0) and int(scp["traces"].max()) <= 10  # type: ignore[arg-type]
    before = slowest_critical_paths(spans, baseline, n=10)
    skills = before.filter(name="agent_skills@aurora-prod")["share"]
    assert skills.is_empty() or skills[0] < scp["share"][0]


# ----------------------------------------------------------------------------------------- exemplars
def test_demo_exemplars(spans: pl.DataFrame, windows: Any) -> None:
    incident, _ = windows
    ex = exemplars(spans, incident, n=2)
    assert set(ex["kind"]) <= {"slowest", "faulted", "errored"}
    assert ex.filter(kind="slowest").height == 2
    faulted = ex.filter(kind="faulted")
    assert faulted.height == 2 and "agent_skills" in faulted["cause"][0]
    slowest = ex.filter(kind="slowest")["duration_ms"]
    in_window = trace_roots(spans).filter(pl.col("trace_start").is_between(incident[0], incident[1], closed="left"))
    assert slowest[0] == in_window["duration_ms"].max()
    assert set(ex["trace_id"]) <= set(in_window["trace_id"])


def test_exemplars_errored_traces_hold_no_fault() -> None:
    spans = frame([
        span("r1", None, 0, 10, kind="segment", error=True, trace="e"),
        span("r2", None, 0, 50, kind="segment", fault=True, error=True, trace="f"),
        span("c2", "r2", 1, 40, fault=True, trace="f", cause="boom"),
    ])
    ex = exemplars(spans, (T0, T0 + timedelta(seconds=1)))
    assert ex.filter(kind="errored")["trace_id"].to_list() == ["e"]
    assert ex.filter(kind="faulted").select("trace_id", "cause").row(0) == ("f", "boom")
