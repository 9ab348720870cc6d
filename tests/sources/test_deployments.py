from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from corrupt import corrupted
from hypothesis import given, settings

from slo_analysis.exceptions import MissingKeyError, SloAnalysisError
from slo_analysis.sources import deployments as dep
from slo_analysis.sources._io import LoadReport

DATA = Path(__file__).parent / "data"


def _load(aws_fixtures, rel):
    return json.loads((aws_fixtures / "cli-examples" / rel).read_text())


def test_codedeploy_batch_get_fixture(aws_fixtures):
    df = dep.deployments_from_codedeploy(_load(aws_fixtures, "deploy/batch-get-deployments.output1.json"))
    rows = df.to_dicts()
    assert [r["id"] for r in rows] == ["d-A1B2C3111", "d-A1B2C3222"]
    assert rows[0]["started_at"] == datetime(2014, 8, 19, 20, 38, 41, 900000, tzinfo=UTC)
    assert rows[0]["finished_at"] == datetime(2014, 8, 19, 20, 39, 1, 822000, tzinfo=UTC)
    assert rows[0]["version_to"] == "WordPressApp.zip@uTecLusEXAMPLEFXtfUcyfV8bEXAMPLE"
    assert rows[1]["version_to"] == "MyOtherApp.zip@dd56cfdEXAMPLE8e768f9d77fEXAMPLE"
    assert [r["service"] for r in rows] == ["WordPress_DG", "MyOther_DG"]
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert {r["actor"] for r in rows} == {"user"} and {r["source"] for r in rows} == {"codedeploy"}
    assert rows[1]["description"] == ("error HEALTH_CONSTRAINTS: Deployment failed: Constraint default "
                                      "violated: No hosts succeeded.")
    by_app = dep.deployments_from_codedeploy(_load(aws_fixtures, "deploy/batch-get-deployments.output1.json"),
                                             service_from="applicationName")
    assert by_app["service"].to_list() == ["WordPress_App", "MyOther_App"]


def test_codedeploy_get_fixture(aws_fixtures):
    row = dep.deployments_from_codedeploy(_load(aws_fixtures, "deploy/get-deployment.output1.json")).row(
        0, named=True)
    assert (row["id"], row["status"], row["description"]) == ("d-A1B2C3123", "succeeded",
                                                              "My WordPress app deployment")
    assert row["started_at"] == datetime(2014, 9, 3, 17, 16, 16, 589000, tzinfo=UTC)


def test_codedeploy_rollback_and_revisions():
    doc = {"deploymentsInfo": [{
        "deploymentId": "d-RB1", "deploymentGroupName": "routing-service", "status": "Succeeded",
        "createTime": datetime(2026, 11, 3, 11, 0, tzinfo=UTC), "creator": "codeDeployRollback",
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0"}},
        "previousRevision": {"revisionType": "GitHub", "gitHubLocation": {"repository": "a/b", "commitId": "abc"}},
        "rollbackInfo": {"rollbackTriggeringDeploymentId": "d-BAD", "rollbackMessage": "alarm burn-1h"}}]}
    row = dep.deployments_from_codedeploy(doc).row(0, named=True)
    assert row["version_from"] == "abc"
    assert row["version_to"].startswith("sha256:") and len(row["version_to"]) == 7 + 64
    assert row["description"] == "rollback of d-BAD; alarm burn-1h"


def test_ecs_fixture(aws_fixtures):
    row = dep.deployments_from_ecs(_load(aws_fixtures, "ecs/describe-services.output1.json")).row(0, named=True)
    assert row == {"id": "ecs-svc/1234567890123456789", "service": "my-http-service",
                   "started_at": datetime(2016, 6, 24, 20, 56, 48, 595000, tzinfo=UTC),
                   "finished_at": None,  # the fixture's updatedAt precedes createdAt
                   "status": "succeeded", "version_from": None, "version_to": "amazon-ecs-sample:1",
                   "source": "ecs", "actor": None, "description": "ECS PRIMARY; cluster default"}


def test_ecs_rollout_version_from():
    doc = {"services": [{"serviceName": "routing-service", "clusterArn": "arn:aws:ecs:eu-west-1:1:cluster/prod",
                         "deployments": [
        {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/routing:42",
         "createdAt": "2026-11-03T10:00:05Z", "updatedAt": "2026-11-03T10:09:00Z", "rolloutState": "IN_PROGRESS",
         "rolloutStateReason": "ECS deployment ecs-svc/2 in progress.", "desiredCount": 4, "runningCount": 2},
        {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": "routing:41",
         "createdAt": "2026-11-01T08:00:00Z", "updatedAt": "2026-11-03T10:09:00Z", "rolloutState": "COMPLETED"}]}]}
    df = dep.deployments_from_ecs(doc)
    assert df.select("id", "status", "version_from", "version_to").rows() == [
        ("ecs-svc/1", "succeeded", None, "routing:41"), ("ecs-svc/2", "in_progress", "routing:41", "routing:42")]
    assert df["finished_at"].to_list() == [datetime(2026, 11, 3, 10, 9, tzinfo=UTC), None]


def test_lambda_fixtures(aws_fixtures):
    df = dep.deployments_from_lambda(_load(aws_fixtures, "lambda/list-versions-by-function.output1.json"))
    assert df.select("service", "version_from", "version_to").rows() == [
        ("my-function", None, "1"), ("my-function", "1", "2")]
    assert df["started_at"].to_list() == [datetime(2019, 9, 26, 20, 28, 40, 438000, tzinfo=UTC),
                                          datetime(2019, 10, 1, 16, 47, 28, 490000, tzinfo=UTC)]
    alias = _load(aws_fixtures, "lambda/get-alias.output1.json")
    assert dep.deployments_from_lambda(alias).height == 0
    row = dep.deployments_from_lambda(alias, observed_at="2026-11-03T00:00:00Z").row(0, named=True)
    assert (row["service"], row["version_to"], row["id"]) == (
        "my-function", "3", "arn:aws:lambda:us-west-2:123456789012:function:my-function:LIVE@"
                            "594f41fb-b85f-4c20-95c7-6ca5f2a92c93")


def test_cloudtrail_fixture_has_no_changes(aws_fixtures):
    assert dep.deployments_from_cloudtrail(_load(aws_fixtures, "cloudtrail/lookup-events.output1.json")).height == 0


def test_cloudtrail_changes():
    df = dep.deployments_from_cloudtrail(json.loads((DATA / "cloudtrail-changes.json").read_text()))
    rows = {r["id"]: r for r in df.to_dicts()}
    assert set(rows) == {"11111111-aaaa-4bbb-8ccc-000000000001", "11111111-aaaa-4bbb-8ccc-000000000003",
                         "11111111-aaaa-4bbb-8ccc-000000000004", "d-KB0000001"}  # read-only and failed skipped
    upd = rows["11111111-aaaa-4bbb-8ccc-000000000001"]
    assert (upd["service"], upd["version_to"], upd["actor"], upd["status"]) == (
        "routing-service", "routing-service:42", "github-deployer/deploy-bot", "requested")
    assert upd["started_at"] == datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    code = rows["11111111-aaaa-4bbb-8ccc-000000000003"]
    assert (code["service"], code["version_to"], code["actor"]) == ("notify-worker", "c0ffee", "alice")
    assert code["started_at"] == datetime(2026, 11, 3, 11, 0, 0, 250000, tzinfo=UTC)
    param = rows["11111111-aaaa-4bbb-8ccc-000000000004"]
    assert (param["service"], param["version_to"], param["actor"]) == ("/prod/kb-search/feature-x", "7", "root")
    cd = rows["d-KB0000001"]
    assert (cd["service"], cd["version_to"], cd["actor"]) == ("kb-search", "9f1c2d3", "carol")


def test_file_csv_and_yaml():
    report = LoadReport()
    df = dep.deployments_from_file(DATA / "deployments.csv", report)
    assert df.select("id", "service", "status", "version_to", "actor").rows() == [
        ("flag-1", "kb-search", "succeeded", "on", "alice"),
        ("cfg-2", "routing-service", "succeeded", "pool=20", "bob")]
    assert df["started_at"].to_list()[1] == datetime(2026, 11, 3, 10, 30, 0, 123000, tzinfo=UTC)
    assert [(b.line, b.file.endswith("deployments.csv")) for b in report.bad] == [(3, True), (5, True)]
    assert "started_at" in report.bad[0].reason and report.bad[1].reason == "missing id"
    assert report.rows == {"deployments": 2}

    report = LoadReport()
    df = dep.deployments_from_file(DATA / "deployments.yaml", report)
    assert df.select("id", "status", "version_from", "version_to").rows() == [
        ("flag-1", "succeeded", "off", "on"), ("cfg-3", "rolled_back", None, "2.10")]
    assert df["started_at"].to_list()[1] == datetime(2026, 11, 3, 10, 30, tzinfo=UTC)
    assert [(b.line, b.reason) for b in report.bad] == [(7, "finished_at is before started_at")]


def _row(source, id_, service, minute, version=None, actor=None, desc=None, finished=None):
    t = datetime(2026, 11, 3, 10, 0, tzinfo=UTC) + timedelta(minutes=minute)
    return {"id": id_, "service": service, "started_at": t, "finished_at": finished, "status": "succeeded",
            "version_from": None, "version_to": version, "source": source, "actor": actor, "description": desc}


def test_merge_deployments():
    ecs = dep._frame([_row("ecs", "ecs-svc/2", "routing-service", 0, "routing:42",
                           finished=datetime(2026, 11, 3, 10, 9, tzinfo=UTC)),
                      _row("ecs", "ecs-svc/3", "routing-service", 60, "routing:41")])
    ct = dep._frame([_row("cloudtrail", "ev-1", "routing-service", -0.5, "routing:42", actor="gh/bot",
                          desc="ecs UpdateService"),
                     _row("cloudtrail", "ev-2", "routing-service", 59, None, actor="alice"),
                     _row("cloudtrail", "ev-3", "kb-search", 0, "x")])
    cd = dep._frame([_row("codedeploy", "d-1", "kb-search", 30, "abc", actor="user"),
                     _row("cloudtrail", "d-1", "kb-search", 20, "abc", actor="carol")])
    out = dep.merge_deployments([ecs, ct, cd, ecs])
    got = out.select("id", "source", "service", "version_to", "actor", "finished_at").rows()
    assert got == [
        ("ev-3", "cloudtrail", "kb-search", "x", None, None),
        ("ecs-svc/2", "ecs", "routing-service", "routing:42", "gh/bot", datetime(2026, 11, 3, 10, 9, tzinfo=UTC)),
        ("d-1", "codedeploy", "kb-search", "abc", "carol", None),  # same id, 10 min apart
        ("ecs-svc/3", "ecs", "routing-service", "routing:41", "alice", None),
    ]
    assert out.filter(pl.col("id") == "ecs-svc/2")["description"].item() == \
        "ecs UpdateService; [also: cloudtrail:ev-1]"
    assert dep.merge_deployments([]).height == 0


def test_missing_key_names_file_and_key(aws_fixtures):
    doc = _load(aws_fixtures, "deploy/get-deployment.output1.json")
    del doc["deploymentInfo"]["status"]
    with pytest.raises(MissingKeyError) as err:
        dep.deployments_from_codedeploy(doc, file="get-deployment.json")
    assert err.value.key == "status" and str(err.value).startswith("get-deployment.json:")


def test_predicates(aws_fixtures):
    assert dep.looks_like_codedeploy(_load(aws_fixtures, "deploy/batch-get-deployments.output1.json"))
    assert dep.looks_like_codedeploy(_load(aws_fixtures, "deploy/get-deployment.output1.json"))
    assert not dep.looks_like_codedeploy(_load(aws_fixtures, "deploy/list-deployments.output1.json"))
    assert dep.looks_like_ecs_services(_load(aws_fixtures, "ecs/describe-services.output1.json"))
    assert dep.looks_like_lambda(_load(aws_fixtures, "lambda/get-alias.output1.json"))
    assert dep.looks_like_lambda(_load(aws_fixtures, "lambda/list-versions-by-function.output1.json"))
    assert dep.looks_like_cloudtrail_events(_load(aws_fixtures, "cloudtrail/lookup-events.output1.json"))
    assert not dep.looks_like_cloudtrail_events(_load(aws_fixtures, "ecs/describe-services.output1.json"))


@pytest.mark.parametrize("rel, loader", [
    ("deploy/batch-get-deployments.output1.json", dep.deployments_from_codedeploy),
    ("deploy/get-deployment.output1.json", dep.deployments_from_codedeploy),
    ("ecs/describe-services.output1.json", dep.deployments_from_ecs),
    ("lambda/list-versions-by-function.output1.json", dep.deployments_from_lambda),
    ("lambda/get-alias.output1.json", dep.deployments_from_lambda),
])
def test_corruption_raises_only_package_errors(aws_fixtures, rel, loader):
    @settings(max_examples=80, deadline=None)
    @given(doc=corrupted(_load(aws_fixtures, rel)))
    def check(doc):
        with contextlib.suppress(SloAnalysisError):
            loader(doc, file="x")
    check()


@settings(max_examples=150, deadline=None)
@given(doc=corrupted(json.loads((DATA / "cloudtrail-changes.json").read_text())))
def test_cloudtrail_corruption_raises_only_package_errors(doc):
    with contextlib.suppress(SloAnalysisError):
        dep.deployments_from_cloudtrail(doc, file="x")
