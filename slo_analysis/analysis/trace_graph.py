"""The shape of traces: the service call graph and the critical path of a trace.

:func:`service_graph` turns spans into edges caller -> callee with call counts, faults and latency:
a callee is the service of a child segment (the callee's own segment, whose parent is the caller's
remote subsegment), or, for a ``remote``/``aws`` subsegment with no traced callee below it, the
subsegment's name (``DynamoDB``, ``agent_skills@aurora-prod``). Latency is the caller's view (the
subsegment's duration, network included). :func:`downstream_of` walks the edges: the request path of
an SLO on a service.

:func:`critical_path` explains one trace's end-to-end latency; :func:`slowest_critical_paths` adds up
the critical paths of a window's slowest traces.

Examples
--------
>>> import slo_analysis as sa
>>> spans = sa.store.Snapshot.open(demo_snapshot()).read("spans")
>>> edges = service_graph(spans)
>>> sorted(downstream_of(edges, "ticket-api"))
['DynamoDB', 'agent_skills@aurora-prod', 'routing-service']
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import polars as pl

from slo_analysis.analysis.traces import Window, in_window, self_times, trace_roots
from slo_analysis.exceptions import FrameValidationError, SloAnalysisError

__all__ = ["CALL_NAMESPACES", "service_graph", "downstream_of", "critical_path", "slowest_critical_paths"]

logger = logging.getLogger(__name__)

CALL_NAMESPACES = ("remote", "aws")
"""Subsegment namespaces that mark a call out of the service (X-Ray: ``remote`` and ``aws``)."""

_EDGE_SCHEMA = {"caller": pl.String, "callee": pl.String, "calls": pl.UInt32, "faults": pl.UInt32,
                "errors": pl.UInt32, "throttles": pl.UInt32, "fault_rate": pl.Float64, "p50_ms": pl.Float64,
                "p99_ms": pl.Float64, "total_ms": pl.Float64}


def _require(spans: pl.DataFrame, columns: list[str]) -> None:
    for c in columns:
        if c not in spans.columns:
            raise FrameValidationError("spans", c, "missing (needed by slo_analysis.analysis.trace_graph)")


def service_graph(spans: pl.DataFrame, window: Window | None = None) -> pl.DataFrame:
    """Edges caller -> callee of the traced requests, with counts and the caller-side latency.

    One call is one calling span: a subsegment with a child segment of the callee (counted once even
    when the callee's segment appears twice), a segment whose parent is a segment of another service
    (OpenTelemetry-style spans, measured by the child), or a ``remote``/``aws`` subsegment without a
    child segment (callee = the subsegment's name).

    Parameters
    ----------
    spans : pl.DataFrame
        canonical spans frame.
    window : (datetime, datetime), optional
        keep calls that start in ``[start, end)``; all calls when None.

    Returns
    -------
    pl.DataFrame
        ``caller, callee, calls, faults, errors, throttles, fault_rate, p50_ms, p99_ms, total_ms``
        sorted by caller then callee; ``fault_rate = faults / calls``.
    """
    _require(spans, ["trace_id", "span_id", "parent_id", "service", "name", "kind", "namespace", "start",
                     "duration_ms", "fault", "error", "throttle"])
    s = spans.with_columns(pl.col("fault", "error", "throttle").fill_null(False),
                           sub=(pl.col("kind") == "subsegment").fill_null(False))
    seg = s.filter(~pl.col("sub") & pl.col("parent_id").is_not_null())
    parent = s.select("trace_id", parent_id="span_id", p_service="service", p_sub="sub", p_start="start",
                      p_dur="duration_ms", p_fault="fault", p_error="error", p_throttle="throttle")
    via = seg.join(parent, on=["trace_id", "parent_id"], how="inner").filter(
        pl.col("p_sub") | (pl.col("p_service") != pl.col("service")))
    by_sub = via.filter("p_sub").select(
        "trace_id", call="parent_id", caller="p_service", callee="service", start="p_start",
        duration_ms="p_dur", fault="p_fault", error="p_error", throttle="p_throttle").unique(
        ["trace_id", "call", "callee"], keep="first", maintain_order=True)
    by_seg = via.filter(~pl.col("p_sub")).select(
        "trace_id", call="span_id", caller="p_service", callee="service", start="start",
        duration_ms="duration_ms", fault="fault", error="error", throttle="throttle")
    has_seg = seg.select("trace_id", span_id="parent_id").unique()
    leaf = (s.filter(pl.col("sub") & pl.col("namespace").is_in(CALL_NAMESPACES))
            .join(has_seg, on=["trace_id", "span_id"], how="anti")
            .select("trace_id", call="span_id", caller="service", callee="name", start="start",
                    duration_ms="duration_ms", fault="fault", error="error", throttle="throttle"))
    calls = pl.concat([by_sub, by_seg, leaf])
    if window is not None:
        calls = calls.filter(in_window("start", window))
    edges = calls.group_by("caller", "callee").agg(
        calls=pl.len(), faults=pl.col("fault").sum(), errors=pl.col("error").sum(),
        throttles=pl.col("throttle").sum(),
        p50_ms=pl.col("duration_ms").quantile(0.5, "linear"),
        p99_ms=pl.col("duration_ms").quantile(0.99, "linear"),
        total_ms=pl.col("duration_ms").sum())
    edges = edges.with_columns(fault_rate=pl.col("faults") / pl.col("calls"))
    return edges.select(list(_EDGE_SCHEMA)).cast(_EDGE_SCHEMA).sort("caller", "callee")  # type: ignore[arg-type]


def downstream_of(edges: pl.DataFrame, service: str) -> set[str]:
    """Every node reachable from ``service`` along ``edges`` (its transitive callees, itself excluded
    unless a cycle leads back to it): the request path of an SLO on ``service``.

    Examples
    --------
    >>> e = pl.DataFrame({"caller": ["web", "api", "api", "kb"], "callee": ["api", "db", "queue", "search"]})
    >>> sorted(downstream_of(e, "web"))
    ['api', 'db', 'queue']
    >>> downstream_of(e, "db")
    set()
    """
    out: dict[str, set[str]] = defaultdict(set)
    for caller, callee in edges.select("caller", "callee").iter_rows():
        out[caller].add(callee)
    seen: set[str] = set()
    todo = [service]
    while todo:
        for nxt in out.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _walk(rows: dict[str, dict[str, Any]], kids: dict[str, list[str]], root: str) -> dict[str, float]:
    """Milliseconds each span spends on the critical path of the tree under ``root``."""
    on_path: dict[str, float] = defaultdict(float)
    stack: list[tuple[str, float, float]] = [(root, rows[root]["t0"], rows[root]["t1"])]
    while stack:
        sid, lo, hi = stack.pop()
        t = hi
        children = [rows[k] for k in kids.get(sid, ())]
        while t > lo:
            best = None
            best_end = lo
            for c in children:  # the child still running last before t, clipped to [lo, t)
                end = min(c["t1"], t)
                if c["t0"] < t and end > best_end:
                    best, best_end = c, end
            if best is None:
                on_path[sid] += t - lo
                break
            on_path[sid] += t - best_end
            start = max(best["t0"], lo)
            stack.append((best["span_id"], start, best_end))
            t = start
    return on_path


def _paths(st: pl.DataFrame, roots: pl.DataFrame) -> pl.DataFrame:
    """Critical paths of the traces of ``roots``; ``st`` is their :func:`self_times` frame plus t0/t1."""
    parts = []
    root_of = dict(roots.select("trace_id", "span_id").iter_rows())
    for (trace_id,), tr in st.filter(pl.col("trace_id").is_in(list(root_of))).partition_by(
            "trace_id", as_dict=True, maintain_order=True).items():
        rows = {r["span_id"]: r for r in tr.select("span_id", "parent_id", "t0", "t1").iter_rows(named=True)
                if r["t1"] is not None}
        kids: dict[str, list[str]] = defaultdict(list)
        for r in rows.values():
            if r["parent_id"] in rows:
                kids[r["parent_id"]].append(r["span_id"])
        root = root_of[trace_id]
        if root not in rows:
            continue
        depth = {root: 0}
        order = [root]
        for sid in order:  # breadth first: each span's depth below the root
            for k in kids.get(sid, ()):
                depth[k] = depth[sid] + 1
                order.append(k)
        on = _walk(rows, kids, root)
        total = rows[root]["t1"] - rows[root]["t0"]
        parts.append(pl.DataFrame({
            "trace_id": [trace_id] * len(on), "span_id": list(on), "depth": [depth[k] for k in on],
            "on_path_ms": list(on.values()), "share": [v / total if total > 0 else 0.0 for v in on.values()],
        }, schema={"trace_id": pl.String, "span_id": pl.String, "depth": pl.Int32, "on_path_ms": pl.Float64,
                   "share": pl.Float64}))
    if not parts:
        return pl.DataFrame(schema={"trace_id": pl.String, "span_id": pl.String, "depth": pl.Int32,
                                    "on_path_ms": pl.Float64, "share": pl.Float64})
    return pl.concat(parts)


def _timed(spans: pl.DataFrame) -> pl.DataFrame:
    st = self_times(spans)
    dur = pl.coalesce(pl.col("duration_ms"),
                      (pl.col("end") - pl.col("start")).dt.total_milliseconds().cast(pl.Float64))
    t0 = spans.select(t0=pl.col("start").dt.epoch("ms").cast(pl.Float64), end="end", dur=dur)
    return st.with_columns(t0=t0["t0"], t1=t0["t0"] + t0["dur"], end=t0["end"])


def critical_path(spans: pl.DataFrame, trace_id: str) -> pl.DataFrame:
    """The spans that determine a trace's end-to-end latency, and how long each is on that path.

    Walking back from the root's end: the child still running last before time ``t`` (its end clipped
    to ``t``) is on the path from its start to that end, and is walked the same way; the parent is on
    the path while none of its children runs. ``t`` then moves to that child's start and the next child
    is chosen, so sequential calls are all on the path and, of parallel calls, the one that returned
    last. ``on_path_ms`` sums to the root's duration; it differs from ``self_ms`` where a parallel call
    was hidden behind a slower one.

    Parameters
    ----------
    spans : pl.DataFrame
        canonical spans frame (only the rows of ``trace_id`` are used).
    trace_id : str

    Returns
    -------
    pl.DataFrame
        ``depth, span_id, service, name, operation, start, end, duration_ms, self_ms, on_path_ms, share``
        (``share`` = ``on_path_ms`` / the root's duration), one row per span on the path, in start order.

    Raises
    ------
    SloAnalysisError
        when ``spans`` holds no span of ``trace_id``.

    Examples
    --------
    >>> import slo_analysis as sa
    >>> spans = sa.store.Snapshot.open(demo_snapshot()).read("spans")
    >>> slowest = spans.sort("duration_ms", descending=True)["trace_id"][0]
    >>> cp = critical_path(spans, slowest)
    >>> cp.sort("on_path_ms", descending=True)["name"][0]
    'agent_skills@aurora-prod'
    >>> round(float(cp["share"].sum()), 6)
    1.0
    """
    _require(spans, ["trace_id"])
    tr = spans.filter(pl.col("trace_id") == trace_id)
    if tr.is_empty():
        raise SloAnalysisError(f"spans frame: no span with trace_id {trace_id!r}")
    st = _timed(tr)
    path = _paths(st, trace_roots(tr))
    return (path.join(st, on=["trace_id", "span_id"], how="left")
            .select("depth", "span_id", "service", "name", "operation", "start", "end", "duration_ms", "self_ms",
                    "on_path_ms", "share")
            .sort("start", "depth"))


def slowest_critical_paths(spans: pl.DataFrame, window: Window, n: int = 20) -> pl.DataFrame:
    """The critical paths of the ``n`` slowest traces of ``window``, added up per (service, name).

    A trace is in the window when its first span starts in it; "slowest" is by the root's duration.

    Returns
    -------
    pl.DataFrame
        ``service, name, traces`` (of the n on whose path it lies), ``critical_ms`` (total ms on the
        paths), ``mean_ms`` (``critical_ms / n`` traces taken), ``share`` (of all critical-path ms),
        largest first.

    Examples
    --------
    >>> import slo_analysis as sa
    >>> from datetime import datetime, UTC
    >>> spans = sa.store.Snapshot.open(demo_snapshot()).read("spans")
    >>> scp = slowest_critical_paths(spans, (datetime(2026, 11, 3, 14, 7, tzinfo=UTC),
    ...     datetime(2026, 11, 3, 15, 28, tzinfo=UTC)), n=10)
    >>> scp.select("service", "name").row(0)
    ('routing-service', 'agent_skills@aurora-prod')
    """
    roots = trace_roots(spans).filter(in_window("trace_start", window)).sort(
        "duration_ms", "trace_id", descending=[True, False], nulls_last=True).head(n)
    sub = spans.join(roots.select("trace_id"), on="trace_id", how="semi")
    st = _timed(sub)
    path = _paths(st, roots).join(st.select("trace_id", "span_id", "service", "name"), on=["trace_id", "span_id"])
    taken = max(roots.height, 1)
    agg = path.group_by("service", "name").agg(traces=pl.col("trace_id").n_unique(),
                                               critical_ms=pl.col("on_path_ms").sum())
    total = float(agg["critical_ms"].sum() or 0.0)
    return agg.with_columns(mean_ms=pl.col("critical_ms") / taken,
                            share=pl.col("critical_ms") / total if total > 0 else pl.lit(0.0)).sort(
        "critical_ms", "service", "name", descending=[True, False, False])
