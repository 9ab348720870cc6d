"""Least privilege: every AWS operation the package made during this test run is in iam/*.json.

``tests/conftest.py`` registers an operation observer on ``slo_analysis.sources.aws.client`` for the
whole session and moves this module to the end of the run, so the recorded set holds every call the
package's fetchers made in the other tests. Set-up writes (PutMetricData, PutLogEvents,
CreateLogGroup, PutTraceSegments, CreateBucket, PutObject, CreateApplication, CreateDeployment, ...)
are made by the tests with plain boto3 clients, which are not recorded: a package call to a write
operation would be recorded and fail here.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

IAM = Path(__file__).resolve().parents[1] / "iam"
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
            "BatchGetServiceLevelObjectiveBudgetReport")},
    "test_deployments_fetch.py": {
        ("codedeploy", "ListDeploymentGroups"), ("codedeploy", "ListDeployments"),
        ("codedeploy", "BatchGetDeployments"), ("ecs", "DescribeServices"), ("lambda", "ListVersionsByFunction"),
        ("lambda", "ListAliases"), ("cloudtrail", "LookupEvents")},
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


def test_export_task_policy_is_only_the_export() -> None:
    assert sorted(_allowed(_load(EXPORT_TASK))) == ["logs:CreateExportTask", "logs:DescribeExportTasks"]
    assert not _permits(_allowed(_load(READONLY)), "logs:CreateExportTask")


def test_the_record_is_not_vacuous(recorded_operations: set[tuple[str, str]],
                                   collected_test_files: set[str]) -> None:
    ran = [f for f in EXERCISED if f in collected_test_files]
    if not ran:
        pytest.skip("no fetcher test ran in this session (run the whole suite): nothing recorded to check")
    assert recorded_operations, "no AWS operation was recorded: is the observer in tests/conftest.py active?"
    expected = set().union(*(EXERCISED[f] for f in ran))
    missing = sorted(expected - recorded_operations)
    assert not missing, f"fetcher tests ran but these operations were not recorded: {missing}"


def test_every_recorded_operation_is_allowed(recorded_operations: set[tuple[str, str]]) -> None:
    readonly, export = _allowed(_load(READONLY)), _allowed(_load(EXPORT_TASK))
    missing = sorted({_action(s, op) for s, op in recorded_operations
                      if (s, op) not in NO_PERMISSION_NEEDED
                      and not _permits(readonly, _action(s, op)) and not _permits(export, _action(s, op))})
    assert not missing, ("operations made by the package but not allowed by iam/slo-analysis-readonly.json "
                         f"(or the export-task policy): {missing}")
