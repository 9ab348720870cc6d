"""Least privilege: the package's AWS calls and iam/*.json agree, in both directions.

``tests/conftest.py`` registers an operation observer on ``slo_analysis.sources.aws.client`` for the
whole session and moves this module to the end of the run, so the recorded set holds every call the
package's fetchers made in the other tests: each must be allowed by the read-only policy alone, except
``logs:CreateExportTask``, which only the separate export-task policy may allow. In the other direction
every action of the read-only policy must be called somewhere in the package (found by its boto3
method name in the source), so the policy grants nothing unused; that check and the read-only-by-
construction check (no write method called, but the export) read the source and need no record.
Set-up writes (PutMetricData, PutLogEvents, CreateDeployment, ...) are made by the tests with plain
boto3 clients, which are not recorded: a package call to a write operation would be recorded and fail.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[1]
IAM = ROOT / "iam"
PACKAGE = ROOT / "slo_analysis"
READONLY = IAM / "slo-analysis-readonly.json"
EXPORT_TASK = IAM / "slo-analysis-export-task.json"

# API operation -> IAM action, where the two differ (boto3 service names are the IAM prefixes of
# every service the package uses: cloudwatch, logs, s3, xray, application-signals, codedeploy, ecs,
# lambda, cloudtrail).
OPERATION_TO_ACTION = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
}
ACTION_TO_OPERATIONS: dict[str, set[tuple[str, str]]] = {}
for _op, _act in OPERATION_TO_ACTION.items():
    ACTION_TO_OPERATIONS.setdefault(_act, set()).add(_op)
# The one write, made only on the user's explicit request, and allowed only by the export-task policy.
EXPORT_ACTION = "logs:CreateExportTask"
# Operations no IAM policy can allow or deny.
NO_PERMISSION_NEEDED = {("sts", "GetCallerIdentity")}
# Actions that start like writes but only read: a Logs Insights query reads logs; StopQuery cancels it.
READS_DESPITE_NAME = {"logs:startquery", "logs:stopquery"}
WRITE_PREFIXES = ("Put", "Create", "Delete", "Update", "Start", "Stop", "Tag", "Untag", "Modify", "Register",
                  "Deregister", "Attach", "Detach", "Set", "Add", "Remove", "Enable", "Disable", "Cancel",
                  "Invoke", "Publish", "Run", "Terminate", "Restore", "Import", "Associate", "Disassociate")

# What the fetcher tests of this repository exercise, by test file: if that file ran, these must
# have been recorded (so the policy check cannot pass on an empty or partial record).
EXERCISED = {
    "test_application_signals_fetch.py": {
        ("application-signals", op) for op in (
            "ListServices", "ListServiceOperations", "ListServiceLevelObjectives", "GetServiceLevelObjective",
            "BatchGetServiceLevelObjectiveBudgetReport", "ListServiceLevelObjectiveExclusionWindows")},
    "test_deployments_fetch.py": {
        ("codedeploy", "ListDeploymentGroups"), ("codedeploy", "ListDeployments"),
        ("codedeploy", "BatchGetDeployments"), ("ecs", "DescribeServices"), ("lambda", "ListVersionsByFunction"),
        ("lambda", "ListAliases"), ("cloudtrail", "LookupEvents")},
    "test_cloudwatch_logs_fetch.py": {
        ("logs", "StartQuery"), ("logs", "GetQueryResults"), ("logs", "StopQuery"), ("logs", "FilterLogEvents"),
        ("logs", "DescribeExportTasks"), ("logs", "CreateExportTask"), ("s3", "ListObjectsV2"), ("s3", "GetObject")},
    "test_xray_fetch.py": {("xray", "GetTraceSummaries"), ("xray", "BatchGetTraces"), ("xray", "GetServiceGraph")},
    "test_alarms_fetch.py": {("cloudwatch", "DescribeAlarms"), ("cloudwatch", "DescribeAlarmHistory")},
    "test_cloudwatch_metrics_fetch.py": {("cloudwatch", "ListMetrics"), ("cloudwatch", "GetMetricData")},
}


def _load(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    assert isinstance(doc, dict)
    return doc


def _allowed(policy: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for st in policy["Statement"]:
        if st["Effect"] == "Allow":
            actions = st["Action"]
            out.extend([actions] if isinstance(actions, str) else actions)
    return out


def _action(service: str, operation: str) -> str:
    return OPERATION_TO_ACTION.get((service, operation), f"{service}:{operation}")


def _permits(patterns: list[str], action: str) -> bool:
    # IAM action names match case-insensitively, with * and ? wildcards.
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


@pytest.mark.parametrize("path", [READONLY, EXPORT_TASK], ids=lambda p: p.name)
def test_policy_files_are_iam_policies(path: Path) -> None:
    doc = _load(path)
    assert set(doc) == {"Version", "Statement"} and doc["Version"] == "2012-10-17"
    assert isinstance(doc["Statement"], list) and doc["Statement"]
    sids = [st.get("Sid") for st in doc["Statement"]]
    assert len(set(sids)) == len(sids), "duplicate Sid"
    for st in doc["Statement"]:
        assert set(st) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, st
        assert st["Effect"] == "Allow" and st["Resource"]
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        for a in actions:
            service, _, name = a.partition(":")
            assert service and name and "*" not in a, f"{a}: name each action, no wildcards"
        assert actions == sorted(actions) and len(set(actions)) == len(actions), f"{st.get('Sid')}: sort, no dups"


def test_readonly_policy_holds_no_write_action() -> None:
    writes = [a for a in _allowed(_load(READONLY))
              if a.split(":", 1)[1].startswith(WRITE_PREFIXES) and a.lower() not in READS_DESPITE_NAME]
    assert writes == [], f"write actions in the read-only policy: {writes}"


def _operations(action: str) -> set[tuple[str, str]]:
    """The (boto3 service, API operation) pairs an IAM action authorises."""
    service, _, name = action.partition(":")
    return ACTION_TO_OPERATIONS.get(action, set()) | {(service, name)}


def _called_methods() -> set[str]:
    """Names the package calls as methods: ``c.method(...)``, ``c.method,`` (passed to a pager) or
    ``getattr(c, "method")``; boto3 client methods are the operations' snake_case names."""
    source = "\n".join(p.read_text() for p in sorted(PACKAGE.rglob("*.py")))
    calls = re.findall(r"\.([a-z][a-z0-9_]*)\s*[(,)]", source)
    quoted = re.findall(r"[\"']([a-z][a-z0-9_]*)[\"']", source)
    return set(calls) | set(quoted)


def test_export_task_policy_is_only_the_export() -> None:
    assert _allowed(_load(EXPORT_TASK)) == [EXPORT_ACTION]
    assert not _permits(_allowed(_load(READONLY)), EXPORT_ACTION)


@pytest.mark.parametrize("path", [READONLY, EXPORT_TASK], ids=lambda p: p.name)
def test_every_action_names_a_real_operation(path: Path) -> None:
    # A typo in an action name would grant nothing and fail only in a real account: check the models.
    session = botocore.session.get_session()
    for action in _allowed(_load(path)):
        ops = _operations(action)
        known = [op for svc, op in ops if op in session.get_service_model(svc).operation_names]
        assert known, f"{path.name}: {action} names no operation of the botocore model"


def test_no_unused_permission_in_the_readonly_policy() -> None:
    called = _called_methods()
    unused = [a for a in _allowed(_load(READONLY)) if not any(xform_name(op) in called for _, op in _operations(a))]
    assert unused == [], f"actions granted by {READONLY.name} that no code path calls: {unused}"


def test_the_package_calls_no_write_operation_but_the_export() -> None:
    called = _called_methods()
    session = botocore.session.get_session()
    # A method name a granted read also has (logs:StartQuery and cloudtrail:StartQuery are both
    # start_query) cannot be told apart by name: the recorded operations settle those.
    granted = {xform_name(op) for a in _allowed(_load(READONLY)) for _, op in _operations(a)}
    writes = []
    for service in ("cloudwatch", "logs", "s3", "xray", "application-signals", "codedeploy", "ecs", "lambda",
                    "cloudtrail"):
        for op in session.get_service_model(service).operation_names:
            action = f"{service}:{op}".lower()
            if op.startswith(WRITE_PREFIXES) and action not in READS_DESPITE_NAME \
                    and action != EXPORT_ACTION.lower() and xform_name(op) not in granted \
                    and xform_name(op) in called:
                writes.append(f"{service}:{op}")
    assert writes == [], f"the package calls write operations: {writes}"
    assert "create_export_task" in called  # the one write is found by this scan (so others would be too)


def test_the_record_is_not_vacuous(recorded_operations: set[tuple[str, str]],
                                   collected_test_files: set[str]) -> None:
    ran = [f for f in EXERCISED if f in collected_test_files]
    if not ran:
        pytest.skip("no fetcher test ran in this session (run the whole suite): nothing recorded to check")
    assert recorded_operations, "no AWS operation was recorded: is the observer in tests/conftest.py active?"
    expected = set().union(*(EXERCISED[f] for f in ran))
    missing = sorted(expected - recorded_operations)
    assert not missing, f"fetcher tests ran but these operations were not recorded: {missing}"


def test_every_recorded_operation_is_allowed_by_the_readonly_policy_alone(
        recorded_operations: set[tuple[str, str]]) -> None:
    readonly, export = _allowed(_load(READONLY)), _allowed(_load(EXPORT_TASK))
    actions = {_action(s, op) for s, op in recorded_operations if (s, op) not in NO_PERMISSION_NEEDED}
    missing = sorted(a for a in actions if a != EXPORT_ACTION and not _permits(readonly, a))
    assert not missing, f"operations made by the package but not allowed by {READONLY.name}: {missing}"
    if EXPORT_ACTION in actions:  # only ever from the export-task policy
        assert _permits(export, EXPORT_ACTION) and not _permits(readonly, EXPORT_ACTION)


def test_a_test_calling_a_package_client_itself_is_not_a_package_code_path(
        recorded_operations: set[tuple[str, str]], fake_session: Any) -> None:
    # tests/sources/test_aws.py drives a package client's retries with DescribeLogGroups, which the
    # package never calls: the recorder must leave such calls out, or the policy would need them.
    from botocore.stub import Stubber

    from slo_analysis.sources import aws

    c: Any = aws.client("logs", aws.AwsSettings(session=fake_session, region="eu-west-1"))
    with Stubber(c) as stub:
        stub.add_response("describe_log_groups", {"logGroups": []}, {})
        c.describe_log_groups()
    assert ("logs", "DescribeLogGroups") not in recorded_operations
