from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_analysis import frames
from slo_analysis.sources import xray
from slo_analysis.sources._io import LoadReport
from slo_analysis.sources._json import decode_json_column
from slo_analysis.sources.cloudwatch_logs import logs_from_export_file
from slo_analysis.sources.requests import requests_from_logs, requests_from_spans

AWS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "aws"
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _logs(messages: list[str], group: str = "/ecs/prod/ticket-api", stream: str = "s") -> pl.DataFrame:
    return frames.conform(pl.DataFrame({"timestamp": [T0] * len(messages), "log_group": [group] * len(messages),
                                        "log_stream": [stream] * len(messages), "message": messages}), "logs")


def test_request_records_values() -> None:
    logs = _logs([
        json.dumps({"ts": "2026-11-02T00:00:00.123Z", "level": "INFO", "service": "ticket-api",
                    "operation": "CreateTicket", "route": "POST /tickets", "request_id": "r1",
                    "trace_id": "1-5f2aebcc-b475d14618c51eaa28753d37", "status": 201, "latency_ms": 123.4,
                    "customer_tier": "enterprise", "region": "eu-west-1", "az": "eu-west-1a",
                    "version": "2.3.1", "msg": "request completed"}),
        '{"route": "GET /tickets/{id}", "status": 404, "latency_ms": 3}',        # no ts, service, op
        '{"status": 503, "latency_ms": 9.5, "ts": "not a time", "version": 7}',  # number as attribute
        '{"event": "ticket_created", "ticket_id": "T1"}',                        # not a request
        "plain text", '{"status": 200}', "[1, 2]",
    ])
    report = LoadReport()
    req = requests_from_logs(logs, report=report)
    frames.validate(req, "requests")
    assert req.height == 3 and report.bad == [] and report.rows == {"requests": 3}
    first = req.row(0, named=True)
    assert first["timestamp"] == datetime(2026, 11, 2, 0, 0, 0, 123000, tzinfo=UTC)
    assert (first["service"], first["operation"], first["status_code"], first["latency_ms"]) == (
        "ticket-api", "CreateTicket", 201, 123.4)
    assert (first["fault"], first["error"], first["request_id"], first["trace_id"]) == (
        False, False, "r1", "1-5f2aebcc-b475d14618c51eaa28753d37")
    assert first["attributes"] == [{"key": "customer_tier", "value": "enterprise"},
                                   {"key": "region", "value": "eu-west-1"}, {"key": "az", "value": "eu-west-1a"},
                                   {"key": "version", "value": "2.3.1"}, {"key": "route", "value": "POST /tickets"}]
    second, third = req.row(1, named=True), req.row(2, named=True)
    assert (second["timestamp"], second["service"], second["operation"]) == (T0, "ticket-api", "GET /tickets/{id}")
    assert (second["error"], second["fault"]) == (True, False)
    assert (third["operation"], third["fault"], third["timestamp"]) == ("unknown", True, T0)
    assert third["attributes"] == [{"key": "version", "value": "7"}]


def test_truncated_json_is_a_bad_record_and_the_rest_loads() -> None:
    good = '{"status": 200, "latency_ms": 1.0}'
    messages = [good] * 20_000
    for i in (3, 9_999, 19_998):
        messages[i] = '{"status": 500, "latency_'
    messages[500] = '{"status": 200, "latency_ms": 1.0, "x": }'  # ends with } but invalid
    report = LoadReport()
    req = requests_from_logs(_logs(messages, stream="a/b"), report=report)
    assert req.height == 20_000 - 4
    assert len(report.bad) == 4
    assert {b.file for b in report.bad} == {"/ecs/prod/ticket-api/a/b"}
    assert all(b.line is None for b in report.bad)
    assert sorted(b.content for b in report.bad)[0] == '{"status": 200, "latency_ms": 1.0, "x": }'


def test_requests_from_export_file_end_to_end() -> None:
    data = (b'2026-11-02T00:00:00.000Z {"status": 200, "latency_ms": 5, "operation": "GetTicket"}\n'
            b'2026-11-02T00:00:01.000Z {"status": 500, "latency_ms"\n'
            b"2026-11-02T00:00:02.000Z not json\n")
    report = LoadReport()
    logs = logs_from_export_file(data, file="f.gz", log_group="/ecs/kb-search", log_stream="s", report=report)
    req = requests_from_logs(logs, report=report)
    assert req.select("service", "operation", "status_code").rows() == [("kb-search", "GetTicket", 200)]
    assert [(b.file, b.content) for b in report.bad] == [("/ecs/kb-search/s", '{"status": 500, "latency_ms"')]


def test_bad_records_name_the_file_and_line_columns() -> None:
    data = (b"2026-11-02T00:00:00.000Z ERROR boom\n"
            b"  at frame\n"  # a continuation: events and lines are not numbered alike
            b'2026-11-02T00:00:01.000Z {"status": 500, "latency_ms"\n'
            b'2026-11-02T00:00:02.000Z {"status": 200, "latency_ms": 5}\n')
    report = LoadReport()
    logs = logs_from_export_file(data, file="f.gz", log_group="/ecs/kb-search", log_stream="s", report=report,
                                 with_line=True).with_columns(file=pl.lit("exports/f.gz"))
    requests_from_logs(logs, report=report)
    assert [(b.file, b.line) for b in report.bad] == [("exports/f.gz", 3)]


def test_identical_request_lines_are_two_requests_and_copies_one() -> None:
    line = '{"status": 200, "latency_ms": 5.0, "route": "GET /t"}'
    twice = _logs([line, line])
    assert twice["occurrence"].to_list() == [0, 1]
    req = requests_from_logs(twice, report=LoadReport())
    assert req.height == 2 and req["occurrence"].to_list() == [0, 1]
    # the same two events read from two inputs (export and Insights): still two requests
    copies = pl.concat([twice, twice])
    assert requests_from_logs(copies, report=LoadReport())["occurrence"].to_list() == [0, 1]
    # ... and the same line in another stream is another event, so another request
    other = pl.concat([twice, _logs([line], stream="t")])
    assert requests_from_logs(other, report=LoadReport())["occurrence"].to_list() == [0, 1, 2]


def test_empty_and_no_requests() -> None:
    assert requests_from_logs(frames.empty("logs"), report=LoadReport()).schema == frames.empty("requests").schema
    assert requests_from_logs(_logs(["x", "{}"]), report=LoadReport()).is_empty()


_VALID = st.dictionaries(st.sampled_from(["status", "latency_ms", "service", "x"]),
                         st.one_of(st.integers(-5, 600), st.floats(allow_nan=False, allow_infinity=False),
                                   st.text(max_size=5), st.none(), st.booleans(),
                                   st.lists(st.integers(), max_size=2)), max_size=4).map(json.dumps)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_VALID, _VALID.map(lambda s: s[:-1]), _VALID.map(lambda s: s[: len(s) // 2]),
                          st.text(max_size=10)), max_size=40))
def test_decode_json_column_flags_exactly_invalid_objects(messages: list[str]) -> None:
    s = pl.Series(messages, dtype=pl.String)
    s = pl.select(pl.when(s.str.starts_with("{")).then(s)).to_series() if len(s) else s
    dtype = pl.Struct({"status": pl.Int64, "latency_ms": pl.Float64, "service": pl.String})
    decoded, bad = decode_json_column(s, dtype)
    assert len(decoded) == len(messages)
    expected_bad = []
    for i, m in enumerate(messages):
        if not m.startswith("{"):
            continue
        try:
            json.loads(m)
        except json.JSONDecodeError:
            expected_bad.append(i)
    assert bad == expected_bad
    for i in expected_bad:
        assert decoded[i] is None


def test_requests_from_spans_on_batch_get_traces() -> None:
    doc = json.loads((AWS / "xray-devguide" / "BatchGetTraces.output.json").read_text())
    spans = xray.spans_from_batch_get_traces(doc, file="b.json")
    req = requests_from_spans(spans)
    frames.validate(req, "requests")
    rows = {r["service"]: r for r in req.iter_rows(named=True)}
    assert set(rows) == {"Scorekeep", "random-name", "DynamoDB", "SNS"}
    sk = rows["Scorekeep"]
    assert (sk["operation"], sk["status_code"], sk["latency_ms"], sk["fault"], sk["error"]) == (
        "POST /api/user", 200, 3232.0, False, False)
    assert sk["timestamp"] == datetime(2017, 7, 8, 0, 23, 31, 562000, tzinfo=UTC)
    assert sk["trace_id"] == "1-59602603-23fc5b688855d396af79b496"
    assert rows["DynamoDB"]["operation"] == "DynamoDB"  # no URL, no annotation: the segment name


def test_requests_from_spans_annotation_status_and_in_progress() -> None:
    docs = [
        {"trace_id": "1-5f187253-6a106696d56b1f4ef9eba2ed", "id": "a1", "name": "ticket-api", "start_time": 1.0,
         "end_time": 1.25, "http": {"request": {"method": "GET", "url": "https://x/tickets/1?q=2"},
                                    "response": {"status": 502}}},
        {"trace_id": "1-5f187253-6a106696d56b1f4ef9eba2ed", "id": "a2", "name": "ticket-api", "start_time": 2.0,
         "end_time": 2.5, "annotations": {"operation": "CreateTicket"}, "http": {"response": {"status": 429}}},
        {"trace_id": "1-5f187253-6a106696d56b1f4ef9eba2ed", "id": "a3", "name": "ticket-api", "start_time": 3.0,
         "in_progress": True},
    ]
    report = LoadReport()
    req = requests_from_spans(xray.spans_from_segment_documents(docs, file="d"), report=report)
    assert req.select("operation", "status_code", "latency_ms", "fault", "error").rows() == [
        ("GET /tickets/1", 502, 250.0, True, False), ("CreateTicket", 429, 500.0, False, True)]
    assert report.skipped == [("spans", "1 in-progress segment(s) without an end: no latency")]
