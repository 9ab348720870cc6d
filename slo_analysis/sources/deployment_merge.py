"""One row per change: de-duplicate the same deployment seen by several sources (CodeDeploy, ECS,
Lambda, CloudTrail, the hand-kept file), attach stops and rollbacks, and annotate images.

The per-source loaders are in :mod:`slo_analysis.sources.deployments`; the snapshot keeps their rows
as they are, and this merge runs when a reader wants one row per change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.sources.deployments import (
    SOURCE_RANK,
    STOP_SUFFIX,
    TASK_DEFINITION,
    deployments_frame,
    join_text,
    person,
)

__all__ = ["merge_deployments"]

_ROLLED_BACK_BY = re.compile(r"rolled back by ([A-Za-z0-9_-]+)")
_ROLLBACK_OF = re.compile(r"rollback of ([A-Za-z0-9_-]+)")
_NOT_A_PERSON = frozenset({"codeDeployRollback"})


def _is_stop(row: Mapping[str, Any]) -> bool:
    return row["source"] == "cloudtrail" and row["status"] == "stopped" and row["id"].endswith(STOP_SUFFIX)


def merge_deployments(frames_: Sequence[pl.DataFrame], *, window: timedelta = timedelta(minutes=5)) \
        -> pl.DataFrame:
    """One row per change seen by several sources.

    Rules:

    - Same change: rows with the same ``id`` (AWS ids are unique: a CloudTrail CreateDeployment
      carries the CodeDeploy id, an UpdateService response the ECS deployment id), whatever their
      ``service`` (CodeDeploy names the ECS service, CloudTrail the deployment group). Otherwise rows
      (or such id groups) of the same ``service``, from different sources, starting within
      ``window`` of each other, whose ``version_to`` agree or one is unknown; of several candidate
      groups the one with the same known ``version_to``, then the nearest in time, wins.
    - Of a group the row of the richest source (:data:`SOURCE_RANK`: codedeploy, ecs, lambda, file,
      cloudtrail) is kept; its empty ``finished_at``/``version_from``/``version_to``/``description``
      are filled from the others in rank order, and ``actor`` prefers a CloudTrail or file principal
      (CodeDeploy's ``creator`` only says "user"). The description ends with ``[also: source:id, ...]``
      naming the merged rows. Exact duplicates (same source and id) collapse. Actors from IAM
      Identity Center sessions become the person (see ``person``).
    - A CloudTrail StopDeployment row (id ``<deploymentId>/StopDeployment``) is attached to that
      deployment: its ``stopped by <actor>`` joins the description, a ``requested``/``in_progress``
      status becomes ``stopped``, and its actor is *not* the deployment's (the creator is). When the
      stopped deployment was rolled back (``rolled back by <id>`` in its description, or a row saying
      ``rollback of <stopped id>``), the stopper becomes that rollback's actor if CodeDeploy only knew
      it as ``codeDeployRollback``. A stop of a deployment no source shows stays a row.
    - CloudTrail ``registered`` rows (RegisterTaskDefinition) are not changes: they are dropped, and
      their ``image <tag>`` is added to the description of every row whose ``version_to`` is that
      ``family:revision``.
    - An empty ``version_from`` of a row deploying a task definition ``family:N`` is the ``version_to``
      of the latest earlier succeeded (or since replaced) row of the same service and family.
    """
    parts = [f for f in frames_ if f.height]
    if not parts:
        return frames.empty("deployments")
    df = pl.concat([frames.conform(f, "deployments") for f in parts], how="vertical") \
           .unique(subset=["source", "id"], keep="first", maintain_order=True) \
           .sort("started_at", "service", maintain_order=True)
    images: dict[str, str] = {}
    stops: list[dict[str, Any]] = []
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in df.iter_rows(named=True):
        row["actor"] = person(row["actor"])
        if row["source"] == "cloudtrail" and row["status"] == "registered":
            if row["version_to"] and row["description"]:
                images.setdefault(row["version_to"], row["description"])
        elif _is_stop(row):
            stops.append(row)
        else:
            by_id.setdefault(row["id"], []).append(row)
    groups: list[list[dict[str, Any]]] = []
    for same in by_id.values():  # in order of first start
        best = _best_group(groups, same, window)
        if best is None:
            groups.append(list(same))
        else:
            best.extend(same)
    attached: dict[int, list[dict[str, Any]]] = {}
    index = {r["id"]: k for k, g in enumerate(groups) for r in g}
    for stop in stops:
        target = index.get(stop["id"][: -len(STOP_SUFFIX)])
        if target is None:
            groups.append([stop])
        else:
            attached.setdefault(target, []).append(stop)
    out = [_merge_group(g, attached.get(k, []), images) for k, g in enumerate(groups)]
    _rollback_actors(out, {k: attached[k] for k in attached})
    _fill_task_def_from(out)
    for row in out:
        also = row.pop("_also")
        row["description"] = join_text(row["description"], f"[also: {also}]" if also else None)
    return deployments_frame(out).sort("started_at", "service", maintain_order=True)


def _best_group(groups: list[list[dict[str, Any]]], rows: list[dict[str, Any]], window: timedelta) \
        -> list[dict[str, Any]] | None:
    services = {r["service"] for r in rows}
    sources = {r["source"] for r in rows}
    start = min(r["started_at"] for r in rows)
    version = next((r["version_to"] for r in sorted(rows, key=lambda r: SOURCE_RANK.get(r["source"], 99))
                    if r["version_to"]), None)
    best, best_key = None, None
    for g in groups:
        if not services & {r["service"] for r in g} or sources & {r["source"] for r in g}:
            continue
        dt = abs(start - min(r["started_at"] for r in g))
        versions = {r["version_to"] for r in g if r["version_to"]}
        if dt > window or (version is not None and versions and version not in versions):
            continue
        key = (not (version is not None and version in versions), dt)
        if best_key is None or key < best_key:
            best, best_key = g, key
    return best


def _merge_group(group: list[dict[str, Any]], stops: list[dict[str, Any]], images: Mapping[str, str]) \
        -> dict[str, Any]:
    ranked = sorted(group, key=lambda r: SOURCE_RANK.get(r["source"], 99))
    out = dict(ranked[0])
    for col in ("finished_at", "version_from", "version_to", "description"):
        if out[col] is None:
            out[col] = next((r[col] for r in ranked if r[col] is not None), None)
    people = [r["actor"] for r in ranked if r["source"] in ("cloudtrail", "file") and r["actor"]]
    if people:
        out["actor"] = people[0]
    elif out["actor"] is None:
        out["actor"] = next((r["actor"] for r in ranked if r["actor"]), None)
    for stop in sorted(stops, key=lambda r: r["started_at"]):
        text = stop["description"] or f"stopped by {stop['actor'] or 'unknown'}"
        if text not in (out["description"] or ""):
            out["description"] = join_text(out["description"], text)
        if out["status"] in ("requested", "in_progress"):
            out["status"] = "stopped"
    image = images.get(out["version_to"] or "")
    if image and image not in (out["description"] or ""):
        out["description"] = join_text(out["description"], image)
    out["_also"] = ", ".join(f"{r['source']}:{r['id']}" for r in [*ranked[1:], *stops])
    return out


def _rollback_actors(rows: list[dict[str, Any]], stops: Mapping[int, list[dict[str, Any]]]) -> None:
    """The person who stopped a deployment asked for its rollback: make them the rollback's actor."""
    by_id = {r["id"]: r for r in rows}
    for k, stopped in stops.items():
        who = next((s["actor"] for s in sorted(stopped, key=lambda r: r["started_at"]) if s["actor"]), None)
        if who is None:
            continue
        target = rows[k]
        ids = set(_ROLLED_BACK_BY.findall(target["description"] or ""))
        ids |= {r["id"] for r in rows if target["id"] in _ROLLBACK_OF.findall(r["description"] or "")}
        for rid in ids:
            rb = by_id.get(rid)
            if rb is not None and rb is not target and (rb["actor"] is None or rb["actor"] in _NOT_A_PERSON):
                rb["actor"] = who


def _fill_task_def_from(rows: list[dict[str, Any]]) -> None:
    """Empty ``version_from`` of a task definition rollout: the family's last good revision before it."""
    last: dict[tuple[str, str], str] = {}
    for r in sorted(rows, key=lambda r: r["started_at"]):
        m = TASK_DEFINITION.match(r["version_to"] or "")
        if m is None:
            continue
        key = (r["service"], m.group("family"))
        if r["version_from"] is None and key in last:
            r["version_from"] = last[key]
        if r["status"] in ("succeeded", "replaced"):
            last[key] = r["version_to"]
