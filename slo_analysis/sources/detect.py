"""Recognise a saved file's format by its content, never by its name.

``sniff(path)`` reads a file (gunzipping it when it starts with the gzip magic number) and says which
supported kind it holds: the output of ``aws cloudwatch get-metric-data``, its ``--cli-input-json``
query file, a Logs export object, Insights results, X-Ray pages, SLO definitions, deployment records,
alarm history, ... A file that matches nothing is ``UNKNOWN`` with the reason (JSON Lines, or JSON
with junk after the document, included); a file that looks like JSON but is cut off raises
:class:`TruncatedInputError` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slo_analysis.exceptions import InputError, TruncatedInputError
from slo_analysis.sources import (
    alarms,
    application_signals,
    cloudwatch_logs,
    cloudwatch_metrics,
    deployments,
    openslo,
    xray,
)
from slo_analysis.sources._io import decode_json, gunzip_if_gzip, read_bytes

__all__ = ["Detected", "KINDS", "UNKNOWN", "sniff"]

UNKNOWN = "unknown"

# kind -> what it is, shown by `slo-analysis import` and the manifest
KINDS: dict[str, str] = {
    "metric-data": "CloudWatch GetMetricData response",
    "metric-data-queries": "GetMetricData request (MetricDataQueries)",
    "metric-statistics": "CloudWatch GetMetricStatistics response",
    "logs-export": "CloudWatch Logs export object (CreateExportTask)",
    "export-tasks": "CloudWatch Logs DescribeExportTasks response",
    "insights-results": "Logs Insights GetQueryResults response",
    "insights-query": "Logs Insights StartQuery request",
    "log-events": "CloudWatch Logs FilterLogEvents / GetLogEvents response",
    "xray-traces": "X-Ray BatchGetTraces response",
    "xray-summaries": "X-Ray GetTraceSummaries response",
    "xray-service-graph": "X-Ray GetServiceGraph response",
    "xray-segment": "X-Ray segment document",
    "slo-application-signals": "Application Signals service level objective",
    "slo-openslo": "OpenSLO (openslo/v1) documents",
    "deployments-codedeploy": "CodeDeploy BatchGetDeployments / GetDeployment response",
    "deployments-ecs": "ECS DescribeServices response",
    "deployments-cloudtrail": "CloudTrail LookupEvents response",
    "deployments-lambda": "Lambda versions or alias response",
    "deployments-file": "deployment records (CSV or YAML)",
    "alarm-definitions": "CloudWatch DescribeAlarms response",
    "alarm-history": "CloudWatch DescribeAlarmHistory response",
}

_ISO_LINE = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_DEPLOYMENT_CSV_HEADER = re.compile(r"^\ufeff?\s*id\s*,\s*service\s*,\s*started_at\b", re.IGNORECASE)

# Order matters: the more specific shapes first.
_JSON_KINDS: list[tuple[str, Any]] = [
    ("metric-data", cloudwatch_metrics.looks_like_get_metric_data),
    ("metric-data-queries", cloudwatch_metrics.looks_like_metric_data_queries),
    ("metric-statistics", cloudwatch_metrics.looks_like_get_metric_statistics),
    ("insights-results", cloudwatch_logs.looks_like_insights_results),
    ("insights-query", cloudwatch_logs.looks_like_start_query),
    ("export-tasks", cloudwatch_logs.looks_like_export_tasks),
    ("log-events", cloudwatch_logs.looks_like_log_events),
    ("xray-traces", xray.looks_like_batch_get_traces),
    ("xray-summaries", xray.looks_like_trace_summaries),
    ("xray-service-graph", xray.looks_like_service_graph),
    ("slo-application-signals", application_signals.looks_like_application_signals_slo),
    ("deployments-codedeploy", deployments.looks_like_codedeploy),
    ("deployments-ecs", deployments.looks_like_ecs_services),
    ("deployments-cloudtrail", deployments.looks_like_cloudtrail_events),
    ("deployments-lambda", deployments.looks_like_lambda),
    ("alarm-definitions", alarms.looks_like_describe_alarms),
    ("alarm-history", alarms.looks_like_alarm_history),
    ("xray-segment", xray.looks_like_segment_document),
]


@dataclass(frozen=True)
class Detected:
    """A file, its kind, and its decoded content (parsed JSON, text, or bytes for export objects)."""

    path: Path
    kind: str
    content: Any
    reason: str = ""  # why it is UNKNOWN


def sniff(path: str | Path, raw: bytes | None = None) -> Detected:
    """Read ``path`` (or take its bytes, ``raw``, already read) and recognise its format by content.

    Raises
    ------
    TruncatedInputError
        a gzip stream or a JSON document that ends early.
    InputError
        the file cannot be read. Content that is not valid JSON but not cut off either is
        ``UNKNOWN`` with the parser's message as the reason.
    """
    p = Path(path)
    data = read_bytes(p) if raw is None else gunzip_if_gzip(raw, p)
    head = data[:4096].lstrip()
    if not head:
        return Detected(p, UNKNOWN, None, "empty file")
    if head[:1] in (b"{", b"["):
        try:
            doc = decode_json(data, p)
        except TruncatedInputError:
            raise  # a supported file cut short: the caller must hear of it
        except InputError as exc:  # JSON Lines, JSON with trailing junk, not UTF-8, ...
            where = "" if exc.line is None else f" (line {exc.line})"
            return Detected(p, UNKNOWN, None, f"not one JSON document{where}: {exc.problem}")
        for kind, predicate in _JSON_KINDS:
            if predicate(doc):
                return Detected(p, kind, doc)
        keys = ", ".join(sorted(doc)[:6]) if isinstance(doc, dict) else f"a list of {len(doc)}"
        return Detected(p, UNKNOWN, None, f"JSON of no supported shape (top level: {keys})")
    if _ISO_LINE.match(head) and cloudwatch_logs.looks_like_export_lines(head):
        return Detected(p, "logs-export", data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Detected(p, UNKNOWN, None, "binary content of no supported format")
    if openslo.looks_like_openslo(text):
        return Detected(p, "slo-openslo", text)
    if _DEPLOYMENT_CSV_HEADER.match(text) or _looks_like_deployment_yaml(text):
        return Detected(p, "deployments-file", text)
    first = text.strip().splitlines()[0][:60] if text.strip() else ""
    return Detected(p, UNKNOWN, None, f"text of no supported format (starts {first!r})")


def _looks_like_deployment_yaml(text: str) -> bool:
    # A YAML list of changes: "- id: ...\n  service: ...\n  started_at: ..."
    return bool(re.search(r"^-\s+id\s*:", text, re.MULTILINE)) and "started_at" in text


def describe(kind: str) -> str:
    """A human description of ``kind``."""
    if kind == UNKNOWN:
        return "unrecognised"
    if kind not in KINDS:
        raise InputError("<kind>", f"unknown kind {kind!r}")
    return KINDS[kind]
