"""`slo-analysis snapshot` against a real HTTP endpoint (moto server): the snapshot holds exactly what was put.

The account is filled with plain boto3 clients (not the package's, so the least-privilege test does not
record these writes). moto has no percentiles (Latency is asked as Average and SampleCount here; the
percentile path is tested with Stubber in tests/sources), no Application Signals and no CloudTrail
LookupEvents worth the name, so those sources are left out of the CLI runs (the SLO sources run through
``take_snapshot`` with a Stubber below), and X-Ray is asked without a filter expression (moto answers
"not implemented" to one; filters are tested with Stubber). moto does not implement
DescribeAlarmHistory either: every CLI run here reports that one source, by its operation, and exits 1.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import polars as pl
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from typer.testing import CliRunner

from slo_analysis import cli, frames
from slo_analysis.cli import app
from slo_analysis.exceptions import SloAnalysisError
from slo_analysis.sources import application_signals_fetch as asf
from slo_analysis.sources import aws
from slo_analysis.sources import cloudwatch_metrics_fetch as cwf
from slo_analysis.sources.aws import AwsSettings
from slo_analysis.store import Snapshot
from slo_analysis.store.live_snapshot import (
    SnapshotRequest,
    describe_failure,
    live_fetchers,
    parse_step,
    take_snapshot,
)

# Recent data: CodeDeploy stamps deployments with the real clock, and the window must hold them.
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=40)
SERVICE = "ticket-api-live"
GROUP = "/ecs/prod/ticket-api-live"
DIMS = f"Environment=prod,Operation=CreateTicket,Service={SERVICE}"
# Distinctive fake credentials: any trace of them in a snapshot, a log record or the output is a leak.
ACCESS_KEY = "AKIASLOANALYSISLEAK7"
SECRET_KEY = "sEcReT/slo-analysis+never-stored/0123456789"
SESSION_TOKEN = "SeSsIoN-TOKEN-slo-analysis-never-stored-9876"
UNSUPPORTED = "alarm-history: DescribeAlarmHistory is not supported by this endpoint (HTTP 500)"


def _clients(endpoint: str) -> dict[str, Any]:
    kw = {"endpoint_url": endpoint, "region_name": "eu-west-1", "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}
    return {name: boto3.client(name, **kw) for name in ("cloudwatch", "logs", "xray", "codedeploy", "iam", "lambda")}


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buf.getvalue()


@pytest.fixture(scope="module")
def account(moto_endpoint: str) -> dict[str, Any]:
    c = _clients(moto_endpoint)
    dims = [{"Name": "Environment", "Value": "prod"}, {"Name": "Operation", "Value": "CreateTicket"},
            {"Name": "Service", "Value": SERVICE}]
    latency = [(T0 + timedelta(minutes=i), 100.0 + 7 * i) for i in range(20)]
    faults = [(T0 + timedelta(minutes=i), float(i % 3 == 0)) for i in range(20)]
    for (ts, value), (_, fault) in zip(latency, faults, strict=True):
        c["cloudwatch"].put_metric_data(Namespace="ApplicationSignals", MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": ts, "Value": value, "Unit": "Milliseconds"},
            {"MetricName": "Fault", "Dimensions": dims, "Timestamp": ts, "Value": fault, "Unit": "Count"}])
    c["logs"].create_log_group(logGroupName=GROUP)
    c["logs"].create_log_stream(logGroupName=GROUP, logStreamName="ecs/ticket-api/1")
    events, requests = [], []
    for i in range(50):
        ts = T0 + timedelta(seconds=20 * i)
        msg = {"ts": ts.isoformat().replace("+00:00", "Z"), "service": SERVICE, "operation": "CreateTicket",
               "request_id": f"r-{i}", "status": 504 if i % 10 == 0 else 201, "latency_ms": 100.0 + i,
               "customer_tier": "enterprise" if i % 2 else "free"}
        events.append({"timestamp": int(ts.timestamp() * 1000), "message": json.dumps(msg)})
        requests.append((ts, f"r-{i}", msg["status"], msg["latency_ms"]))
    c["logs"].put_log_events(logGroupName=GROUP, logStreamName="ecs/ticket-api/1", logEvents=events)
    traces = []
    for i in range(3):
        start = T0 + timedelta(minutes=i)
        trace_id = f"1-{int(start.timestamp()):08x}-{i:024x}"
        traces.append((trace_id, f"{i + 1:016x}", start, start + timedelta(milliseconds=250)))
        doc = {"trace_id": trace_id, "id": f"{i + 1:016x}", "name": SERVICE, "start_time": start.timestamp(),
               "end_time": start.timestamp() + 0.25, "http": {"response": {"status": 200}}}
        c["xray"].put_trace_segments(TraceSegmentDocuments=[json.dumps(doc)])
    c["cloudwatch"].put_metric_alarm(
        AlarmName=f"{SERVICE}-p99", Namespace="ApplicationSignals", MetricName="Latency", Dimensions=dims,
        ExtendedStatistic="p99", Period=60, EvaluationPeriods=3, Threshold=800.0,
        ComparisonOperator="GreaterThanThreshold")
    c["cloudwatch"].set_alarm_state(AlarmName=f"{SERVICE}-p99", StateValue="ALARM", StateReason="p99 above 800")
    c["codedeploy"].create_application(applicationName="AppECS-live", computePlatform="Server")
    c["codedeploy"].create_deployment_group(applicationName="AppECS-live", deploymentGroupName=SERVICE,
                                            serviceRoleArn="arn:aws:iam::123456789012:role/cd")
    dep_id = c["codedeploy"].create_deployment(applicationName="AppECS-live", deploymentGroupName=SERVICE,
                                               revision={"revisionType": "S3", "s3Location": {
                                                   "bucket": "b", "key": "app.zip", "bundleType": "zip"}})[
        "deploymentId"]
    deployment = c["codedeploy"].get_deployment(deploymentId=dep_id)["deploymentInfo"]  # what AWS holds
    role = c["iam"].create_role(RoleName=f"fn-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    function = f"notify-live-{uuid.uuid4().hex[:6]}"
    c["lambda"].create_function(FunctionName=function, Runtime="python3.11", Role=role, Handler="handler.handler",
                                Code={"ZipFile": _zip()}, Publish=True)
    versions = [v for v in c["lambda"].list_versions_by_function(FunctionName=function)["Versions"]
                if v["Version"] != "$LATEST"]
    return {"latency": latency, "faults": faults, "events": events, "requests": requests, "traces": traces,
            "deployment": deployment, "function": function, "versions": versions}


def _args(out: Path, endpoint: str, function: str) -> list[str]:
    return ["snapshot", "--out", str(out), "--endpoint-url", endpoint, "--region", "eu-west-1",
            "--start", (T0 - timedelta(minutes=5)).isoformat(), "--end", (T0 + timedelta(hours=1)).isoformat(),
            "--service", SERVICE, "--log-group", GROUP, "--latency-stat", "Average", "--latency-stat", "SampleCount",
            "--function", function,
            "--source", "metrics", "--source", "logs", "--source", "traces", "--source", "deployments",
            "--source", "alarms",
            "--trace-filter", ""]  # moto implements GetTraceSummaries only without a filter expression


def _run(out: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch, function: str) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return CliRunner().invoke(app, _args(out, endpoint, function))


def _ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _series(df: pl.DataFrame, metric: str, stat: str) -> list[tuple[datetime, float]]:
    rows = df.filter((pl.col("metric") == metric) & (pl.col("stat") == stat) & (pl.col("dimensions") == DIMS))
    return list(rows.sort("timestamp").select("timestamp", "value").iter_rows())


def test_snapshot_of_a_moto_account_holds_exactly_what_was_put(
        account: dict[str, Any], moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(tmp_path / "snap", moto_endpoint, monkeypatch, account["function"])
    # The one source moto lacks is named with its operation; every other one is kept; exit code 1.
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("failed")]
    assert failed == [f"failed    {UNSUPPORTED}; the other sources are kept"]
    snap = Snapshot.open(tmp_path / "snap")
    assert snap.manifest["fetch"]["failures"] == {"alarm-history": UNSUPPORTED.split(": ", 1)[1]
                                                  + "; the other sources are kept"}
    for name in frames.FRAME_NAMES:
        frames.validate(snap.read(name), name)  # the same canonical frames as the demo

    metrics = snap.read("metrics")
    assert _series(metrics, "Latency", "Average") == account["latency"]  # every (timestamp, value)
    assert _series(metrics, "Latency", "SampleCount") == [(t, 1.0) for t, _ in account["latency"]]
    assert _series(metrics, "Fault", "Sum") == account["faults"]
    assert metrics.filter(pl.col("dimensions") == DIMS)["period_s"].unique().to_list() == [60]

    logs = snap.read("logs").sort("timestamp")
    assert logs["log_group"].unique().to_list() == [GROUP]
    assert list(logs.select("timestamp", "message").iter_rows()) == [
        (datetime.fromtimestamp(e["timestamp"] / 1000, UTC), e["message"]) for e in account["events"]]
    requests = snap.read("requests").sort("timestamp")
    assert list(requests.select("timestamp", "request_id", "status_code", "latency_ms").iter_rows()) == \
        account["requests"]
    assert int(requests["fault"].sum()) == 5

    spans = snap.read("spans").filter(pl.col("service") == SERVICE).sort("start")  # the server is shared
    assert list(spans.select("trace_id", "span_id", "start", "end").iter_rows()) == account["traces"]
    assert spans["duration_ms"].to_list() == [250.0] * 3

    dep = account["deployment"]
    row = snap.read("deployments").filter(pl.col("id") == dep["deploymentId"]).row(0, named=True)
    assert (row["source"], row["service"], row["started_at"], row["finished_at"]) == (
        "codedeploy", dep["deploymentGroupName"], _ms(dep["createTime"]),
        _ms(dep["completeTime"]) if dep.get("completeTime") else None)
    assert row["status"] == {"Created": "in_progress", "Succeeded": "succeeded"}[dep["status"]]
    lam = snap.read("deployments").filter((pl.col("source") == "lambda") & (pl.col("service") == account["function"]))
    assert sorted(lam["version_to"].to_list()) == sorted(v["Version"] for v in account["versions"])

    alarm = snap.read("alarm_definitions").filter(pl.col("alarm_name") == f"{SERVICE}-p99").row(0, named=True)
    assert (alarm["threshold"], alarm["statistic"], alarm["comparison"]) == (800.0, "p99", "GreaterThanThreshold")
    assert alarm["watches"] == f"ApplicationSignals/Latency{{{DIMS}}}"
    assert snap.manifest["region"] == "eu-west-1"

    # Run again: every unit is done, nothing is fetched or added; the same source is reported again.
    again = _run(tmp_path / "snap", moto_endpoint, monkeypatch, account["function"])
    assert again.exit_code == 1 and UNSUPPORTED in again.output, again.output
    assert re.search(r"(^|\s)0 unit\(s\) fetched, \d+ already done; rows added: nothing new", again.output)
    assert Snapshot.open(tmp_path / "snap").read("logs").height == 50


def _decoded(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    if path.suffix == ".parquet":  # compressed pages: search the values, not the bytes
        df = pl.read_parquet(path)
        return "\n".join(str(v) for column in df.columns for v in df[column].to_list())
    return data.decode("utf-8", errors="replace")


def test_credentials_never_reach_the_snapshot_logs_or_output(
        account: dict[str, Any], moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # everything the package logs (botocore's DEBUG wire dumps are opt-in)
    result = _run(tmp_path / "snap", moto_endpoint, monkeypatch, account["function"])
    assert result.exit_code == 1 and UNSUPPORTED in result.output, result.output
    files = [p for p in (tmp_path / "snap").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".request.json.gz") for p in files)  # the stored requests are searched too
    texts = {p.relative_to(tmp_path).as_posix(): _decoded(p) for p in files}
    # The search is over decoded contents: the run's data is found in them.
    assert SERVICE in texts["snap/manifest.json"] and any(GROUP in t for n, t in texts.items() if n.endswith(".gz"))
    assert any(account["events"][0]["message"] in t for n, t in texts.items() if n.endswith(".parquet"))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "alarm-history failed" in logged  # the records searched do hold the run's messages
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN):
        leaks = [name for name, text in texts.items() if secret in text]
        assert leaks == [], f"{secret[:8]}... found in {leaks}"
        assert secret not in logged and secret not in result.output


# ----------------------------------------------------------------------------- kill mid-way, resume
class Interrupt:
    """Stands in for the CLI's tqdm: passes units through, and after ``after`` of them pulls one more
    (its AWS call is made) and raises KeyboardInterrupt before the runner can store it."""

    def __init__(self, after: int) -> None:
        self.after, self.passed, self.fired = after, 0, False

    def __call__(self, stream: Iterator[Any], **_: Any) -> Iterator[Any]:
        for item in stream:
            if self.passed == self.after:
                self.fired = True
                raise KeyboardInterrupt
            self.passed += 1
            yield item


def _rows(snap: Snapshot, name: str) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in snap.read(name).to_dicts())


def test_a_snapshot_killed_mid_way_and_resumed_equals_a_clean_one(
        account: dict[str, Any], moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = _run(tmp_path / "clean", moto_endpoint, monkeypatch, account["function"])
    assert clean.exit_code == 1 and UNSUPPORTED in clean.output, clean.output
    total = len(Snapshot.open(tmp_path / "clean").manifest["fetch"]["units"])
    assert total >= 8
    # Kill the run after 1 unit, resume and kill it after 1 more, ... until a run completes: every
    # unit boundary is cut once, each time with the next unit's call made but not stored.
    runs = []
    for _ in range(total + 2):  # a bound: one unit a run, and the final run
        interrupt = Interrupt(after=1)
        monkeypatch.setattr(cli, "tqdm", interrupt)
        result = _run(tmp_path / "resumed", moto_endpoint, monkeypatch, account["function"])
        runs.append((interrupt.fired, result.exit_code))
        if not interrupt.fired:
            break
        assert result.exit_code == 130, result.output  # 128 + SIGINT, as a shell reports Ctrl-C
    assert [fired for fired, _ in runs] == [True] * (len(runs) - 1) + [False]
    assert len(runs) >= total - 1, runs  # the run really was cut many times
    resumed, reference = Snapshot.open(tmp_path / "resumed"), Snapshot.open(tmp_path / "clean")
    assert set(resumed.manifest["fetch"]["units"]) == set(reference.manifest["fetch"]["units"])
    for name in frames.FRAME_NAMES:
        key = list(frames.SCHEMAS[name].key)
        df = resumed.read(name)
        assert df.height == df.unique(subset=key).height, f"{name}: duplicate rows after the resumes"
        assert _rows(resumed, name) == _rows(reference, name), f"{name}: rows differ from the clean run"
        assert resumed.rows(name) == reference.rows(name) == df.height, f"{name}: manifest row count"
    resumed.verify()


# ----------------------------------------------------------------------------- options and failures
def test_an_unknown_source_is_a_clear_error(tmp_path: Path, moto_endpoint: str) -> None:
    result = CliRunner().invoke(app, ["snapshot", "--out", str(tmp_path / "s"), "--endpoint-url", moto_endpoint,
                                      "--region", "eu-west-1", "--start", "2026-11-20T10:00:00Z",
                                      "--end", "2026-11-20T11:00:00Z", "--service", "x", "--source", "metricz"])
    assert result.exit_code == 2 and "unknown source" in result.output


@pytest.mark.parametrize(("step", "message"), [("1x", "not a step"), ("30s", "below 60 s"), ("0h", "not a step")])
def test_a_bad_budget_step_is_a_clear_error(tmp_path: Path, moto_endpoint: str, step: str, message: str) -> None:
    result = CliRunner().invoke(app, ["snapshot", "--out", str(tmp_path / "s"), "--endpoint-url", moto_endpoint,
                                      "--region", "eu-west-1", "--start", "2026-11-20T10:00:00Z",
                                      "--end", "2026-11-20T11:00:00Z", "--service", "x", "--slo", "p99",
                                      "--budget-step", step])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "s" / "manifest.json").exists()  # refused before anything is written


def test_budget_history_is_bounded_before_anything_runs(tmp_path: Path) -> None:
    request = SnapshotRequest(window=(T0, T0 + timedelta(days=400)), services=("x",), slos=("p99",),
                              budget_step_s=60)
    with pytest.raises(SloAnalysisError, match="larger step"):
        take_snapshot(tmp_path / "s", AwsSettings(region="eu-west-1"), request)
    assert parse_step("90") == 90 and parse_step("2d") == 172_800


def test_functions_and_budget_reports_are_part_of_the_snapshot(tmp_path: Path) -> None:
    request = SnapshotRequest(window=(T0, T0 + timedelta(hours=1)), services=("web",), slos=("p99",),
                              functions=("notify-worker",), sources=("slos", "deployments"))
    names = [n for n, _ in live_fetchers(AwsSettings(region="eu-west-1"), request, Snapshot.create(tmp_path / "s"))]
    assert names == ["slos", "metrics", "slo-budget-reports", "codedeploy", "lambda"]


def _client_error(status: int, code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def test_failures_name_the_operation() -> None:
    assert describe_failure(_client_error(403, "AccessDeniedException", "User: arn:aws:sts::1:assumed-role/r/s is "
                                          "not authorized to perform: cloudtrail:LookupEvents", "LookupEvents")) == (
        "LookupEvents failed: AccessDeniedException (HTTP 403): User: arn:aws:sts::1:assumed-role/r/s is not "
        "authorized to perform: cloudtrail:LookupEvents")
    assert describe_failure(_client_error(501, "NotImplemented", "", "GetServiceGraph")) == (
        "GetServiceGraph is not supported by this endpoint (HTTP 501 NotImplemented); the other sources are kept")
    assert describe_failure(_client_error(500, "500", "<!doctype html><title>500</title>", "DescribeAlarmHistory")) \
        == "DescribeAlarmHistory is not supported by this endpoint (HTTP 500); the other sources are kept"
    assert describe_failure(SloAnalysisError("window: end must be after start")) == "window: end must be after start"


# ----------------------------------------------------------------------------- SLO sources (Stubber)
SLO_ARN = "arn:aws:application-signals:eu-west-1:123456789012:slo/create-ticket-availability"


def test_slo_sources_fetch_exclusion_windows_and_budget_history(
        tmp_path: Path, moto_endpoint: str, fake_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    signals = aws.client("application-signals", settings)
    monkeypatch.setattr(asf, "client", lambda service, settings=None: signals)  # metrics still go to moto
    window = (T0.replace(minute=0), T0.replace(minute=0) + timedelta(hours=3))
    query = [{"Id": "m1", "ReturnData": True, "MetricStat": {"Metric": {
        "Namespace": "ApplicationSignals", "MetricName": "Fault", "Dimensions": [{"Name": "Service",
                                                                                "Value": SERVICE}]},
        "Period": 60, "Stat": "Sum"}}]
    slo = {"Arn": SLO_ARN, "Name": "create-ticket-availability", "CreatedTime": T0, "LastUpdatedTime": T0,
           "Goal": {"AttainmentGoal": 99.9}, "EvaluationType": "RequestBased",
           "RequestBasedSli": {"RequestBasedSliMetric": {
               "MetricType": "AVAILABILITY", "TotalRequestCountMetric": query,
               "MonitoredRequestCountMetric": {"BadCountMetric": query}}}}
    exclusion = {"Window": {"DurationUnit": "HOUR", "Duration": 1}, "StartTime": window[0], "Reason": "game day"}
    stub = Stubber(signals)
    stub.add_response("get_service_level_objective", {"Slo": slo}, {"Id": "create-ticket-availability"})
    stub.add_response("list_service_level_objective_exclusion_windows", {"ExclusionWindows": [exclusion]},
                      {"Id": SLO_ARN, "MaxResults": 10})
    for h in range(3):
        t = window[0] + timedelta(hours=h)
        stub.add_response("batch_get_service_level_objective_budget_report", {"Timestamp": t, "Errors": [], "Reports": [
            {"Arn": SLO_ARN, "Name": slo["Name"], "EvaluationType": "RequestBased", "BudgetStatus": "OK",
             "Attainment": 99.95}]}, {"Timestamp": t, "SloIds": ["create-ticket-availability"]})
    request = SnapshotRequest(window=window, services=(SERVICE,), slos=("create-ticket-availability",),
                              sources=("slos",), budget_step_s=3600)
    with stub:
        outcome = take_snapshot(tmp_path / "s", settings, request)
    stub.assert_no_pending_responses()
    assert outcome.failures == {}
    units = outcome.snapshot.manifest["fetch"]["units"]
    reports = sorted(u for u, meta in units.items() if meta["kind"] == "slo-budget-report")
    assert [u.rsplit("/", 1)[-1] for u in reports] == [
        aws.iso_z(window[0] + timedelta(hours=h)) for h in range(3)]
    definition = json.loads(outcome.snapshot.read("slos")["definition"][0])
    assert definition["ExclusionWindows"] == [aws.to_jsonable(exclusion)]
    assert outcome.snapshot.manifest["fetch"]["runs"][0]["budget_step_s"] == 3600


def _slo(name: str, **sli: Any) -> dict[str, Any]:
    return {"Arn": SLO_ARN.rsplit("/", 1)[0] + "/" + name, "Name": name, "CreatedTime": T0, "LastUpdatedTime": T0,
            "Goal": {"AttainmentGoal": 99.0}, **sli}


def _stat(metric: str, stat: str, period_s: int) -> list[dict[str, Any]]:
    dims = [{"Name": k, "Value": v} for k, v in (p.split("=") for p in DIMS.split(","))]
    return [{"Id": "m1", "ReturnData": True, "MetricStat": {"Metric": {
        "Namespace": "ApplicationSignals", "MetricName": metric, "Dimensions": dims}, "Period": period_s,
        "Stat": stat}}]


def test_service_and_sli_metrics_are_one_batch_in_the_fewest_calls(
        account: dict[str, Any], tmp_path: Path, moto_endpoint: str, fake_session: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    signals = aws.client("application-signals", settings)
    monkeypatch.setattr(asf, "client", lambda service, settings=None: signals)  # metrics still go to moto
    window = (T0.replace(minute=0), T0.replace(minute=0) + timedelta(hours=3))
    # Periods apart from the service metrics' 60 s: an SLI row is in the frame only if its query ran.
    # Both parts of the request-based SLO, and the period-based one, name their query m1.
    slos = [_slo("availability", EvaluationType="RequestBased", RequestBasedSli={"RequestBasedSliMetric": {
                "MetricType": "AVAILABILITY", "TotalRequestCountMetric": _stat("Latency", "SampleCount", 120),
                "MonitoredRequestCountMetric": {"BadCountMetric": _stat("Fault", "Sum", 120)}}}),
            _slo("latency", EvaluationType="PeriodBased", Sli={"SliMetric": {
                "MetricDataQueries": _stat("Latency", "Average", 300)}, "MetricThreshold": 400.0,
                "ComparisonOperator": "LessThan"})]
    stub = Stubber(signals)
    for slo in slos:
        stub.add_response("get_service_level_objective", {"Slo": slo}, {"Id": slo["Name"]})
        stub.add_response("list_service_level_objective_exclusion_windows", {"ExclusionWindows": []},
                          {"Id": slo["Arn"], "MaxResults": 10})
    stub.add_response("batch_get_service_level_objective_budget_report", {"Timestamp": window[0], "Errors": [],
                      "Reports": []}, {"Timestamp": window[0], "SloIds": ["availability", "latency"]})
    calls: list[str] = []
    sent: dict[str, dict[str, Any]] = {}  # every query sent, by Id

    def count(**kwargs: Any) -> None:
        calls.append(kwargs["model"].name)

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.update({q["Id"]: q for q in params["MetricDataQueries"]})

    fake_session.events.register("before-call.cloudwatch.GetMetricData", count)
    fake_session.events.register("provide-client-params.cloudwatch.GetMetricData", record)
    request = SnapshotRequest(window=window, services=(SERVICE,), slos=("availability", "latency"),
                              sources=("metrics", "slos"), latency_stats=("Average", "SampleCount"),
                              budget_step_s=3 * 3600)
    with stub:
        outcome = take_snapshot(tmp_path / "s", settings, request)
    stub.assert_no_pending_responses()
    assert outcome.failures == {}
    made = len(calls)
    # One plan for all: as few calls as the limits allow for the whole batch, fewer than a plan per batch.
    batches: dict[str, list[dict[str, Any]]] = {}
    for qid, q in sorted(sent.items()):
        batches.setdefault(qid.split("_", 1)[0], []).append(q)
    assert sorted(batches) == ["slo0bad", "slo0total", "slo1sli", "svc"]
    assert made == cwf.minimum_calls(list(sent.values()), window) == 1
    assert sum(cwf.minimum_calls(qs, window) for qs in batches.values()) == 4  # the calls it took before

    # The SLI rows are the rows each SLI part fetched alone gives (as before the merge), and not empty.
    metrics = outcome.snapshot.read("metrics")
    identity = ["namespace", "metric", "dimensions", "stat", "period_s"]
    for slo in slos:
        for part in asf.sli_metric_queries({"Slo": aws.to_jsonable(slo)}):
            fetcher = cwf.metric_data_fetcher(settings, part.queries, window)
            alone = pl.concat([u.frames["metrics"] for u in fetcher(set())])
            assert alone.height > 0, part
            stored = metrics.join(alone.select(identity).unique(), on=identity, how="semi")
            assert sorted(map(str, stored.sort("timestamp").rows())) == sorted(map(str, alone.rows())), part
    assert made == len(calls) - 3  # the parts fetched alone above were 3 more calls
