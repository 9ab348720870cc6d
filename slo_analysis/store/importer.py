"""Build or extend a snapshot from saved files of any supported kind (``slo-analysis import``).

Files are recognised by content (:func:`slo_analysis.sources.detect.sniff`). Companions are paired:
a GetMetricData response with the query file whose Ids it answers (a metric's identity is never
guessed from its label), a Logs export object with the export task naming its log group, Insights
results with the StartQuery request beside them. Every file is parsed before anything is written,
so a bad file (truncated gzip, a missing key) raises and leaves the snapshot as it was (a new
snapshot is not created at all); with ``keep_going=True`` such files are skipped with their reason
instead. Unknown files are skipped and listed. Malformed records inside a good file go to the load
report and the quarantine folder, each with its file and line.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.exceptions import InputError, SloAnalysisError, SnapshotError
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
from slo_analysis.store.snapshot import MANIFEST_NAME, Snapshot

__all__ = ["ImportResult", "import_files", "expand_inputs"]

log = logging.getLogger(__name__)

_ARN = re.compile(r"arn:aws[\w-]*:[\w-]+:([a-z]{2}-[a-z]+-\d):(\d{12}):")
_PAGE_SUFFIX = re.compile(r"(-page\d+)?(\.json)?(\.gz)?$")
_RAW_PREFIX = re.compile(r"^[0-9a-f]{16}-")  # Snapshot.add_raw names files <sha16>-<name>


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
    """Name shared by companion files: get-metric-data-0001.json.gz and get-metric-data-0001.queries.json,
    and a snapshot's raw/<kind>/<sha16>-<unit>.json.gz and <sha16>-<unit>.request.json.gz."""
    name = _RAW_PREFIX.sub("", _PAGE_SUFFIX.sub("", path.name))
    return name.removesuffix(".queries").removesuffix(".request")


Parser = Callable[[Detected, LoadReport], dict[str, pl.DataFrame]]
Found = list[tuple[Detected, bytes]]

# Kinds parsed on their own, with no companion file.
_STANDALONE: dict[str, Parser] = {
    "xray-traces": lambda d, r: {"spans": xray.spans_from_batch_get_traces(d.content, file=str(d.path), report=r)},
    "xray-segment": lambda d, r: {"spans": xray.spans_from_segment_documents([d.content], file=str(d.path))},
    "slo-application-signals": lambda d, r: {
        "slos": application_signals.slos_from_application_signals(d.content, file=str(d.path))},
    "slo-openslo": lambda d, r: {"slos": openslo.slos_from_openslo(d.content, file=str(d.path))},
    "deployments-codedeploy": lambda d, r: {
        "deployments": deployments.deployments_from_codedeploy(d.content, file=str(d.path))},
    "deployments-ecs": lambda d, r: {"deployments": deployments.deployments_from_ecs(d.content, file=str(d.path))},
    "deployments-cloudtrail": lambda d, r: {
        "deployments": deployments.deployments_from_cloudtrail(d.content, file=str(d.path))},
    "deployments-lambda": lambda d, r: {
        "deployments": deployments.deployments_from_lambda(d.content, file=str(d.path))},
    "deployments-file": lambda d, r: {"deployments": deployments.deployments_from_file(d.path, r)},
    "alarm-definitions": lambda d, r: {
        "alarm_definitions": alarms.alarm_definitions_from_describe_alarms(d.content, file=str(d.path))},
    # Kept raw only: companions of other files, or not (yet) a canonical frame.
    "xray-summaries": lambda d, r: {},
    "xray-service-graph": lambda d, r: {},
    "insights-query": lambda d, r: {},
    "export-tasks": lambda d, r: {},
    "metric-data-queries": lambda d, r: _check_metric_queries(d),
}


def _check_metric_queries(d: Detected) -> dict[str, pl.DataFrame]:
    """Read the MetricStat queries of a MetricDataQueries file against an empty response, so that a
    query missing ``Namespace`` (or any key a query needs) raises naming this file, not the response
    paired with it. Expressions are left to the real parse: their period may depend on the datapoints.
    """
    items = d.content.get("MetricDataQueries") if isinstance(d.content, Mapping) else d.content
    ids = [q["Id"] for q in items if isinstance(q, Mapping) and isinstance(q.get("Id"), str)
           and "Expression" not in q] if isinstance(items, list) else []
    empty = {"MetricDataResults": [{"Id": i, "Timestamps": [], "Values": []} for i in ids]}
    cloudwatch_metrics.metrics_from_get_metric_data(empty, d.content, file=str(d.path))
    return {}


@dataclass
class _Batch:
    """Everything parsed in one import, written only once all of it parsed."""

    snap: Snapshot | None  # None: a new snapshot, created only once everything parsed
    keep_going: bool
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: defaultdict(list))
    used: list[tuple[Detected, bytes, dict[str, Any], LoadReport]] = field(default_factory=list)
    request_report: LoadReport = field(default_factory=LoadReport)  # bad request records in good logs

    def parse(self, d: Detected, raw: bytes, parser: Parser, params: dict[str, Any] | None = None) -> None:
        """Run ``parser`` on one file; a failure raises, or with keep_going skips the file."""
        report = LoadReport(files=[str(d.path)])
        try:
            out = parser(d, report)
        except SloAnalysisError as exc:
            if not self.keep_going:
                raise
            self.skip(d.path, str(exc))
            return
        for name, df in out.items():
            self.frames[name].append(df)
            report.add_rows(name, df.height)
        self.used.append((d, raw, params or {}, report))

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append((str(path), reason))


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
    existing, target = (snapshot, None) if isinstance(snapshot, Snapshot) else (None, Path(snapshot))
    if target is not None and (target / MANIFEST_NAME).exists():
        existing = Snapshot.open(target)
    elif target is not None:
        _check_new_snapshot_folder(target)
    batch = _Batch(existing, keep_going)
    already_imported: list[str] = []
    wrap = progress or (lambda it: it)

    by_kind: dict[str, Found] = defaultdict(list)
    for path in wrap(expand_inputs(sources)):
        raw = path.read_bytes()
        if existing is not None and existing.has_input(sha256_bytes(raw)):
            already_imported.append(str(path))
            continue
        try:
            found = sniff(path, raw)  # the bytes already read for the sha256: no second read
        except SloAnalysisError as exc:
            if not keep_going:
                raise
            batch.skip(path, str(exc))
            continue
        if found.kind == UNKNOWN:
            batch.skip(path, found.reason)
        else:
            by_kind[found.kind].append((found, raw))

    for kind, parser in _STANDALONE.items():
        for d, raw in by_kind.get(kind, []):
            batch.parse(d, raw, parser)
    _parse_metrics(by_kind, batch)
    _parse_logs(by_kind, batch, log_group)
    _parse_alarm_history(by_kind, batch)

    # Request records come from the request logs of this import.
    if batch.frames.get("logs"):
        logs = pl.concat(batch.frames["logs"], how="vertical")
        batch.frames["requests"].append(requests.requests_from_logs(logs, report=batch.request_report))

    if existing is not None:
        result = ImportResult(existing, already_imported=already_imported, skipped=batch.skipped)
        _write(batch, result)
        return result
    assert target is not None  # a Snapshot object is an existing snapshot
    was_there = target.exists()
    snap = Snapshot.create(target)
    result = ImportResult(snap, already_imported=already_imported, skipped=batch.skipped)
    batch.snap = snap
    try:
        _write(batch, result)
    except BaseException:
        # a snapshot this call created and could not finish is removed, not left half-written
        shutil.rmtree(target, ignore_errors=True)
        if was_there:
            target.mkdir(exist_ok=True)
        raise
    return result


def _check_new_snapshot_folder(path: Path) -> None:
    """Refuse a folder ``Snapshot.create`` would refuse, before the (slow) parse rather than after."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise SnapshotError(path, "folder exists, is not empty and holds no manifest.json")


def _parse_metrics(by_kind: dict[str, Found], batch: _Batch) -> None:
    broken = {f for f, _ in batch.skipped}  # query files that failed _check_metric_queries (keep_going)
    queries = [(d, cloudwatch_metrics.query_ids(d.content)) for d, _ in by_kind.get("metric-data-queries", [])
               if str(d.path) not in broken]
    for d, raw in by_kind.get("metric-data", []):
        ids = cloudwatch_metrics.query_ids(d.content)
        matches = [q for q, qids in queries if ids <= qids]
        if len(matches) > 1:
            matches = [q for q in matches if _stem(q.path) == _stem(d.path)] or matches
        if len(matches) != 1:
            why = ("no" if not matches else f"{len(matches)} ambiguous") + \
                  f" MetricDataQueries file(s) answer Ids {sorted(ids)[:5]}"
            batch.skip(d.path, f"{why}; import it together with the file passed to --metric-data-queries "
                               "(a label never identifies a metric)")
            continue
        q = matches[0]

        def parse(d: Detected, r: LoadReport, q: Detected = q) -> dict[str, pl.DataFrame]:
            return {"metrics": cloudwatch_metrics.metrics_from_get_metric_data(d.content, q.content,
                                                                               file=str(d.path))}

        batch.parse(d, raw, parse, {"queries": str(q.path)})
    for d, _raw in by_kind.get("metric-statistics", []):
        batch.skip(d.path, "GetMetricStatistics output names neither namespace nor dimensions; load it with "
                           "sources.cloudwatch_metrics.metrics_from_get_metric_statistics and say which metric")


def _with_file(logs: pl.DataFrame, d: Detected) -> pl.DataFrame:
    """The logs of one input plus a ``file`` column: request records found broken later name it."""
    return logs.with_columns(file=pl.lit(str(d.path), dtype=pl.String))


def _parse_logs(by_kind: dict[str, Found], batch: _Batch, log_group: str | None) -> None:
    tasks: dict[str, str] = {}
    for d, _ in by_kind.get("export-tasks", []):
        tasks.update(cloudwatch_logs.export_task_log_groups(d.content, file=str(d.path)))
    for d, raw in by_kind.get("logs-export", []):
        where = cloudwatch_logs.locate_export_object(d.path, tasks)
        if where is None and log_group:
            where = (log_group, d.path.parent.name)
        if where is None:
            batch.skip(d.path, "cannot tell this export object's log group: import the describe-export-tasks "
                               "output with it, or pass --log-group")
            continue
        group, stream = where

        def parse_export(d: Detected, r: LoadReport, g: str = group, s: str = stream) -> dict[str, pl.DataFrame]:
            return {"logs": _with_file(cloudwatch_logs.logs_from_export_file(
                d.content, file=str(d.path), log_group=g, log_stream=s, report=r, with_line=True), d)}

        batch.parse(d, raw, parse_export, {"log_group": group, "log_stream": stream})
    queries = {_stem(d.path).replace("start-query", ""): d for d, _ in by_kind.get("insights-query", [])}
    for d, raw in by_kind.get("insights-results", []):
        q = queries.get(_stem(d.path).replace("get-query-results", ""))
        groups = cloudwatch_logs.insights_query_log_groups(q.content) if q else []
        group_or_none = groups[0] if len(groups) == 1 else log_group

        def parse_insights(d: Detected, r: LoadReport, g: str | None = group_or_none) -> dict[str, pl.DataFrame]:
            return {"logs": _with_file(cloudwatch_logs.logs_from_insights_results(
                d.content, file=str(d.path), log_group=g, report=r, with_line=True), d)}

        batch.parse(d, raw, parse_insights, {"query": str(q.path) if q else None})
    for d, raw in by_kind.get("log-events", []):
        if not log_group:
            batch.skip(d.path, "FilterLogEvents/GetLogEvents output does not name its log group: pass --log-group")
            continue

        def parse_events(d: Detected, r: LoadReport, g: str = log_group) -> dict[str, pl.DataFrame]:
            return {"logs": _with_file(cloudwatch_logs.logs_from_events(
                d.content, file=str(d.path), log_group=g, report=r, with_line=True), d)}

        batch.parse(d, raw, parse_events, {"log_group": log_group})


def _parse_alarm_history(by_kind: dict[str, Found], batch: _Batch) -> None:
    """Alarm history after the definitions, so each state change says what its alarm watches."""
    stored = batch.snap.read("alarm_definitions") if batch.snap is not None else frames.empty("alarm_definitions")
    known = [stored, *batch.frames.get("alarm_definitions", [])]
    definitions = pl.concat(known, how="vertical").unique(subset=["alarm_name"], keep="last")

    def parse(d: Detected, r: LoadReport) -> dict[str, pl.DataFrame]:
        return {"alarms": alarms.alarms_from_history(d.content, file=str(d.path), definitions=definitions)}

    for d, raw in by_kind.get("alarm-history", []):
        batch.parse(d, raw, parse)


def _origin_of(content: Any) -> tuple[str | None, str | None]:
    text = content if isinstance(content, str) else repr(content)[:200_000] if content is not None else ""
    m = _ARN.search(text)
    return (m.group(1), m.group(2)) if m else (None, None)


def _write(batch: _Batch, result: ImportResult) -> None:
    """Store frames, raw inputs, quarantine and the manifest, in that order (manifest last)."""
    snap = result.snapshot
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
