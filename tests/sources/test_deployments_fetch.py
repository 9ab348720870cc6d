"""Change fetchers: CodeDeploy, ECS and Lambda over real HTTP against moto; CloudTrail with the Stubber.

Set-up data (applications, deployments, services, functions) is created with plain boto3 clients,
not ``slo_analysis.sources.aws.client``, so the least-privilege recorder (tests/conftest.py) sees only
the read calls the package makes. Names are unique per test: the moto server lives for the session.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from slo_analysis.exceptions import SloAnalysisError
from slo_analysis.sources import aws
from slo_analysis.sources import deployments_fetch as df
from slo_analysis.sources.aws import AwsSettings, Fetched
from slo_analysis.store import Snapshot
from slo_analysis.store.fetcher import run_fetchers


class Calls:
    """Operations made through the package's clients while in the ``with`` block."""

    def __init__(self) -> None:
        self.ops: list[str] = []

    def __call__(self, service: str, operation: str) -> None:
        self.ops.append(operation)

    def __enter__(self) -> Calls:
        aws.add_operation_observer(self)
        return self

    def __exit__(self, *exc: object) -> None:
        aws.remove_operation_observer(self)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _setup(service: str, session: Any, endpoint: str) -> Any:
    """A plain boto3 client for test set-up writes (not recorded)."""
    return session.client(service, region_name="eu-west-1", endpoint_url=endpoint)


def _now_window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


def _stored_from(snap: Snapshot) -> df.Stored:
    """``stored(unit)`` from a snapshot: the raw response of a finished unit (what the CLI passes)."""
    def stored(unit: str) -> dict[str, Any] | None:
        meta = snap.manifest.get("fetch", {}).get("units", {}).get(unit)
        if meta is None:
            return None
        return json.loads(gzip.decompress((Path(snap.path) / meta["response"]).read_bytes()))
    return stored


# ----------------------------------------------------------------------------- CodeDeploy (moto)
def _codedeploy_app(session: Any, endpoint: str, n: int) -> tuple[str, str, list[str]]:
    cd = _setup("codedeploy", session, endpoint)
    app, group = _name("app"), _name("ticket-api")
    cd.create_application(applicationName=app, computePlatform="Server")
    cd.create_deployment_group(applicationName=app, deploymentGroupName=group,
                               serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy")
    ids = [cd.create_deployment(applicationName=app, deploymentGroupName=group, description=f"release {k}",
                                revision={"revisionType": "S3", "s3Location": {
                                    "bucket": "artifacts", "key": "ticket-api.zip", "bundleType": "zip",
                                    "version": f"v{k}"}})["deploymentId"] for k in range(n)]
    return app, group, ids


def test_codedeploy_lists_then_batches_of_25(moto_endpoint: str, fake_session: Any) -> None:
    app, group, ids = _codedeploy_app(fake_session, moto_endpoint, 30)
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    with Calls() as calls:
        units = list(df.codedeploy_fetcher(settings, _now_window(), applications=[app])(set()))
    assert calls.ops == ["ListDeploymentGroups", "ListDeployments", "BatchGetDeployments", "BatchGetDeployments"]
    batches = [u for u in units if u.kind == "deployments-codedeploy"]
    assert [len(u.request["deploymentIds"]) for u in batches] == [25, 5]
    rows = [r for u in batches for r in u.frames["deployments"].iter_rows(named=True)]
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert {r["service"] for r in rows} == {group} and {r["source"] for r in rows} == {"codedeploy"}
    assert sorted(r["version_to"] for r in rows) == sorted(f"ticket-api.zip@v{k}" for k in range(30))
    listing = next(u for u in units if u.unit.startswith("codedeploy/list-deployments/"))
    assert listing.request["applicationName"] == app and listing.request["deploymentGroupName"] == group
    assert listing.request["createTimeRange"]["start"] < listing.request["createTimeRange"]["end"]


def test_codedeploy_window_excludes_other_times(moto_endpoint: str, fake_session: Any) -> None:
    app, group, _ = _codedeploy_app(fake_session, moto_endpoint, 2)
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    past = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC))
    with Calls() as calls:
        units = list(df.codedeploy_fetcher(settings, past, applications={app: [group]})(set()))
    assert calls.ops == ["ListDeployments"] and [u.kind for u in units] == ["codedeploy-list"]


def test_codedeploy_snapshot_resumes_without_calling_aws_again(moto_endpoint: str, fake_session: Any,
                                                               tmp_path: Path) -> None:
    app, _, ids = _codedeploy_app(fake_session, moto_endpoint, 30)
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    window = _now_window()
    snap = Snapshot.create(tmp_path / "snap")

    class Killed(Exception):
        pass

    def die_after_first_batch(stream: Any, name: str) -> Any:
        for unit in stream:
            yield unit
            if unit.kind == "deployments-codedeploy":
                raise Killed

    with pytest.raises(Killed):
        run_fetchers(snap, [("codedeploy", df.codedeploy_fetcher(settings, window, applications=[app]))],
                     progress=die_after_first_batch)
    snap = Snapshot.open(tmp_path / "snap")
    assert snap.read("deployments").height == 25
    with Calls() as calls:
        run_fetchers(snap, [("codedeploy", df.codedeploy_fetcher(settings, window, applications=[app],
                                                                 stored=_stored_from(snap)))])
    assert calls.ops == ["BatchGetDeployments"]  # only the unfinished batch; list pages come from the snapshot
    assert sorted(Snapshot.open(tmp_path / "snap").read("deployments")["id"].to_list()) == sorted(ids)
    with Calls() as calls:  # everything done: no call at all
        result = run_fetchers(snap, [("codedeploy", df.codedeploy_fetcher(settings, window, applications=[app],
                                                                          stored=_stored_from(snap)))])
    assert calls.ops == [] and result.units_fetched == []
    with Calls() as calls:  # without stored responses the listings are read again, never the batches
        assert list(df.codedeploy_fetcher(settings, window, applications=[app])(
            set(snap.manifest["fetch"]["units"]))) == []
    assert calls.ops == ["ListDeploymentGroups", "ListDeployments"]


# ----------------------------------------------------------------------------- ECS (moto)
def test_ecs_describe_services(moto_endpoint: str, fake_session: Any) -> None:
    ecs = _setup("ecs", fake_session, moto_endpoint)
    cluster, family = _name("prod"), _name("routing-service")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(family=family, containerDefinitions=[
        {"name": "app", "image": "routing:2.4.0", "memory": 512}])
    ecs.create_service(cluster=cluster, serviceName=family, taskDefinition=f"{family}:1", desiredCount=2)
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    fetcher = dict(df.deployments_fetchers(settings, _now_window(), services=[family, "missing"],
                                           clusters=[cluster], codedeploy=False, cloudtrail=False))["ecs"]
    with Calls() as calls:
        units = list(fetcher(set()))
    assert calls.ops == ["DescribeServices"]
    (unit,) = units
    assert unit.request == {"cluster": cluster, "services": [family, "missing"]}
    rows = unit.frames["deployments"].to_dicts()
    assert [(r["service"], r["version_to"], r["source"]) for r in rows] == [(family, f"{family}:1", "ecs")]
    with Calls() as calls:
        assert list(fetcher({unit.unit})) == []
    assert calls.ops == []


def test_ecs_batches_of_ten_services(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    class Fake:
        def describe_services(self, **request: Any) -> dict[str, Any]:
            seen.append(request["services"])
            return {"services": [], "failures": []}

    monkeypatch.setattr(df, "client", lambda service, settings=None: Fake())
    units = {u.unit for u in df.ecs_fetcher(None, _now_window(), {"prod": [f"svc-{k}" for k in range(23)]})(set())}
    assert [len(s) for s in seen] == [10, 10, 3] and len(units) == 3


# ----------------------------------------------------------------------------- Lambda (moto)
def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buf.getvalue()


def test_lambda_versions_and_aliases(moto_endpoint: str, fake_session: Any) -> None:
    iam = _setup("iam", fake_session, moto_endpoint)
    role = iam.create_role(RoleName=_name("role"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    lam = _setup("lambda", fake_session, moto_endpoint)
    fn = _name("notify-worker")
    lam.create_function(FunctionName=fn, Runtime="python3.11", Role=role, Handler="handler.handler",
                        Code={"ZipFile": _zip()}, Publish=True)
    lam.update_function_code(FunctionName=fn, ZipFile=_zip() + b"", Publish=True)
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    window = _now_window()  # one window: the unit names carry it, so a second clock read could rename them
    with Calls() as calls:
        units = list(df.lambda_fetcher(settings, window, [fn])(set()))
    assert calls.ops == ["ListVersionsByFunction", "ListAliases"]
    versions, aliases = units
    assert versions.kind == "deployments-lambda" and aliases.kind == "lambda-aliases" and not aliases.frames
    published = [v["Version"] for v in versions.response["Versions"] if v["Version"] != "$LATEST"]
    rows = versions.frames["deployments"].to_dicts()
    assert len(rows) == len(published) >= 1 and {r["service"] for r in rows} == {fn}
    assert [a["Name"] for a in aliases.response["Aliases"]] == ["live"]
    with Calls() as calls:
        assert list(df.lambda_fetcher(settings, window, [fn], stored=lambda u: None)(
            {versions.unit, aliases.unit})) == []
    assert calls.ops == ["ListVersionsByFunction", "ListAliases"]  # re-read for their markers only


# ----------------------------------------------------------------------------- CloudTrail (Stubber)
T0 = datetime(2026, 11, 2, 14, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(hours=2))


def _event(event_id: str, name: str, minute: int, service: str, task_def: str) -> dict[str, Any]:
    when = T0 + timedelta(minutes=minute)
    detail = {"eventVersion": "1.08", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "eventSource": "ecs.amazonaws.com", "eventName": name, "awsRegion": "eu-west-1",
              "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/"
                               "AWSReservedSSO_Admin_0123456789abcdef/priya.natarajan"},
              "requestParameters": {"cluster": "prod", "service": service, "taskDefinition": task_def},
              "responseElements": None, "eventID": event_id, "readOnly": False, "eventType": "AwsApiCall"}
    return {"EventId": event_id, "EventName": name, "ReadOnly": "false", "EventTime": when,
            "EventSource": "ecs.amazonaws.com", "Username": "priya.natarajan",
            "Resources": [], "CloudTrailEvent": json.dumps(detail)}


def _lambda_event(event_id: str, name: str, minute: int, *, read_only: bool = False) -> dict[str, Any]:
    """A Lambda management event as CloudTrail records it: the API version is part of ``eventName``."""
    when = T0 + timedelta(minutes=minute)
    fn = "arn:aws:lambda:eu-west-1:123456789012:function:notify-worker"
    detail = {"eventVersion": "1.08", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "eventSource": df.LAMBDA_EVENT_SOURCE, "eventName": name, "awsRegion": "eu-west-1",
              "userIdentity": {"type": "IAMUser", "userName": "alice", "arn": "arn:aws:iam::123456789012:user/alice"},
              "requestParameters": {"functionName": fn}, "responseElements": None, "eventID": event_id,
              "readOnly": read_only, "eventType": "AwsApiCall"}
    return {"EventId": event_id, "EventName": name, "ReadOnly": str(read_only).lower(), "EventTime": when,
            "EventSource": df.LAMBDA_EVENT_SOURCE, "Username": "alice",
            "Resources": [{"ResourceType": "AWS::Lambda::Function", "ResourceName": fn}],
            "CloudTrailEvent": json.dumps(detail)}


def _lookup(key: str, value: str, token: str | None = None) -> dict[str, Any]:
    r = {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}],
         "StartTime": WINDOW[0], "EndTime": WINDOW[1], "MaxResults": 50}
    return {**r, "NextToken": token} if token else r


def test_cloudtrail_one_lookup_per_event_name_every_page(monkeypatch: pytest.MonkeyPatch,
                                                         fake_session: Any) -> None:
    c = aws.client("cloudtrail", AwsSettings(session=fake_session, region="eu-west-1"))
    monkeypatch.setattr(df, "client", lambda service, settings=None: c)
    stub = Stubber(c)  # every response below is validated against the cloudtrail model

    stub.add_response("lookup_events", {"Events": [_event("e1", "UpdateService", 5, "routing-service",
                                                          "routing-service:42")], "NextToken": "p2"},
                      _lookup("EventName", "UpdateService"))
    stub.add_response("lookup_events", {"Events": [_event("e2", "UpdateService", 50, "routing-service",
                                                          "routing-service:41")]},
                      _lookup("EventName", "UpdateService", "p2"))
    # UpdateFunctionCode is recorded as UpdateFunctionCode20150331v2: looked up by its event source,
    # the other Lambda events (a read, a change not asked for) stay out of the frame.
    stub.add_response("lookup_events", {"Events": [
        _lambda_event("l1", "UpdateFunctionCode20150331v2", 20),
        _lambda_event("l2", "GetFunction20150331v2", 21, read_only=True),
        _lambda_event("l3", "UpdateFunctionConfiguration20150331v2", 22)]},
        _lookup("EventSource", "lambda.amazonaws.com"))
    names = ["UpdateService", "UpdateFunctionCode"]
    with stub, Calls() as calls:
        units = list(df.cloudtrail_fetcher(None, WINDOW, event_names=names)(set()))
    stub.assert_no_pending_responses()
    assert calls.ops == ["LookupEvents"] * 3
    assert [u.unit.split("/", 2)[-1].split("/")[0] for u in units] == [
        "EventName=UpdateService", "EventName=UpdateService", "EventSource=lambda.amazonaws.com"]
    assert [u.unit.rsplit("/", 1)[-1] for u in units] == ["page-0000", "page-0001", "page-0000"]
    rows = [r for u in units for r in u.frames["deployments"].iter_rows(named=True)]
    assert [(r["id"], r["service"], r["version_to"], r["actor"], r["status"]) for r in rows] == [
        ("e1", "routing-service", "routing-service:42", "priya.natarajan", "requested"),
        ("e2", "routing-service", "routing-service:41", "priya.natarajan", "requested"),
        ("l1", "notify-worker", None, "alice", "requested")]
    assert rows[2]["started_at"] == T0 + timedelta(minutes=20)
    assert len(units[2].response["Events"]) == 3  # the raw page keeps what AWS returned
    # Resume: the first page is done and stored, so only the unfinished pages are requested.
    first = {u.unit: aws.to_jsonable(u.response) for u in units}
    stub.add_response("lookup_events", {"Events": [_event("e2", "UpdateService", 50, "routing-service",
                                                          "routing-service:41")]},
                      _lookup("EventName", "UpdateService", "p2"))
    with stub, Calls() as calls:
        again = list(df.cloudtrail_fetcher(None, WINDOW, event_names=names, stored=first.get)(
            {units[0].unit, units[2].unit}))
    assert calls.ops == ["LookupEvents"] and [u.unit for u in again] == [units[1].unit]


def test_cloudtrail_default_finds_every_lambda_change_by_its_versioned_name(monkeypatch: pytest.MonkeyPatch,
                                                                            fake_session: Any) -> None:
    c = aws.client("cloudtrail", AwsSettings(session=fake_session, region="eu-west-1"))
    monkeypatch.setattr(df, "client", lambda service, settings=None: c)
    stub = Stubber(c)
    for name in sorted(df.CHANGE_EVENTS - df.LAMBDA_CHANGE_EVENTS):
        stub.add_response("lookup_events", {"Events": []}, _lookup("EventName", name))
    versioned = ["UpdateFunctionCode20150331v2", "UpdateFunctionConfiguration20150331v2", "PublishVersion20150331",
                 "UpdateAlias20150331", "PutFunctionConcurrency20171031"]
    page1 = [_lambda_event(f"l{i}", name, i) for i, name in enumerate(versioned)]
    stub.add_response("lookup_events", {"Events": page1, "NextToken": "more"},
                      _lookup("EventSource", "lambda.amazonaws.com"))
    stub.add_response("lookup_events", {"Events": [_lambda_event("r1", "ListFunctions20150331", 30, read_only=True),
                                                   _lambda_event("l9", "UpdateEventSourceMapping20150331", 31)]},
                      _lookup("EventSource", "lambda.amazonaws.com", "more"))
    with stub:
        units = list(df.cloudtrail_fetcher(None, WINDOW)(set()))
    stub.assert_no_pending_responses()
    lam = [u for u in units if "EventSource=lambda.amazonaws.com" in u.unit]
    assert len(lam) == 2 and all(u.kind == "deployments-cloudtrail" for u in lam)
    rows = [r for u in lam for r in u.frames["deployments"].iter_rows(named=True)]
    assert sorted(r["id"] for r in rows) == ["l0", "l1", "l2", "l3", "l4", "l9"]  # the read is dropped
    assert {r["service"] for r in rows} == {"notify-worker"}
    assert [r["started_at"] for r in rows] == [T0 + timedelta(minutes=m) for m in (0, 1, 2, 3, 4, 31)]


def test_default_lookups_cover_every_change_event(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str]] = []

    class Fake:
        def lookup_events(self, **request: Any) -> dict[str, Any]:
            assert len(request["LookupAttributes"]) == 1  # the API takes one attribute per call
            attr = request["LookupAttributes"][0]
            asked.append((attr["AttributeKey"], attr["AttributeValue"]))
            return {"Events": []}

    monkeypatch.setattr(df, "client", lambda service, settings=None: Fake())
    list(df.cloudtrail_fetcher(None, WINDOW)(set()))
    # Exact names where CloudTrail records them bare; Lambda's versioned names through its source, once.
    assert asked == [("EventName", n) for n in sorted(df.CHANGE_EVENTS - df.LAMBDA_CHANGE_EVENTS)] + [
        ("EventSource", "lambda.amazonaws.com")]
    assert {"UpdateFunctionCode", "UpdateAlias", "CreateAlias", "PublishVersion"} <= df.LAMBDA_CHANGE_EVENTS
    asked.clear()
    list(df.cloudtrail_fetcher(None, WINDOW, event_sources=["ecs.amazonaws.com"])(set()))
    assert asked == [("EventSource", "ecs.amazonaws.com")]
    asked.clear()
    list(df.cloudtrail_fetcher(None, WINDOW, event_names=["CreateAlias"], event_sources=["lambda.amazonaws.com"])(
        set()))
    assert asked == [("EventSource", "lambda.amazonaws.com")]  # one lookup of the source, not two


def test_lookup_attributes_hold_one_item_in_the_model() -> None:
    # The fetcher's one-attribute-per-call rule comes from the cloudtrail model.
    import botocore.session

    shape = botocore.session.get_session().get_service_model("cloudtrail").operation_model(
        "LookupEvents").input_shape.members["LookupAttributes"]
    assert "only one item" in shape.documentation
    assert {"EventName", "EventSource"} <= set(shape.member.members["AttributeKey"].enum)


def test_deployments_fetchers_names_and_bounds() -> None:
    names = [n for n, _ in df.deployments_fetchers(None, WINDOW, services=["web"], clusters=["prod"],
                                                   functions=["fn"])]
    assert names == ["codedeploy", "ecs", "lambda", "cloudtrail"]
    assert [n for n, _ in df.deployments_fetchers(None, WINDOW, codedeploy=False, cloudtrail=False)] == []
    with pytest.raises(SloAnalysisError, match="timezone-aware"):
        df.deployments_fetchers(None, (datetime(2026, 1, 1), datetime(2026, 1, 2)))


def test_page_bound_is_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    class Endless:
        def lookup_events(self, **request: Any) -> dict[str, Any]:
            return {"Events": [], "NextToken": "again"}

    monkeypatch.setattr(df, "client", lambda service, settings=None: Endless())
    fetched: list[Fetched] = []
    with pytest.raises(SloAnalysisError, match="more than 3 pages"):
        fetched.extend(df.cloudtrail_fetcher(None, WINDOW, event_names=["UpdateService"], max_pages=3)(set()))
    assert len(fetched) == 3


def test_fetchers_never_build_boto3_clients_themselves() -> None:
    # Clients come from slo_analysis.sources.aws.client (retries, endpoint, the operation recorder).
    assert "boto3" not in Path(df.__file__).read_text()
