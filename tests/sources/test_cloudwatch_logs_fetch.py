"""Live CloudWatch Logs fetchers: moto over real HTTP where moto is faithful (FilterLogEvents, S3
export objects), botocore Stubber / model-validated fakes for Logs Insights (moto ignores filter/stats)."""

from __future__ import annotations

import gzip
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from botocore.validate import validate_parameters

from slo_analysis.exceptions import AwsSourceError
from slo_analysis.sources import aws
from slo_analysis.sources.aws import AwsSettings, Fetched
from slo_analysis.sources.cloudwatch_logs_fetch import (
    ExportRefusedError,
    InsightsLimitExceededError,
    InsightsQueryError,
    InsightsRowCapError,
    InsightsTimeoutError,
    PollPolicy,
    export_objects_fetcher,
    filter_log_events_fetcher,
    insights_fetcher,
    run_insights_query,
    sli_counts_fetcher,
    sli_counts_frame,
    sli_counts_query,
    start_export_task,
)

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
S0 = int(T0.timestamp())


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _settings(fake_session: Any, endpoint: str | None = None) -> AwsSettings:
    return AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=endpoint)


def _run(fetcher: Callable[[set[str]], Iterator[Fetched]], done: set[str] | None = None) -> list[Fetched]:
    return list(fetcher(done or set()))


# --------------------------------------------------------------------------------------------------
# FilterLogEvents against moto


def test_filter_log_events_paginates_many_streams_and_resumes(moto_endpoint: str, fake_session: Any,
                                                              calls: Counter[str]) -> None:
    setup = fake_session.client("logs", endpoint_url=moto_endpoint)
    group = "/ecs/" + _name("ticket-api")
    setup.create_log_group(logGroupName=group)
    base = int(time.time() * 1000) - 3_600_000  # moto rejects events too old or in the future
    expected = set()
    for s in range(12):
        stream = f"stream-{s:02d}"
        setup.create_log_stream(logGroupName=group, logStreamName=stream)
        events = [{"timestamp": base + s * 100 + i, "message": f'{{"n": {s * 100 + i}}}'} for i in range(25)]
        setup.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        expected |= {(stream, e["message"]) for e in events}
    window = (datetime.fromtimestamp(base / 1000 - 60, UTC), datetime.fromtimestamp(base / 1000 + 60, UTC))
    fetcher = filter_log_events_fetcher(_settings(fake_session, moto_endpoint), group, window, page_limit=40)

    units = _run(fetcher)
    assert all(u.kind == "log-events" for u in units)
    assert len(units) == calls["logs:FilterLogEvents"] >= 300 // 40
    assert units[-1].unit.endswith(":end") and not any(u.unit.endswith(":end") for u in units[:-1])
    logs = pl.concat([u.frames["logs"] for u in units if u.frames])
    got = list(zip(logs["log_stream"].to_list(), logs["message"].to_list(), strict=True))
    assert len(got) == 300 and set(got) == expected  # every event exactly once
    assert logs["log_group"].unique().to_list() == [group]
    assert units[0].request["endTime"] == int(window[1].timestamp() * 1000) - 1  # half-open window

    # resume: a finished chain is not requested again
    calls.clear()
    assert _run(fetcher, {u.unit for u in units}) == []
    assert calls["logs:FilterLogEvents"] == 0
    # a chain cut off before its last page is walked again, yielding only the missing page
    calls.clear()
    again = _run(fetcher, {u.unit for u in units[:-1]})
    assert [u.unit for u in again] == [units[-1].unit]
    assert calls["logs:FilterLogEvents"] == len(units)


def test_filter_log_events_stream_names_and_chunks(moto_endpoint: str, fake_session: Any) -> None:
    setup = fake_session.client("logs", endpoint_url=moto_endpoint)
    group = "/ecs/" + _name("kb-search")
    setup.create_log_group(logGroupName=group)
    base = int(time.time() * 1000) - 7_200_000
    for s in ("a", "b", "c"):
        setup.create_log_stream(logGroupName=group, logStreamName=s)
        setup.put_log_events(logGroupName=group, logStreamName=s,
                             logEvents=[{"timestamp": base + h * 1_800_000, "message": f"{s}{h}"} for h in range(4)])
    window = (datetime.fromtimestamp(base / 1000, UTC), datetime.fromtimestamp(base / 1000 + 7200, UTC))
    units = _run(filter_log_events_fetcher(_settings(fake_session, moto_endpoint), group, window,
                                           log_stream_names=["a", "c"], chunk_s=3600))
    assert len({u.unit.rsplit(":p", 1)[0] for u in units}) == 2  # two one-hour chunks, one chain each
    msgs = sorted(m for u in units if u.frames for m in u.frames["logs"]["message"].to_list())
    assert msgs == ["a0", "a1", "a2", "a3", "c0", "c1", "c2", "c3"]


# --------------------------------------------------------------------------------------------------
# S3 export objects against moto


def _export_lines(t: datetime, n: int, tag: str) -> bytes:
    lines = []
    for i in range(n):
        ts = (t + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(f'{ts} {{"status": 200, "latency_ms": {i}.5, "route": "GET /{tag}"}}')
    lines.append("  at continuation line")  # a multi-line event: joined to the previous one
    return ("\n".join(lines) + "\n").encode()


def test_export_objects_fetcher_reads_gzip_objects(moto_endpoint: str, fake_session: Any,
                                                   calls: Counter[str]) -> None:
    s3 = fake_session.client("s3", endpoint_url=moto_endpoint)
    bucket = _name("exports")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    objects = {
        "incident/task-1/ecs/ticket-api/abc/000000.gz": _export_lines(T0, 5, "t"),
        "incident/task-1/ecs/ticket-api/def/000000.gz": _export_lines(T0, 3, "u"),
        "incident/task-2/2026/11/02/[$LATEST]ff/000000.gz": _export_lines(T0, 2, "l"),
    }
    for key, data in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(data))
    s3.put_object(Bucket=bucket, Key="incident/aws-logs-write-test", Body=b"Permission Check Successful")
    tasks = {"task-1": "/ecs/ticket-api", "task-2": "/aws/lambda/notify"}
    fetcher = export_objects_fetcher(_settings(fake_session, moto_endpoint), bucket, "incident",
                                     log_group_for_task=tasks)
    units = _run(fetcher)
    assert len(units) == 3 and all(u.kind == "logs-export" for u in units)
    logs = pl.concat([u.frames["logs"] for u in units]).sort("log_stream", "timestamp")
    assert logs.height == 10
    assert logs.group_by("log_group", "log_stream").len().sort("log_stream").rows() == [
        ("/aws/lambda/notify", "2026/11/02/[$LATEST]ff", 2),
        ("/ecs/ticket-api", "ecs/ticket-api/abc", 5),
        ("/ecs/ticket-api", "ecs/ticket-api/def", 3),
    ]
    assert logs["timestamp"].min() == T0
    assert any(m.endswith("\n  at continuation line") for m in logs["message"].to_list())
    first = units[0]
    assert first.request == {"Bucket": bucket, "Key": first.response["Key"]}
    assert first.response["Body"].encode() == objects[first.response["Key"]]  # gunzipped text is kept
    assert calls["s3:GetObject"] == 3

    calls.clear()
    assert _run(fetcher, {u.unit for u in units}) == []
    assert calls["s3:GetObject"] == 0 and calls["s3:ListObjectsV2"] == 1  # the listing is not a unit


def test_start_export_task_refuses_without_confirm(fake_session: Any, calls: Counter[str]) -> None:
    window = (T0, T0 + timedelta(hours=1))
    with pytest.raises(ExportRefusedError, match="confirm=True"):
        start_export_task(_settings(fake_session), "/ecs/x", window, "bucket", "p", confirm=False)
    with pytest.raises(ExportRefusedError):
        start_export_task(_settings(fake_session), "/ecs/x", window, "bucket", "p", confirm="yes")  # type: ignore[arg-type]
    assert not calls


def test_start_export_task_then_read_objects(moto_endpoint: str, fake_session: Any) -> None:
    """moto writes the export objects to S3. Unlike AWS, moto names the object folder with a fresh uuid
    instead of the task id (moto/logs/models.py create_export_task), so the group is passed here; the
    DescribeExportTasks path (``log_group_for_task=None``) is checked to skip what it cannot place."""
    settings = _settings(fake_session, moto_endpoint)
    logs_setup = fake_session.client("logs", endpoint_url=moto_endpoint)
    s3 = fake_session.client("s3", endpoint_url=moto_endpoint)
    group, bucket = "/ecs/" + _name("routing"), _name("export-dst")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    logs_setup.create_log_group(logGroupName=group)
    logs_setup.create_log_stream(logGroupName=group, logStreamName="s1")
    base = int(time.time() * 1000) - 600_000
    logs_setup.put_log_events(logGroupName=group, logStreamName="s1",
                              logEvents=[{"timestamp": base + i * 1000, "message": f"event {i}"} for i in range(4)])
    window = (datetime.fromtimestamp(base / 1000 - 1, UTC), datetime.fromtimestamp(base / 1000 + 60, UTC))
    task = start_export_task(settings, group, window, bucket, "snap", confirm=True)
    assert task
    assert _run(export_objects_fetcher(settings, bucket, "snap")) == []  # task ids not in moto's keys
    units = _run(export_objects_fetcher(settings, bucket, "snap", log_group_for_task=group))
    assert [u.frames["logs"]["log_stream"][0] for u in units] == ["s1"]
    msgs = sorted(m for u in units if u.frames for m in u.frames["logs"]["message"].to_list())
    assert msgs == [f"event {i}" for i in range(4)]
    assert {u.frames["logs"]["log_group"][0] for u in units if u.frames} == {group}


# --------------------------------------------------------------------------------------------------
# Logs Insights: Stubber (validated against the model)


def _ts(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _row(seconds: float, group: str = "/ecs/ticket-api") -> list[dict[str, str]]:
    return [{"field": "@timestamp", "value": _ts(seconds)}, {"field": "@message", "value": f"m@{seconds}"},
            {"field": "@logStream", "value": "s"}, {"field": "@log", "value": f"123456789012:{group}"},
            {"field": "@ptr", "value": f"ptr-{seconds}"}]


def _logs_client(fake_session: Any) -> Any:
    return aws.client("logs", _settings(fake_session))


def _no_sleep() -> tuple[PollPolicy, list[float]]:
    slept: list[float] = []
    return PollPolicy(first_s=0.5, max_s=2.0, sleep=slept.append), slept


def _stub_query(stub: Stubber, qid: str, start: int, end: int, rows: list[list[dict[str, str]]], *,
                limit: int, running_polls: int = 0, query: str | None = None) -> None:
    expected: dict[str, Any] = {"startTime": start, "endTime": end, "limit": limit, "logGroupNames": ANY,
                                "queryString": ANY if query is None else query}
    stub.add_response("start_query", {"queryId": qid}, expected)
    for _ in range(running_polls):
        stub.add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": qid})
    stub.add_response("get_query_results", {"status": "Complete", "results": rows,
                                            "statistics": {"recordsMatched": float(len(rows))}}, {"queryId": qid})


def test_insights_row_cap_splits_and_merges_every_row_once(fake_session: Any, calls: Counter[str]) -> None:
    c = _logs_client(fake_session)
    poll, slept = _no_sleep()
    window = (T0, T0 + timedelta(seconds=4))
    with Stubber(c) as stub:
        # [S0, S0+4): exactly the cap (3 rows) -> split at S0+2
        _stub_query(stub, "q0", S0, S0 + 4, [_row(S0 + 0.5), _row(S0 + 1.5), _row(S0 + 2.0)], limit=3,
                    running_polls=2)
        # endTime is inclusive: each half also sees its end second; those rows belong to the neighbour
        _stub_query(stub, "q1", S0, S0 + 2, [_row(S0 + 0.5), _row(S0 + 1.5), _row(S0 + 2.0)][:2] + [], limit=3)
        _stub_query(stub, "q2", S0 + 2, S0 + 4, [_row(S0 + 2.0), _row(S0 + 3.5), _row(S0 + 4.0)][:2], limit=3)
        res = run_insights_query(None, ["/ecs/ticket-api"], "fields @timestamp, @message", window, limit=3,
                                 poll=poll, max_concurrent=1, aws=c)
        stub.assert_no_pending_responses()
    assert [p.start_s for p in res.parts] == [S0, S0 + 2] and res.splits == 1
    stamps = [next(f["value"] for f in r if f["field"] == "@timestamp") for r in res.rows]
    assert stamps == [_ts(S0 + 0.5), _ts(S0 + 1.5), _ts(S0 + 2.0), _ts(S0 + 3.5)]
    assert slept == [0.5, 1.0]  # capped exponential backoff while Running
    assert calls["logs:StartQuery"] == 3 and calls["logs:StopQuery"] == 0


def test_insights_rows_outside_the_range_are_dropped_and_ptr_deduplicated(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    poll, _ = _no_sleep()
    window = (T0, T0 + timedelta(seconds=4))
    rows = [_row(S0 + 1), _row(S0 + 1), _row(S0 + 4.0)]  # a duplicate @ptr, and the inclusive end second
    with Stubber(c) as stub:
        _stub_query(stub, "q", S0, S0 + 4, rows, limit=10)
        res = run_insights_query(None, ["/ecs/ticket-api"], "q", window, limit=10, poll=poll, aws=c)
    assert len(res.rows) == 1 and res.parts[0].response["rowsOutsideRange"] == 1


def test_insights_fetcher_frames_units_and_resume(fake_session: Any, monkeypatch: pytest.MonkeyPatch,
                                                  calls: Counter[str]) -> None:
    c = _logs_client(fake_session)
    monkeypatch.setattr("slo_analysis.sources.cloudwatch_logs_fetch.client", lambda service, settings=None: c)
    poll, _ = _no_sleep()
    window = (T0, T0 + timedelta(seconds=4))
    fetcher = insights_fetcher(None, ["/ecs/ticket-api", "/ecs/kb-search"], window=window, limit=2, poll=poll,
                               max_concurrent=1)
    with Stubber(c) as stub:
        _stub_query(stub, "q0", S0, S0 + 4, [_row(S0 + 1), _row(S0 + 3)], limit=2)  # cap -> split
        _stub_query(stub, "q1", S0, S0 + 2, [_row(S0 + 1)], limit=2)
        _stub_query(stub, "q2", S0 + 2, S0 + 4, [_row(S0 + 3, "/ecs/kb-search")], limit=2)
        units = _run(fetcher)
        stub.assert_no_pending_responses()
    assert [u.unit.rsplit(":", 1)[1] for u in units] == [f"{S0}-{S0 + 2}", f"{S0 + 2}-{S0 + 4}"]
    assert all(u.kind == "insights-results" and u.request["logGroupNames"] for u in units)
    logs = pl.concat([u.frames["logs"] for u in units])
    assert logs["log_group"].to_list() == ["/ecs/ticket-api", "/ecs/kb-search"]

    # resume: finished ranges are not queried; the split parent is not queried again either
    calls.clear()
    with Stubber(c) as stub:
        _stub_query(stub, "q3", S0 + 2, S0 + 4, [_row(S0 + 3)], limit=2)
        again = _run(fetcher, {units[0].unit})
        stub.assert_no_pending_responses()
    assert [u.unit for u in again] == [units[1].unit]
    assert calls["logs:StartQuery"] == 1
    calls.clear()
    assert _run(fetcher, {u.unit for u in units}) == [] and not calls


def test_insights_result_pages_are_all_read(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    poll, _ = _no_sleep()
    with Stubber(c) as stub:
        stub.add_response("start_query", {"queryId": "q"}, {"limit": 15_000, "logGroupNames": ["/g"],
                                                            "queryString": "q", "startTime": S0, "endTime": S0 + 4})
        stub.add_response("get_query_results", {"status": "Complete", "results": [_row(S0 + 1)], "nextToken": "t1"},
                          {"queryId": "q"})
        stub.add_response("get_query_results", {"status": "Complete", "results": [_row(S0 + 2)]},
                          {"queryId": "q", "nextToken": "t1"})
        res = run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(seconds=4)), limit=15_000, poll=poll, aws=c)
        stub.assert_no_pending_responses()
    assert len(res.rows) == 2 and res.parts[0].response["pages"] == 2


@pytest.mark.parametrize(("status", "error"), [("Timeout", InsightsTimeoutError), ("Failed", InsightsQueryError),
                                               ("Cancelled", InsightsQueryError)])
def test_insights_final_failure_statuses(fake_session: Any, status: str, error: type[Exception]) -> None:
    c = _logs_client(fake_session)
    poll, _ = _no_sleep()
    with Stubber(c) as stub:
        stub.add_response("start_query", {"queryId": "qx"})
        stub.add_response("get_query_results", {"status": "Running", "results": []})
        stub.add_response("get_query_results", {"status": status, "results": []})
        with pytest.raises(error) as info:
            run_insights_query(None, ["/ecs/ticket-api"], "stats count(*) by bin(1m)", (T0, T0 + timedelta(hours=1)),
                               poll=poll, aws=c)
        stub.assert_no_pending_responses()  # no StopQuery for a query that already ended
    assert info.value.status == status  # type: ignore[attr-defined]
    text = str(info.value)
    assert status in text and "stats count(*) by bin(1m)" in text and "2026-11-02T12:00:00Z" in text and "qx" in text
    if status == "Failed":
        assert not isinstance(info.value, InsightsTimeoutError)


def test_insights_stop_query_on_interrupt(fake_session: Any, calls: Counter[str]) -> None:
    c = _logs_client(fake_session)

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    with Stubber(c) as stub:
        stub.add_response("start_query", {"queryId": "q-int"})
        stub.add_response("get_query_results", {"status": "Running", "results": []})
        stub.add_response("stop_query", {"success": True}, {"queryId": "q-int"})
        with pytest.raises(KeyboardInterrupt):
            run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(minutes=5)), poll=PollPolicy(sleep=interrupt),
                               aws=c)
        stub.assert_no_pending_responses()
    assert calls["logs:StopQuery"] == 1


def test_insights_own_deadline_stops_the_query(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    poll = PollPolicy(first_s=1, max_s=4, sleep=sleep, clock=lambda: now[0])
    with Stubber(c) as stub:
        stub.add_response("start_query", {"queryId": "q-slow"})
        for _ in range(4):  # waits 1 + 2 + 4 + 3 (the rest of the 10 s deadline)
            stub.add_response("get_query_results", {"status": "Running", "results": []})
        stub.add_response("get_query_results", {"status": "Scheduled", "results": []})
        stub.add_response("stop_query", {"success": True}, {"queryId": "q-slow"})
        with pytest.raises(InsightsTimeoutError, match="after 10 s; StopQuery sent"):
            run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(minutes=5)), poll=poll, timeout_s=10, aws=c)
        stub.assert_no_pending_responses()


def test_insights_cap_at_minimum_span_raises_instead_of_losing_rows(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    poll, _ = _no_sleep()
    with Stubber(c) as stub:
        _stub_query(stub, "q", S0, S0 + 1, [_row(S0 + 0.1), _row(S0 + 0.2)], limit=2)
        with pytest.raises(InsightsRowCapError, match="cannot be split further"):
            run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(seconds=1)), limit=2, poll=poll, aws=c)
    with Stubber(c) as stub:  # and at the depth bound
        _stub_query(stub, "q", S0, S0 + 8, [_row(S0 + 1), _row(S0 + 2)], limit=2)
        with pytest.raises(InsightsRowCapError, match="depth 0/0"):
            run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(seconds=8)), limit=2, poll=poll, max_splits=0,
                               aws=c)


def test_insights_argument_bounds() -> None:
    with pytest.raises(AwsSourceError, match="1 to 50 log groups"):
        run_insights_query(None, [f"/g{i}" for i in range(51)], "q", (T0, T0 + timedelta(hours=1)))
    with pytest.raises(AwsSourceError, match="limit must be"):
        run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(hours=1)), limit=100_001)
    with pytest.raises(AwsSourceError, match="empty or reversed"):
        run_insights_query(None, ["/g"], "q", (T0, T0))
    with pytest.raises(AwsSourceError, match="start_retries >= 0"):
        PollPolicy(start_retries=-1)


def test_insights_pages_left_after_the_page_bound_raise(fake_session: Any, calls: Counter[str]) -> None:
    c = _logs_client(fake_session)
    poll, _ = _no_sleep()
    window = (T0, T0 + timedelta(seconds=4))
    with Stubber(c) as stub:  # limit 10 -> at most 2 pages; the second still carries a nextToken
        stub.add_response("start_query", {"queryId": "q-pages"})
        stub.add_response("get_query_results", {"status": "Complete", "results": [_row(S0 + 1)], "nextToken": "t1"},
                          {"queryId": "q-pages"})
        stub.add_response("get_query_results", {"status": "Complete", "results": [_row(S0 + 2)], "nextToken": "t2"},
                          {"queryId": "q-pages", "nextToken": "t1"})
        with pytest.raises(InsightsQueryError, match="still returned a nextToken after 2 pages") as info:
            run_insights_query(None, ["/ecs/ticket-api"], "q", window, limit=10, poll=poll, aws=c)
        stub.assert_no_pending_responses()
    assert info.value.status == "Incomplete" and info.value.query_id == "q-pages"
    assert "/ecs/ticket-api" in str(info.value) and "2026-11-02T12:00:00Z" in str(info.value)
    assert calls["logs:StopQuery"] == 0  # the query had completed: nothing to stop


def test_insights_pages_left_at_the_cap_split_the_range(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    poll, _ = _no_sleep()
    with Stubber(c) as stub:  # limit 2 -> at most 2 pages; they hold the cap, so the range is split, not lost
        stub.add_response("start_query", {"queryId": "q0"})
        stub.add_response("get_query_results", {"status": "Complete", "results": [_row(S0 + 0.5)], "nextToken": "t"})
        stub.add_response("get_query_results", {"status": "Complete", "results": [_row(S0 + 1.5)], "nextToken": "u"})
        _stub_query(stub, "q1", S0, S0 + 1, [_row(S0 + 0.5)], limit=2)
        _stub_query(stub, "q2", S0 + 1, S0 + 2, [_row(S0 + 1.5)], limit=2)
        res = run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(seconds=2)), limit=2, poll=poll,
                                 max_concurrent=1, aws=c)
        stub.assert_no_pending_responses()
    assert len(res.rows) == 2 and res.splits == 1


_QUOTA = "Account maximum query concurrency limit of [30] reached."


def test_insights_start_query_limit_exceeded_is_waited_out(fake_session: Any, calls: Counter[str]) -> None:
    c = _logs_client(fake_session)
    poll, slept = _no_sleep()
    with Stubber(c) as stub:
        for _ in range(2):
            stub.add_client_error("start_query", "LimitExceededException", _QUOTA, 400)
        _stub_query(stub, "q", S0, S0 + 4, [_row(S0 + 1)], limit=10)
        res = run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(seconds=4)), limit=10, poll=poll, aws=c)
        stub.assert_no_pending_responses()
    assert len(res.rows) == 1
    assert slept == [5.0, 10.0]  # the StartQuery backoff (start_first_s, doubled), not the poll backoff
    assert calls["logs:StartQuery"] == 3


def test_insights_start_query_limit_exceeded_gives_up_with_a_named_error(fake_session: Any,
                                                                         calls: Counter[str]) -> None:
    c = _logs_client(fake_session)
    slept: list[float] = []
    poll = PollPolicy(start_retries=3, start_first_s=4, start_max_s=10, sleep=slept.append)
    window = (T0, T0 + timedelta(hours=1))
    with Stubber(c) as stub:
        for _ in range(4):
            stub.add_client_error("start_query", "LimitExceededException", _QUOTA, 400)
        with pytest.raises(InsightsLimitExceededError) as info:
            run_insights_query(None, ["/ecs/ticket-api", "/ecs/kb-search"], "q", window, poll=poll, aws=c)
        stub.assert_no_pending_responses()
    err = info.value
    assert isinstance(err, AwsSourceError) and err.attempts == 4
    assert err.log_groups == ["/ecs/ticket-api", "/ecs/kb-search"] and (err.start_s, err.end_s) == (S0, S0 + 3600)
    text = str(err)
    assert "/ecs/ticket-api, /ecs/kb-search" in text and "2026-11-02T12:00:00Z" in text
    assert "2026-11-02T13:00:00Z" in text and _QUOTA in text and "max_concurrent" in text
    assert slept == [4.0, 8.0, 10.0]  # capped, and no wait after the last attempt
    assert calls["logs:StartQuery"] == 4 and calls["logs:StopQuery"] == 0


def test_insights_other_start_query_errors_are_not_retried(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    poll, slept = _no_sleep()
    with Stubber(c) as stub:
        stub.add_client_error("start_query", "MalformedQueryException", "unexpected symbol", 400)
        with pytest.raises(ClientError, match="MalformedQueryException"):
            run_insights_query(None, ["/g"], "stats count(*) by", (T0, T0 + timedelta(hours=1)), poll=poll, aws=c)
        stub.assert_no_pending_responses()
    assert slept == []


def test_insights_throttling_after_botocore_retries_stops_the_query(fake_session: Any, calls: Counter[str]) -> None:
    """botocore retries ThrottlingException itself (tests/sources/test_aws.py); the Stubber answers after
    those retries, so this is what the runner sees once they are spent: the error, and no query left running."""
    c = _logs_client(fake_session)
    poll, _ = _no_sleep()
    with Stubber(c) as stub:
        stub.add_response("start_query", {"queryId": "q-thr"})
        stub.add_client_error("get_query_results", "ThrottlingException", "Rate exceeded", 400)
        stub.add_response("stop_query", {"success": True}, {"queryId": "q-thr"})
        with pytest.raises(ClientError, match="ThrottlingException"):
            run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(hours=1)), poll=poll, aws=c)
        stub.assert_no_pending_responses()
    assert calls["logs:StopQuery"] == 1


# --------------------------------------------------------------------------------------------------
# Logs Insights concurrency: a thread-safe fake answering through botocore's before-call hook (the
# real client validates the requests; responses are validated against the model's output shapes)


def _http200() -> AWSResponse:
    """The HTTP response botocore's Stubber pairs with a stubbed answer."""
    return AWSResponse(None, 200, {}, None)  # type: ignore[arg-type]


class FakeInsights:
    """One event per second at ``s + 0.5``; StartQuery's range is inclusive of its end second."""

    def __init__(self, c: Any) -> None:
        self.client = c
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.starts = 0
        self.polls: Counter[str] = Counter()
        self.ranges: dict[str, tuple[int, int, int]] = {}
        c.meta.events.register_first("before-parameter-build.logs.*", self._params)
        c.meta.events.register("before-call.logs.*", self._answer)

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fake_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        p = context["fake_params"]
        with self.lock:
            if model.name == "StartQuery":
                self.starts += 1
                qid = f"q{self.starts}"
                self.ranges[qid] = (p["startTime"], p["endTime"], p["limit"])
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                out: dict[str, Any] = {"queryId": qid}
            else:
                qid = p["queryId"]
                self.polls[qid] += 1
                if self.polls[qid] < 3:
                    out = {"status": "Running", "results": []}
                else:
                    a, b, limit = self.ranges[qid]
                    rows = [_row(s + 0.5) for s in range(a, b + 1)][:limit]
                    out = {"status": "Complete", "results": rows}
                    self.active -= 1
        time.sleep(0.002)  # let other workers interleave
        validate_parameters(out, model.output_shape)
        return _http200(), out


def test_insights_concurrency_cap_is_honoured(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    fake = FakeInsights(c)
    poll = PollPolicy(first_s=0.001, max_s=0.002)
    res = run_insights_query(None, ["/g"], "fields @timestamp, @message", (T0, T0 + timedelta(seconds=16)), limit=3,
                             poll=poll, max_concurrent=3, aws=c)
    # 16 s -> 8 -> 4 -> 2 -> 1 s leaves: 1 + 2 + 4 + 8 + 16 queries, 16 leaves
    assert fake.starts == 31 and len(res.parts) == 16
    assert 2 <= fake.max_active <= 3
    stamps = [next(f["value"] for f in r if f["field"] == "@timestamp") for r in res.rows]
    assert stamps == [_ts(S0 + s + 0.5) for s in range(16)]  # every row exactly once, in order


def test_insights_failure_stops_the_other_running_queries(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    fake = FakeInsights(c)
    stopped: list[str] = []
    original = fake._answer

    def answer(model: Any, context: dict[str, Any], **kw: Any) -> Any:
        p = context["fake_params"]
        if model.name == "StopQuery":
            stopped.append(p["queryId"])
            return _http200(), {"success": True}
        if model.name == "GetQueryResults" and fake.ranges.get(p["queryId"], (0,))[0] >= S0 + 8:
            return _http200(), {"status": "Failed", "results": []}
        return original(model, context, **kw)

    c.meta.events.unregister("before-call.logs.*", original)
    c.meta.events.register("before-call.logs.*", answer)
    with pytest.raises(InsightsQueryError):
        run_insights_query(None, ["/g"], "q", (T0, T0 + timedelta(seconds=16)), limit=3,
                           poll=PollPolicy(first_s=0.01, max_s=0.02), max_concurrent=3, aws=c)
    assert all(q in fake.ranges for q in stopped)  # running queries were stopped, none left behind


# --------------------------------------------------------------------------------------------------
# SLI push-down


def test_sli_counts_query_and_frame(fake_session: Any) -> None:
    q = sli_counts_query(group_by=["route"], latency_thresholds_ms=[800], filter_expr='service = "ticket-api"')
    assert q.splitlines()[1] == '| filter service = "ticket-api"'
    assert "by bin(60s), route, status_class" in q
    rows = [[{"field": "bin(60s)", "value": _ts(S0 + 60)}, {"field": "route", "value": "POST /tickets"},
             {"field": "status_class", "value": "5"}, {"field": "requests", "value": "7"},
             {"field": "slow_800", "value": "2"}],
            [{"field": "bin(60s)", "value": _ts(S0)}, {"field": "route", "value": "POST /tickets"},
             {"field": "status_class", "value": "2"}, {"field": "requests", "value": "120"},
             {"field": "slow_800", "value": "0"}]]
    df = sli_counts_frame(rows)
    assert df.columns == ["bin_start", "route", "status_class", "requests", "slow_800"]
    assert df.rows() == [(T0, "POST /tickets", 2, 120, 0), (T0 + timedelta(minutes=1), "POST /tickets", 5, 7, 2)]
    assert df.schema["bin_start"] == pl.Datetime("ms", "UTC")


def test_sli_counts_fetcher_splits_on_bin_boundaries(fake_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    c = _logs_client(fake_session)
    monkeypatch.setattr("slo_analysis.sources.cloudwatch_logs_fetch.client", lambda service, settings=None: c)
    poll, _ = _no_sleep()

    def bin_row(minute: int, n: int) -> list[dict[str, str]]:
        return [{"field": "bin(60s)", "value": _ts(S0 + 60 * minute)}, {"field": "route", "value": "GET /t"},
                {"field": "status_class", "value": "2"}, {"field": "requests", "value": str(n)}]

    window = (T0, T0 + timedelta(minutes=5))
    with Stubber(c) as stub:
        _stub_query(stub, "a", S0, S0 + 300, [bin_row(m, 1) for m in range(5)], limit=5)  # cap
        # split at 120 s (150 rounded down to the 60 s bin); the left half's inclusive end second makes a
        # partial bin 2 that belongs to the right half and is dropped
        _stub_query(stub, "b", S0, S0 + 120, [bin_row(0, 10), bin_row(1, 11), bin_row(2, 1)], limit=5)
        _stub_query(stub, "c", S0 + 120, S0 + 300, [bin_row(2, 12), bin_row(3, 13), bin_row(4, 14)], limit=5)
        units = _run(sli_counts_fetcher(None, ["/ecs/ticket-api"], window, limit=5, poll=poll, max_concurrent=1))
        stub.assert_no_pending_responses()
    assert all(not u.frames for u in units)  # not a canonical frame: kept raw
    df = sli_counts_frame([r for u in units for r in u.response["results"]])
    assert df["requests"].to_list() == [10, 11, 12, 13, 14]


def _bin_rows(events: list[float], start: int, end: int, bin_s: int = 60) -> list[list[dict[str, str]]]:
    """What ``stats count(*) by bin(60s), route, status_class`` returns for StartQuery ``[start, end]``
    (endTime inclusive: the whole second ``end`` is read)."""
    per_bin = Counter(int(t) // bin_s * bin_s for t in events if start <= t < end + 1)
    return [[{"field": f"bin({bin_s}s)", "value": _ts(b)}, {"field": "route", "value": "GET /t"},
             {"field": "status_class", "value": "2"}, {"field": "requests", "value": str(n)}]
            for b, n in sorted(per_bin.items())]


def test_sli_counts_window_off_the_bin_grid_loses_no_count(fake_session: Any, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """The window 12:00:30-12:05:30 is widened to 12:00-12:06 and split at 12:03 (an epoch minute), so
    every bin is counted once and whole; unaligned, the 12:00 bin and part of another were dropped."""
    c = _logs_client(fake_session)
    monkeypatch.setattr("slo_analysis.sources.cloudwatch_logs_fetch.client", lambda service, settings=None: c)
    poll, _ = _no_sleep()
    events = [S0 - 20 + 2 * i + 0.25 for i in range(250)]  # a request every 2 s, 11:59:40 to past 12:08
    window = (T0 + timedelta(seconds=30), T0 + timedelta(minutes=5, seconds=30))
    with Stubber(c) as stub, caplog.at_level(logging.WARNING, "slo_analysis.sources.cloudwatch_logs_fetch"):
        _stub_query(stub, "all", S0, S0 + 360, _bin_rows(events, S0, S0 + 360), limit=5)  # 7 bins: the cap
        _stub_query(stub, "left", S0, S0 + 180, _bin_rows(events, S0, S0 + 180), limit=5)
        _stub_query(stub, "right", S0 + 180, S0 + 360, _bin_rows(events, S0 + 180, S0 + 360), limit=5)
        units = _run(sli_counts_fetcher(None, ["/ecs/ticket-api"], window, limit=5, poll=poll, max_concurrent=1))
        stub.assert_no_pending_responses()
    assert "widened to [2026-11-02T12:00:00Z, 2026-11-02T12:06:00Z)" in caplog.text  # and says so
    assert [u.unit.rsplit(":", 1)[1] for u in units] == [f"{S0}-{S0 + 180}", f"{S0 + 180}-{S0 + 360}"]
    # each range also read its inclusive end second: a partial bin of the neighbour, dropped there
    assert [u.response["rowsOutsideRange"] for u in units] == [1, 1]
    df = sli_counts_frame([r for u in units for r in u.response["results"]])
    assert df["bin_start"].to_list() == [T0 + timedelta(minutes=m) for m in range(6)]  # each bin once
    assert df["requests"].sum() == sum(S0 <= t < S0 + 360 for t in events)  # every count of the bins
    in_window = sum(window[0].timestamp() <= t < window[1].timestamp() for t in events)
    assert df["requests"].sum() >= in_window > 0  # nothing of the asked window is lost


def test_insights_bin_rows_before_their_range_raise_instead_of_being_dropped(fake_session: Any) -> None:
    c = _logs_client(fake_session)
    poll, _ = _no_sleep()
    window = (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
    row = [{"field": "bin(300s)", "value": _ts(S0)}, {"field": "requests", "value": "9"}]  # 5 min bins, 60 s align
    with Stubber(c) as stub:
        _stub_query(stub, "q", S0 + 60, S0 + 120, [row], limit=10)
        with pytest.raises(AwsSourceError, match="not aligned to 60 s"):
            run_insights_query(None, ["/g"], "stats count(*) as requests by bin(300s)", window, limit=10, poll=poll,
                               align_s=60, time_field="bin(300s)", aws=c)
