from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from corrupt import corrupted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_analysis import frames
from slo_analysis.exceptions import FrameValidationError, InputError, MissingKeyError, SloAnalysisError
from slo_analysis.sources import xray
from slo_analysis.sources._io import LoadReport

AWS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "aws"
DEVGUIDE = AWS / "xray-devguide"
SEGMENTS = AWS / "xray-segments"


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _by_id(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["span_id"]: r for r in df.iter_rows(named=True)}


# ---------------------------------------------------------------------------------------------
# BatchGetTraces


def test_cli_batch_traces_get() -> None:
    doc = _json(AWS / "cli-examples" / "xray" / "batch-traces-get.output1.json")
    assert xray.looks_like_batch_get_traces(doc)
    report = LoadReport()
    spans = xray.spans_from_batch_get_traces(doc, file="b.json", report=report)
    frames.validate(spans, "spans")
    rows = _by_id(spans)
    assert set(rows) == {"54aff5735b12dd28", "2d6900034ccfe558", "0f278b6334c34e6b"}
    seg = rows["54aff5735b12dd28"]
    assert (seg["kind"], seg["service"], seg["parent_id"], seg["origin"]) == (
        "segment", "Scorekeep", None, "AWS::ElasticBeanstalk::Environment")
    assert seg["start"] == _ms(1568835610432) and seg["end"] == _ms(1568835610664)
    assert seg["duration_ms"] == 232.0
    assert (seg["http_method"], seg["http_status"]) == ("POST", 200)
    assert seg["http_url"].endswith("elasticbeanstalk.com/api/user")
    sub = rows["2d6900034ccfe558"]
    assert (sub["kind"], sub["service"], sub["parent_id"], sub["namespace"], sub["aws_operation"]) == (
        "subsegment", "Scorekeep", "54aff5735b12dd28", "aws", "UpdateItem")
    inferred = rows["0f278b6334c34e6b"]
    assert (inferred["kind"], inferred["service"], inferred["parent_id"], inferred["origin"]) == (
        "segment", "DynamoDB", "2d6900034ccfe558", "AWS::DynamoDB::Table")
    assert not any(spans["fault"]) and not any(spans["in_progress"])
    assert set(spans["trace_id"]) == {"1-5d82881a-0a9126e92a73e971eed891b9"}
    assert report.rows == {"spans": 3} and report.skipped == []


def test_devguide_batch_get_traces() -> None:
    doc = _json(DEVGUIDE / "BatchGetTraces.output.json")
    spans = xray.spans_from_batch_get_traces(doc, file="b.json")
    frames.validate(spans, "spans")
    assert spans.height == 11
    rows = _by_id(spans)
    # nested two levels deep: Scorekeep > ## UserModel.saveUser > DynamoDB
    assert rows["071684f2e555e571"]["parent_id"] == "194fcc8747581230"
    ddb = rows["4cd3f10b76c624b4"]
    assert (ddb["parent_id"], ddb["service"], ddb["aws_operation"], ddb["http_status"]) == (
        "071684f2e555e571", "Scorekeep", "UpdateItem", 200)
    assert ddb["start"] == _ms(1499473414690) and ddb["end"] == _ms(1499473414769)
    # the Lambda function segment's subsegments inherit its name as service
    ann = rows["e6d2fe619f827804"]
    assert ann["service"] == "random-name" and ann["parent_id"] == "00f91aa01f4984fd"
    assert ann["annotations"] == [{"key": "Name", "value": "Ola"}, {"key": "UserID", "value": "5M388M1E"}]
    assert rows["b29b548af4d54a0f"]["aws_operation"] == "Publish"
    assert rows["1fb07842d944e714"]["origin"] == "AWS::Lambda"
    assert rows["1fb07842d944e714"]["parent_id"] == "0c544c1b1bbff948"
    assert spans.filter(pl.col("kind") == "segment").height == 5


def test_batch_get_traces_bad_document_names_trace_and_segment() -> None:
    doc = {"Traces": [{"Id": "1-aaaaaaaa-bbbb", "Segments": [{"Id": "seg1", "Document": '{"id": "seg1", "na'}]}]}
    with pytest.raises(InputError, match=r"trace 1-aaaaaaaa-bbbb segment seg1: Document is not valid JSON") as exc:
        xray.spans_from_batch_get_traces(doc, file="t.json")
    assert exc.value.file == "t.json"


def test_batch_get_traces_unprocessed_and_limit_exceeded() -> None:
    doc = {"Traces": [{"Id": "1-5d82881a-0a9126e92a73e971eed891b9", "LimitExceeded": True, "Segments": []}],
           "UnprocessedTraceIds": ["1-00000000-000000000000000000000000"]}
    report = LoadReport()
    spans = xray.spans_from_batch_get_traces(doc, file="t.json", report=report)
    assert spans.is_empty() and spans.schema == frames.empty("spans").schema
    assert report.skipped == [
        ("t.json", "trace 1-5d82881a-0a9126e92a73e971eed891b9: LimitExceeded, X-Ray returned only part of it"),
        ("t.json", "unprocessed trace id 1-00000000-000000000000000000000000")]


_BGT = _json(DEVGUIDE / "BatchGetTraces.output.json")
_INNER = json.loads(_BGT["Traces"][0]["Segments"][1]["Document"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted(_BGT))
def test_corrupted_batch_get_traces_raises_only_our_errors(doc: Any) -> None:
    with contextlib.suppress(SloAnalysisError):
        frames.validate(xray.spans_from_batch_get_traces(doc, file="c.json", report=LoadReport()), "spans")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted(_INNER), st.integers(0, 40))
def test_corrupted_segment_documents_raise_only_our_errors(inner: Any, cut: int) -> None:
    text = json.dumps(inner)
    text = text[: len(text) - cut] if cut % 3 == 0 else text  # sometimes truncated JSON too
    doc = {"Traces": [{"Id": "1-59602603-23fc5b688855d396af79b496", "Segments": [{"Id": "x", "Document": text}]}]}
    with contextlib.suppress(SloAnalysisError):
        frames.validate(xray.spans_from_batch_get_traces(doc, file="c.json"), "spans")
    with contextlib.suppress(SloAnalysisError):
        frames.validate(xray.spans_from_segment_documents([inner], file="c.json"), "spans")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted(_json(DEVGUIDE / "GetTraceSummaries.output.json")),
       corrupted(_json(DEVGUIDE / "GetServiceGraph.output.json")))
def test_corrupted_summaries_and_graph_raise_only_our_errors(summaries: Any, graph: Any) -> None:
    with contextlib.suppress(SloAnalysisError):
        xray.trace_summaries(summaries, file="s.json")
    with contextlib.suppress(SloAnalysisError):
        xray.service_graph_edges(graph, file="g.json")
    with contextlib.suppress(SloAnalysisError):
        xray.service_graph_edges_from_pages([("g.json", graph)])


# ---------------------------------------------------------------------------------------------
# raw segment documents


def test_ddb_sample() -> None:
    doc = _json(SEGMENTS / "ddbSample.txt")
    assert xray.looks_like_segment_document(doc)
    spans = xray.spans_from_segment_documents([doc], file="ddbSample.txt")
    frames.validate(spans, "spans")
    rows = _by_id(spans)
    seg = rows["88ad1df59cd7a7be"]
    assert (seg["kind"], seg["service"], seg["name"], seg["fault"], seg["error"], seg["throttle"]) == (
        "segment", "DDB", "DDB", True, False, False)
    assert seg["cause"] == ("dynamodb.ResourceNotFoundException: "
                            "ResourceNotFoundException: Requested resource not found")
    assert seg["start"] == _ms(1596566305535) and seg["end"] == _ms(1596566305592)
    assert seg["duration_ms"] == pytest.approx(57.4405, abs=1e-3)
    describe = rows["7318c46a385557f5"]
    assert (describe["name"], describe["aws_operation"], describe["parent_id"], describe["namespace"]) == (
        "dynamodb", "DescribeTable", "7df694142c905d8d", "aws")
    assert (describe["service"], describe["http_status"], describe["fault"]) == ("DDB", 200, False)
    put = rows["71631df3f58bdfc5"]
    assert put["fault"] and put["cause"].startswith("dynamodb.ResourceNotFoundException")
    assert rows["7df694142c905d8d"]["annotations"] == [
        {"key": "DDB.DescribeExistingTableAndPutToMissingTable.Annotation", "value": "anno"}]
    assert rows["0cab02b318413eb1"]["parent_id"] == "417b81b977b9563b"  # dns, four levels down
    assert set(spans["service"]) == {"DDB"}
    assert spans.filter(pl.col("kind") == "segment").height == 1


def test_server_sample_and_aws_fields() -> None:
    for name in ("serverSample.txt", "awsValidAwsFields.txt"):
        spans = xray.spans_from_segment_documents([_json(SEGMENTS / name)], file=name)
        assert spans.height == 1
        row = spans.row(0, named=True)
        assert (row["trace_id"], row["span_id"], row["service"], row["kind"]) == (
            "1-5f2aebcc-b475d14618c51eaa28753d37", "bda182a644eee9b3", "SampleServer", "segment")
        assert (row["http_method"], row["http_url"], row["http_status"]) == ("GET", "http://localhost:8000/", 200)
        assert row["start"] == _ms(1596648396639) and row["end"] == _ms(1596648396640)
        assert row["duration_ms"] == pytest.approx(0.194, abs=1e-3)


def test_in_progress_has_no_end() -> None:
    row = xray.spans_from_segment_documents([_json(SEGMENTS / "minInProgress.txt")], file="p").row(0, named=True)
    assert row["in_progress"] is True and row["end"] is None and row["duration_ms"] is None
    assert row["start"] == _ms(1595437651680)
    block2 = xray.spans_from_segment_documents([_json(DEVGUIDE / "xray-api-segmentdocuments_block2.json")],
                                               file="b2").row(0, named=True)
    assert block2["in_progress"] and block2["end"] is None and block2["start"] == _ms(1478293361271)


def test_cause_is_exception_id_and_other_fields() -> None:
    cause = xray.spans_from_segment_documents([_json(SEGMENTS / "minCauseIsExceptionId.txt")], file="c")
    assert cause.row(0, named=True)["cause"] == "abcdefghijklmnop" and cause["fault"][0]
    other = xray.spans_from_segment_documents([_json(SEGMENTS / "minOtherFields.txt")], file="o").row(0, named=True)
    assert (other["throttle"], other["error"], other["fault"], other["origin"]) == (True, False, False,
                                                                                   "AWS::EC2::Instance")
    assert (other["kind"], other["parent_id"], other["service"]) == ("subsegment", "defdfd9912dc5a56",
                                                                     "OtherTopLevelFields")


def test_independent_subsegments() -> None:
    spans = xray.spans_from_segment_documents([_json(SEGMENTS / "indepSubsegment.txt"),
                                               _json(SEGMENTS / "indepSubsegmentWithSql.txt")], file="i")
    a, b = spans.iter_rows(named=True)
    assert (a["kind"], a["parent_id"], a["namespace"], a["http_method"], a["http_status"]) == (
        "subsegment", "defdfd9912dc5a56", "remote", "POST", 200)
    assert b["sql_query"] == "SELECT  *  FROM  customers  WHERE  customer_id=?;"
    assert b["start"] == _ms(1484872218696) and b["duration_ms"] == pytest.approx(1.0)
    # with its parent segment in the same input, a subsegment takes the segment's service
    parent = {"trace_id": "1-581cf771-a006649127e371903a2de979", "id": "defdfd9912dc5a56",
              "name": "www.example.com", "start_time": 1478293361.0, "end_time": 1478293362.0}
    joined = xray.spans_from_segment_documents([parent, _json(SEGMENTS / "indepSubsegment.txt")], file="j")
    assert joined["service"].to_list() == ["www.example.com", "www.example.com"]


def test_segment_validation_failed_names_file_and_key() -> None:
    doc = _json(SEGMENTS / "segmentValidationFailed.txt")
    assert xray.looks_like_segment_document(doc)
    with pytest.raises(MissingKeyError) as exc:
        xray.spans_from_segment_documents([doc], file="segmentValidationFailed.txt")
    assert exc.value.key == "start_time" and exc.value.file == "segmentValidationFailed.txt"
    with pytest.raises(MissingKeyError, match="end_time"):
        xray.spans_from_segment_documents([{"trace_id": "t", "id": "i", "name": "n", "start_time": 1.0}], file="f")


@pytest.mark.parametrize("block", ["block0", "block1", "block2", "block5", "block6", "block8", "block11"])
def test_devguide_segment_document_blocks(block: str) -> None:
    doc = _json(DEVGUIDE / f"xray-api-segmentdocuments_{block}.json")
    assert xray.looks_like_segment_document(doc)
    if "trace_id" not in doc:  # subsegment fragments shown on their own in the guide
        with pytest.raises(MissingKeyError, match="trace_id"):
            xray.spans_from_segment_documents([doc], file=block)
        spans = xray.spans_from_segment_documents([doc], file=block, trace_id="1-581cf771-a006649127e371903a2de979")
    else:
        spans = xray.spans_from_segment_documents([doc], file=block)
    frames.validate(spans, "spans")
    first = spans.row(0, named=True)
    assert first["span_id"] == doc["id"] and first["start"] == _ms(round(doc["start_time"] * 1000))
    expected = {
        "block0": ("example.com", None, None),
        "block1": ("www.example.com", 200, None),
        "block2": ("example.com", None, None),
        "block5": ("names.example.com", 200, None),
        "block6": ("names.example.com", 200, None),
        "block8": ("## UserModel.saveUser", None, None),
        "block11": ("ebdb@aawijb5u25wdoy.cpamxznpdoq8.us-west-2.rds.amazonaws.com", None,
                    "SELECT  *  FROM  customers  WHERE  customer_id=?;"),
    }[block]
    assert (first["name"], first["http_status"], first["sql_query"]) == expected
    if block == "block1":
        sub = spans.row(1, named=True)
        assert (sub["parent_id"], sub["service"], sub["namespace"], sub["http_method"]) == (
            "defdfd9912dc5a56", "www.example.com", "remote", "POST")
    if block == "block8":
        assert spans.row(1, named=True)["aws_operation"] == "UpdateItem"
    if block == "block6":
        assert first["parent_id"] == "004f72be19cddc2a"


def test_sending_data_blocks() -> None:
    doc = _json(DEVGUIDE / "xray-api-sendingdata_block0.json")
    spans = xray.spans_from_segment_documents([doc], file="s0")
    assert spans.row(0)[:4] == ("1-581cf771-a006649127e371903a2de979", "70de5b6f19ff9a0a", None, "Scorekeep")
    assert not xray.looks_like_segment_document(_json(DEVGUIDE / "xray-api-sendingdata_block6.json"))


# ---------------------------------------------------------------------------------------------
# GetTraceSummaries, GetServiceGraph


def test_trace_summaries() -> None:
    doc = _json(DEVGUIDE / "GetTraceSummaries.output.json")
    assert xray.looks_like_trace_summaries(doc)
    df = xray.trace_summaries(doc, file="s.json")
    assert df.schema == xray.TRACE_SUMMARY_SCHEMA
    a, b = df.iter_rows(named=True)
    assert a["trace_id"] == "1-59602606-a43a1ac52fc7ee0eea12a82c"
    assert a["start"] == datetime.fromtimestamp(0x59602606, tz=UTC)
    assert (a["duration_ms"], a["response_time_ms"], a["http_status"], a["http_method"]) == (84.0, 84.0, 200, "POST")
    assert a["http_url"] == "http://scorekeep.elasticbeanstalk.com/api/session"
    assert (a["has_fault"], a["has_error"], a["has_throttle"], a["annotations"], a["users"]) == (
        False, False, False, [], [])
    assert b["annotations"] == [{"key": "Name", "value": "Ola"}, {"key": "UserID", "value": "5M388M1E"}]
    assert b["users"] == ["5M388M1E"] and b["duration_ms"] == 3232.0
    with_start = {"TraceSummaries": [{"Id": "1-59602606-x", "StartTime": 1499473305.5, "HasFault": True,
                                      "EntryPoint": {"Name": "ticket-api", "Type": "AWS::ECS::Container"},
                                      "Annotations": {"n": [{"AnnotationValue": {"NumberValue": 3.0}}]}}]}
    row = xray.trace_summaries(with_start, file="s").row(0, named=True)
    assert row["start"] == datetime(2017, 7, 8, 0, 21, 45, 500000, tzinfo=UTC)
    assert (row["has_fault"], row["entry_point"], row["entry_point_type"]) == (True, "ticket-api",
                                                                               "AWS::ECS::Container")
    assert row["annotations"] == [{"key": "n", "value": "3.0"}]


def test_service_graph_edges() -> None:
    doc = _json(DEVGUIDE / "GetServiceGraph.output.json")
    assert xray.looks_like_service_graph(doc)
    df = xray.service_graph_edges(doc, file="g.json")
    assert df.schema == xray.SERVICE_EDGE_SCHEMA
    assert df.select("source_type", "target", "target_type").rows() == [
        ("client", "xray-sample.elasticbeanstalk.com", "AWS::EC2::Instance"),
        ("AWS::EC2::Instance", "awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA", "AWS::DynamoDB::Table"),
        ("AWS::EC2::Instance", "SNS", "AWS::SNS"),
    ]
    first = df.row(0, named=True)
    assert (first["ok_count"], first["error_count"], first["throttle_count"], first["fault_count"],
            first["total_count"], first["total_response_time_ms"]) == (3, 1, 0, 0, 4, 273.0)
    assert first["start"] == datetime(2018, 6, 6, 20, 39, 27, tzinfo=UTC)
    assert first["end"] == datetime(2018, 6, 6, 20, 39, 49, tzinfo=UTC)
    # latency: 273 ms over 4 requests; histogram 5, 15, 96, 157 ms -> nearest ranks 2, 4, 4
    assert (first["mean_response_time_ms"], first["p50_response_time_ms"], first["p90_response_time_ms"],
            first["p99_response_time_ms"]) == (68.25, 15.0, 157.0, 157.0)
    assert first["window_start"] is None  # this sample response has no top-level StartTime
    assert xray.validate_service_edges(df) is df


def _split_graph(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The fixture graph as two pages of a paginated response, with the window GetServiceGraph returns."""
    window = {"StartTime": 1528317560.0, "EndTime": 1528317600.0}
    services = doc["Services"]
    return [("p0", {**window, "Services": services[:2], "NextToken": "n1"}),
            ("p1", {**window, "Services": services[2:]})]


def test_service_graph_pages_resolve_targets_on_other_pages() -> None:
    pages = _split_graph(_json(DEVGUIDE / "GetServiceGraph.output.json"))
    alone = pl.concat([xray.service_graph_edges(doc, file=name) for name, doc in pages])
    assert alone["target"].to_list() == [None, None, "SNS"]  # page by page, two targets are elsewhere
    df = xray.service_graph_edges_from_pages(pages)
    assert df.schema == xray.SERVICE_EDGE_SCHEMA
    assert df.select("source", "target").rows() == [
        ("xray-sample.elasticbeanstalk.com", "xray-sample.elasticbeanstalk.com"),
        ("xray-sample.elasticbeanstalk.com", "awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA"),
        ("xray-sample.elasticbeanstalk.com", "SNS"),
    ]
    assert df["window_start"].unique().to_list() == [datetime(2018, 6, 6, 20, 39, 20, tzinfo=UTC)]
    assert df["window_end"].unique().to_list() == [datetime(2018, 6, 6, 20, 40, tzinfo=UTC)]
    assert df["total_count"].to_list() == [4, 2, 2]
    assert xray.service_graph_edges_from_pages([]).height == 0


def test_service_graph_pages_of_different_graphs_are_refused() -> None:
    (n0, p0), (n1, p1) = _split_graph(_json(DEVGUIDE / "GetServiceGraph.output.json"))
    other = {**p1, "Services": [{**p1["Services"][0], "ReferenceId": 0, "Name": "kb-search"}]}
    with pytest.raises(InputError, match="p1: ReferenceId 0 is 'kb-search' here"):
        xray.service_graph_edges_from_pages([(n0, p0), ("p1", other)])


@pytest.mark.parametrize(("entry", "key"), [({"Value": -0.1, "Count": 1}, "Value"),
                                            ({"Value": 0.1, "Count": 1.5}, "Count"),
                                            ({"Count": 1}, "Value")])
def test_service_graph_bad_histogram_entry_names_file_and_key(entry: dict[str, Any], key: str) -> None:
    doc = _json(DEVGUIDE / "GetServiceGraph.output.json")
    doc["Services"][0]["Edges"][0]["ResponseTimeHistogram"][1] = entry
    with pytest.raises(InputError) as info:
        xray.service_graph_edges(doc, file="g.json")
    assert info.value.file == "g.json" and info.value.key == key
    assert "Services[0].Edges[0].ResponseTimeHistogram[1]" in str(info.value)


def test_validate_service_edges_names_the_column() -> None:
    df = xray.service_graph_edges(_json(DEVGUIDE / "GetServiceGraph.output.json"), file="g.json")
    cases = [
        (df.drop("window_end"), "window_end", "missing"),
        (df.with_columns(pl.col("ok_count").cast(pl.Int32)), "ok_count", "expected Int64"),
        (df.with_columns(source=pl.lit(None, pl.String)), "source", r"3 null value\(s\)"),
        (df.with_columns(fault_count=pl.lit(-1, pl.Int64)), "fault_count", "negative count"),
        (df.with_columns(throttle_count=pl.col("error_count") + 1), "throttle_count", "more throttles than errors"),
        (df.with_columns(p99_response_time_ms=pl.lit(1.0)), "p99_response_time_ms", "below p90"),
    ]
    for bad, column, problem in cases:
        with pytest.raises(FrameValidationError, match=problem) as info:
            xray.validate_service_edges(bad)
        assert (info.value.frame, info.value.column) == (xray.SERVICE_EDGES_FRAME, column)


def test_predicates_on_other_fixtures() -> None:
    for name in ("GetTraceSummaries_ResponseTimeRootCause_filter_example.json",
                 "GetTraceSummaries_ResponseTimeRootCauses_section.json", "xray-api-sendingdata_block6.json"):
        doc = _json(DEVGUIDE / name)
        assert not xray.looks_like_service_graph(doc), name
        assert not xray.looks_like_batch_get_traces(doc), name
        assert not xray.looks_like_trace_summaries(doc), name
    cli_summaries = _json(AWS / "cli-examples" / "xray" / "get-trace-summaries.output1.json")  # a --query list
    assert not xray.looks_like_trace_summaries(cli_summaries)
    assert not xray.looks_like_segment_document(_json(DEVGUIDE / "GetServiceGraph.output.json"))
    assert not xray.looks_like_batch_get_traces(_json(DEVGUIDE / "GetTraceSummaries.output.json"))
