"""X-Ray loaders: BatchGetTraces, raw segment documents, GetTraceSummaries and GetServiceGraph.

Segments and their nested subsegments become rows of the canonical ``spans`` frame. Trace summaries
and service-graph edges are documented non-canonical frames (:data:`TRACE_SUMMARY_SCHEMA`,
:data:`SERVICE_EDGE_SCHEMA`, checked by :func:`validate_service_edges`): they describe traces and
edges, not spans. A graph fetched in several pages is read with :func:`service_graph_edges_from_pages`,
which resolves edges to services listed on another page.

Times in segment documents are epoch seconds as floats; they are rounded to the microsecond and
truncated to the millisecond (``1596566305.5354140`` -> ``...305.535``), and ``duration_ms`` keeps
the full precision of ``end_time - start_time``.

Examples
--------
>>> doc = {"trace_id": "1-5f187253-6a106696d56b1f4ef9eba2ed", "id": "5cc4a447f5d4d696",
...        "name": "LongOperation", "start_time": 1595437651.680097, "in_progress": True}
>>> spans_from_segment_documents([doc], file="seg.json").select("name", "end", "in_progress").row(0)
('LongOperation', None, True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.exceptions import FrameValidationError, InputError, MissingKeyError
from slo_analysis.sources._io import LoadReport, as_list, as_map, as_time, require

_INT64_MAX = 2**63 - 1

__all__ = [
    "TRACE_SUMMARY_SCHEMA",
    "SERVICE_EDGE_SCHEMA",
    "spans_from_batch_get_traces",
    "spans_from_segment_documents",
    "trace_summaries",
    "service_graph_edges",
    "service_graph_edges_from_pages",
    "validate_service_edges",
    "SERVICE_EDGES_FRAME",
    "looks_like_batch_get_traces",
    "looks_like_trace_summaries",
    "looks_like_service_graph",
    "looks_like_segment_document",
]

#: One GetTraceSummaries entry (a trace, not a span). ``start`` comes from ``StartTime`` when the
#: response has it, else from the epoch seconds encoded in the trace id (``1-<8 hex>-...``).
TRACE_SUMMARY_SCHEMA = pl.Schema({
    "trace_id": pl.String(),
    "start": frames.UTC_MS,
    "duration_ms": pl.Float64(),
    "response_time_ms": pl.Float64(),
    "http_status": pl.Int32(),
    "http_method": pl.String(),
    "http_url": pl.String(),
    "has_fault": pl.Boolean(),
    "has_error": pl.Boolean(),
    "has_throttle": pl.Boolean(),
    "is_partial": pl.Boolean(),
    "entry_point": pl.String(),  # EntryPoint.Name: the service that received the request
    "entry_point_type": pl.String(),
    "users": pl.List(pl.String()),
    "annotations": frames.KEY_VALUES,  # one {key, value} per annotation value
})

#: One GetServiceGraph edge: calls from ``source`` to ``target`` between ``start`` and ``end`` (the
#: edge's own times), in the graph asked for ``[window_start, window_end)`` (the response's). Latency
#: comes from the edge's ``ResponseTimeHistogram`` (nearest-rank percentiles of its bucket values;
#: null when the histogram is empty) and ``TotalResponseTime / TotalCount`` (the mean).
SERVICE_EDGE_SCHEMA = pl.Schema({
    "source": pl.String(),
    "source_type": pl.String(),
    "target": pl.String(),  # None when the edge points outside this page of the graph
    "target_type": pl.String(),
    "edge_type": pl.String(),
    "ok_count": pl.Int64(),
    "error_count": pl.Int64(),  # 4xx, throttles included
    "throttle_count": pl.Int64(),
    "fault_count": pl.Int64(),
    "total_count": pl.Int64(),
    "total_response_time_ms": pl.Float64(),
    "start": frames.UTC_MS,
    "end": frames.UTC_MS,
    "mean_response_time_ms": pl.Float64(),
    "p50_response_time_ms": pl.Float64(),
    "p90_response_time_ms": pl.Float64(),
    "p99_response_time_ms": pl.Float64(),
    "window_start": frames.UTC_MS,
    "window_end": frames.UTC_MS,
})

#: The name :func:`validate_service_edges` gives the edges frame in its errors.
SERVICE_EDGES_FRAME = "service_edges"
_EDGE_COUNTS = ("ok_count", "error_count", "throttle_count", "fault_count", "total_count")
_EDGE_NON_NULL = ("source", *_EDGE_COUNTS)


def _epoch_ms(value: Any, file: str, key: str) -> int:
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or abs(value) >= 1e11):  # beyond year 5000: not epoch seconds (and would overflow)
        raise InputError(file, f"{key!r} must be epoch seconds, found {value!r}", key=key)
    return round(value * 1_000_000) // 1000


def _get(doc: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(k)
    return doc


def _text(value: Any) -> str | None:
    """A string field, or None when absent or not a scalar (never raises on odd input)."""
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _flag(doc: Mapping[str, Any], key: str) -> bool:
    return doc.get(key) is True


def _cause(cause: Any) -> str | None:
    if isinstance(cause, str):
        return cause  # the id of an exception recorded on another (sub)segment
    if not isinstance(cause, Mapping):
        return None
    exceptions = cause.get("exceptions")
    if isinstance(exceptions, list) and exceptions and isinstance(exceptions[0], Mapping):
        exc = exceptions[0]
        parts = [str(p) for p in (exc.get("type"), exc.get("message")) if p is not None]
        return ": ".join(parts) or (str(exc["id"]) if exc.get("id") is not None else None)
    msg = cause.get("message")
    return str(msg) if msg is not None else None


def _annotations(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, Mapping):
        return []
    return [{"key": str(k), "value": (("true" if v else "false") if isinstance(v, bool) else str(v))}
            for k, v in sorted(value.items())]


def _walk(doc: Any, *, file: str, where: str, trace_id: str | None, service: str | None,
          parent_id: str | None, nested: bool, rows: list[dict[str, Any]]) -> None:
    """Append the row of ``doc`` and, recursively, of its subsegments."""
    doc = as_map(doc, file, where)
    span_id = str(require(doc, "id", file, where))
    where = f"{where} (id {span_id})"
    name = str(require(doc, "name", file, where))
    start = _epoch_ms(require(doc, "start_time", file, where), file, "start_time")
    in_progress = _flag(doc, "in_progress")
    end_raw = doc.get("end_time")
    if end_raw is None and not in_progress:
        raise MissingKeyError(file, "end_time", context=f"{where}, which is not in_progress")
    end = None if end_raw is None else _epoch_ms(end_raw, file, "end_time")
    # rounded to the microsecond: epoch-second floats carry ~0.1 us of noise
    duration = None if end_raw is None else round((float(end_raw) - float(doc["start_time"])) * 1000.0, 3)
    tid = doc.get("trace_id", trace_id)
    if tid is None:
        raise MissingKeyError(file, "trace_id", context=where)
    independent = not nested and doc.get("type") == "subsegment"
    kind = "subsegment" if nested or independent else "segment"
    own_service = service if nested else (None if independent else name)
    status = _get(doc, "http", "response", "status")
    rows.append({
        "trace_id": str(tid),
        "span_id": span_id,
        "parent_id": parent_id if nested else (None if doc.get("parent_id") is None
                                               else str(doc["parent_id"])),
        "service": own_service,
        "name": name,
        "kind": kind,
        "origin": _text(doc.get("origin")),
        "namespace": _text(doc.get("namespace")),
        "start": start,
        "end": end,
        "duration_ms": duration,
        "http_method": _text(_get(doc, "http", "request", "method")),
        "http_url": _text(_get(doc, "http", "request", "url")),
        "http_status": _http_status(status),
        "fault": _flag(doc, "fault"),
        "error": _flag(doc, "error"),
        "throttle": _flag(doc, "throttle"),
        "in_progress": in_progress,
        "aws_operation": _text(_get(doc, "aws", "operation")),
        "sql_query": _text(_get(doc, "sql", "sanitized_query")),
        "cause": _cause(doc.get("cause")),
        "annotations": _annotations(doc.get("annotations")),
    })
    subs = doc.get("subsegments")
    if subs is not None:
        for i, sub in enumerate(as_list(subs, file, f"{where}.subsegments")):
            _walk(sub, file=file, where=f"{where}.subsegments[{i}]", trace_id=str(tid),
                  service=own_service if own_service is not None else name, parent_id=span_id,
                  nested=True, rows=rows)


_ROW_SCHEMA = {**dict(frames.schema("spans").columns), "start": pl.Int64(), "end": pl.Int64()}


def _spans_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows -> spans frame; an independent subsegment takes the service of its parent in the input,
    else its own name."""
    by_id = {(r["trace_id"], r["span_id"]): r for r in rows}
    for r in rows:
        seen = set()
        node = r
        while node["service"] is None and node["parent_id"] is not None and id(node) not in seen:
            seen.add(id(node))
            parent = by_id.get((node["trace_id"], node["parent_id"]))
            if parent is None:
                break
            if parent["service"] is not None:
                r["service"] = parent["service"]
                break
            node = parent
        if r["service"] is None:
            r["service"] = r["name"]
    df = pl.DataFrame(rows, schema=_ROW_SCHEMA)
    df = df.with_columns(pl.from_epoch("start", time_unit="ms").dt.replace_time_zone("UTC"),
                         pl.from_epoch("end", time_unit="ms").dt.replace_time_zone("UTC"))
    return frames.conform(df, "spans")


def spans_from_batch_get_traces(doc: Any, *, file: str, report: LoadReport | None = None) -> pl.DataFrame:
    """Spans from a BatchGetTraces response (one page).

    Each ``Traces[].Segments[].Document`` is a JSON string, parsed a second time; nested
    subsegments are flattened with ``parent_id`` = the enclosing (sub)segment and ``service`` = the
    enclosing segment's name.

    Parameters
    ----------
    doc
        The parsed response.
    file
        Named in errors and in the report.
    report
        When given, receives the span count, one ``skipped`` entry per ``UnprocessedTraceIds`` id and
        per trace whose ``LimitExceeded`` is true (X-Ray returned it incomplete).

    Raises
    ------
    InputError
        when a Document is not valid JSON (names the trace and segment id) or lacks a required key.
    """
    traces = as_list(require(doc, "Traces", file), file, "Traces")
    rows: list[dict[str, Any]] = []
    for ti, trace in enumerate(traces):
        trace = as_map(trace, file, f"Traces[{ti}]")
        trace_id = trace.get("Id")
        if report is not None and trace.get("LimitExceeded") is True:
            report.skip(file, f"trace {trace_id}: LimitExceeded, X-Ray returned only part of it")
        for si, seg in enumerate(as_list(trace.get("Segments") or [], file, f"Traces[{ti}].Segments")):
            seg = as_map(seg, file, f"Traces[{ti}].Segments[{si}]")
            seg_id = seg.get("Id")
            where = f"trace {trace_id} segment {seg_id}"
            text = require(seg, "Document", file, where)
            try:
                parsed = json.loads(text) if isinstance(text, str | bytes) else text
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputError(file, f"{where}: Document is not valid JSON ({exc})") from exc
            _walk(parsed, file=file, where=where, trace_id=None if trace_id is None else str(trace_id),
                  service=None, parent_id=None, nested=False, rows=rows)
    df = _spans_frame(rows)
    if report is not None:
        report.files.append(str(file))
        for tid in as_list(doc.get("UnprocessedTraceIds") or [], file, "UnprocessedTraceIds"):
            report.skip(file, f"unprocessed trace id {tid}")
        report.add_rows("spans", df.height)
    return df


def spans_from_segment_documents(docs: list[Any], *, file: str, trace_id: str | None = None) -> pl.DataFrame:
    """Spans from raw segment documents (what PutTraceSegments sends, one dict per document).

    Segments, independent subsegments (``"type": "subsegment"``) and their nested subsegments all
    become rows. ``trace_id`` is used for documents that carry none (subsegment fragments).

    Raises
    ------
    MissingKeyError
        naming the file and key when a document lacks ``id``, ``name``, ``start_time``, a
        ``trace_id`` (and none was passed) or an ``end_time`` while not ``in_progress``.
    """
    rows: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        _walk(doc, file=file, where=f"document {i}", trace_id=trace_id, service=None, parent_id=None,
              nested=False, rows=rows)
    return _spans_frame(rows)


def _trace_id_epoch(trace_id: str) -> datetime | None:
    parts = trace_id.split("-")
    if len(parts) >= 2 and len(parts[1]) == 8:
        try:
            return datetime.fromtimestamp(int(parts[1], 16), tz=UTC)
        except ValueError:
            return None
    return None


def _annotation_values(value: Any, file: str, where: str) -> list[dict[str, str]]:
    out = []
    for key, values in sorted(as_map(value or {}, file, f"{where}.Annotations").items()):
        for v in as_list(values, file, f"{where}.Annotations.{key}"):
            av = _get(v, "AnnotationValue")
            if not isinstance(av, Mapping):
                continue
            for field in ("StringValue", "NumberValue", "BooleanValue"):
                if av.get(field) is not None:
                    raw = av[field]
                    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
                    out.append({"key": str(key), "value": text})
                    break
    return out


def _seconds_to_ms(value: Any, file: str, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(file, f"{key!r} must be seconds, found {value!r}", key=key)
    return float(value) * 1000.0


def trace_summaries(doc: Any, *, file: str) -> pl.DataFrame:
    """GetTraceSummaries (one page) as a :data:`TRACE_SUMMARY_SCHEMA` frame, one row per trace."""
    rows = []
    for i, s in enumerate(as_list(require(doc, "TraceSummaries", file), file, "TraceSummaries")):
        where = f"TraceSummaries[{i}]"
        s = as_map(s, file, where)
        tid = str(require(s, "Id", file, where))
        start = as_time(s["StartTime"], file, f"{where}.StartTime") if s.get("StartTime") is not None \
            else _trace_id_epoch(tid)
        status = _get(s, "Http", "HttpStatus")
        rows.append({
            "trace_id": tid,
            "start": start,
            "duration_ms": _seconds_to_ms(s.get("Duration"), file, f"{where}.Duration"),
            "response_time_ms": _seconds_to_ms(s.get("ResponseTime"), file, f"{where}.ResponseTime"),
            "http_status": _http_status(status),
            "http_method": _text(_get(s, "Http", "HttpMethod")),
            "http_url": _text(_get(s, "Http", "HttpURL")),
            "has_fault": s.get("HasFault") is True,
            "has_error": s.get("HasError") is True,
            "has_throttle": s.get("HasThrottle") is True,
            "is_partial": s.get("IsPartial") is True,
            "entry_point": _text(_get(s, "EntryPoint", "Name")),
            "entry_point_type": _text(_get(s, "EntryPoint", "Type")),
            "users": [str(u["UserName"]) for u in as_list(s.get("Users") or [], file, f"{where}.Users")
                      if isinstance(u, Mapping) and u.get("UserName") is not None],
            "annotations": _annotation_values(s.get("Annotations"), file, where),
        })
    return pl.DataFrame(rows, schema=TRACE_SUMMARY_SCHEMA)


def _count(stats: Any, *keys: str, file: str) -> int:
    """A count from SummaryStatistics: 0 when absent, InputError when it is not a count an Int64 holds."""
    v = _get(stats, *keys)
    if v is None:
        return 0
    if (isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not math.isfinite(v))
            or not 0 <= v <= _INT64_MAX):
        raise InputError(file, f"{'.'.join(keys)} is not a count: {v!r}", key=keys[-1])
    return int(v)


def _http_status(v: Any) -> int | None:
    """An HTTP status code, or None for anything that is not one (X-Ray leaves it out when unknown)."""
    return v if isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 999 else None


def _histogram_percentiles(hist: Any, file: str, where: str) -> tuple[float | None, float | None, float | None]:
    """Nearest-rank p50, p90, p99 in ms of a ``[{Value: seconds, Count}]`` histogram; Nones when empty."""
    buckets: list[tuple[float, int]] = []
    for k, entry in enumerate(as_list(hist or [], file, where)):
        ew = f"{where}[{k}]"
        entry = as_map(entry, file, ew)
        value, count = require(entry, "Value", file, ew), require(entry, "Count", file, ew)
        if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value >= 0):
            raise InputError(file, f"{ew}.Value must be seconds >= 0, found {value!r}", key="Value")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _INT64_MAX:
            raise InputError(file, f"{ew}.Count must be a count, found {count!r}", key="Count")
        if count:
            buckets.append((float(value), count))
    total = sum(c for _, c in buckets)
    if not total:
        return None, None, None
    buckets.sort()
    out = []
    for q in (0.50, 0.90, 0.99):
        rank = math.ceil(q * total)  # nearest rank: the smallest value with at least q of the requests
        seen = 0
        for value, count in buckets:
            seen += count
            if seen >= rank:
                out.append(round(value * 1000.0, 6))
                break
    return out[0], out[1], out[2]


def _edge_rows(doc: Any, file: str, by_ref: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """The edge rows of one page; targets are looked up in ``by_ref`` (services of every page)."""
    services = as_list(require(doc, "Services", file), file, "Services")
    window = {k: None if doc.get(k) is None else as_time(doc[k], file, k) for k in ("StartTime", "EndTime")}
    rows = []
    for i, svc in enumerate(services):
        where = f"Services[{i}]"
        svc = as_map(svc, file, where)
        for j, edge in enumerate(as_list(svc.get("Edges") or [], file, f"{where}.Edges")):
            ew = f"{where}.Edges[{j}]"
            edge = as_map(edge, file, ew)
            ref = require(edge, "ReferenceId", file, ew)
            target = by_ref.get(ref) if isinstance(ref, int | str) else None
            stats = edge.get("SummaryStatistics") or {}
            times = {}
            for key in ("StartTime", "EndTime"):
                raw = edge.get(key, svc.get(key, doc.get(key)))
                times[key] = None if raw is None else as_time(raw, file, f"{ew}.{key}")
            total_rt = _seconds_to_ms(_get(stats, "TotalResponseTime"), file, f"{ew}.TotalResponseTime")
            total = _count(stats, "TotalCount", file=file)
            p50, p90, p99 = _histogram_percentiles(edge.get("ResponseTimeHistogram"), file,
                                                   f"{ew}.ResponseTimeHistogram")
            rows.append({
                "source": _text(svc.get("Name")),
                "source_type": _text(svc.get("Type")),
                "target": None if target is None else _text(target.get("Name")),
                "target_type": None if target is None else _text(target.get("Type")),
                "edge_type": _text(edge.get("EdgeType")),
                "ok_count": _count(stats, "OkCount", file=file),
                "error_count": _count(stats, "ErrorStatistics", "TotalCount", file=file),
                "throttle_count": _count(stats, "ErrorStatistics", "ThrottleCount", file=file),
                "fault_count": _count(stats, "FaultStatistics", "TotalCount", file=file),
                "total_count": total,
                "total_response_time_ms": total_rt,
                "start": times["StartTime"],
                "end": times["EndTime"],
                "mean_response_time_ms": None if total_rt is None or not total else total_rt / total,
                "p50_response_time_ms": p50,
                "p90_response_time_ms": p90,
                "p99_response_time_ms": p99,
                "window_start": window["StartTime"],
                "window_end": window["EndTime"],
            })
    return rows


def _services_by_ref(doc: Any, file: str) -> dict[Any, Mapping[str, Any]]:
    services = as_list(require(doc, "Services", file), file, "Services")
    return {s["ReferenceId"]: s for s in services
            if isinstance(s, Mapping) and isinstance(s.get("ReferenceId"), int | str)}


def service_graph_edges(doc: Any, *, file: str) -> pl.DataFrame:
    """GetServiceGraph (one page) as a :data:`SERVICE_EDGE_SCHEMA` frame, one row per edge.

    Edge times default to the service's, then the response's ``StartTime``/``EndTime``. An edge
    whose target is on another page has a null ``target``: read every page of a graph with
    :func:`service_graph_edges_from_pages`.
    """
    return pl.DataFrame(_edge_rows(doc, file, _services_by_ref(doc, file)), schema=SERVICE_EDGE_SCHEMA)


def service_graph_edges_from_pages(pages: Iterable[tuple[str, Any]]) -> pl.DataFrame:
    """Every page of one GetServiceGraph listing as one :data:`SERVICE_EDGE_SCHEMA` frame.

    Parameters
    ----------
    pages
        ``(name, response)`` pairs in page order: the ``xray-service-graph`` units of
        :func:`slo_analysis.sources.xray_fetch.service_graph_fetcher` (``unit``, ``response``), or
        saved files (path, parsed JSON). ``name`` is named in errors.

    Returns
    -------
    polars.DataFrame
        One row per edge, in page order, validated by :func:`validate_service_edges`. A target is
        looked up among the services of every page (the graph is paginated by service, so an edge
        may point to a service listed on another page); it stays null only when no page lists it.

    Raises
    ------
    InputError
        naming the page and key when a page is not a GetServiceGraph response or holds a bad
        count, time or histogram entry; or when two pages list one ``ReferenceId`` as different
        services (pages of two different graphs).
    """
    docs = list(pages)
    by_ref: dict[Any, Mapping[str, Any]] = {}
    for name, doc in docs:
        for ref, svc in _services_by_ref(doc, name).items():
            known = by_ref.setdefault(ref, svc)
            if (known.get("Name"), known.get("Type")) != (svc.get("Name"), svc.get("Type")):
                raise InputError(name, f"ReferenceId {ref!r} is {svc.get('Name')!r} here but {known.get('Name')!r} "
                                       "on an earlier page: pages of different graphs", key="ReferenceId")
    rows = [row for name, doc in docs for row in _edge_rows(doc, name, by_ref)]
    return validate_service_edges(pl.DataFrame(rows, schema=SERVICE_EDGE_SCHEMA))


def validate_service_edges(df: pl.DataFrame) -> pl.DataFrame:
    """Check an edges frame against :data:`SERVICE_EDGE_SCHEMA` and return it unchanged.

    Raises
    ------
    FrameValidationError
        naming ``service_edges`` and the column: missing or mistyped; null ``source`` or count;
        a negative count; more throttles than errors (throttles are 4xx errors); percentiles out of
        order; an edge ending before it starts.
    """
    name = SERVICE_EDGES_FRAME
    for col, dtype in SERVICE_EDGE_SCHEMA.items():
        if col not in df.columns:
            raise FrameValidationError(name, col, "missing")
        if df.schema[col] != dtype:
            raise FrameValidationError(name, col, f"expected {dtype!r}, found {df.schema[col]!r}")
    for col in _EDGE_NON_NULL:
        if nulls := df[col].null_count():
            raise FrameValidationError(name, col, f"{nulls} null value(s) in a required column")
    checks = [(col, pl.col(col) < 0, "negative count") for col in _EDGE_COUNTS]
    checks += [
        ("throttle_count", pl.col("throttle_count") > pl.col("error_count"), "more throttles than errors"),
        ("p90_response_time_ms", pl.col("p90_response_time_ms") < pl.col("p50_response_time_ms"), "below p50"),
        ("p99_response_time_ms", pl.col("p99_response_time_ms") < pl.col("p90_response_time_ms"), "below p90"),
        ("end", pl.col("end") < pl.col("start"), "before start"),
        ("window_end", pl.col("window_end") < pl.col("window_start"), "before window_start"),
    ]
    bad = df.select([cond.fill_null(False).sum().alias(str(i)) for i, (_, cond, _) in enumerate(checks)]).row(0)
    for (col, _, problem), n in zip(checks, bad, strict=True):
        if n:
            raise FrameValidationError(name, col, f"{n} row(s): {problem}")
    return df


# --------------------------------------------------------------------------------------------------
# content detection


def looks_like_batch_get_traces(doc: Any) -> bool:
    """A BatchGetTraces response: ``Traces`` whose entries hold ``Segments``."""
    if not (isinstance(doc, Mapping) and isinstance(doc.get("Traces"), list)):
        return False
    traces = doc["Traces"]
    if not traces:
        return "UnprocessedTraceIds" in doc
    return isinstance(traces[0], Mapping) and "Segments" in traces[0]


def looks_like_trace_summaries(doc: Any) -> bool:
    """A GetTraceSummaries response."""
    return isinstance(doc, Mapping) and isinstance(doc.get("TraceSummaries"), list)


def looks_like_service_graph(doc: Any) -> bool:
    """A GetServiceGraph response (not a root-cause ``Services`` list, which has no ReferenceId)."""
    if not (isinstance(doc, Mapping) and isinstance(doc.get("Services"), list)):
        return False
    services = doc["Services"]
    if not services:
        return "StartTime" in doc or "EndTime" in doc
    return isinstance(services[0], Mapping) and "ReferenceId" in services[0]


def looks_like_segment_document(doc: Any) -> bool:
    """A raw segment or subsegment document (``id``, ``name`` and a start, end or in_progress)."""
    return (isinstance(doc, Mapping) and isinstance(doc.get("id"), str) and isinstance(doc.get("name"), str)
            and any(k in doc for k in ("start_time", "end_time", "in_progress")))
