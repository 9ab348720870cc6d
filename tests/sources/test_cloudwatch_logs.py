from __future__ import annotations

import gzip
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_analysis import frames
from slo_analysis.exceptions import InputError, SloAnalysisError
from slo_analysis.sources import cloudwatch_logs as cwl
from slo_analysis.sources._io import LoadReport

AWS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "aws"
LOGS = AWS / "cli-examples" / "logs"
BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> dict:
    return json.loads((LOGS / name).read_text())


def _ms(y: int, mo: int, d: int, h: int, mi: int, s: int, ms: int) -> datetime:
    return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# export objects


def test_export_file_events_and_multiline() -> None:
    data = (b"2026-11-02T00:00:00.123Z first\n"
            b"2026-11-02T00:00:01.000Z ERROR boom\n"
            b"Traceback (most recent call last):\r\n"
            b"  File \"app.py\", line 1\n"
            b"2026-11-02T00:00:02Z {\"status\": 201}\n")
    report = LoadReport()
    df = cwl.logs_from_export_file(data, file="f.gz", log_group="/ecs/ticket-api", log_stream="a/b",
                                   report=report)
    frames.validate(df, "logs")
    assert df["timestamp"].to_list() == [_ms(2026, 11, 2, 0, 0, 0, 123), _ms(2026, 11, 2, 0, 0, 1, 0),
                                         _ms(2026, 11, 2, 0, 0, 2, 0)]
    assert df["message"].to_list() == [
        "first", "ERROR boom\nTraceback (most recent call last):\n  File \"app.py\", line 1",
        '{"status": 201}']
    assert set(df["log_group"]) == {"/ecs/ticket-api"} and set(df["log_stream"]) == {"a/b"}
    assert report.bad == [] and report.rows == {"logs": 3} and report.files == ["f.gz"]


def test_export_file_bad_lines_have_line_numbers() -> None:
    data = (b"  orphan continuation\n"                                      # 1: leading continuation
            b"2026-11-02T00:00:00.000Z {\"status\": 200, \"latency_ms\": 5}\n"  # 2
            b"2026-11-02T00:00:01.000Z {\"status\": 500, \"latency_ms\"\n"      # 3: truncated JSON, loads
            b"\xff\xfe\x00garbage\x80\n"                                    # 4: not UTF-8
            b"2026-02-30T00:00:02.000Z impossible date\n"                   # 5: bad timestamp
            b"  its continuation\n"                                         # 6
            b"2026-11-02T00:00:03.000+01:00 offset\n"                       # 7
            b"2026-11-02T00:00:04.000Z last\n")                             # 8
    report = LoadReport()
    df = cwl.logs_from_export_file(data, file="f.gz", log_group="g", log_stream="s", report=report)
    assert [(b.line, b.reason) for b in report.bad] == [
        (1, "continuation line before the first event"),
        (4, "undecodable bytes (not UTF-8)"),
        (5, "unparseable timestamp '2026-02-30T00:00:02.000Z'"),
        (6, "continuation of bad record at line 5"),
    ]
    assert report.bad[1].content == "\\xff\\xfe\x00garbage\\x80"
    assert all(b.file == "f.gz" for b in report.bad)
    assert df["message"].to_list() == ['{"status": 200, "latency_ms": 5}', '{"status": 500, "latency_ms"',
                                       "offset", "last"]
    assert df["timestamp"][2] == _ms(2026, 11, 1, 23, 0, 3, 0)


def test_export_file_empty_and_no_trailing_newline() -> None:
    report = LoadReport()
    assert cwl.logs_from_export_file(b"", file="e", log_group="g", log_stream="s", report=report).is_empty()
    df = cwl.logs_from_export_file(b"2026-11-02T00:00:00.000Z x", file="e", log_group="g", log_stream="s",
                                   report=report)
    assert df["message"].to_list() == ["x"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=12))
def test_split_lines_matches_bytes_split(chunks: list[bytes]) -> None:
    data = b"\n".join(chunks)
    lines, lossy = cwl._split_lines(data)
    expected = data.split(b"\n")
    if data.endswith(b"\n"):
        expected.pop()
    if data == b"":
        expected = []
    want = [e.removesuffix(b"\r").decode("utf-8", errors="replace") for e in expected]
    assert lines.to_list() == want


_GOOD = [
    b"2026-11-02T00:00:00.123Z {\"status\": 201, \"latency_ms\": 12.5, \"service\": \"ticket-api\"}",
    b"2026-11-02T00:00:01.000Z plain text line",
    b"2026-11-02T00:00:02.000Z ERROR boom",
    b"  at frame 1",
    b"2026-11-02T00:00:03.000Z {\"event\": \"ticket_created\", \"ticket_id\": \"T1\"}",
]


@st.composite
def _corrupted_export(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.sampled_from(_GOOD), min_size=1, max_size=15))
    data = bytearray(b"\n".join(lines) + b"\n")
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=6))
        elif action == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 8))]
        else:
            del data[pos:]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_corrupted_export())
def test_corrupted_export_never_loses_a_line(data: bytes) -> None:
    report = LoadReport()
    try:
        df = cwl.logs_from_export_file(data, file="c.gz", log_group="g", log_stream="s", report=report)
    except SloAnalysisError:
        return
    frames.validate(df, "logs")
    data = data.removeprefix(b"\xef\xbb\xbf")  # a BOM is not a line (a file of only a BOM has none)
    n_lines = len(data.split(b"\n")) - (1 if data.endswith(b"\n") else 0) if data else 0
    bad_lines = [b.line for b in report.bad]
    assert len(set(bad_lines)) == len(bad_lines)
    assert all(line is not None and 1 <= line <= n_lines for line in bad_lines)
    # every line is a loaded event's first line, one of its continuation lines, or a bad record
    in_events = sum(m.count("\n") + 1 for m in df["message"].to_list())
    assert in_events + len(bad_lines) == n_lines


def test_export_fast_path_scales_without_python_loops() -> None:
    line = b'2026-11-02T00:00:00.123Z {"status": 200, "latency_ms": 1.0}\n'
    report = LoadReport()
    df = cwl.logs_from_export_file(line * 50_000, file="big", log_group="g", log_stream="s", report=report)
    assert df.height == 50_000 and report.bad == []


def test_export_tasks_and_locate(tmp_path: Path) -> None:
    doc = {"exportTasks": [{"taskId": "t-1", "taskName": "n", "logGroupName": "/aws/lambda/fn", "from": 1,
                            "to": 2, "destination": "b", "destinationPrefix": "exp",
                            "status": {"code": "COMPLETED"}}]}
    assert cwl.looks_like_export_tasks(doc)
    tasks = cwl.export_task_log_groups(doc, file="d.json")
    assert tasks == {"t-1": "/aws/lambda/fn"}
    p = tmp_path / "logs" / "export" / "exp" / "t-1" / "2026" / "11" / "02" / "[$LATEST]ab12" / "000000.gz"
    assert cwl.locate_export_object(p, tasks) == ("/aws/lambda/fn", "2026/11/02/[$LATEST]ab12")
    assert cwl.locate_export_object(tmp_path / "t-1" / "000000.gz", tasks) is None
    assert cwl.locate_export_object(tmp_path / "t-2" / "s" / "000000.gz", tasks) is None
    with pytest.raises(InputError, match="logGroupName"):
        cwl.export_task_log_groups({"exportTasks": [{"taskId": "x"}]}, file="d.json")


# ---------------------------------------------------------------------------------------------
# Insights, FilterLogEvents, GetLogEvents fixtures


def test_insights_results_fixture_needs_a_log_group() -> None:
    doc = _load("get-query-results.output1.json")
    assert cwl.looks_like_insights_results(doc)
    with pytest.raises(InputError, match="pass the StartQuery request or --log-group") as exc:
        cwl.logs_from_insights_results(doc, file="q.json", report=LoadReport())
    assert exc.value.file == "q.json"
    report = LoadReport()
    df = cwl.logs_from_insights_results(doc, file="q.json", log_group="testNHT", report=report)
    frames.validate(df, "logs")
    assert df["timestamp"].to_list() == [_ms(2024, 5, 19, 6, 10, 35, 743), _ms(2024, 5, 19, 6, 10, 27, 559),
                                         _ms(2024, 5, 19, 6, 10, 16, 682)]
    assert df["message"].to_list() == ["Test BENCHMARK 3", "Test BENCHMARK 2", "Test BENCHMARK 1"]
    assert set(df["log_stream"]) == {"TestStream"} and set(df["log_group"]) == {"testNHT"}
    assert report.rows == {"logs": 3}


def test_insights_log_field_and_bad_rows() -> None:
    def row(**fields: str) -> list[dict[str, str]]:
        return [{"field": k, "value": v} for k, v in fields.items()]
    doc = {"status": "Complete", "results": [
        [{"field": "@timestamp", "value": "2026-11-02 00:00:01.500"}, {"field": "@message", "value": "m"},
         {"field": "@log", "value": "123456789012:/ecs/ticket-api"}, {"field": "@logStream", "value": "s1"}],
        [{"field": "@timestamp", "value": "yesterday"}, {"field": "@message", "value": "m2"},
         {"field": "@log", "value": "123456789012:/ecs/ticket-api"}],
        [{"field": "@message", "value": "no timestamp"}],
    ]}
    report = LoadReport()
    df = cwl.logs_from_insights_results(doc, file="q.json", report=report)
    assert df.rows() == [(_ms(2026, 11, 2, 0, 0, 1, 500), "/ecs/ticket-api", "s1", "m", 0)]
    assert [(b.line, b.reason) for b in report.bad] == [
        (3, "Insights row without @timestamp or @message"), (2, "unparseable @timestamp 'yesterday'")]


def test_insights_aggregate_is_skipped() -> None:
    doc = {"status": "Complete", "statistics": {}, "results": [
        [{"field": "bin(1m)", "value": "2026-11-02 00:00:00.000"}, {"field": "count()", "value": "42"}]]}
    report = LoadReport()
    df = cwl.logs_from_insights_results(doc, file="agg.json", report=report)
    assert df.is_empty() and df.schema == frames.empty("logs").schema
    assert report.skipped == [("agg.json", "aggregate Insights result (bin(1m), count()); kept raw only")]


def test_start_query_log_groups() -> None:
    assert not cwl.looks_like_start_query(_load("start-query.output1.json"))  # the response, not the request
    req = {"logGroupNames": ["/a", "/b"], "queryString": "fields @timestamp", "startTime": 1, "endTime": 2}
    assert cwl.looks_like_start_query(req)
    assert cwl.insights_query_log_groups(req) == ["/a", "/b"]
    assert cwl.insights_query_log_groups({"logGroupName": "/c", "queryString": "q"}) == ["/c"]
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/ticket-api:*"
    assert cwl.insights_query_log_groups({"logGroupIdentifiers": [arn, "/d"], "queryString": "q"}) == [
        "/ecs/ticket-api", "/d"]


def test_filter_log_events_fixture() -> None:
    doc = _load("filter-log-events.output1.json")
    assert cwl.looks_like_log_events(doc)
    report = LoadReport()
    df = cwl.logs_from_events(doc, file="f.json", log_group="/test", report=report)
    frames.validate(df, "logs")
    assert df.rows() == [
        (datetime.fromtimestamp(1712567843.827, tz=UTC), "/test", "teststream", "Test MESSAGE1", 0),
        (datetime.fromtimestamp(1712568068.991, tz=UTC), "/test", "2024/05/09/[$LATEST]abc1024", "Test MESSAGE2", 0),
    ]


def test_get_log_events_fixture_needs_a_stream() -> None:
    doc = _load("get-log-events.output1.json")
    assert cwl.looks_like_log_events(doc)
    with pytest.raises(InputError, match="log_stream"):
        cwl.logs_from_events(doc, file="g.json", log_group="/test", report=LoadReport())
    df = cwl.logs_from_events(doc, file="g.json", log_group="/test", log_stream="s", report=LoadReport())
    assert df["message"].to_list() == ["Example Event 1", "Example Event 1", "Example Event 2"]
    # AWS's own example holds two identical events: two events, told apart by their occurrence
    assert df["occurrence"].to_list() == [0, 1, 0]
    assert df["timestamp"][2] == _ms(2015, 6, 1, 20, 23, 4, 358)
    assert df["timestamp"].dtype == frames.UTC_MS


def test_predicates_reject_other_fixtures() -> None:
    for name in ("describe-log-groups.output1.json", "describe-queries.output1.json",
                 "start-query.output1.json", "get-log-record.output1.json"):
        doc = _load(name)
        assert not cwl.looks_like_insights_results(doc), name
        assert not cwl.looks_like_log_events(doc), name
        assert not cwl.looks_like_export_tasks(doc), name
    assert cwl.looks_like_export_lines(b"2026-11-02T00:00:00.123Z {\"a\": 1}\n")
    assert not cwl.looks_like_export_lines(b'{"events": []}')
    assert not cwl.looks_like_export_lines(b"")


def test_parse_json_fields() -> None:
    logs = frames.conform(pl.DataFrame({
        "timestamp": [_ms(2026, 11, 2, 0, 0, 0, 0)] * 4, "log_group": ["g"] * 4, "log_stream": ["s"] * 4,
        "message": ['{"status": 201, "message": "hi", "x": {"y": 1}}', "plain", '{"status": 50',
                    '{"status": 404}'],
    }), "logs")
    out = cwl.parse_json_fields(logs)
    assert out.columns[:5] == logs.columns
    assert out["status"].to_list() == [201, None, None, 404]
    assert out["json_message"].to_list() == ["hi", None, None, None]
    assert out["x"].to_list() == ['{"y": 1}', None, None, None]
    picked = cwl.parse_json_fields(logs, ["status", "x"])
    assert picked["status"].to_list() == ["201", None, None, "404"]
    assert picked["x"].to_list() == ['{"y": 1}', None, None, None]
    mixed = logs.with_columns(pl.Series("message", ['{"v": 1}', '{"v": "a"}', '{"v": true}', "{}"]))
    assert cwl.parse_json_fields(mixed)["v"].to_list() == ["1", "a", "true", None]


# ---------------------------------------------------------------------------------------------
# bench scaffolding


def _synthetic_export(path: Path, n: int, seed: int) -> int:
    rnd = random.Random(seed)
    lines, requests = [], 0
    for i in range(n):
        ts = f"2026-11-02T00:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z"
        r = rnd.random()
        if r < 0.8:
            requests += 1
            lines.append(ts + " " + json.dumps({"ts": ts, "service": "ticket-api", "operation": "GetTicket",
                                                "status": rnd.choice([200, 503]), "latency_ms": rnd.random() * 100,
                                                "customer_tier": "pro", "region": "eu-west-1"}))
        elif r < 0.9:
            lines.append(ts + " plain text")
        else:
            lines += [ts + " ERROR boom", "  at frame"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return requests


def test_bench_functions_agree(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_load_logs as b
    finally:
        sys.path.remove(str(BENCH))
    p1 = tmp_path / "exp" / "t-1" / "stream-a" / "000000.gz"
    p2 = tmp_path / "exp" / "t-1" / "stream-b" / "000000.gz"
    want = _synthetic_export(p1, 3000, 1) + _synthetic_export(p2, 2000, 2)
    paths = [str(p1), str(p2)]
    assert b.floor_ndjson(paths) == want
    assert b.pandas_baseline(paths) == want
    assert b.ours(paths) == want


def test_with_line_numbers_each_event_by_where_it_starts() -> None:
    data = (b"  orphan\n"
            b"2026-11-02T00:00:00.000Z a\n"
            b"  at frame\n"
            b"2026-11-02T00:00:00.000Z a\n"
            b"2026-11-02T00:00:01.000Z b\n")
    report = LoadReport()
    df = cwl.logs_from_export_file(data, file="f", log_group="g", log_stream="s", report=report, with_line=True)
    assert df.select("message", "line", "occurrence").rows() == [("a\n  at frame", 2, 0), ("a", 4, 0), ("b", 5, 0)]
    plain = cwl.logs_from_export_file(data[9:], file="f", log_group="g", log_stream="s", report=report)
    assert plain.columns == list(frames.schema("logs").columns)
    fast = cwl.logs_from_export_file(b"2026-11-02T00:00:00.000Z x\n" * 3, file="f", log_group="g",
                                     log_stream="s", report=report, with_line=True)
    assert fast.select("line", "occurrence").rows() == [(1, 0), (2, 1), (3, 2)]
    empty = cwl.logs_from_export_file(b"", file="f", log_group="g", log_stream="s", report=report, with_line=True)
    assert empty.columns == [*frames.schema("logs").columns, "line"]

    doc = {"status": "Complete", "results": [
        [{"field": "@message", "value": "no timestamp"}],
        [{"field": "@timestamp", "value": "2026-11-02 00:00:01.500"}, {"field": "@message", "value": "m"},
         {"field": "@log", "value": "123456789012:/ecs/ticket-api"}]]}
    rows = cwl.logs_from_insights_results(doc, file="q.json", report=report, with_line=True)
    assert rows.select("message", "line").rows() == [("m", 2)]
    events = {"events": [{"message": "no timestamp"}, {"timestamp": 1, "message": "e", "logStreamName": "s"}]}
    got = cwl.logs_from_events(events, file="e.json", log_group="g", report=report, with_line=True)
    assert got.select("message", "line").rows() == [("e", 2)]
