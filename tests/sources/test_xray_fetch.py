"""Live X-Ray fetchers: moto over real HTTP for PutTraceSegments -> GetTraceSummaries/BatchGetTraces,
botocore Stubber (validated against the model) for filter expressions and UnprocessedTraceIds."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from botocore.stub import Stubber

from slo_analysis.exceptions import AwsSourceError
from slo_analysis.sources import aws, xray
from slo_analysis.sources.aws import AwsSettings
from slo_analysis.sources.xray import TRACE_SUMMARY_SCHEMA
from slo_analysis.sources.xray_fetch import (
    get_trace_summaries,
    sample_trace_ids,
    service_graph_fetcher,
    trace_summaries_fetcher,
    traces_fetcher,
)

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
GRAPH = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "aws" / "xray-devguide" \
    / "GetServiceGraph.output.json"


def _trace_id(t: float) -> str:
    return f"1-{int(t):08x}-{uuid.uuid4().hex[:24]}"


def _segment(trace_id: str, t: float, *, name: str, status: int, fault: bool = False) -> str:
    doc: dict[str, Any] = {"trace_id": trace_id, "id": uuid.uuid4().hex[:16], "name": name, "start_time": t,
                           "end_time": t + 0.25, "http": {"response": {"status": status}},
                           "subsegments": [{"id": uuid.uuid4().hex[:16], "name": "DynamoDB", "start_time": t + 0.01,
                                            "end_time": t + 0.2, "namespace": "aws"}]}
    if fault:  # moto marks HasFault whenever the key is present, even "fault": false
        doc["fault"] = True
    return json.dumps(doc)


def test_put_segments_then_summaries_and_traces_over_moto(moto_endpoint: str, fake_session: Any,
                                                          calls: Counter[str]) -> None:
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    setup = fake_session.client("xray", endpoint_url=moto_endpoint)
    now = time.time() - 30
    name = f"ticket-api-{uuid.uuid4().hex[:6]}"
    ids = [_trace_id(now) for _ in range(12)]
    setup.put_trace_segments(TraceSegmentDocuments=[_segment(t, now + i, name=name, status=500 if i % 4 == 0 else 200,
                                                             fault=i % 4 == 0) for i, t in enumerate(ids)])
    window = (datetime.fromtimestamp(now - 600, UTC), datetime.fromtimestamp(now + 60, UTC))

    summaries = get_trace_summaries(settings, window)  # moto: no filter expressions, so none here
    mine = summaries.filter(pl.col("trace_id").is_in(ids))
    assert sorted(mine["trace_id"].to_list()) == sorted(ids)
    assert mine.filter("has_fault")["trace_id"].sort().to_list() == sorted(ids[::4])

    units = list(trace_summaries_fetcher(settings, window, chunk_s=300)(set()))
    assert {u.kind for u in units} == {"xray-summaries"} and all(not u.frames for u in units)
    assert len({u.unit.rsplit(":p", 1)[0] for u in units}) == 3  # 660 s in 300 s chunks

    chosen = sample_trace_ids(mine, max_traces=6, keep_slowest=1)
    assert set(ids[::4]) <= set(chosen) and len(chosen) == 6
    calls.clear()
    fetcher = traces_fetcher(settings, chosen)
    got = list(fetcher(set()))
    assert calls["xray:BatchGetTraces"] == 2 and all(len(u.request["TraceIds"]) <= 5 for u in got)
    spans = pl.concat([u.frames["spans"] for u in got if u.frames])
    assert sorted(spans["trace_id"].unique().to_list()) == sorted(chosen)
    assert spans.height == 2 * len(chosen)  # each segment and its nested subsegment
    assert spans.filter(pl.col("name") == name)["http_status"].value_counts().height >= 1
    assert fetcher.unprocessed == []

    calls.clear()
    assert list(fetcher({u.unit for u in got})) == [] and not calls  # resume: nothing requested again

    graph = list(service_graph_fetcher(settings, window)(set()))
    assert [u.kind for u in graph] == ["xray-service-graph"] and graph[0].unit.endswith(":p0:end")


def _summary(tid: str, *, duration: float, fault: bool = False, error: bool = False,
             throttle: bool = False) -> dict[str, Any]:
    return {"Id": tid, "Duration": duration, "ResponseTime": duration, "HasFault": fault, "HasError": error,
            "HasThrottle": throttle, "StartTime": T0}


def test_filter_expression_chunks_and_pages_with_stubber(fake_session: Any, monkeypatch: pytest.MonkeyPatch,
                                                         calls: Counter[str]) -> None:
    c = aws.client("xray", AwsSettings(session=fake_session, region="eu-west-1"))
    monkeypatch.setattr("slo_analysis.sources.xray_fetch.client", lambda service, settings=None: c)
    window = (T0, T0 + timedelta(hours=8))
    expr = 'service("ticket-api") { fault = true }'
    with Stubber(c) as stub:
        stub.add_response("get_trace_summaries", {"TraceSummaries": [_summary("1-a-1", duration=1.0, fault=True)],
                                                  "NextToken": "n1"},
                          {"StartTime": T0, "EndTime": T0 + timedelta(hours=6), "FilterExpression": expr})
        stub.add_response("get_trace_summaries", {"TraceSummaries": [_summary("1-a-2", duration=2.0, fault=True)]},
                          {"StartTime": T0, "EndTime": T0 + timedelta(hours=6), "FilterExpression": expr,
                           "NextToken": "n1"})
        stub.add_response("get_trace_summaries", {"TraceSummaries": [_summary("1-a-2", duration=2.0, fault=True)]},
                          {"StartTime": T0 + timedelta(hours=6), "EndTime": T0 + timedelta(hours=8),
                           "FilterExpression": expr})
        units = list(trace_summaries_fetcher(None, window, filter_expression=expr)(set()))
        stub.assert_no_pending_responses()
    assert [u.unit.split(":", 3)[3] for u in units] == [
        f"{int(T0.timestamp() * 1000)}-{int(T0.timestamp() * 1000) + 6 * 3_600_000}:p0",
        f"{int(T0.timestamp() * 1000)}-{int(T0.timestamp() * 1000) + 6 * 3_600_000}:p1:end",
        f"{int(T0.timestamp() * 1000) + 6 * 3_600_000}-{int(T0.timestamp() * 1000) + 8 * 3_600_000}:p0:end",
    ]
    df = pl.concat([xray.trace_summaries(u.response, file=u.unit) for u in units])
    assert df["trace_id"].to_list() == ["1-a-1", "1-a-2", "1-a-2"]

    calls.clear()  # resume: both finished chunks are skipped without calling AWS
    assert list(trace_summaries_fetcher(None, window, filter_expression=expr)({u.unit for u in units})) == []
    assert not calls
    with pytest.raises(AwsSourceError, match="chunk_s"):
        list(trace_summaries_fetcher(None, window, chunk_s=25 * 3600)(set()))


def _trace(tid: str) -> dict[str, Any]:
    doc = {"trace_id": tid, "id": "0123456789abcdef", "name": "ticket-api", "start_time": 1793620800.0,
           "end_time": 1793620800.5}
    return {"Id": tid, "Duration": 0.5, "Segments": [{"Id": "0123456789abcdef", "Document": json.dumps(doc)}]}


def test_unprocessed_trace_ids_are_retried_then_reported(fake_session: Any, monkeypatch: pytest.MonkeyPatch,
                                                         calls: Counter[str]) -> None:
    c = aws.client("xray", AwsSettings(session=fake_session, region="eu-west-1"))
    monkeypatch.setattr("slo_analysis.sources.xray_fetch.client", lambda service, settings=None: c)
    ids = [f"1-5f000000-{i:024x}" for i in range(7)]
    slept: list[float] = []
    fetcher = traces_fetcher(None, ids + ids[:2], max_retries=2, retry_delay_s=0.5)  # duplicates asked once
    fetcher.sleep = slept.append
    with Stubber(c) as stub:
        stub.add_response("batch_get_traces", {"Traces": [_trace(t) for t in ids[:3]],
                                               "UnprocessedTraceIds": ids[3:5]}, {"TraceIds": ids[:5]})
        stub.add_response("batch_get_traces", {"Traces": [_trace(ids[5])], "NextToken": "more"},
                          {"TraceIds": ids[5:]})
        stub.add_response("batch_get_traces", {"Traces": [_trace(ids[6])]}, {"TraceIds": ids[5:], "NextToken": "more"})
        stub.add_response("batch_get_traces", {"Traces": [_trace(ids[3])], "UnprocessedTraceIds": [ids[4]]},
                          {"TraceIds": ids[3:5]})
        stub.add_response("batch_get_traces", {"Traces": [], "UnprocessedTraceIds": [ids[4]]}, {"TraceIds": [ids[4]]})
        units = list(fetcher(set()))
        stub.assert_no_pending_responses()
    assert fetcher.unprocessed == [ids[4]]
    assert slept == [0.5, 1.0]
    spans = pl.concat([u.frames["spans"] for u in units if u.frames])
    assert sorted(spans["trace_id"].to_list()) == sorted(ids[:4] + ids[5:])
    assert units[-1].response["UnprocessedTraceIds"] == [ids[4]]  # stays visible in the raw response
    assert calls["xray:BatchGetTraces"] == 5


def test_sample_keeps_every_flagged_and_the_slowest_then_a_deterministic_sample() -> None:
    n = 200
    df = pl.DataFrame({
        "trace_id": [f"t{i:03d}" for i in range(n)],
        "duration_ms": [float(i % 50) for i in range(n)],
        "has_fault": [i % 40 == 0 for i in range(n)],
        "has_error": [i % 45 == 1 for i in range(n)],
        "has_throttle": [i == 7 for i in range(n)],
    })
    flagged = df.filter(pl.col("has_fault") | pl.col("has_error") | pl.col("has_throttle"))["trace_id"].to_list()
    ids = sample_trace_ids(df, max_traces=20, keep_slowest=4, seed=1)
    assert len(ids) == 20 and len(set(ids)) == 20
    assert ids[:len(flagged)] == flagged
    slow = ids[len(flagged):len(flagged) + 4]
    assert df.filter(pl.col("trace_id").is_in(slow))["duration_ms"].to_list() == [49.0] * 4
    assert ids == sample_trace_ids(df, max_traces=20, keep_slowest=4, seed=1)  # deterministic
    assert ids != sample_trace_ids(df, max_traces=20, keep_slowest=4, seed=2)
    # flagged ones are kept even beyond the cap
    assert sample_trace_ids(df, max_traces=2, keep_slowest=0) == flagged
    empty = pl.DataFrame(schema=TRACE_SUMMARY_SCHEMA)
    assert sample_trace_ids(empty, max_traces=5) == []


def _as_boto3(value: Any) -> Any:
    """A JSON response as boto3 returns it: epoch-second times become aware datetimes."""
    if isinstance(value, dict):
        return {k: (datetime.fromtimestamp(v, UTC) if k in ("StartTime", "EndTime") else _as_boto3(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_as_boto3(v) for v in value]
    return value


def test_service_graph_pages_with_stubber_become_one_edges_frame(fake_session: Any, monkeypatch: pytest.MonkeyPatch,
                                                                 calls: Counter[str]) -> None:
    c = aws.client("xray", AwsSettings(session=fake_session, region="eu-west-1"))
    monkeypatch.setattr("slo_analysis.sources.xray_fetch.client", lambda service, settings=None: c)
    services = _as_boto3(json.loads(GRAPH.read_text()))["Services"]  # the devguide's sample graph
    window = (T0, T0 + timedelta(hours=1))
    request = {"StartTime": T0, "EndTime": T0 + timedelta(hours=1), "GroupName": "ticket-api"}
    with Stubber(c) as stub:  # responses are validated against the xray model's GetServiceGraph output
        stub.add_response("get_service_graph", {"StartTime": T0, "EndTime": window[1], "Services": services[:2],
                                                "ContainsOldGroupVersions": False, "NextToken": "n1"}, request)
        stub.add_response("get_service_graph", {"StartTime": T0, "EndTime": window[1], "Services": services[2:],
                                                "ContainsOldGroupVersions": False}, {**request, "NextToken": "n1"})
        fetcher = service_graph_fetcher(None, window, group_name="ticket-api")
        units = list(fetcher(set()))
        stub.assert_no_pending_responses()
    assert [u.kind for u in units] == ["xray-service-graph"] * 2 and all(not u.frames for u in units)
    assert units[0].unit.endswith(":p0") and units[1].unit.endswith(":p1:end")

    # read back as the snapshot keeps them: JSON, times as ISO 8601 text
    stored = [(u.unit, json.loads(json.dumps(aws.to_jsonable(u.response)))) for u in units]
    edges = xray.service_graph_edges_from_pages(stored)
    assert edges.schema == xray.SERVICE_EDGE_SCHEMA and edges.height == 3
    assert edges.select("source_type", "target", "ok_count", "error_count", "fault_count", "total_count").rows() == [
        ("client", "xray-sample.elasticbeanstalk.com", 3, 1, 0, 4),  # its target is on the second page
        ("AWS::EC2::Instance", "awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA", 2, 0, 0, 2),
        ("AWS::EC2::Instance", "SNS", 2, 0, 0, 2),
    ]
    assert edges["window_start"].unique().to_list() == [T0]
    assert edges["window_end"].unique().to_list() == [window[1]]
    assert edges["p50_response_time_ms"][0] == 15.0 and edges["mean_response_time_ms"][0] == 68.25

    calls.clear()  # resume: a finished graph is not asked again
    assert list(fetcher({u.unit for u in units})) == [] and not calls
    with Stubber(c) as stub, pytest.raises(AwsSourceError, match="more than 1 pages"):
        stub.add_response("get_service_graph", {"Services": services[:2], "NextToken": "n1"})
        list(service_graph_fetcher(None, window, max_pages=1)(set()))
