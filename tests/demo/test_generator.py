"""Tests of the demo incident generator: determinism, layout, AWS shapes, and the story in the data."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from slo_analysis.demo import generate

ARGS = {"seed": 11, "days": 2, "scale": 0.25, "start": "2026-11-02"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    steps: list[str] = []
    out = generate(tmp_path_factory.mktemp("demo") / "a", progress=steps.append, **ARGS)
    assert steps and steps[-1] == "done"
    return out


@pytest.fixture(scope="module")
def scenario(demo: Path) -> dict:
    return json.loads((demo / "scenario.json").read_text())


def _read(p: Path) -> bytes:
    data = p.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _json(p: Path) -> dict:
    return json.loads(_read(p))


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_identical_bytes(demo: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "b", **ARGS)
    assert _digests(demo) == _digests(again)


def test_other_seed_gives_other_bytes(demo: Path, tmp_path: Path) -> None:
    other = generate(tmp_path / "c", **{**ARGS, "seed": 12})
    a, b = _digests(demo), _digests(other)
    assert (
        a["deployments/codedeploy-batch-get-deployments.json"] == b["deployments/codedeploy-batch-get-deployments.json"]
    )
    assert a["scenario.json"] != b["scenario.json"]


def test_too_short_window_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2 days"):
        generate(tmp_path, days=1)


LAYOUT = [
    r"scenario\.json",
    r"metrics/get-metric-data-\d{4}\.queries\.json",
    r"metrics/get-metric-data-\d{4}(-page\d{2})?\.json\.gz",
    r"logs/describe-export-tasks\.json",
    r"logs/export/[^/]+/[^/]+/[0-9a-f-]{36}/ecs/[a-z-]+/[0-9a-f]{32}/000000\.gz",
    r"logs/insights/(get-query-results|start-query)-\d{4}\.json",
    r"traces/(get-trace-summaries|batch-get-traces)-\d{4}\.json\.gz",
    r"slos/[A-Za-z0-9-]+\.json",
    r"slos/openslo\.yaml",
    r"deployments/(codedeploy-batch-get-deployments|ecs-describe-services|cloudtrail-lookup-events)\.json",
    r"deployments/deployments\.csv",
    r"alarms/describe-alarms\.json",
    r"alarms/describe-alarm-history\.json",
]


def test_every_file_matches_the_documented_layout(demo: Path) -> None:
    files = list(_digests(demo))
    for f in files:
        assert any(re.fullmatch(p, f) for p in LAYOUT), f
    for p in LAYOUT:
        assert any(re.fullmatch(p, f) for f in files), p


def test_metric_files_have_aws_shapes_and_limits(demo: Path) -> None:
    for q in sorted((demo / "metrics").glob("*.queries.json")):
        req = _json(q)
        assert req["ScanBy"] == "TimestampAscending" and req["StartTime"] < req["EndTime"]
        queries = req["MetricDataQueries"]
        assert 0 < len(queries) <= 500
        for mq in queries:
            assert re.fullmatch(r"m\d{4}", mq["Id"]) and mq["Label"]
            metric = mq["MetricStat"]["Metric"]
            assert {"Namespace", "MetricName", "Dimensions"} <= set(metric)
            assert mq["MetricStat"]["Period"] in (60, 300)
        stem = q.name.removesuffix(".queries.json")
        pages = sorted((demo / "metrics").glob(f"{stem}*.json.gz"))
        ids = set()
        for i, page in enumerate(pages):
            doc = _json(page)
            assert ("NextToken" in doc) == (i < len(pages) - 1)
            points = 0
            for r in doc["MetricDataResults"]:
                assert {"Id", "Label", "Timestamps", "Values", "StatusCode"} <= set(r)
                assert len(r["Timestamps"]) == len(r["Values"])
                assert r["Timestamps"] == sorted(r["Timestamps"])
                points += len(r["Values"])
                ids.add(r["Id"])
            assert points <= 100_800
        assert ids == {mq["Id"] for mq in queries}


def _series(demo: Path, label: str) -> dict[float, float]:
    qid = None
    for q in (demo / "metrics").glob("*.queries.json"):
        for mq in _json(q)["MetricDataQueries"]:
            if mq["Label"] == label:
                qid, stem = mq["Id"], q.name.removesuffix(".queries.json")
    assert qid, label
    out: dict[float, float] = {}
    for page in sorted((demo / "metrics").glob(f"{stem}*.json.gz")):
        for r in _json(page)["MetricDataResults"]:
            if r["Id"] == qid:
                out.update({_ms(t): v for t, v in zip(r["Timestamps"], r["Values"], strict=True)})
    return out


def test_incident_and_surge_are_visible_in_the_p99_metric(demo: Path, scenario: dict) -> None:
    p99 = _series(demo, "ticket-api CreateTicket Latency p99")
    inc = scenario["incident"]
    onset, rb_end = _ms(inc["onset"]), _ms(inc["rollback_finished"])
    during = sorted(v for t, v in p99.items() if onset + 60_000 <= t < rb_end - 60_000)
    assert len(during) > 30 and during[len(during) // 2] > 800
    surge = [v for t, v in p99.items() if _ms(scenario["surge"]["start"]) <= t < _ms(scenario["surge"]["end"])]
    assert surge and max(surge) < 800
    before = [v for t, v in p99.items() if onset - 3 * 3_600_000 <= t < onset]
    assert before and max(before) < 800


def _request_records(demo: Path, service: str) -> list[dict]:
    recs = []
    for f in sorted((demo / "logs" / "export").rglob(f"ecs/{service}/*/000000.gz")):
        for line in gzip.decompress(f.read_bytes()).split(b"\n"):
            m = re.match(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ({.*)$", line)
            if not m:
                continue
            try:
                doc = json.loads(m.group(1))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if "status" in doc and "latency_ms" in doc:
                recs.append(doc)
    return recs


def test_sample_count_equals_request_log_count_every_minute(demo: Path) -> None:
    counts: dict[float, int] = {}
    for r in _request_records(demo, "ticket-api"):
        if r["operation"] == "CreateTicket":
            t = _ms(r["ts"]) // 60_000 * 60_000
            counts[t] = counts.get(t, 0) + 1
    sample = _series(demo, "ticket-api CreateTicket Latency SampleCount")
    assert len(sample) > 100
    assert {t: int(v) for t, v in sample.items()} == counts
    faults = _series(demo, "ticket-api CreateTicket Fault")
    assert sum(faults.values()) > 0


def test_log_exports_tasks_and_insights(demo: Path, scenario: dict) -> None:
    tasks = _json(demo / "logs" / "describe-export-tasks.json")["exportTasks"]
    assert {t["logGroupName"] for t in tasks} == {f"/ecs/prod/{s}" for s in scenario["services"]}
    for t in tasks:
        assert (demo / "logs" / "export" / t["destinationPrefix"] / t["taskId"]).is_dir()
        assert t["status"]["code"] == "COMPLETED"
    res = _json(demo / "logs" / "insights" / "get-query-results-0001.json")
    start = _json(demo / "logs" / "insights" / "start-query-0001.json")
    assert "@message" in start["queryString"] and start["startTime"] < start["endTime"]
    assert res["status"] == "Complete" and res["results"]
    fields = {f["field"] for f in res["results"][0]}
    assert {"@timestamp", "@message", "@logStream", "@log"} <= fields
    assert any("Timeout after 3000 ms querying agent_skills" in f["value"] for row in res["results"] for f in row)


def test_malformed_lines_are_where_the_scenario_says(demo: Path, scenario: dict) -> None:
    bad = scenario["malformed_lines"]
    assert len(bad) == 4
    for b in bad:
        line = gzip.decompress((demo / b["file"]).read_bytes()).split(b"\n")[b["line"] - 1]
        assert re.match(rb"^\d{4}-\d\d-\d\dT", line)
        payload = line.split(b" ", 1)[1]
        with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
            json.loads(payload.decode("utf-8"))


def test_multiline_stack_traces_continue_without_timestamp(demo: Path) -> None:
    found = False
    for f in sorted((demo / "logs" / "export").rglob("ecs/routing-service/*/000000.gz")):
        lines = gzip.decompress(f.read_bytes()).decode().split("\n")
        for i, line in enumerate(lines):
            if "Timeout after 3000 ms querying agent_skills for ticket T-" in line and "ERROR [" in line:
                assert lines[i + 1].startswith("org.postgresql.util.PSQLException")
                assert lines[i + 2].startswith("\tat ")
                found = True
                break
    assert found


def _subsegments(doc: dict, depth: int = 1) -> list[tuple[int, dict, dict]]:
    """Every (depth, subsegment, its parent) below a segment document, depth 1 = a direct subsegment."""
    out = []
    for sub in doc.get("subsegments", []):
        out.append((depth, sub, doc))
        out.extend(_subsegments(sub, depth + 1))
    return out


def test_traces_documents_parse_and_agree_with_summaries(demo: Path, scenario: dict) -> None:
    summaries = [s for p in sorted((demo / "traces").glob("get-trace-summaries-*")) for s in _json(p)["TraceSummaries"]]
    calls = [_json(p) for p in sorted((demo / "traces").glob("batch-get-traces-*"))]
    traces = [t for c in calls for t in c["Traces"]]
    assert len(traces) == len(summaries) == scenario["counts"]["traces"] > 20
    assert [t["Id"] for t in traces] == [s["Id"] for s in summaries]  # fetched in the order listed
    # one BatchGetTraces call takes at most 5 trace ids: every file is one call, all full but the last
    assert [len(c["Traces"]) for c in calls[:-1]] == [5] * (len(calls) - 1) and 1 <= len(calls[-1]["Traces"]) <= 5
    assert all(c["UnprocessedTraceIds"] == [] and "NextToken" not in c for c in calls)
    slow_sql = faults = 0
    for t in traces:
        assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", t["Id"])
        assert {"Id", "Duration", "LimitExceeded", "Segments"} <= set(t)
        for seg in t["Segments"]:
            doc = json.loads(seg["Document"])
            assert doc["id"] == seg["Id"] and doc["trace_id"] == t["Id"]
            assert doc["end_time"] >= doc["start_time"]
            for _depth, sub, parent in _subsegments(doc):
                assert parent["start_time"] <= sub["start_time"] <= sub["end_time"] <= parent["end_time"] + 0.002
                if "sql" in sub and sub["end_time"] - sub["start_time"] > 1.0:
                    slow_sql += 1
                if sub.get("fault") and "exceptions" in sub.get("cause", {}) and "sql" in sub:
                    assert sub["cause"]["exceptions"][0]["message"].startswith("Timeout after 3000 ms")
                    faults += 1
    assert slow_sql > 0 and faults > 0


def test_calls_nest_under_the_request_handler(demo: Path) -> None:
    """As the X-Ray SDK for Java records them: segment -> handler method -> SQL / DynamoDB / HTTP call."""
    docs = [json.loads(s["Document"]) for p in sorted((demo / "traces").glob("batch-get-traces-*"))
            for t in _json(p)["Traces"] for s in t["Segments"]]
    depth_of = {"sql": set(), "DynamoDB": set()}
    handlers = set()
    for doc in docs:
        for depth, sub, parent in _subsegments(doc):
            if "sql" in sub:
                depth_of["sql"].add(depth)
            if sub["name"] == "DynamoDB":
                depth_of["DynamoDB"].add(depth)
            if sub.get("namespace") in ("aws", "remote") and doc["name"] != "support-web":
                assert depth >= 2 and "namespace" not in parent, (doc["name"], sub["name"])
                handlers.add(parent["name"])
    assert depth_of == {"sql": {2}, "DynamoDB": {2}}
    assert "AgentMatcher.assign" in handlers and "TicketController.createTicket" in handlers
    timeouts = [sub for doc in docs if doc["name"] == "routing-service" and doc.get("fault")
                for _, sub, _ in _subsegments(doc) if sub["name"] == "AgentMatcher.assign"]
    assert timeouts and all(h.get("fault") and h["cause"]["exceptions"][0]["type"] == "AgentAssignmentTimeout"
                            for h in timeouts)


def test_slos_alarms_and_deployments(demo: Path, scenario: dict) -> None:
    lat = _json(demo / "slos" / "CreateTicket-Latency-p99.json")["Slo"]
    assert lat["EvaluationType"] == "PeriodBased" and lat["Sli"]["MetricThreshold"] == 800.0
    assert lat["Goal"]["Interval"]["RollingInterval"] == {"DurationUnit": "DAY", "Duration": 1}
    avail = _json(demo / "slos" / "CreateTicket-Availability.json")["Slo"]
    assert avail["Goal"]["AttainmentGoal"] == 99.9 and "RequestBasedSli" in avail
    docs = list(yaml.safe_load_all((demo / "slos" / "openslo.yaml").read_text()))
    kinds = [d["kind"] for d in docs]
    assert kinds.count("SLO") == 4 and "AlertPolicy" in kinds and "Service" in kinds
    assert {d["spec"]["budgetingMethod"] for d in docs if d["kind"] == "SLO"} == {"Occurrences", "Timeslices"}

    hist = _json(demo / "alarms" / "describe-alarm-history.json")["AlarmHistoryItems"]
    onset = _ms(scenario["incident"]["onset"])
    fired = [
        _ms(h["Timestamp"])
        for h in hist
        if json.loads(h["HistoryData"])["newState"]["stateValue"] == "ALARM"
        and h["AlarmName"] == "ticket-api-CreateTicket-p99-latency"
    ]
    assert len(fired) == 1 and 5 * 60_000 <= fired[0] - onset <= 20 * 60_000
    det = _ms(scenario["incident"]["detection"])
    assert 8 * 60_000 <= det - onset <= 16 * 60_000
    alarms = _json(demo / "alarms" / "describe-alarms.json")["MetricAlarms"]
    assert {"ticket-api-cpu-high", "ticket-api-CreateTicket-p99-latency"} <= {a["AlarmName"] for a in alarms}

    cd = _json(demo / "deployments" / "codedeploy-batch-get-deployments.json")["deploymentsInfo"]
    cul = scenario["culprit_deployment"]
    by_id = {d["deploymentId"]: d for d in cd}
    assert by_id[cul["id"]]["rollbackInfo"]["rollbackDeploymentId"] == scenario["rollback"]["id"]
    assert abs(by_id[cul["id"]]["createTime"] * 1000 - _ms(cul["started"])) < 1000
    ecs = _json(demo / "deployments" / "ecs-describe-services.json")["services"]
    msgs = [e["message"] for s in ecs for e in s["events"]]
    assert any("has started 2 tasks" in m for m in msgs) and any("has reached a steady state" in m for m in msgs)
    trail = _json(demo / "deployments" / "cloudtrail-lookup-events.json")["Events"]
    names = {e["EventName"] for e in trail}
    assert {"CreateDeployment", "UpdateService", "StopDeployment"} <= names
    for e in trail:
        assert json.loads(e["CloudTrailEvent"])["userIdentity"]["accountId"] == "123456789012"
    csv_text = (demo / "deployments" / "deployments.csv").read_text().splitlines()
    assert csv_text[0] == "id,service,started_at,finished_at,status,version_from,version_to,actor,description"
    assert len(csv_text) >= 2


def test_scenario_truth(scenario: dict) -> None:
    slos = {s["name"]: s for s in scenario["slos"]}
    assert slos["CreateTicket-Latency-p99"]["breached"] and slos["FirstResponse-5m"]["breached"]
    assert slos["CreateTicket-Latency-p99"]["after_incident"]["bad_fraction"] > 0.01
    assert not any(s["after_surge"]["breached"] for s in scenario["slos"])
    assert not slos["SearchArticles-Availability"]["breached"]
    inc = scenario["incident"]
    order = [inc["onset"], inc["detection"], inc["rollback_started"], inc["rollback_finished"], inc["recovery"]]
    assert order == sorted(order)
    assert _ms(scenario["decoy_deployment"]["started"]) < _ms(inc["onset"])
    assert scenario["counts"]["requests"]["support-web"] > 1000
