"""Self-time and error attribution from traces: where did the time (and the errors) of a request go?

Input is the canonical ``spans`` frame (one row per X-Ray segment or subsegment). The *self-time* of a
span is its duration minus the union of its children's intervals clipped to it, so parallel calls are
not subtracted twice and a child that outlives its parent (an async call) only counts while the parent
is open. A remote subsegment (the caller's view of a call) keeps as self-time the network and queueing
time around the callee's own segment, which is its child.

:func:`attribution` compares an incident window with a baseline window per (service, operation, name):
``name`` separates a service's own work (its segment, e.g. ``routing-service``) from its calls (its
subsegments, e.g. ``agent_skills@aurora-prod``), so "the new SQL query is slow" and "routing-service is
slow" are different rows. :func:`service_attribution` rolls the same figures up per service.

A trace belongs to a window when its first span starts in it (``[start, end)``), so a trace is never
split between windows. X-Ray samples traces (and the demo keeps every faulted trace, the slowest ones
and a sample of the rest): figures are per *sampled* trace and compare like with like only when both
windows were sampled the same way.

Examples
--------
>>> import slo_analysis as sa
>>> from datetime import datetime, UTC
>>> spans = sa.store.Snapshot.open(demo_snapshot()).read("spans")
>>> st = self_times(spans)
>>> bool((st["self_ms"] <= st["duration_ms"] + 1e-9).all())
True
>>> att = attribution(spans, incident=(datetime(2026, 11, 3, 14, 7, tzinfo=UTC), datetime(2026, 11, 3, 15, 28,
...     tzinfo=UTC)), baseline=(datetime(2026, 11, 2, 0, 0, tzinfo=UTC), datetime(2026, 11, 3, 14, 7, tzinfo=UTC)))
>>> att.row(0, named=True)["name"]
'agent_skills@aurora-prod'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl

from slo_analysis.exceptions import FrameValidationError

__all__ = [
    "Window",
    "in_window",
    "operation_expr",
    "operations",
    "parent_index",
    "self_times",
    "trace_roots",
    "attribution",
    "service_attribution",
    "exemplars",
]

logger = logging.getLogger(__name__)

Window = tuple[datetime, datetime]
"""A half-open time window ``[start, end)``; naive datetimes are taken as UTC."""

_KEY = ["trace_id", "span_id"]
_MAX_DEPTH = 256  # operation inheritance: more nested subsegments than this is a cycle, not a trace


def _require(spans: pl.DataFrame, columns: Sequence[str]) -> None:
    for c in columns:
        if c not in spans.columns:
            raise FrameValidationError("spans", c, "missing (needed by slo_analysis.analysis.traces)")


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def in_window(column: str, window: Window) -> pl.Expr:
    """``column`` in ``[window[0], window[1])``."""
    return (pl.col(column) >= _utc(window[0])) & (pl.col(column) < _utc(window[1]))


def _duration() -> pl.Expr:
    """``duration_ms``, else ``end - start`` (null for in-progress spans without an end)."""
    return pl.coalesce(pl.col("duration_ms"),
                       (pl.col("end") - pl.col("start")).dt.total_milliseconds().cast(pl.Float64))


def _flag(name: str) -> pl.Expr:
    return pl.col(name).fill_null(False)


def operation_expr() -> pl.Expr:
    """A span's own operation: annotation ``operation``, else ``"<METHOD> <path pattern>"``, else its name.

    The path pattern is the URL path with every identifier-like segment replaced by ``{id}``: three or
    more characters containing a digit, a short prefix and 6+ hex digits (``T-fbecdc``) or 8+ hex
    digits (``/tickets/T-371ed3/replies`` -> ``/tickets/{id}/replies``), so a route is one operation,
    not one per ticket. Same precedence as ``sources.requests.requests_from_spans`` (which keeps raw paths).
    """
    annotated = (pl.col("annotations").list.eval(
        pl.element().filter(pl.element().struct.field("key") == "operation").struct.field("value"))
        .list.first())
    url = pl.col("http_url")
    path = (url.str.extract(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*([^?#]*)")
            .fill_null(url.str.extract(r"^([^?#]*)")))
    path = pl.when(path == "").then(pl.lit("/")).otherwise(path)
    path = (path.str.replace_all(r"/(?:[A-Za-z]{1,4}[-_][0-9a-fA-F]{6,}|[0-9a-fA-F]{8,})(/|$)", "/{id}$1")
            .str.replace_all(r"/(?:[^/]{2,}\d[^/]*|[^/]*\d[^/]{2,}|[^/]\d[^/])", "/{id}"))
    from_url = pl.when(pl.col("http_method").is_not_null()).then(
        pl.concat_str(pl.col("http_method"), pl.lit(" "), path)).otherwise(path)
    return pl.coalesce(annotated, from_url, pl.col("name"))


def parent_index(spans: pl.DataFrame) -> pl.Series:
    """Row number of each span's parent in ``spans`` (same trace), null for a root or an orphan.

    One join on the string ids; everything after walks the tree with integer ``gather``.
    """
    _require(spans, ["trace_id", "span_id", "parent_id"])
    # join on a 64-bit hash of (trace_id, span_id), then check the ids: a collision falls back to strings
    key = pl.struct("trace_id", "span_id").hash(seed=7)
    rows = spans.select(h=key).with_row_index("parent_row").unique("h", keep="first")
    up = (spans.select(h=pl.struct("trace_id", span_id="parent_id").hash(seed=7))
          .join(rows, on="h", how="left", maintain_order="left")["parent_row"])
    same = (spans["parent_id"] == spans["span_id"].gather(up)) & (spans["trace_id"] == spans["trace_id"].gather(up))
    if bool(same.fill_null(True).all()):
        return pl.select(pl.when(same.fill_null(False)).then(up)).to_series().rename("parent_row")
    logger.debug("parent_index: hash collision, joining on the string ids")
    rows_s = (spans.select("trace_id", "span_id").with_row_index("parent_row")
              .unique(["trace_id", "span_id"], keep="first"))
    return (spans.select("trace_id", span_id="parent_id")
            .join(rows_s, on=["trace_id", "span_id"], how="left", maintain_order="left")["parent_row"])


def operations(spans: pl.DataFrame, parents: pl.Series | None = None) -> pl.Series:
    """The ``operation`` of every span (same order as ``spans``).

    A segment (any span whose ``kind`` is not ``"subsegment"``) has its own operation
    (:func:`operation_expr`); a subsegment inherits the operation of its enclosing segment, found by
    following parents (one vectorised ``gather`` per nesting level, not a loop over spans). A
    subsegment whose segment is not in the frame keeps its own operation (usually its name).
    ``parents`` is :func:`parent_index` when already computed.
    """
    _require(spans, ["trace_id", "span_id", "parent_id", "kind", "name", "annotations", "http_url", "http_method"])
    up = parent_index(spans) if parents is None else parents
    own = spans.select(operation_expr()).to_series()
    sub = (spans["kind"] == "subsegment").fill_null(False)
    op = own.zip_with(~sub, pl.Series([None], dtype=pl.String).extend_constant(None, len(own) - 1))
    anc = up.zip_with(sub, pl.Series([None], dtype=up.dtype).extend_constant(None, len(up) - 1))
    for _ in range(_MAX_DEPTH):
        if not (op.is_null() & anc.is_not_null()).any():
            break
        found = op.gather(anc)
        op = op.fill_null(found)
        # climb a level where the ancestor is a subsegment (its own operation is not known yet)
        anc = up.gather(anc).zip_with(found.is_null() & sub.gather(anc).fill_null(False),
                                      pl.Series([None], dtype=up.dtype).extend_constant(None, len(up) - 1))
    return op.fill_null(own).rename("operation")


def self_times(spans: pl.DataFrame) -> pl.DataFrame:
    """Self-time of every span: its duration minus the union of its children's intervals clipped to it.

    Children are the spans whose ``parent_id`` is the span's ``span_id`` in the same trace (a callee's
    segment is a child of the caller's remote subsegment). Per parent, the children's clipped intervals
    are sorted by start and merged with a running maximum of their ends, so overlapping (parallel)
    children count once. Intervals are ``[start, start + duration_ms)`` in milliseconds.

    Parameters
    ----------
    spans : pl.DataFrame
        canonical spans frame.

    Returns
    -------
    pl.DataFrame
        one row per span: ``trace_id, span_id, parent_id, service, operation, name, kind, start,
        duration_ms, self_ms, fault, error, error_origin``. ``self_ms`` is in ``[0, duration_ms]`` and
        null for an in-progress span without an end; ``error_origin`` is true for a faulted or errored
        span none of whose children is faulted or errored (where the failure started, not where it
        was passed on).

    Examples
    --------
    >>> import slo_analysis as sa
    >>> st = self_times(sa.store.Snapshot.open(demo_snapshot()).read("spans"))
    >>> st.columns[:6]
    ['trace_id', 'span_id', 'parent_id', 'service', 'operation', 'name']
    """
    _require(spans, ["trace_id", "span_id", "parent_id", "service", "name", "kind", "start", "end", "duration_ms",
                     "fault", "error", "annotations", "http_url", "http_method"])
    up = parent_index(spans)
    base = spans.select(*_KEY, "parent_id", "service", "name", "kind", "start", "duration_ms", "fault", "error",
                        t0=pl.col("start").dt.epoch("ms").cast(pl.Float64), dur=_duration(),
                        bad=_flag("fault") | _flag("error"))
    base = base.with_columns(operation=operations(spans, up), t1=pl.col("t0") + pl.col("dur"), up=up)
    base = base.with_row_index("row")
    bounds = base.select(p0="t0", p1="t1")
    kids = base.filter(pl.col("up").is_not_null()).select("up", "bad", "t0", "t1")
    kids = kids.with_columns(p0=bounds["p0"].gather(kids["up"]), p1=bounds["p1"].gather(kids["up"]))
    clipped = (kids.select("up", c0=pl.max_horizontal("t0", "p0") - pl.col("p0"),
                           c1=pl.min_horizontal("t1", "p1") - pl.col("p0"))
               .filter(pl.col("c1") > pl.col("c0"))
               .sort("up", "c0"))
    covered = clipped.with_columns(part=_union_parts(clipped)).group_by("up").agg(covered=pl.col("part").sum())
    bad_kids = kids.group_by("up").agg(bad_child=pl.col("bad").any())
    out = (base.join(covered.rename({"up": "row"}), on="row", how="left", maintain_order="left")
           .join(bad_kids.rename({"up": "row"}), on="row", how="left", maintain_order="left"))
    return out.select(
        *_KEY, "parent_id", "service", "operation", "name", "kind", "start", "duration_ms",
        self_ms=(pl.col("dur") - pl.col("covered").fill_null(0.0)).clip(lower_bound=0.0),
        fault=_flag("fault"), error=_flag("error"),
        error_origin=pl.col("bad") & ~pl.col("bad_child").fill_null(False),
    )


def _union_parts(clipped: pl.DataFrame) -> pl.Expr:
    """Per child, the length it adds to the union of its siblings' intervals before it.

    ``clipped`` holds ``up`` (the parent) and ``c0``/``c1`` relative to the parent's start, sorted by
    ``up`` then ``c0``. Shifting each parent's block by ``block number x (widest block + 1)`` makes one
    running maximum over the whole column equal to the per-parent running maximum (an earlier
    block's ends all lie below a later block's starts), which is far cheaper than a windowed
    ``cum_max().over("up")``.
    """
    widest = clipped["c1"].max()
    width = 1.0 + (float(widest) if isinstance(widest, int | float) else 0.0)
    block = (pl.col("up") != pl.col("up").shift(1)).fill_null(True).cum_sum().cast(pl.Float64) * width
    a0, a1 = pl.col("c0") + block, pl.col("c1") + block
    return (a1 - pl.max_horizontal(a0, a1.cum_max().shift(1))).clip(lower_bound=0.0)


def trace_roots(spans: pl.DataFrame) -> pl.DataFrame:
    """The root span of each trace: a span whose parent is not in the frame, the longest one if several.

    Returns ``trace_id, span_id, service, name, start, duration_ms, fault, error, trace_start`` where
    ``trace_start`` is the earliest start of any span of the trace (which decides its window).
    """
    _require(spans, ["trace_id", "span_id", "parent_id", "service", "name", "start", "end", "duration_ms",
                     "fault", "error"])
    ids = spans.select("trace_id", parent_id="span_id", has_parent=pl.lit(True))
    first = spans.group_by("trace_id").agg(trace_start=pl.col("start").min())
    roots = (spans.join(ids, on=["trace_id", "parent_id"], how="left")
             .filter(pl.col("has_parent").is_null())
             .with_columns(duration_ms=_duration(), fault=_flag("fault"), error=_flag("error"))
             .sort("trace_id", "duration_ms", "start", descending=[False, True, False], nulls_last=True)
             .unique("trace_id", keep="first", maintain_order=True))
    return roots.select(*_KEY, "service", "name", "start", "duration_ms", "fault", "error").join(
        first, on="trace_id", how="left")


def _with_self(spans: pl.DataFrame) -> pl.DataFrame:
    """``spans`` with self-times: reused when ``spans`` already is a :func:`self_times` frame."""
    if {"self_ms", "operation", "error_origin"} <= set(spans.columns):
        return spans
    return self_times(spans)


def _window_stats(st: pl.DataFrame, trace_start: pl.DataFrame, window: Window, keys: list[str],
                  prefix: str) -> pl.DataFrame:
    ids = trace_start.filter(in_window("trace_start", window)).select("trace_id")
    w = st.join(ids, on="trace_id", how="semi")
    traces = max(ids.height, 1)
    total_self = float(w["self_ms"].sum() or 0.0)
    origins = int(w["error_origin"].sum())
    bad = pl.col("fault") | pl.col("error")
    stats = w.group_by(keys).agg(
        traces=pl.col("trace_id").n_unique(),
        spans=pl.len(),
        self_ms=pl.col("self_ms").sum(),
        self_ms_p50=pl.col("self_ms").quantile(0.5, "linear"),
        self_ms_p99=pl.col("self_ms").quantile(0.99, "linear"),
        errors=bad.sum(),
        error_origins=pl.col("error_origin").sum(),
    ).with_columns(
        self_ms_per_trace=pl.col("self_ms") / traces,
        self_share=pl.col("self_ms") / total_self if total_self > 0 else pl.lit(0.0),
        error_share=pl.col("errors") / pl.col("spans"),
        error_origin_share=pl.col("error_origins") / origins if origins else pl.lit(0.0),
    )
    return stats.rename({c: f"{prefix}_{c}" for c in stats.columns if c not in keys})


def _compare(spans: pl.DataFrame, incident: Window, baseline: Window, keys: list[str]) -> pl.DataFrame:
    st = _with_self(spans)
    starts = st.group_by("trace_id").agg(trace_start=pl.col("start").min())
    b = _window_stats(st, starts, baseline, keys, "baseline")
    i = _window_stats(st, starts, incident, keys, "incident")
    both = b.join(i, on=keys, how="full", coalesce=True)
    zero = [c for c in both.columns if c not in keys and not c.endswith(("_p50", "_p99"))]
    both = both.with_columns(pl.col(zero).fill_null(0))
    both = both.with_columns(
        self_ms_per_trace_delta=pl.col("incident_self_ms_per_trace") - pl.col("baseline_self_ms_per_trace"),
        self_share_delta=pl.col("incident_self_share") - pl.col("baseline_self_share"),
        error_share_delta=pl.col("incident_error_share") - pl.col("baseline_error_share"),
        error_origin_share_delta=pl.col("incident_error_origin_share") - pl.col("baseline_error_origin_share"),
    ).sort(["self_ms_per_trace_delta", "self_share_delta", *keys], descending=[True, True] + [False] * len(keys))
    return both.with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32))


_ATTRIBUTION_COLUMNS = [
    "traces", "spans", "self_ms_p50", "self_ms_p99", "self_ms_per_trace", "self_share", "error_share",
    "error_origin_share",
]


def attribution(spans: pl.DataFrame, incident: Window, baseline: Window) -> pl.DataFrame:
    """Where self-time and errors went, incident against baseline, per (service, operation, name).

    Parameters
    ----------
    spans : pl.DataFrame
        canonical spans frame, or a :func:`self_times` frame (not recomputed).
    incident, baseline : (datetime, datetime)
        ``[start, end)`` windows; a trace belongs to the window its first span starts in.

    Returns
    -------
    pl.DataFrame
        one row per (service, operation, name) seen in either window, largest self-time growth first:
        ``service, operation, name, rank``, then for each of ``baseline_`` and ``incident_``:
        ``traces`` (sampled traces holding such a span), ``spans``, ``self_ms_p50``, ``self_ms_p99``,
        ``self_ms_per_trace`` (the group's self-time summed over the window / the window's traces),
        ``self_share`` (its share of all self-time in the window's traces, which is the end-to-end time
        when calls are sequential; shares sum to 1), ``error_share`` (fraction of its spans faulted or
        errored), ``error_origin_share`` (its share of the window's error-origin spans, see
        :func:`self_times`); and ``self_ms_per_trace_delta``, ``self_share_delta``, ``error_share_delta``,
        ``error_origin_share_delta`` (incident minus baseline). ``rank`` 1 is the largest
        ``self_ms_per_trace_delta`` (ties: larger ``self_share_delta``). A group absent from a window has
        zero counts and shares there and null percentiles.

    Examples
    --------
    >>> import slo_analysis as sa
    >>> from datetime import datetime, UTC
    >>> spans = sa.store.Snapshot.open(demo_snapshot()).read("spans")
    >>> att = attribution(spans, (datetime(2026, 11, 3, 14, 7, tzinfo=UTC), datetime(2026, 11, 3, 15, 28,
    ...     tzinfo=UTC)), (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, 14, 7, tzinfo=UTC)))
    >>> att.select("service", "name", "rank").row(0)
    ('routing-service', 'agent_skills@aurora-prod', 1)
    """
    keys = ["service", "operation", "name"]
    out = _compare(spans, incident, baseline, keys)
    cols = [f"{w}_{c}" for c in _ATTRIBUTION_COLUMNS for w in ("baseline", "incident")]
    deltas = ["self_ms_per_trace_delta", "self_share_delta", "error_share_delta", "error_origin_share_delta"]
    return out.select(*keys, "rank", *cols, *deltas)


def service_attribution(spans: pl.DataFrame, incident: Window, baseline: Window) -> pl.DataFrame:
    """:func:`attribution` rolled up per service: did this service's self-time or error share grow?

    A service's figures include its calls' subsegments (the time it spent waiting on the network and
    on a database it does not trace), not its callees' own segments.

    Returns
    -------
    pl.DataFrame
        ``service, rank, baseline_self_share, incident_self_share, self_share_delta,
        baseline_self_ms_per_trace, incident_self_ms_per_trace, self_ms_per_trace_delta,
        baseline_error_share, incident_error_share, error_share_delta, baseline_error_origin_share,
        incident_error_origin_share, error_origin_share_delta``; rank 1 is the largest
        ``self_ms_per_trace_delta``.

    Examples
    --------
    >>> import slo_analysis as sa
    >>> from datetime import datetime, UTC
    >>> spans = sa.store.Snapshot.open(demo_snapshot()).read("spans")
    >>> sv = service_attribution(spans, (datetime(2026, 11, 3, 14, 7, tzinfo=UTC), datetime(2026, 11, 3, 15, 28,
    ...     tzinfo=UTC)), (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, 14, 7, tzinfo=UTC)))
    >>> sv["service"][0]
    'routing-service'
    """
    out = _compare(spans, incident, baseline, ["service"])
    return out.select(
        "service", "rank", "baseline_self_share", "incident_self_share", "self_share_delta",
        "baseline_self_ms_per_trace", "incident_self_ms_per_trace", "self_ms_per_trace_delta",
        "baseline_error_share", "incident_error_share", "error_share_delta",
        "baseline_error_origin_share", "incident_error_origin_share", "error_origin_share_delta")


def exemplars(spans: pl.DataFrame, window: Window, n: int = 3) -> pl.DataFrame:
    """A few traces a review can show: the ``n`` slowest, ``n`` faulted and ``n`` errored of a window.

    "faulted" traces hold a faulted span (5xx), "errored" ones an errored span (4xx) and no fault;
    within each kind the slowest come first. A trace may appear as both "slowest" and "faulted".
    ``cause`` is the cause of the trace's first error-origin span that has one (the deepest failure,
    e.g. the database timeout rather than the 504 it turned into), else any cause in the trace.

    Returns
    -------
    pl.DataFrame
        ``trace_id, kind, root_service, root_name, root_operation, start, duration_ms, fault, error,
        cause`` (``start``/``duration_ms``/``fault``/``error`` of the root span).

    Examples
    --------
    >>> import slo_analysis as sa
    >>> from datetime import datetime, UTC
    >>> spans = sa.store.Snapshot.open(demo_snapshot()).read("spans")
    >>> ex = exemplars(spans, (datetime(2026, 11, 3, 14, 7, tzinfo=UTC), datetime(2026, 11, 3, 15, 28, tzinfo=UTC)))
    >>> ex.filter(kind="faulted")["cause"][0].split(":")[0]
    'org.postgresql.util.PSQLException'
    """
    _require(spans, ["cause"])
    roots = trace_roots(spans).filter(in_window("trace_start", window))
    sub = spans.join(roots.select("trace_id"), on="trace_id", how="semi")
    st = self_times(sub).with_columns(cause=sub["cause"])
    per_trace = st.group_by("trace_id").agg(
        any_fault=pl.col("fault").any(), any_error=pl.col("error").any(),
        cause=pl.coalesce(pl.col("cause").filter(pl.col("error_origin")).drop_nulls().first(),
                          pl.col("cause").drop_nulls().first()))
    root_ops = st.select("trace_id", "span_id", root_operation="operation")
    t = (roots.join(per_trace, on="trace_id", how="left").join(root_ops, on=_KEY, how="left")
         .sort("duration_ms", "trace_id", descending=[True, False], nulls_last=True))
    picks = [
        t.head(n).with_columns(kind=pl.lit("slowest")),
        t.filter("any_fault").head(n).with_columns(kind=pl.lit("faulted")),
        t.filter(pl.col("any_error") & ~pl.col("any_fault")).head(n).with_columns(kind=pl.lit("errored")),
    ]
    return pl.concat(picks).select(
        "trace_id", "kind", root_service="service", root_name="name", root_operation="root_operation",
        start="start", duration_ms="duration_ms", fault="fault", error="error", cause="cause")
