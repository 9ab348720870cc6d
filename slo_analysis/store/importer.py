"""Build or extend a snapshot from saved files of any supported kind (``slo-analysis import``).

Files are recognised by content (:func:`slo_analysis.sources.detect.sniff`). Companions are paired:
a GetMetricData response with the query file whose Ids it answers (a metric's identity is never
guessed from its label), a Logs export object with the export task naming its log group, Insights
results with the StartQuery request beside them. Every file is parsed before anything is written,
so a bad file (truncated gzip, a missing key) raises and leaves the snapshot as it was; with
``keep_going=True`` such files are skipped with their reason instead. Unknown files are skipped and
listed. Malformed records inside a good file go to the load report and the quarantine folder.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from slo_analysis.exceptions import InputError, SloAnalysisError
from slo_analysis.sources import (
    alarms,
    application_signals,
    cloudwatch_logs,
    cloudwatch_metrics,
    deployments,
    openslo,
    requests,
    xray,
)
from slo_analysis.sources._io import LoadReport
from slo_analysis.sources.detect import UNKNOWN, Detected, sniff
from slo_analysis.store.atomic import sha256_bytes
from slo_analysis.store.snapshot import Snapshot

__all__ = ["ImportResult", "import_files", "expand_inputs"]

log = logging.getLogger(__name__)

_ARN = re.compile(r"arn:aws[\w-]*:[\w-]+:([a-z]{2}-[a-z]+-\d):(\d{12}):")
_PAGE_SUFFIX = re.compile(r"(-page\d+)?(\.json)?(\.gz)?$")


@dataclass
class ImportResult:
    """What one import did."""

    snapshot: Snapshot
    imported: list[tuple[str, str]] = field(default_factory=list)  # (file, kind)
    already_imported: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    rows_added: dict[str, int] = field(default_factory=dict)
    report: LoadReport = field(default_factory=LoadReport)


def expand_inputs(sources: Iterable[str | Path]) -> list[Path]:
    """Files named, plus every file under folders named (sorted; hidden files ignored)."""
    out: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()
                              and not any(part.startswith(".") for part in f.relative_to(p).parts)))
        elif p.exists():
            out.append(p)
        else:
            raise InputError(p, "no such file or folder")
    return out


def _stem(path: Path) -> str:
    """Name shared by companion files: get-metric-data-0001.json.gz and get-metric-data-0001.queries.json."""
    name = _PAGE_SUFFIX.sub("", path.name)
    return name.removesuffix(".queries")


@dataclass
class _Batch:
    """Everything parsed in one import, written only once all of it parsed."""

    frames: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: defaultdict(list))
    used: list[tuple[Detected, bytes, dict[str, Any], LoadReport]] = field(default_factory=list)
    request_report: LoadReport = field(default_factory=LoadReport)  # bad request records in good logs


def import_files(
    sources: Sequence[str | Path],
    snapshot: str | Path | Snapshot,
    *,
    log_group: str | None = None,
    keep_going: bool = False,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> ImportResult:
    """Import saved AWS responses and files into a snapshot (created when missing).

    Parameters
    ----------
    sources
        files and folders; folders are walked recursively.
    snapshot
        the snapshot folder or an open :class:`Snapshot`.
    log_group
        log group for Logs export objects and Insights results whose group cannot be told otherwise.
    keep_going
        skip files that fail to parse (with the reason) instead of raising.
    progress
        wraps the file iterable, e.g. ``tqdm.tqdm``.
    """
    snap = snapshot if isinstance(snapshot, Snapshot) else Snapshot.create(snapshot)
    result = ImportResult(snap)
    paths = expand_inputs(sources)
    wrap = progress or (lambda it: it)

    detected: list[tuple[Detected, bytes]] = []
    for path in wrap(paths):
        raw = path.read_bytes()
        sha = sha256_bytes(raw)
        if snap.has_input(sha):
            result.already_imported.append(str(path))
            continue
        try:
            found = sniff(path)
        except SloAnalysisError as exc:
            if not keep_going:
                raise
            result.skipped.append((str(path), str(exc)))
            continue
        if found.kind == UNKNOWN:
            result.skipped.append((str(path), found.reason))
        else:
            detected.append((found, raw))

    batch = _Batch()
    by_kind: dict[str, list[tuple[Detected, bytes]]] = defaultdict(list)
    for d, raw in detected:
        by_kind[d.kind].append((d, raw))

    def attempt(d: Detected, raw: bytes, parse: Callable[[LoadReport], dict[str, pl.DataFrame]],
                params: dict[str, Any] | None = None) -> None:
        report = LoadReport(files=[str(d.path)])
        try:
            out = parse(report)
        except SloAnalysisError as exc:
            if not keep_going:
                raise
            result.skipped.append((str(d.path), str(exc)))
            return
        for name, df in out.items():
            batch.frames[name].append(df)
            report.add_rows(name, df.height)
        batch.used.append((d, raw, params or {}, report))

    _parse_metrics(by_kind, snap, attempt, result)
    _parse_logs(by_kind, attempt, result, log_group)
    for d, raw in by_kind.get("xray-traces", []):
        attempt(d, raw, lambda r, d=d: {"spans": xray.spans_from_batch_get_traces(d.content, file=str(d.path))})
    for d, raw in by_kind.get("xray-segment", []):
        attempt(d, raw, lambda r, d=d: {"spans": xray.spans_from_segment_documents([d.content],
                                                                                 file=str(d.path))})
    for kind in ("xray-summaries", "xray-service-graph", "insights-query", "export-tasks",
                 "metric-data-queries"):
        for d, raw in by_kind.get(kind, []):  # kept raw: companions or not yet a canonical frame
            attempt(d, raw, lambda r: {})
    for d, raw in by_kind.get("slo-application-signals", []):
        attempt(d, raw, lambda r, d=d: {"slos": application_signals.slos_from_application_signals(
            d.content, file=str(d.path))})
    for d, raw in by_kind.get("slo-openslo", []):
        attempt(d, raw, lambda r, d=d: {"slos": openslo.slos_from_openslo(d.content, file=str(d.path))})
    _parse_deployments(by_kind, attempt)
    _parse_alarms(by_kind, snap, attempt, batch)

    # Request records come from the request logs of this import.
    if batch.frames.get("logs"):
        logs = pl.concat(batch.frames["logs"], how="vertical")
        req_report = LoadReport()
        batch.frames["requests"].append(requests.requests_from_logs(logs, report=req_report))
        batch.request_report = req_report

    _write(batch, snap, result)
    return result


def _parse_metrics(by_kind: dict[str, list[tuple[Detected, bytes]]], snap: Snapshot,
                   attempt: Callable[..., None], result: ImportResult) -> None:
    queries = [(d, cloudwatch_metrics.query_ids(d.content)) for d, _ in by_kind.get("metric-data-queries", [])]
    for d, raw in by_kind.get("metric-data", []):
        ids = {r["Id"] for r in d.content.get("MetricDataResults", []) if isinstance(r, dict) and "Id" in r}
        matches = [q for q, qids in queries if ids <= qids]
        if len(matches) > 1:
            matches = [q for q in matches if _stem(q.path) == _stem(d.path)] or matches
        if len(matches) != 1:
            why = ("no" if not matches else f"{len(matches)} ambiguous") + \
                  f" MetricDataQueries file(s) answer Ids {sorted(ids)[:5]}"
            result.skipped.append((str(d.path), f"{why}; import it together with the file passed to "
                                                 "--metric-data-queries (a label never identifies a metric)"))
            continue
        q = matches[0]
        attempt(d, raw, lambda r, d=d, q=q: {"metrics": cloudwatch_metrics.metrics_from_get_metric_data(
            d.content, q.content, file=str(d.path))}, {"queries": str(q.path)})
    for d, _raw in by_kind.get("metric-statistics", []):
        result.skipped.append((str(d.path), "GetMetricStatistics output names neither namespace nor "
                               "dimensions; load it with sources.cloudwatch_metrics."
                               "metrics_from_get_metric_statistics and say which metric it is"))


def _parse_logs(by_kind: dict[str, list[tuple[Detected, bytes]]], attempt: Callable[..., None],
                result: ImportResult, log_group: str | None) -> None:
    tasks: dict[str, str] = {}
    for d, _ in by_kind.get("export-tasks", []):
        tasks.update(cloudwatch_logs.export_task_log_groups(d.content, file=str(d.path)))
    for d, raw in by_kind.get("logs-export", []):
        where = cloudwatch_logs.locate_export_object(d.path, tasks)
        if where is None and log_group:
            where = (log_group, d.path.parent.name)
        if where is None:
            result.skipped.append((str(d.path), "cannot tell this export object's log group: import the "
                                   "describe-export-tasks output with it, or pass --log-group"))
            continue
        group, stream = where
        attempt(d, raw, lambda r, d=d, g=group, s=stream: {"logs": cloudwatch_logs.logs_from_export_file(
            d.content, file=str(d.path), log_group=g, log_stream=s, report=r)},
            {"log_group": group, "log_stream": stream})
    queries = {_stem(d.path).replace("start-query", ""): d for d, _ in by_kind.get("insights-query", [])}
    for d, raw in by_kind.get("insights-results", []):
        q = queries.get(_stem(d.path).replace("get-query-results", ""))
        groups = cloudwatch_logs.insights_query_log_groups(q.content) if q else []
        group = groups[0] if len(groups) == 1 else log_group
        attempt(d, raw, lambda r, d=d, g=group: {"logs": cloudwatch_logs.logs_from_insights_results(
            d.content, file=str(d.path), log_group=g, report=r)}, {"query": str(q.path) if q else None})
    for d, raw in by_kind.get("log-events", []):
        if not log_group:
            result.skipped.append((str(d.path), "FilterLogEvents/GetLogEvents output does not name its log "
                                   "group: pass --log-group"))
            continue
        attempt(d, raw, lambda r, d=d: {"logs": cloudwatch_logs.logs_from_events(
            d.content, file=str(d.path), log_group=log_group, report=r)}, {"log_group": log_group})


def _parse_deployments(by_kind: dict[str, list[tuple[Detected, bytes]]], attempt: Callable[..., None]) -> None:
    parsers: dict[str, Callable[..., pl.DataFrame]] = {
        "deployments-codedeploy": deployments.deployments_from_codedeploy,
        "deployments-ecs": deployments.deployments_from_ecs,
        "deployments-cloudtrail": deployments.deployments_from_cloudtrail,
        "deployments-lambda": deployments.deployments_from_lambda,
    }
    for kind, parse in parsers.items():
        for d, raw in by_kind.get(kind, []):
            attempt(d, raw, lambda r, d=d, parse=parse: {"deployments": parse(d.content, file=str(d.path))})
    for d, raw in by_kind.get("deployments-file", []):
        attempt(d, raw, lambda r, d=d: {"deployments": deployments.deployments_from_file(d.path, r)})


def _parse_alarms(by_kind: dict[str, list[tuple[Detected, bytes]]], snap: Snapshot,
                  attempt: Callable[..., None], batch: _Batch) -> None:
    for d, raw in by_kind.get("alarm-definitions", []):
        attempt(d, raw, lambda r, d=d: {"alarm_definitions": alarms.alarm_definitions_from_describe_alarms(
            d.content, file=str(d.path))})
    known = [snap.read("alarm_definitions"), *batch.frames.get("alarm_definitions", [])]
    definitions = pl.concat(known, how="vertical").unique(subset=["alarm_name"], keep="last")
    for d, raw in by_kind.get("alarm-history", []):
        attempt(d, raw, lambda r, d=d: {"alarms": alarms.alarms_from_history(
            d.content, file=str(d.path), definitions=definitions)})


def _origin_of(content: Any) -> tuple[str | None, str | None]:
    text = content if isinstance(content, str) else repr(content)[:200_000] if content is not None else ""
    m = _ARN.search(text)
    return (m.group(1), m.group(2)) if m else (None, None)


def _write(batch: _Batch, snap: Snapshot, result: ImportResult) -> None:
    """Store raw inputs, frames, quarantine and the manifest, in that order (manifest last)."""
    for name, parts in batch.frames.items():
        if parts:
            df = pl.concat(parts, how="vertical")
            result.rows_added[name] = snap.write_frame(name, df)
    for d, raw, params, report in batch.used:
        stored = snap.add_raw(raw, name=d.path.name, kind=d.kind)
        quarantine = snap.add_quarantine(report.bad, name=d.path.name)
        snap.record_input({
            "file": str(d.path),
            "kind": d.kind,
            "sha256": sha256_bytes(raw),
            "raw": stored,
            "params": params,
            "rows": dict(report.rows),
            "bad_records": len(report.bad),
            "quarantine": quarantine,
        })
        result.imported.append((str(d.path), d.kind))
        result.report.merge(report)
    # Region and account: from the first input (by path) whose ARNs name them.
    for d, *_ in sorted(batch.used, key=lambda u: str(u[0].path)):
        if d.kind in ("slo-application-signals", "alarm-definitions", "deployments-ecs", "deployments-codedeploy"):
            region, account = _origin_of(d.content)
            snap.set_origin(region=region, account_id=account)
    snap.add_quarantine(batch.request_report.bad, name="requests")
    result.report.merge(batch.request_report)
    for file, reason in result.skipped:
        snap.record_skipped(file, reason)
    lr = snap.manifest["load_report"]
    lr["bad_records"] = int(lr.get("bad_records", 0)) + len(result.report.bad)
    for file, n in result.report.bad_by_file().items():
        lr["bad_by_file"][file] = int(lr["bad_by_file"].get(file, 0)) + n
    snap.save_manifest()
