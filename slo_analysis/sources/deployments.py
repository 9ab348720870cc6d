"""Changes (deployments, rollbacks, configuration changes) into the ``deployments`` frame.

Sources: CodeDeploy (BatchGetDeployments / GetDeployment), ECS (DescribeServices deployments),
Lambda (ListVersionsByFunction, GetAlias), CloudTrail (LookupEvents) and a hand-kept CSV/YAML file.

Conventions
-----------
- ``status`` is normalised to ``succeeded | failed | stopped | in_progress | replaced | requested``
  (``requested``: only the API call is known, from CloudTrail; ``replaced``: an older ECS
  deployment still draining or gone). CloudTrail frames also hold ``registered`` rows
  (RegisterTaskDefinition image annotations, not changes) and StopDeployment rows (``stopped``,
  id ``<deploymentId>/StopDeployment``); ``deployment_merge.merge_deployments`` folds both into the changes.
- ``service``: CodeDeploy ECS blue/green uses the AppSpec's task definition family; otherwise
  CodeDeploy uses ``deploymentGroupName`` by default (a group is one service in one
  environment; an application bundles several), ``service_from="applicationName"`` switches;
  ECS uses ``serviceName``; Lambda the function name; CloudTrail the request's service/function/
  deployment group/stack/parameter/table name.
- Versions: ECS task definitions as ``family:revision``; CodeDeploy revisions as
  ``key@version`` / ``key@eTag`` (S3), the commit id (GitHub), the task definition ``family:revision``
  an ECS AppSpec names, else ``sha256:<hex>`` (AppSpec/String). Container image tags go in the
  description (``image 2.4.0``), not in the version.
- Actors: an IAM Identity Center session (``AWSReservedSSO_<set>_<hash>/<session>``) is the person
  (``<session>``); other assumed roles stay ``role/session``.

Examples
--------
>>> doc = {"deploymentInfo": {"deploymentId": "d-1", "deploymentGroupName": "ticket-api",
...        "status": "Succeeded", "createTime": 1700000000.0, "creator": "user",
...        "revision": {"revisionType": "GitHub", "gitHubLocation": {"commitId": "abc123"}}}}
>>> deployments_from_codedeploy(doc).select("service", "status", "version_to").row(0)
('ticket-api', 'succeeded', 'abc123')
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml

from slo_analysis import frames
from slo_analysis.exceptions import InputError, MissingKeyError
from slo_analysis.sources._io import LoadReport, as_list, as_map, as_str, as_time, read_bytes, require

__all__ = [
    "TASK_DEFINITION",
    "STOP_SUFFIX",
    "join_text",
    "person",
    "deployments_frame",
    "CHANGE_EVENTS",
    "FILE_COLUMNS",
    "SOURCE_RANK",
    "deployments_from_codedeploy",
    "deployments_from_ecs",
    "deployments_from_lambda",
    "deployments_from_cloudtrail",
    "deployments_from_file",
    "looks_like_codedeploy",
    "looks_like_ecs_services",
    "looks_like_lambda",
    "looks_like_cloudtrail_events",
]

log = logging.getLogger(__name__)

CHANGE_EVENTS = frozenset({
    "UpdateService", "CreateService", "CreateDeployment", "StopDeployment", "ContinueDeployment",
    "UpdateFunctionCode", "UpdateFunctionConfiguration", "UpdateAlias", "CreateAlias", "PublishVersion",
    "UpdateStack", "CreateStack", "ExecuteChangeSet", "PutParameter", "UpdateTable",
    "RegisterTaskDefinition", "UpdateAutoScalingGroup", "PutScalingPolicy", "ModifyDBInstance",
    "PutFunctionConcurrency", "UpdateEventSourceMapping", "ModifyListener", "ModifyRule",
})
"""CloudTrail event names kept as changes (others: only when ``readOnly`` is false and the name
starts with Update/Put/Publish/Deploy/Rollback)."""
_CHANGE_PREFIXES = ("Update", "Put", "Publish", "Deploy", "Rollback")
_LAMBDA_API_VERSION = re.compile(r"(?<=[a-z])20\d{6}(v\d+)?$")
"""The API version Lambda appends to its CloudTrail event names (``CreateAlias20150331``)."""

FILE_COLUMNS = ("id", "service", "started_at", "finished_at", "status", "version_from", "version_to",
                "actor", "description")

SOURCE_RANK = {"codedeploy": 0, "ecs": 1, "lambda": 2, "file": 3, "cloudtrail": 4}
"""Merge preference: lower is richer (kept as the row; the others fill its gaps)."""

_CODEDEPLOY_STATUS = {"Succeeded": "succeeded", "Failed": "failed", "Stopped": "stopped",
                      "Created": "in_progress", "Queued": "in_progress", "InProgress": "in_progress",
                      "Baking": "in_progress", "Ready": "in_progress"}
_ECS_ROLLOUT = {"COMPLETED": "succeeded", "FAILED": "failed", "IN_PROGRESS": "in_progress"}


def _opt_str(d: Mapping[str, Any], key: str, file: str, ctx: str) -> str | None:
    v = d.get(key)
    return None if v is None else as_str(v, file, f"{ctx}.{key}")


def join_text(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None


def deployments_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    cols = frames.schema("deployments").columns
    data = {c: pl.Series([r.get(c) for r in rows],
                         dtype=pl.Datetime("us", "UTC") if cols[c] == frames.UTC_MS else cols[c])
            for c in cols}
    return frames.conform(pl.DataFrame(data), "deployments")


def _short(value: str) -> str:
    """The last path segment of an ARN or name (``arn:...:service/cluster/web`` -> ``web``)."""
    return value.rsplit("/", 1)[-1].rsplit(":function:", 1)[-1].split(":", 1)[0] \
        if value.startswith("arn:") else value


def _task_def(value: str) -> str:
    """``family:revision`` from a task definition ARN (or the value itself)."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


_SSO_SESSION = re.compile(r"^(?:.*/)?AWSReservedSSO_[^/]+/(?P<session>[^/]+)$")


def person(actor: str | None) -> str | None:
    """The person behind an IAM Identity Center (SSO) session, else ``actor`` unchanged.

    ``AWSReservedSSO_<permission set>_<hash>/<session>`` (also as an assumed-role ARN) is a person
    signed in through SSO: the session name is who it was (``priya.natarajan``); the role path names
    only the permission set. Other roles keep ``role/session`` (a bot's session name alone is often
    meaningless).
    """
    if actor is None:
        return None
    m = _SSO_SESSION.match(actor)
    return m.group("session") if m else actor


# ----------------------------------------------------------------------------- CodeDeploy
TASK_DEFINITION = re.compile(r"^(?P<family>[A-Za-z0-9_-]{1,255}):(?P<rev>[0-9]+)$")


def _get_ci(d: Mapping[str, Any], key: str) -> Any:
    """``d[key]`` ignoring case (AppSpec authors write ``resources``/``taskDefinition`` too)."""
    if key in d:
        return d[key]
    low = key.lower()
    return next((v for k, v in d.items() if isinstance(k, str) and k.lower() == low), None)


def _appspec_task_def(content: Any) -> str | None:
    """``family:revision`` of the ECS service an AppSpec (YAML or JSON text) deploys, else None.

    Looks for a ``Resources`` entry of ``Type: AWS::ECS::Service`` (conventionally ``TargetService``)
    whose ``Properties.TaskDefinition`` is a task definition ARN or ``family:revision``. Anything
    malformed (not YAML, other shapes, placeholders like ``<TASK_DEFINITION>``) yields None.
    """
    if not isinstance(content, str) or len(content) > 1_000_000:
        return None
    try:
        doc = yaml.safe_load(content)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return None
    if not isinstance(doc, Mapping):
        return None
    resources = _get_ci(doc, "Resources")
    if isinstance(resources, Mapping):
        resources = [resources]
    if not isinstance(resources, list):
        return None
    for item in resources:
        if not isinstance(item, Mapping):
            continue
        for name, spec in item.items():
            if not isinstance(spec, Mapping):
                continue
            kind = _get_ci(spec, "Type")
            if kind != "AWS::ECS::Service" and not (kind is None and name == "TargetService"):
                continue
            props = _get_ci(spec, "Properties")
            td = _get_ci(props, "TaskDefinition") if isinstance(props, Mapping) else None
            if isinstance(td, str) and TASK_DEFINITION.match(_task_def(td.strip())):
                return _task_def(td.strip())
    return None


def _revision(rev: Any, file: str, ctx: str) -> str | None:
    if rev is None:
        return None
    rev = as_map(rev, file, ctx)
    if rev.get("s3Location") is not None:
        s3 = as_map(rev["s3Location"], file, f"{ctx}.s3Location")
        key = _opt_str(s3, "key", file, ctx) or "?"
        tag = _opt_str(s3, "version", file, ctx) or _opt_str(s3, "eTag", file, ctx)
        return f"{key}@{tag.strip(chr(34))}" if tag else key
    if rev.get("gitHubLocation") is not None:
        gh = as_map(rev["gitHubLocation"], file, f"{ctx}.gitHubLocation")
        return _opt_str(gh, "commitId", file, ctx) or _opt_str(gh, "repository", file, ctx)
    for key in ("appSpecContent", "string"):
        if rev.get(key) is not None:
            raw = as_map(rev[key], file, f"{ctx}.{key}")
            td = _appspec_task_def(raw.get("content"))
            if td is not None:
                return td
            sha = _opt_str(raw, "sha256", file, ctx)
            if sha is None and raw.get("content") is not None:
                sha = hashlib.sha256(as_str(raw["content"], file, ctx).encode()).hexdigest()
            return f"sha256:{sha}" if sha else None
    return None


def deployments_from_codedeploy(doc: Mapping[str, Any], *, file: str = "<memory>",
                                service_from: Literal["deploymentGroupName", "applicationName"]
                                = "deploymentGroupName") -> pl.DataFrame:
    """BatchGetDeployments (``deploymentsInfo``) or GetDeployment (``deploymentInfo``) output.

    ``started_at`` is ``createTime`` (when the change was asked for), ``finished_at``
    ``completeTime``; ``version_to``/``version_from`` come from ``revision``/``previousRevision``;
    ``actor`` is ``creator`` (user, autoscaling, codeDeployRollback, ...); the description joins the
    deployment's description, its error and its ``rollbackInfo``.

    Rules:

    - ECS blue/green: when the revision is an AppSpec (``appSpecContent``/``string``, YAML or JSON,
      read with ``yaml.safe_load``) naming an ``AWS::ECS::Service`` resource (``TargetService``) with a
      ``TaskDefinition``, ``version_to`` is that task definition's ``family:revision`` (as ECS rows
      write it) and, with the default ``service_from``, ``service`` is the task definition family
      (the ECS service's name by convention; the deployment group ``DgpECS-prod-x`` is not what
      other sources call it). A malformed or other AppSpec keeps ``sha256:<hex>`` and the group name.
    - ``version_from``: ``previousRevision`` when AWS gives it; otherwise, for a rollback deployment
      (``rollbackTriggeringDeploymentId``, or its id named by another deployment's
      ``rollbackDeploymentId``), the ``version_to`` of the deployment it rolls back; otherwise the
      ``version_to`` of the latest earlier *succeeded* deployment of the same deployment group in the
      same input (a failed or stopped one never became what runs). Unknown stays empty.
    - A rollback deployment's description says ``rollback of <id>``; the rolled-back one's says
      ``rolled back by <id>`` (``deployment_merge.merge_deployments`` reads these links).
    """
    doc = as_map(doc, file, "CodeDeploy output")
    if "deploymentsInfo" in doc:
        infos = as_list(doc["deploymentsInfo"], file, "deploymentsInfo")
    else:
        infos = [require(doc, "deploymentInfo", file, "CodeDeploy output (or deploymentsInfo)")]
    rows: list[dict[str, Any]] = []
    groups: list[str] = []
    links: list[tuple[str | None, str | None]] = []  # (rolled back by, rollback of)
    for i, d in enumerate(infos):
        ctx = f"deploymentsInfo[{i}]"
        d = as_map(d, file, ctx)
        service = _opt_str(d, service_from, file, ctx) or _opt_str(d, "applicationName", file, ctx)
        if service is None:
            raise MissingKeyError(file, service_from, context=ctx)
        group = _opt_str(d, "deploymentGroupName", file, ctx) or service
        status = as_str(require(d, "status", file, ctx), file, f"{ctx}.status")
        err = d.get("errorInformation")
        err_text = None
        if err is not None:
            err = as_map(err, file, f"{ctx}.errorInformation")
            err_text = "error " + ": ".join(x for x in (_opt_str(err, "code", file, ctx),
                                                         _opt_str(err, "message", file, ctx)) if x)
        rb = d.get("rollbackInfo")
        by = of = rb_msg = None
        if rb is not None:
            rb = as_map(rb, file, f"{ctx}.rollbackInfo")
            by = _opt_str(rb, "rollbackDeploymentId", file, ctx)
            of = _opt_str(rb, "rollbackTriggeringDeploymentId", file, ctx)
            rb_msg = _opt_str(rb, "rollbackMessage", file, ctx)
        version_to = _revision(d.get("revision"), file, f"{ctx}.revision")
        if service_from == "deploymentGroupName" and version_to and (m := TASK_DEFINITION.match(version_to)) \
                and isinstance(d.get("revision"), Mapping) and d["revision"].get("s3Location") is None \
                and d["revision"].get("gitHubLocation") is None:
            service = m.group("family")
        complete = d.get("completeTime")
        rows.append({
            "id": as_str(require(d, "deploymentId", file, ctx), file, f"{ctx}.deploymentId"),
            "service": service,
            "started_at": as_time(require(d, "createTime", file, ctx), file, f"{ctx}.createTime"),
            "finished_at": None if complete is None else as_time(complete, file, f"{ctx}.completeTime"),
            "status": _CODEDEPLOY_STATUS.get(status, status.lower()),
            "version_from": _revision(d.get("previousRevision"), file, f"{ctx}.previousRevision"),
            "version_to": version_to,
            "source": "codedeploy",
            "actor": person(_opt_str(d, "creator", file, ctx)),
            "description": (_opt_str(d, "description", file, ctx), err_text, rb_msg),
        })
        groups.append(group)
        links.append((by, of))
    by_id = {r["id"]: k for k, r in enumerate(rows)}
    rollback_of = {k: of for k, (_, of) in enumerate(links) if of}
    for k, (by, _) in enumerate(links):
        if by and by in by_id:
            rollback_of.setdefault(by_id[by], rows[k]["id"])
    order = sorted(range(len(rows)), key=lambda k: (rows[k]["started_at"], k))
    for pos, k in enumerate(order):
        row = rows[k]
        if row["version_from"] is None:
            of = rollback_of.get(k)
            if of is not None and of in by_id:
                row["version_from"] = rows[by_id[of]]["version_to"]
            else:
                row["version_from"] = next(
                    (rows[j]["version_to"] for j in reversed(order[:pos])
                     if groups[j] == groups[k] and rows[j]["status"] == "succeeded" and rows[j]["version_to"]),
                    None)
    for k, row in enumerate(rows):
        desc, err_text, rb_msg = row["description"]
        by, _ = links[k]
        of = rollback_of.get(k)
        parts = [desc, err_text, f"rolled back by {by}" if by else None]
        if of and not (desc and f"rollback of {of}" in desc):
            parts.append(f"rollback of {of}")
        row["description"] = join_text(*parts, rb_msg)
    return deployments_frame(rows)


# ----------------------------------------------------------------------------- ECS
def deployments_from_ecs(doc: Mapping[str, Any], *, file: str = "<memory>") -> pl.DataFrame:
    """DescribeServices output: one row per ``services[].deployments[]`` entry.

    ``version_to`` is the deployment's task definition (``family:revision``); ``version_from`` the
    task definition of the next older deployment of the same service still listed (unknown for the
    oldest). Status: ``rolloutState`` when present; else a ``PRIMARY`` deployment with running =
    desired and nothing pending is ``succeeded``, otherwise ``in_progress``; ``ACTIVE``/``INACTIVE``
    (older) deployments are ``replaced``. ``finished_at`` is ``updatedAt`` for finished rollouts,
    left empty when AWS reports it before ``createdAt``.
    """
    doc = as_map(doc, file, "DescribeServices output")
    rows = []
    for i, svc in enumerate(as_list(require(doc, "services", file, "DescribeServices output"), file,
                                     "services")):
        ctx = f"services[{i}]"
        svc = as_map(svc, file, ctx)
        name = as_str(require(svc, "serviceName", file, ctx), file, f"{ctx}.serviceName")
        cluster = _opt_str(svc, "clusterArn", file, ctx)
        deps = []
        for j, dep in enumerate(as_list(require(svc, "deployments", file, ctx), file, f"{ctx}.deployments")):
            dctx = f"{ctx}.deployments[{j}]"
            dep = as_map(dep, file, dctx)
            deps.append((as_time(require(dep, "createdAt", file, dctx), file, f"{dctx}.createdAt"), j, dep,
                         dctx))
        deps.sort(key=lambda t: (t[0], t[1]))
        previous: str | None = None
        for created, _, dep, dctx in deps:
            td = _task_def(as_str(require(dep, "taskDefinition", file, dctx), file, f"{dctx}.taskDefinition"))
            state = as_str(require(dep, "status", file, dctx), file, f"{dctx}.status")
            rollout = _opt_str(dep, "rolloutState", file, dctx)
            if rollout:
                status = _ECS_ROLLOUT.get(rollout, rollout.lower())
            elif state == "PRIMARY":
                steady = dep.get("runningCount") == dep.get("desiredCount") and not dep.get("pendingCount")
                status = "succeeded" if steady else "in_progress"
            else:
                status = "replaced"
            updated = dep.get("updatedAt")
            finished = None
            if updated is not None and status in ("succeeded", "failed", "replaced"):
                finished = as_time(updated, file, f"{dctx}.updatedAt")
                if finished < created:
                    log.warning("%s: %s updatedAt %s precedes createdAt %s; finished_at left empty", file,
                                dctx, finished, created)
                    finished = None
            failed = dep.get("failedTasks")
            rows.append({
                "id": as_str(require(dep, "id", file, dctx), file, f"{dctx}.id"),
                "service": name, "started_at": created, "finished_at": finished, "status": status,
                "version_from": previous, "version_to": td, "source": "ecs", "actor": None,
                "description": join_text(f"ECS {state}" + (f" rollout {rollout}" if rollout else ""),
                                     _opt_str(dep, "rolloutStateReason", file, dctx),
                                     f"{failed} failed task(s)" if isinstance(failed, int) and failed else None,
                                     f"cluster {_short(cluster)}" if cluster else None),
            })
            previous = td
    return deployments_frame(rows)


# ----------------------------------------------------------------------------- Lambda
def deployments_from_lambda(doc: Mapping[str, Any], *, file: str = "<memory>",
                            observed_at: datetime | str | None = None) -> pl.DataFrame:
    """ListVersionsByFunction (``Versions``) or GetAlias output.

    Each published version is a change at its ``LastModified`` (``$LATEST`` is skipped: unpublished
    edits show up in CloudTrail as UpdateFunctionCode); ``version_from`` is the previous published
    version. GetAlias carries no timestamp: it yields a row only when ``observed_at`` says when the
    alias was seen pointing at ``FunctionVersion``; otherwise an empty frame.
    """
    doc = as_map(doc, file, "Lambda output")
    rows = []
    if "Versions" in doc:
        versions = []
        for i, v in enumerate(as_list(doc["Versions"], file, "Versions")):
            ctx = f"Versions[{i}]"
            v = as_map(v, file, ctx)
            ver = as_str(require(v, "Version", file, ctx), file, f"{ctx}.Version")
            if ver == "$LATEST":
                continue
            if not ver.isdigit():
                raise InputError(file, f"{ctx}.Version {ver!r} is not a version number", key="Version")
            versions.append((int(ver), v, ctx))
        versions.sort(key=lambda t: t[0])
        previous = None
        for num, v, ctx in versions:
            fn = as_str(require(v, "FunctionName", file, ctx), file, f"{ctx}.FunctionName")
            sha = _opt_str(v, "CodeSha256", file, ctx)
            rows.append({
                "id": _opt_str(v, "FunctionArn", file, ctx) or f"{fn}:{num}", "service": _short(fn),
                "started_at": as_time(require(v, "LastModified", file, ctx), file, f"{ctx}.LastModified"),
                "status": "succeeded", "version_from": previous, "version_to": str(num), "source": "lambda",
                "description": join_text(f"published version {num}", _opt_str(v, "Description", file, ctx),
                                     f"CodeSha256 {sha}" if sha else None),
            })
            previous = str(num)
        return deployments_frame(rows)
    alias_arn = as_str(require(doc, "AliasArn", file, "GetAlias output (or Versions)"), file, "AliasArn")
    target = as_str(require(doc, "FunctionVersion", file, "GetAlias output"), file, "FunctionVersion")
    if observed_at is None:
        log.info("%s: GetAlias output has no timestamp; pass observed_at to record it", file)
        return deployments_frame([])
    fn = alias_arn.split(":function:", 1)[-1].split(":", 1)[0]
    rows.append({
        "id": f"{alias_arn}@{_opt_str(doc, 'RevisionId', file, 'GetAlias') or target}", "service": fn,
        "started_at": as_time(observed_at, file, "observed_at"), "status": "succeeded",
        "version_to": target, "source": "lambda",
        "description": join_text(f"alias {_opt_str(doc, 'Name', file, 'GetAlias')} -> version {target}",
                             _opt_str(doc, "Description", file, "GetAlias")),
    })
    return deployments_frame(rows)


# ----------------------------------------------------------------------------- CloudTrail
def _actor(ui: Any, fallback: str | None) -> str | None:
    return person(_principal(ui, fallback))


def _principal(ui: Any, fallback: str | None) -> str | None:
    if not isinstance(ui, Mapping):
        return fallback
    kind = ui.get("type")
    arn = ui.get("arn") if isinstance(ui.get("arn"), str) else None
    if kind == "AssumedRole":
        issuer = (ui.get("sessionContext") or {}).get("sessionIssuer") if isinstance(
            ui.get("sessionContext"), Mapping) else None
        role = issuer.get("userName") if isinstance(issuer, Mapping) else None
        session = arn.rsplit("/", 1)[-1] if arn else fallback
        if isinstance(role, str):
            return f"{role}/{session}" if session else role
    if kind == "IAMUser" and isinstance(ui.get("userName"), str):
        return ui["userName"]
    if kind == "Root":
        return "root"
    if kind == "AWSService" and isinstance(ui.get("invokedBy"), str):
        return ui["invokedBy"]
    return arn or (ui.get("principalId") if isinstance(ui.get("principalId"), str) else None) or fallback


_SERVICE_KEYS = ("service", "serviceName", "deploymentGroupName", "functionName", "stackName", "name", "tableName",
                 "applicationName", "autoScalingGroupName", "dBInstanceIdentifier", "family")


def _ct_version(name: str, req: Mapping[str, Any], resp: Mapping[str, Any], file: str) -> str | None:
    if isinstance(req.get("taskDefinition"), str):
        return _task_def(req["taskDefinition"])
    svc = resp.get("service")
    if name in ("UpdateService", "CreateService") and isinstance(svc, Mapping) \
            and isinstance(svc.get("taskDefinition"), str):
        return _task_def(svc["taskDefinition"])
    if name == "CreateDeployment" and req.get("revision") is not None:
        return _revision(req.get("revision"), file, "requestParameters.revision")
    for src, key in ((req, "functionVersion"), (resp, "version"), (resp, "codeSha256"), (req, "s3Key"),
                     (req, "imageUri"), (resp, "Version")):
        if isinstance(src.get(key), str | int) and not isinstance(src.get(key), bool):
            return str(src[key])
    return None


STOP_SUFFIX = "/StopDeployment"
"""A CloudTrail StopDeployment row's id is ``<deploymentId>/StopDeployment`` (see
:func:`deployments_from_cloudtrail`); ``deployment_merge.merge_deployments`` attaches it to that deployment."""


def _image_tag(image: str) -> str:
    """``2.4.0`` from ``acct.dkr.ecr.../routing-service:2.4.0``; ``sha256:…`` (12 hex) for a digest."""
    if "@" in image:
        digest = image.rsplit("@", 1)[1]
        return digest[:19] if digest.startswith("sha256:") else digest
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _registered(req: Mapping[str, Any], resp: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(family:revision, "image <tag>")`` from a RegisterTaskDefinition event, when both are known."""
    raw_td = resp.get("taskDefinition")
    td: Mapping[str, Any] = raw_td if isinstance(raw_td, Mapping) else {}
    family = td.get("family") if isinstance(td.get("family"), str) else req.get("family")
    revision = td.get("revision")
    arn = td.get("taskDefinitionArn")
    if isinstance(arn, str) and (m := TASK_DEFINITION.match(_task_def(arn))):
        family, revision = m.group("family"), m.group("rev")
    if not isinstance(family, str) or isinstance(revision, bool) or not isinstance(revision, int | str) \
            or not str(revision).isdigit():
        return None
    containers = td.get("containerDefinitions") or req.get("containerDefinitions")
    images = [(c.get("name"), c["image"]) for c in containers if isinstance(c, Mapping)
              and isinstance(c.get("image"), str)] if isinstance(containers, list) else []
    if not images:
        return None
    mine = [img for name, img in images if name == family]
    if mine or len(images) == 1:
        text = f"image {_image_tag((mine or [images[0][1]])[0])}"
    else:
        text = "images " + ", ".join(f"{name}={_image_tag(img)}" for name, img in images)
    return f"{family}:{revision}", text


def deployments_from_cloudtrail(doc: Mapping[str, Any], *, file: str = "<memory>") -> pl.DataFrame:
    """LookupEvents output (``Events[]`` with a ``CloudTrailEvent`` JSON string): change events only.

    Kept: names in :data:`CHANGE_EVENTS`, and other non-read-only Update*/Put*/Publish*/Deploy*/
    Rollback* calls; skipped: read-only and sign-in events (ConsoleLogin, Describe*, ...) and
    calls that failed (``errorCode`` set: nothing changed). ``status`` is ``requested``; ``id`` is
    the event id except as below; ``actor`` is ``role/session`` for assumed roles, the session name
    (the person) for IAM Identity Center roles ``AWSReservedSSO_*``, the user name for IAM users.

    Rules:

    - ``CreateDeployment``: ``id`` is the CodeDeploy deployment id (``responseElements``), so it meets
      the CodeDeploy row and gives it its actor.
    - ``UpdateService``/``CreateService``: ``version_to`` is the task definition (request, else the
      response's service); when the response lists the new ``PRIMARY`` deployment, ``id`` is that
      ECS deployment id (``ecs-svc/...``), so it meets the ECS row whatever the timing.
    - ``StopDeployment`` is a change to another deployment, not one of its own: ``id`` is
      ``<deploymentId>/StopDeployment`` (:data:`STOP_SUFFIX`), ``status`` ``stopped``, the description
      ``stopped by <actor>`` (and whether auto-rollback was asked for); its service is the
      deployment group when a CreateDeployment of that deployment is in the same input.
      ``deployment_merge.merge_deployments`` attaches it to the stopped deployment.
    - ``RegisterTaskDefinition`` deploys nothing (nothing runs until a service uses the revision):
      when the event gives the family, the revision (``responseElements.taskDefinition``) and a
      container image, it yields an annotation row with ``status`` ``registered``,
      ``version_to`` ``family:revision`` and description ``image <tag>``, which
      ``deployment_merge.merge_deployments`` folds into the description of rows deploying that revision and never
      outputs; without a revision it is dropped.
    """
    doc = as_map(doc, file, "LookupEvents output")
    events: list[tuple[str, Mapping[str, Any], Mapping[str, Any], str, Mapping[str, Any], Mapping[str, Any]]] = []
    for i, ev in enumerate(as_list(require(doc, "Events", file, "LookupEvents output"), file, "Events")):
        ctx = f"Events[{i}]"
        ev = as_map(ev, file, ctx)
        raw = as_str(require(ev, "CloudTrailEvent", file, ctx), file, f"{ctx}.CloudTrailEvent")
        try:
            ct = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(file, f"{ctx}.CloudTrailEvent is not JSON: {exc.msg}", key="CloudTrailEvent") \
                from exc
        ct = as_map(ct, file, f"{ctx}.CloudTrailEvent")
        name = as_str(ct.get("eventName", ev.get("EventName")), file, f"{ctx}.eventName")
        name = _LAMBDA_API_VERSION.sub("", name)  # Lambda logs UpdateFunctionCode20150331v2 and the like
        read_only = ct.get("readOnly")
        if not (name in CHANGE_EVENTS or (read_only is False and name.startswith(_CHANGE_PREFIXES))):
            continue
        if ct.get("errorCode"):
            continue
        raw_req, raw_resp = ct.get("requestParameters"), ct.get("responseElements")
        req: Mapping[str, Any] = raw_req if isinstance(raw_req, Mapping) else {}
        resp: Mapping[str, Any] = raw_resp if isinstance(raw_resp, Mapping) else {}
        events.append((ctx, ev, ct, name, req, resp))
    groups = {resp["deploymentId"]: req["deploymentGroupName"] for _, _, _, name, req, resp in events
              if name == "CreateDeployment" and isinstance(resp.get("deploymentId"), str)
              and isinstance(req.get("deploymentGroupName"), str)}
    rows = []
    for ctx, ev, ct, name, req, resp in events:
        service = next((_short(req[k]) for k in _SERVICE_KEYS if isinstance(req.get(k), str)), None)
        if service is None:
            res = ev.get("Resources")
            names = [r.get("ResourceName") for r in res if isinstance(r, Mapping)] if isinstance(res, list) else []
            service = next((_short(n) for n in names if isinstance(n, str)), None)
        source = _opt_str(ct, "eventSource", file, ctx) or "unknown"
        when = ct.get("eventTime", ev.get("EventTime"))
        if when is None:
            raise MissingKeyError(file, "eventTime", context=f"{ctx}.CloudTrailEvent")
        event_id = ct.get("eventID", ev.get("EventId"))
        actor = _actor(ct.get("userIdentity"), _opt_str(ev, "Username", file, ctx))
        started = as_time(when, file, f"{ctx}.eventTime")
        ev_text = f"event {event_id}" if isinstance(event_id, str) else None
        if name == "RegisterTaskDefinition":
            reg = _registered(req, resp)
            if reg is not None:
                rows.append({"id": as_str(event_id, file, f"{ctx}.eventID"), "service": reg[0].split(":")[0],
                             "started_at": started, "status": "registered", "version_to": reg[0],
                             "source": "cloudtrail", "actor": actor, "description": reg[1]})
            continue
        if name == "StopDeployment" and isinstance(req.get("deploymentId"), str):
            dep_id = req["deploymentId"]
            auto = req.get("autoRollbackEnabled")
            rb = None if not isinstance(auto, bool) else "auto-rollback enabled" if auto else "no auto-rollback"
            rows.append({
                "id": f"{dep_id}{STOP_SUFFIX}", "service": groups.get(dep_id, service or "codedeploy"),
                "started_at": started, "status": "stopped", "source": "cloudtrail", "actor": actor,
                "description": f"stopped by {actor or 'unknown'}"
                               + f" ({join_text(rb, f'StopDeployment of {dep_id}', ev_text)})"})
            continue
        own_id: Any = None
        if name == "CreateDeployment":
            own_id = resp.get("deploymentId")
        elif name in ("UpdateService", "CreateService") and isinstance(resp.get("service"), Mapping):
            deps = resp["service"].get("deployments")
            own_id = next((d.get("id") for d in deps if isinstance(d, Mapping) and d.get("status") == "PRIMARY"),
                          None) if isinstance(deps, list) else None
        own_id = own_id if isinstance(own_id, str) else None
        rows.append({
            "id": as_str(own_id or event_id, file, f"{ctx}.eventID"),
            "service": service or source.split(".", 1)[0],
            "started_at": started, "status": "requested",
            "version_to": _ct_version(name, req, resp, file), "source": "cloudtrail",
            "actor": actor,
            "description": f"{source} {name}" + (f" ({ev_text})" if own_id and ev_text else ""),
        })
    return deployments_frame(rows)


# ----------------------------------------------------------------------------- hand-kept file
def _file_records(text: str, file: str) -> list[tuple[int | None, Any]]:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        node, data = None, None
    if isinstance(data, Mapping) and isinstance(data.get("deployments"), list) and node is not None:
        node = next(v for k, v in node.value if k.value == "deployments")
        data = data["deployments"]
    if isinstance(data, list) and isinstance(node, yaml.SequenceNode):
        return [(n.start_mark.line + 1, rec) for n, rec in zip(node.value, data, strict=True)]
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"id", "service", "started_at"} <= {f.strip() for f in reader.fieldnames}:
        raise InputError(file, "neither a YAML list of changes nor a CSV with columns id, service, started_at")
    out: list[tuple[int | None, Any]] = []
    for rec in reader:
        out.append((reader.line_num, {k.strip(): (v.strip() if isinstance(v, str) else v)
                                      for k, v in rec.items() if k is not None}))
    return out


def _file_row(rec: Any, file: str) -> dict[str, Any]:
    if not isinstance(rec, Mapping):
        raise ValueError(f"expected a mapping of columns, found {type(rec).__name__}")

    def text(key: str) -> str | None:
        v = rec.get(key)
        return None if v is None or v == "" else str(v)

    for key in ("id", "service", "started_at"):
        if text(key) is None:
            raise ValueError(f"missing {key}")
    started = as_time(rec["started_at"], file, "started_at")
    finished = None if text("finished_at") is None else as_time(rec["finished_at"], file, "finished_at")
    if finished is not None and finished < started:
        raise ValueError("finished_at is before started_at")
    return {"id": text("id"), "service": text("service"), "started_at": started, "finished_at": finished,
            "status": (text("status") or "succeeded").lower(), "version_from": text("version_from"),
            "version_to": text("version_to"), "source": "file", "actor": person(text("actor")),
            "description": text("description")}


def deployments_from_file(path: str | Path, report: LoadReport | None = None) -> pl.DataFrame:
    """A hand-kept CSV or YAML list of changes AWS does not record (feature flags, config).

    Columns: :data:`FILE_COLUMNS`; ``id``, ``service`` and ``started_at`` are required, ``status``
    defaults to ``succeeded`` (a change written down is one that was made). YAML may be a list or
    ``{deployments: [...]}``; quote versions (``"2.10"``) so YAML keeps them strings. A bad row is
    recorded in ``report`` (file, line, reason) and the rest loads.
    """
    report = report if report is not None else LoadReport()
    file = str(path)
    try:
        text = read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(file, f"not UTF-8 text: {exc}") from exc
    rows = []
    for line, rec in _file_records(text, file):
        try:
            rows.append(_file_row(rec, file))
        except (ValueError, InputError) as exc:
            reason = exc.problem if isinstance(exc, InputError) else str(exc)
            report.add_bad(file, line, reason, json.dumps(rec, default=str) if rec is not None else "")
    report.files.append(file)
    report.add_rows("deployments", len(rows))
    return deployments_frame(rows)


# ----------------------------------------------------------------------------- detection
def looks_like_codedeploy(doc: Any) -> bool:
    """BatchGetDeployments (``deploymentsInfo`` list) or GetDeployment (``deploymentInfo`` object)."""
    return isinstance(doc, Mapping) and (isinstance(doc.get("deploymentsInfo"), list)
                                         or isinstance(doc.get("deploymentInfo"), Mapping))


def looks_like_ecs_services(doc: Any) -> bool:
    """DescribeServices output: a ``services`` list whose items have ``deployments``."""
    svcs = doc.get("services") if isinstance(doc, Mapping) else None
    return isinstance(svcs, list) and bool(svcs) and all(
        isinstance(s, Mapping) and "deployments" in s and "serviceName" in s for s in svcs)


def looks_like_lambda(doc: Any) -> bool:
    """ListVersionsByFunction (``Versions`` of functions) or GetAlias (``AliasArn`` + ``FunctionVersion``)."""
    if not isinstance(doc, Mapping):
        return False
    v = doc.get("Versions")
    if isinstance(v, list):
        return all(isinstance(x, Mapping) and "FunctionName" in x and "Version" in x for x in v)
    return isinstance(doc.get("AliasArn"), str) and "FunctionVersion" in doc


def looks_like_cloudtrail_events(doc: Any) -> bool:
    """LookupEvents output: an ``Events`` list whose items carry a ``CloudTrailEvent`` string."""
    ev = doc.get("Events") if isinstance(doc, Mapping) else None
    return isinstance(ev, list) and all(isinstance(e, Mapping) and "CloudTrailEvent" in e for e in ev)
