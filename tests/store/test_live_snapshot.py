"""`slo-analysis snapshot` against a real HTTP endpoint (moto server): the snapshot holds exactly what was put.

The account is filled with plain boto3 clients (not the package's, so the least-privilege test does not
record these writes). moto has no percentiles (Latency is asked as Average and SampleCount here; the
percentile path is tested with Stubber in tests/sources), no Application Signals and no CloudTrail
LookupEvents worth the name, so those sources are left out of this run, and X-Ray is asked without a
filter expression (moto answers "not implemented" to one; filters are tested with Stubber).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import polars as pl
import pytest
from typer.testing import CliRunner

from slo_analysis import frames
from slo_analysis.cli import app
from slo_analysis.store import Snapshot

# Recent data: CodeDeploy stamps deployments with the real clock, and the window must hold them.
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=40)
SERVICE = "ticket-api-live"
GROUP = "/ecs/prod/ticket-api-live"


def _clients(endpoint: str) -> dict[str, Any]:
    kw = {"endpoint_url": endpoint, "region_name": "eu-west-1", "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}
    return {name: boto3.client(name, **kw) for name in ("cloudwatch", "logs", "xray", "codedeploy")}


@pytest.fixture(scope="module")
def account(moto_endpoint: str) -> dict[str, Any]:
    c = _clients(moto_endpoint)
    dims = [{"Name": "Environment", "Value": "prod"}, {"Name": "Operation", "Value": "CreateTicket"},
            {"Name": "Service", "Value": SERVICE}]
    latency = [100.0 + 7 * i for i in range(20)]
    for i, value in enumerate(latency):
        c["cloudwatch"].put_metric_data(Namespace="ApplicationSignals", MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": T0 + timedelta(minutes=i), "Value": value,
             "Unit": "Milliseconds"},
            {"MetricName": "Fault", "Dimensions": dims, "Timestamp": T0 + timedelta(minutes=i),
             "Value": float(i % 3 == 0), "Unit": "Count"}])
    c["logs"].create_log_group(logGroupName=GROUP)
    c["logs"].create_log_stream(logGroupName=GROUP, logStreamName="ecs/ticket-api/1")
    events = []
    for i in range(50):
        ts = T0 + timedelta(seconds=20 * i)
        msg = {"ts": ts.isoformat().replace("+00:00", "Z"), "service": SERVICE, "operation": "CreateTicket",
               "request_id": f"r-{i}", "status": 504 if i % 10 == 0 else 201, "latency_ms": 100.0 + i,
               "customer_tier": "enterprise" if i % 2 else "free"}
        events.append({"timestamp": int(ts.timestamp() * 1000), "message": json.dumps(msg)})
    c["logs"].put_log_events(logGroupName=GROUP, logStreamName="ecs/ticket-api/1", logEvents=events)
    trace_ids = []
    for i in range(3):
        start = (T0 + timedelta(minutes=i)).timestamp()
        trace_id = f"1-{int(start):08x}-{i:024x}"
        trace_ids.append(trace_id)
        doc = {"trace_id": trace_id, "id": f"{i + 1:016x}", "name": SERVICE, "start_time": start,
               "end_time": start + 0.25, "http": {"response": {"status": 200}}}
        c["xray"].put_trace_segments(TraceSegmentDocuments=[json.dumps(doc)])
    c["cloudwatch"].put_metric_alarm(
        AlarmName=f"{SERVICE}-p99", Namespace="ApplicationSignals", MetricName="Latency", Dimensions=dims,
        ExtendedStatistic="p99", Period=60, EvaluationPeriods=3, Threshold=800.0,
        ComparisonOperator="GreaterThanThreshold")
    c["cloudwatch"].set_alarm_state(AlarmName=f"{SERVICE}-p99", StateValue="ALARM", StateReason="p99 above 800")
    c["codedeploy"].create_application(applicationName="AppECS-live", computePlatform="Server")
    c["codedeploy"].create_deployment_group(applicationName="AppECS-live", deploymentGroupName=SERVICE,
                                            serviceRoleArn="arn:aws:iam::123456789012:role/cd")
    dep = c["codedeploy"].create_deployment(applicationName="AppECS-live", deploymentGroupName=SERVICE,
                                            revision={"revisionType": "S3", "s3Location": {
                                                "bucket": "b", "key": "app.zip", "bundleType": "zip"}})
    return {"latency": latency, "events": events, "trace_ids": trace_ids, "deployment": dep["deploymentId"]}


def _run(out: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    args = ["snapshot", "--out", str(out), "--endpoint-url", endpoint, "--region", "eu-west-1",
            "--start", (T0 - timedelta(minutes=5)).isoformat(), "--end", (T0 + timedelta(hours=1)).isoformat(),
            "--service", SERVICE, "--log-group", GROUP, "--latency-stat", "Average", "--latency-stat", "SampleCount",
            "--source", "metrics", "--source", "logs", "--source", "traces", "--source", "deployments",
            "--source", "alarms",
            "--trace-filter", ""]  # moto implements GetTraceSummaries only without a filter expression
    return CliRunner().invoke(app, args)


def test_snapshot_of_a_moto_account_holds_exactly_what_was_put(
        account: dict[str, Any], moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(tmp_path / "snap", moto_endpoint, monkeypatch)
    # moto answers DescribeAlarmHistory with a 500 (not implemented; history is tested with Stubber):
    # the snapshot names that source, keeps every other one, and exits non-zero.
    assert result.exit_code == 1, result.output
    assert "failed    alarm-history: ClientError" in result.output
    snap = Snapshot.open(tmp_path / "snap")
    for name in frames.FRAME_NAMES:
        frames.validate(snap.read(name), name)  # the same canonical frames as the demo

    latency = snap.read("metrics").filter((pl.col("metric") == "Latency") & (pl.col("stat") == "Average"))
    assert latency["dimensions"].unique().to_list() == [
        f"Environment=prod,Operation=CreateTicket,Service={SERVICE}"]
    assert latency.sort("timestamp")["value"].to_list() == account["latency"]
    assert latency["timestamp"].min() == T0 and latency["period_s"].unique().to_list() == [60]
    counts = snap.read("metrics").filter(pl.col("stat") == "SampleCount")["value"]
    assert counts.len() == 20 and counts.sum() == 20
    faults = snap.read("metrics").filter(pl.col("metric") == "Fault")["value"].sum()
    assert faults == sum(float(i % 3 == 0) for i in range(20))

    logs = snap.read("logs")
    assert logs.height == 50 and logs["log_group"].unique().to_list() == [GROUP]
    assert sorted(logs["message"].to_list()) == sorted(e["message"] for e in account["events"])
    requests = snap.read("requests")
    assert requests.height == 50 and int(requests["fault"].sum()) == 5

    spans = snap.read("spans").filter(pl.col("service") == SERVICE)  # other tests share the moto server
    assert sorted(spans["trace_id"].to_list()) == sorted(account["trace_ids"])
    assert account["deployment"] in snap.read("deployments")["id"].to_list()
    alarm = snap.read("alarm_definitions").filter(pl.col("alarm_name") == f"{SERVICE}-p99").row(0, named=True)
    assert (alarm["threshold"], alarm["statistic"], alarm["comparison"]) == (800.0, "p99", "GreaterThanThreshold")
    dims = f"Environment=prod,Operation=CreateTicket,Service={SERVICE}"
    assert alarm["watches"] == f"ApplicationSignals/Latency{{{dims}}}"
    manifest = snap.manifest
    assert list(manifest["fetch"]["failures"]) == ["alarm-history"] and manifest["region"] == "eu-west-1"
    assert "testing" not in json.dumps(manifest)  # credentials never reach the manifest

    # Run again: every unit is done, nothing is fetched or added.
    again = _run(tmp_path / "snap", moto_endpoint, monkeypatch)
    assert again.exit_code == 1, again.output  # the history still fails; nothing else is fetched again
    assert re.search(r"(^|\s)0 unit\(s\) fetched, \d+ already done; rows added: nothing new", again.output)
    assert Snapshot.open(tmp_path / "snap").read("logs").height == 50


def test_an_unknown_source_is_a_clear_error(tmp_path: Path, moto_endpoint: str) -> None:
    result = CliRunner().invoke(app, ["snapshot", "--out", str(tmp_path / "s"), "--endpoint-url", moto_endpoint,
                                      "--region", "eu-west-1", "--start", "2026-11-20T10:00:00Z",
                                      "--end", "2026-11-20T11:00:00Z", "--service", "x", "--source", "metricz"])
    assert result.exit_code == 2 and "unknown source" in result.output
