from __future__ import annotations

import contextlib
import hashlib
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
from slo_analysis.sources.deployment_merge import merge_deployments

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
    ecs = dep.deployments_frame([_row("ecs", "ecs-svc/2", "routing-service", 0, "routing:42",
                           finished=datetime(2026, 11, 3, 10, 9, tzinfo=UTC)),
                      _row("ecs", "ecs-svc/3", "routing-service", 60, "routing:41")])
    ct = dep.deployments_frame([_row("cloudtrail", "ev-1", "routing-service", -0.5, "routing:42", actor="gh/bot",
                          desc="ecs UpdateService"),
                     _row("cloudtrail", "ev-2", "routing-service", 59, None, actor="alice"),
                     _row("cloudtrail", "ev-3", "kb-search", 0, "x")])
    cd = dep.deployments_frame([_row("codedeploy", "d-1", "kb-search", 30, "abc", actor="user"),
                     _row("cloudtrail", "d-1", "kb-search", 20, "abc", actor="carol")])
    out = merge_deployments([ecs, ct, cd, ecs])
    got = out.select("id", "source", "service", "version_to", "actor", "finished_at").rows()
    assert got == [
        ("ev-3", "cloudtrail", "kb-search", "x", None, None),
        ("ecs-svc/2", "ecs", "routing-service", "routing:42", "gh/bot", datetime(2026, 11, 3, 10, 9, tzinfo=UTC)),
        ("d-1", "codedeploy", "kb-search", "abc", "carol", None),  # same id, 10 min apart
        ("ecs-svc/3", "ecs", "routing-service", "routing:41", "alice", None),
    ]
    assert out.filter(pl.col("id") == "ecs-svc/2")["description"].item() == \
        "ecs UpdateService; [also: cloudtrail:ev-1]"
    assert merge_deployments([]).height == 0


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


# ----------------------------------------------------------------------------- merge rules on the demo
def _demo_frames(demo_dir: Path) -> list[pl.DataFrame]:
    d = demo_dir / "deployments"
    return [dep.deployments_from_codedeploy(json.loads((d / "codedeploy-batch-get-deployments.json").read_text())),
            dep.deployments_from_ecs(json.loads((d / "ecs-describe-services.json").read_text())),
            dep.deployments_from_cloudtrail(json.loads((d / "cloudtrail-lookup-events.json").read_text())),
            dep.deployments_from_file(d / "deployments.csv")]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_demo_merge_tells_the_story(small_demo):
    truth = json.loads((small_demo / "scenario.json").read_text())
    out = merge_deployments(_demo_frames(small_demo))
    assert out["id"].n_unique() == out.height
    assert out.filter(pl.col("status") == "registered").height == 0
    assert out.filter(pl.col("service").is_in(["codedeploy", "DgpECS-prod-routing-service"])).height == 0

    def one(case: str) -> dict:
        t = truth[case]
        rows = out.filter(pl.col("id") == t["id"]).to_dicts()
        assert len(rows) == 1, (case, out.select("id", "service", "source"))
        row = rows[0]
        assert (row["service"], row["actor"], row["started_at"]) == (t["service"], t["actor"], _ts(t["started"]))
        return row

    culprit = one("culprit_deployment")
    assert (culprit["status"], culprit["source"]) == ("stopped", "codedeploy")
    assert (culprit["version_from"], culprit["version_to"]) == ("routing-service:41", "routing-service:42")
    assert culprit["finished_at"] == _ts(truth["culprit_deployment"]["finished"])
    assert f"stopped by {truth['rollback']['actor']}" in culprit["description"]
    assert f"image {truth['culprit_deployment']['version_to']}" in culprit["description"]
    rollback = one("rollback")
    assert (rollback["status"], rollback["version_from"], rollback["version_to"]) == (
        "succeeded", "routing-service:42", "routing-service:41")
    assert f"rollback of {truth['culprit_deployment']['id']}" in rollback["description"]
    decoy = one("decoy_deployment")
    assert (decoy["source"], decoy["version_to"]) == ("ecs", "kb-search:18")
    assert f"image {truth['decoy_deployment']['version_to']}" in decoy["description"]
    flag = one("feature_flag_change")
    assert (flag["source"], flag["version_from"], flag["version_to"]) == (
        "file", truth["feature_flag_change"]["version_from"], truth["feature_flag_change"]["version_to"])
    # Nothing else happened in the window but the services' initial rollouts.
    others = out.filter(~pl.col("id").is_in([truth[c]["id"] for c in (
        "culprit_deployment", "rollback", "decoy_deployment", "feature_flag_change")]))
    assert (others["started_at"] < _ts(truth["window"]["start"])).all()


# ----------------------------------------------------------------------------- rule units
_APPSPEC_YAML = ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
                 "        TaskDefinition: \"arn:aws:ecs:eu-west-1:1:task-definition/routing-service:{rev}\"\n"
                 "        LoadBalancerInfo:\n          ContainerName: routing-service\n          ContainerPort: 8080\n")
_APPSPEC_JSON = json.dumps({"version": 0.0, "Resources": [{"TargetService": {
    "Type": "AWS::ECS::Service", "Properties": {"TaskDefinition": "routing-service:{rev}"}}}]})


def _cd(dep_id, minute, content, status="Succeeded", creator="user", rollback=None, platform="ECS"):
    return {"deploymentId": dep_id, "applicationName": "AppECS-prod-routing-service",
            "deploymentGroupName": "DgpECS-prod-routing-service", "computePlatform": platform,
            "status": status, "creator": creator,
            "createTime": datetime(2026, 11, 3, 10, 0, tzinfo=UTC) + timedelta(minutes=minute),
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
            **({"rollbackInfo": rollback} if rollback else {})}


def test_codedeploy_ecs_appspec_yaml_and_json():
    doc = {"deploymentsInfo": [_cd("d-1", 0, _APPSPEC_YAML.replace("{rev}", "40")),
                               _cd("d-2", 60, _APPSPEC_JSON.replace("{rev}", "41")),
                               _cd("d-3", 120, _APPSPEC_YAML.replace("{rev}", "42"), status="Failed"),
                               _cd("d-4", 180, _APPSPEC_JSON.replace("{rev}", "43"))]}
    df = dep.deployments_from_codedeploy(doc)
    assert df.select("id", "service", "version_from", "version_to").rows() == [
        ("d-1", "routing-service", None, "routing-service:40"),
        ("d-2", "routing-service", "routing-service:40", "routing-service:41"),
        ("d-3", "routing-service", "routing-service:41", "routing-service:42"),
        ("d-4", "routing-service", "routing-service:41", "routing-service:43")]  # d-3 failed: never ran
    by_app = dep.deployments_from_codedeploy(doc, service_from="applicationName")
    assert set(by_app["service"]) == {"AppECS-prod-routing-service"}


@pytest.mark.parametrize("content", [
    "version: 0.0", "Resources: [", "{\"Resources\": 3}", "- a\n- b", "Resources:\n  - TargetService: 7",
    "Resources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
    "        TaskDefinition: <TASK_DEFINITION>\n", "!!python/object:os.system x", "&a [*a]", ""])
def test_codedeploy_malformed_appspec_falls_back(content):
    row = dep.deployments_from_codedeploy({"deploymentsInfo": [_cd("d-1", 0, content)]}).row(0, named=True)
    assert row["service"] == "DgpECS-prod-routing-service"
    assert row["version_to"] == "sha256:" + hashlib.sha256(content.encode()).hexdigest()


def test_codedeploy_rollback_links_and_version_from():
    doc = {"deploymentsInfo": [
        _cd("d-OK", 0, _APPSPEC_YAML.replace("{rev}", "41")),
        _cd("d-BAD", 60, _APPSPEC_YAML.replace("{rev}", "42"), status="Stopped",
            rollback={"rollbackDeploymentId": "d-RB"}),
        _cd("d-RB", 80, _APPSPEC_YAML.replace("{rev}", "41"), creator="codeDeployRollback")]}
    rows = {r["id"]: r for r in dep.deployments_from_codedeploy(doc).to_dicts()}
    assert rows["d-BAD"]["version_from"] == "routing-service:41"
    assert rows["d-BAD"]["description"] == "rolled back by d-RB"
    assert rows["d-RB"]["version_from"] == "routing-service:42"  # what it rolled back from
    assert rows["d-RB"]["description"] == "rollback of d-BAD"  # from the other deployment's rollbackInfo
    assert rows["d-RB"]["actor"] == "codeDeployRollback"


def _ct_event(name, minute, req, resp=None, session="tomas.novak", role="AWSReservedSSO_Platform_0123abcd",
              event_id=None):
    when = datetime(2026, 11, 3, 10, 0, tzinfo=UTC) + timedelta(minutes=minute)
    ev = {"eventName": name, "eventSource": "codedeploy.amazonaws.com" if "Deployment" in name else
          "ecs.amazonaws.com", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "readOnly": False,
          "eventID": event_id or f"ev-{name}-{minute}", "requestParameters": req, "responseElements": resp,
          "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::1:assumed-role/{role}/{session}",
                           "sessionContext": {"sessionIssuer": {"type": "Role", "userName": role}}}}
    return {"EventId": ev["eventID"], "EventName": name, "CloudTrailEvent": json.dumps(ev)}


def test_cloudtrail_sso_actor_is_the_person(tmp_path):
    df = dep.deployments_from_cloudtrail({"Events": [
        _ct_event("UpdateService", 0, {"service": "web", "taskDefinition": "web:3"}, session="priya.natarajan"),
        _ct_event("UpdateService", 1, {"service": "api", "taskDefinition": "api:3"}, role="deployer",
                  session="bot")]})
    assert df["actor"].to_list() == ["priya.natarajan", "deployer/bot"]
    f = tmp_path / "changes.csv"
    f.write_text("id,service,started_at,actor\nx,web,2026-11-03T10:00:00Z,AWSReservedSSO_Admin_99/ana\n")
    assert dep.deployments_from_file(f)["actor"].to_list() == ["ana"]


def test_stop_deployment_attaches_and_names_the_rollback_actor():
    cd = dep.deployments_from_codedeploy({"deploymentsInfo": [
        _cd("d-BAD", 0, _APPSPEC_YAML.replace("{rev}", "42"), status="Stopped",
            rollback={"rollbackDeploymentId": "d-RB"}),
        _cd("d-RB", 80, _APPSPEC_YAML.replace("{rev}", "41"), creator="codeDeployRollback",
            rollback={"rollbackTriggeringDeploymentId": "d-BAD"})]})
    ct = dep.deployments_from_cloudtrail({"Events": [
        _ct_event("CreateDeployment", 0, {"deploymentGroupName": "DgpECS-prod-routing-service"},
                  {"deploymentId": "d-BAD"}, session="priya.natarajan"),
        _ct_event("StopDeployment", 80, {"deploymentId": "d-BAD", "autoRollbackEnabled": True},
                  {"status": "Pending"})]})
    stop = ct.filter(pl.col("status") == "stopped").row(0, named=True)
    assert (stop["id"], stop["service"], stop["actor"]) == (
        "d-BAD/StopDeployment", "DgpECS-prod-routing-service", "tomas.novak")
    assert stop["description"].startswith("stopped by tomas.novak (auto-rollback enabled")
    out = {r["id"]: r for r in merge_deployments([cd, ct]).to_dicts()}
    assert set(out) == {"d-BAD", "d-RB"}
    assert (out["d-BAD"]["service"], out["d-BAD"]["actor"], out["d-BAD"]["status"]) == (
        "routing-service", "priya.natarajan", "stopped")
    assert "stopped by tomas.novak" in out["d-BAD"]["description"]
    assert out["d-BAD"]["description"].endswith("[also: cloudtrail:d-BAD, cloudtrail:d-BAD/StopDeployment]")
    assert out["d-RB"]["actor"] == "tomas.novak"
    # Without the CodeDeploy side: the stop still joins the CreateDeployment row and sets its status.
    only_ct = merge_deployments([ct]).to_dicts()
    assert [(r["id"], r["status"], r["actor"]) for r in only_ct] == [("d-BAD", "stopped", "priya.natarajan")]
    # A stop of a deployment no source shows stays a row of its own.
    lone = merge_deployments([ct.filter(pl.col("status") == "stopped")])
    assert lone["id"].to_list() == ["d-BAD/StopDeployment"]


def test_update_service_merges_with_ecs_despite_register_task_definition():
    ecs = dep.deployments_from_ecs({"services": [{"serviceName": "kb-search", "deployments": [
        {"id": "ecs-svc/18", "status": "PRIMARY",
         "taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/kb-search:18",
         "createdAt": "2026-11-03T10:02:00Z", "updatedAt": "2026-11-03T10:08:00Z", "rolloutState": "COMPLETED"},
        {"id": "ecs-svc/17", "status": "ACTIVE", "taskDefinition": "kb-search:17",
         "createdAt": "2026-10-01T10:00:00Z", "updatedAt": "2026-11-03T10:08:00Z", "rolloutState": "COMPLETED"}]}]})
    image = {"containerDefinitions": [
        {"name": "kb-search", "image": "1.dkr.ecr.eu-west-1.amazonaws.com/kb-search:1.8.1"},
        {"name": "sidecar", "image": "envoy:v1"}], "family": "kb-search"}
    ct = dep.deployments_from_cloudtrail({"Events": [
        _ct_event("RegisterTaskDefinition", 0, image, {"taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:1:task-definition/kb-search:18", "revision": 18}}),
        _ct_event("RegisterTaskDefinition", 1, image, {}),  # no revision: dropped
        _ct_event("UpdateService", 2, {"service": "kb-search", "taskDefinition": "kb-search:18"},
                  {"service": {"serviceName": "kb-search"}}, session="lena.fischer")]})
    assert ct.select("status", "version_to", "description").rows() == [
        ("registered", "kb-search:18", "image 1.8.1"),
        ("requested", "kb-search:18", "ecs.amazonaws.com UpdateService")]
    out = merge_deployments([ecs, ct])
    assert out.select("id", "version_from", "version_to", "actor").rows() == [
        ("ecs-svc/17", None, "kb-search:17", None),
        ("ecs-svc/18", "kb-search:17", "kb-search:18", "lena.fischer")]
    assert "image 1.8.1" in out["description"][1] and "[also: cloudtrail:ev-UpdateService-2]" in out["description"][1]


def test_update_service_response_names_the_ecs_deployment():
    ct = dep.deployments_from_cloudtrail({"Events": [_ct_event(
        "UpdateService", 0, {"service": "web", "forceNewDeployment": True},
        {"service": {"taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/web:7",
                     "deployments": [{"id": "ecs-svc/7", "status": "PRIMARY"},
                                     {"id": "ecs-svc/6", "status": "ACTIVE"}]}})]})
    row = ct.row(0, named=True)
    assert (row["id"], row["version_to"]) == ("ecs-svc/7", "web:7")
    assert row["description"] == "ecs.amazonaws.com UpdateService (event ev-UpdateService-0)"


def test_merge_task_def_version_from_skips_failed():
    rows = [_row("ecs", "a", "web", 0, "web:1"), _row("ecs", "b", "web", 10, "web:2"),
            _row("cloudtrail", "c", "web", 20, "web:3"), _row("file", "f", "web", 30, "flag=on")]
    rows[1]["status"] = "failed"
    out = merge_deployments([dep.deployments_frame(rows)])
    assert out.select("id", "version_from").rows() == [("a", None), ("b", "web:1"), ("c", "web:1"), ("f", None)]


def test_cloudtrail_lambda_names_with_their_api_version_are_changes():
    # Lambda appends its API version to event names; CreateAlias would otherwise fail the name check.
    ct = {"eventTime": "2026-11-03T12:00:00Z", "eventSource": "lambda.amazonaws.com",
          "eventName": "CreateAlias20150331", "readOnly": False, "eventID": "alias-1",
          "userIdentity": {"type": "IAMUser", "userName": "dave"},
          "requestParameters": {"functionName": "notify-worker", "name": "live", "functionVersion": "12"},
          "responseElements": {"aliasArn": "arn:aws:lambda:eu-west-1:123456789012:function:notify-worker:live"}}
    doc = {"Events": [{"EventId": "alias-1", "EventName": "CreateAlias20150331", "CloudTrailEvent": json.dumps(ct)},
                      {"EventId": "get-1", "EventName": "GetAlias20150331",
                       "CloudTrailEvent": json.dumps({**ct, "eventName": "GetAlias20150331", "readOnly": True,
                                                      "eventID": "get-1"})}]}
    rows = dep.deployments_from_cloudtrail(doc).to_dicts()
    assert [(r["id"], r["service"], r["version_to"], r["actor"]) for r in rows] == [
        ("alias-1", "notify-worker", "12", "dave")]
