"""Deployment records of the demo: CodeDeploy BatchGetDeployments, ECS DescribeServices, CloudTrail
LookupEvents, and a CSV of changes AWS does not record.

Examples
--------
>>> from slo_analysis.demo.changes_writer import task_definition_arn
>>> task_definition_arn("routing-service", "2.4.0")
'arn:aws:ecs:eu-west-1:123456789012:task-definition/routing-service:42'
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import polars as pl

from slo_analysis.demo.output import write_bytes, write_json
from slo_analysis.demo.story import ACCOUNT, CLUSTER, REGION, SERVICES, VERSIONS, Change, Story, iso_ms, iso_s
from slo_analysis.demo.traffic import Simulation

__all__ = ["task_definition_arn", "write_changes"]

_REVISIONS = {
    ("routing-service", "2.3.1"): 41,
    ("routing-service", "2.4.0"): 42,
    ("kb-search", "1.8.0"): 17,
    ("kb-search", "1.8.1"): 18,
}
_CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"


def task_definition_arn(service: str, version: str) -> str:
    rev = _REVISIONS.get((service, version), 9)
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{service}:{rev}"


def _uuid(*parts: object) -> str:
    h = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _epoch(ms: int) -> float:
    return round(ms / 1000.0, 3)


def _codedeploy(story: Story) -> dict[str, Any]:
    def info(c: Change, rollback: dict[str, str], creator: str) -> dict[str, Any]:
        appspec = (
            f"version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
            f'        TaskDefinition: "{task_definition_arn(c.service, c.version_to)}"\n'
            f'        LoadBalancerInfo:\n          ContainerName: "{c.service}"\n          ContainerPort: 8080\n'
        )
        d: dict[str, Any] = {
            "applicationName": f"AppECS-{CLUSTER}-{c.service}",
            "deploymentGroupName": f"DgpECS-{CLUSTER}-{c.service}",
            "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
            "deploymentId": c.id,
            "status": c.status,
            "creator": creator,
            "description": c.description,
            "computePlatform": "ECS",
            "createTime": _epoch(c.started_ms),
            "startTime": _epoch(c.started_ms + 2_000),
            "completeTime": _epoch(c.finished_ms),
            "revision": {
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": appspec, "sha256": hashlib.sha256(appspec.encode()).hexdigest()},
            },
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "blueGreenDeploymentConfiguration": {
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": "TERMINATE",
                    "terminationWaitTimeInMinutes": 240,
                },
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0},
            },
            "deploymentOverview": {
                "Pending": 0,
                "InProgress": 0,
                "Succeeded": 1 if c.status == "Succeeded" else 0,
                "Failed": 0,
                "Skipped": 0,
                "Ready": 0,
            },
            "rollbackInfo": rollback,
        }
        if c.status == "Stopped":
            d["errorInformation"] = {
                "code": "MANUAL_STOP",
                "message": "The deployment was stopped by a user; a rollback deployment was created.",
            }
        return d

    cul, rb = story.culprit, story.rollback
    msg = f"Deployment {cul.id} was stopped by the user and rolled back by deployment {rb.id}"
    return {
        "deploymentsInfo": [
            info(cul, {"rollbackDeploymentId": rb.id, "rollbackMessage": msg}, "user"),
            info(rb, {"rollbackTriggeringDeploymentId": cul.id, "rollbackMessage": msg}, "codeDeployRollback"),
        ]
    }


def _ecs(sim: Simulation, story: Story) -> dict[str, Any]:
    services = []
    for s in SERVICES:
        tasks = sim.tasks.filter(pl.col("service") == s).sort(["from_ms", "task_id"])
        events: list[tuple[int, str]] = [(story.start_ms + 6 * 3_600_000, f"(service {s}) has reached a steady state.")]
        version = VERSIONS[s]
        controller = "CODE_DEPLOY" if s == "routing-service" else "ECS"
        created = story.start_ms - 12 * 86_400_000
        dep_id = "ecs-svc/" + str(int(hashlib.sha256(s.encode()).hexdigest()[:15], 16))
        if s == "kb-search":
            d = story.decoy
            new = tasks.filter(pl.col("version") == d.version_to)["task_id"].to_list()
            old = tasks.filter(pl.col("version") == d.version_from)["task_id"].to_list()
            version, created, dep_id = d.version_to, d.started_ms, d.id
            events += [
                (
                    d.started_ms + 21_000,
                    f"(service {s}) has started {len(new)} tasks: " + " ".join(f"(task {t})" for t in new) + ".",
                ),
                (
                    d.finished_ms - 95_000,
                    f"(service {s}) has stopped {len(old)} running tasks: "
                    + " ".join(f"(task {t})" for t in old)
                    + ".",
                ),
                (d.finished_ms - 30_000, f"(service {s}) (deployment {d.id}) deployment completed."),
                (d.finished_ms, f"(service {s}) has reached a steady state."),
            ]
        if s == "routing-service":
            cul, rb = story.culprit, story.rollback
            green = tasks.filter(pl.col("version") == cul.version_to)["task_id"].unique(maintain_order=True).to_list()
            ts_green = "ecs-svc/7359011048235586112"
            ts_blue = "ecs-svc/2214096370519907445"
            events += [
                (
                    cul.started_ms + 30_000,
                    f"(service {s}, taskSet {ts_green}) has started {len(green)} tasks: "
                    + " ".join(f"(task {t})" for t in green)
                    + ".",
                ),
                (cul.started_ms + 95_000, f"(service {s}) updated computedDesiredCount for taskSet {ts_green} to 2."),
                (
                    story.onset_ms,
                    f"(service {s}, taskSet {ts_green}) registered 2 targets in "
                    f"(target-group arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/routing-green/6d0ecf8)",
                ),
                (story.onset_ms + 12_000, f"(service {s}) has reached a steady state."),
                (
                    rb.started_ms + 40_000,
                    f"(service {s}, taskSet {ts_blue}) registered 2 targets in "
                    f"(target-group arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/routing-blue/91b2c77)",
                ),
                (
                    rb.finished_ms - 20_000,
                    f"(service {s}, taskSet {ts_green}) has begun draining connections on {len(green)} tasks.",
                ),
                (
                    rb.finished_ms + 60_000,
                    f"(service {s}, taskSet {ts_green}) has stopped {len(green)} running tasks: "
                    + " ".join(f"(task {t})" for t in green)
                    + ".",
                ),
                (rb.finished_ms + 90_000, f"(service {s}) has reached a steady state."),
            ]
            dep_id = ts_blue
        n = 3 if s in ("support-web", "ticket-api") else 2
        td = task_definition_arn(s, version)
        events.sort(reverse=True)
        services.append(
            {
                "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{s}",
                "serviceName": s,
                "clusterArn": _CLUSTER_ARN,
                "status": "ACTIVE",
                "desiredCount": n,
                "runningCount": n,
                "pendingCount": 0,
                "launchType": "FARGATE",
                "platformVersion": "1.4.0",
                "taskDefinition": td,
                "deploymentController": {"type": controller},
                "createdAt": _epoch(story.start_ms - 200 * 86_400_000),
                "deployments": [
                    {
                        "id": dep_id,
                        "status": "PRIMARY",
                        "taskDefinition": td,
                        "desiredCount": n,
                        "pendingCount": 0,
                        "runningCount": n,
                        "failedTasks": 0,
                        "createdAt": _epoch(created),
                        "updatedAt": _epoch(story.decoy.finished_ms if s == "kb-search" else created + 400_000),
                        "launchType": "FARGATE",
                        "platformVersion": "1.4.0",
                        "rolloutState": "COMPLETED",
                        "rolloutStateReason": "ECS deployment " + dep_id + " completed.",
                    }
                ],
                "events": [{"id": _uuid(s, t, m), "createdAt": _epoch(t), "message": m} for t, m in events],
            }
        )
    return {"services": services, "failures": []}


def _trail_event(
    name: str, source: str, user: str, t_ms: int, params: dict[str, Any], response: Any, resources: list[dict[str, str]]
) -> dict[str, Any]:
    eid = _uuid(name, user, t_ms)
    role = "AWSReservedSSO_PlatformEngineer_5f1c2d3e4a5b6c7d"
    ct = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROA4EXAMPLEPLATFORM:{user}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{user}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIA4EXAMPLE" + hashlib.sha256(user.encode()).hexdigest()[:8].upper(),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROA4EXAMPLEPLATFORM",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/{role}",
                    "accountId": ACCOUNT,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": iso_s(t_ms - 1_800_000).replace("+00:00", "Z"),
                    "mfaAuthenticated": "false",
                },
            },
        },
        "eventTime": iso_s(t_ms).replace("+00:00", "Z"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.24",
        "userAgent": "aws-cli/2.22.4 Python/3.12.6",
        "requestParameters": params,
        "responseElements": response,
        "requestID": _uuid("req", eid),
        "eventID": eid,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    return {
        "EventId": eid,
        "EventName": name,
        "ReadOnly": "false",
        "AccessKeyId": ct["userIdentity"]["accessKeyId"],
        "EventTime": iso_s(t_ms),
        "EventSource": source,
        "Username": user,
        "Resources": resources,
        "CloudTrailEvent": json.dumps(ct, sort_keys=True),
    }


def _cloudtrail(story: Story) -> dict[str, Any]:
    cul, rb, d = story.culprit, story.rollback, story.decoy
    td_new = task_definition_arn(cul.service, cul.version_to)
    kb_new = task_definition_arn(d.service, d.version_to)
    ev = [
        _trail_event(
            "RegisterTaskDefinition",
            "ecs.amazonaws.com",
            cul.actor,
            cul.started_ms - 95_000,
            {
                "family": cul.service,
                "containerDefinitions": [
                    {
                        "name": cul.service,
                        "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{cul.service}:{cul.version_to}",
                    }
                ],
            },
            {"taskDefinition": {"taskDefinitionArn": td_new, "revision": 42}},
            [{"ResourceType": "AWS::ECS::TaskDefinition", "ResourceName": td_new}],
        ),
        _trail_event(
            "CreateDeployment",
            "codedeploy.amazonaws.com",
            cul.actor,
            cul.started_ms,
            {
                "applicationName": f"AppECS-{CLUSTER}-{cul.service}",
                "deploymentGroupName": f"DgpECS-{CLUSTER}-{cul.service}",
                "description": cul.description,
            },
            {"deploymentId": cul.id},
            [{"ResourceType": "AWS::CodeDeploy::DeploymentGroup", "ResourceName": f"DgpECS-{CLUSTER}-{cul.service}"}],
        ),
        _trail_event(
            "StopDeployment",
            "codedeploy.amazonaws.com",
            rb.actor,
            rb.started_ms,
            {"deploymentId": cul.id, "autoRollbackEnabled": True},
            {"status": "Pending", "statusMessage": "Stopping Pending. Stopping to be retried."},
            [],
        ),
        _trail_event(
            "RegisterTaskDefinition",
            "ecs.amazonaws.com",
            d.actor,
            d.started_ms - 120_000,
            {
                "family": d.service,
                "containerDefinitions": [
                    {"name": d.service, "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{d.service}:{d.version_to}"}
                ],
            },
            {"taskDefinition": {"taskDefinitionArn": kb_new, "revision": 18}},
            [{"ResourceType": "AWS::ECS::TaskDefinition", "ResourceName": kb_new}],
        ),
        _trail_event(
            "UpdateService",
            "ecs.amazonaws.com",
            d.actor,
            d.started_ms,
            {"cluster": CLUSTER, "service": d.service, "taskDefinition": kb_new, "forceNewDeployment": False},
            {
                "service": {
                    "serviceName": d.service,
                    "taskDefinition": kb_new,
                    "deployments": [{"id": d.id, "status": "PRIMARY", "taskDefinition": kb_new}],
                }
            },
            [{"ResourceType": "AWS::ECS::Service", "ResourceName": d.service}],
        ),
    ]
    ev.sort(key=lambda e: (e["EventTime"], e["EventId"]), reverse=True)
    return {"Events": ev}


def write_changes(out: Path, sim: Simulation, story: Story) -> list[Path]:
    """The four deployment files under ``deployments/``."""
    folder = out / "deployments"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["id", "service", "started_at", "finished_at", "status", "version_from", "version_to", "actor", "description"]
    )
    f = story.feature_flag
    w.writerow(
        [
            f.id,
            f.service,
            iso_ms(f.started_ms),
            iso_ms(f.finished_ms),
            f.status,
            f.version_from,
            f.version_to,
            f.actor,
            f.description,
        ]
    )
    return [
        write_json(folder / "codedeploy-batch-get-deployments.json", _codedeploy(story)),
        write_json(folder / "ecs-describe-services.json", _ecs(sim, story)),
        write_json(folder / "cloudtrail-lookup-events.json", _cloudtrail(story)),
        write_bytes(folder / "deployments.csv", buf.getvalue().encode()),
    ]
