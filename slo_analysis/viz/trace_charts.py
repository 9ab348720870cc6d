"""Trace charts: one trace as a waterfall, and the service dependency graph.

- :func:`trace_waterfall`: every span of one trace (X-Ray segments and subsegments, OTel spans) as a
  horizontal bar from its start to its end, in tree order (a child under its parent, indented by
  depth), coloured by service; faults (5xx), errors (4xx) and throttles are marked at the bar's end.
- :func:`service_graph_chart`: the caller -> callee edges of
  :func:`slo_analysis.analysis.trace_graph.service_graph` drawn left to right in layers (a service's
  layer is the longest call path from an entry point, so callers stand left of their callees), edge
  width by number of calls, hot edges in vermillion.

Examples
--------
>>> import polars as pl
>>> import slo_analysis as sa
>>> spans = sa.store.Snapshot.open(demo_snapshot()).read("spans")
>>> tid = spans.filter(pl.col("fault"))["trace_id"][0]
>>> fig = trace_waterfall(spans, tid)
>>> sum(len(t.x) for t in fig.data if t.type == "bar") == spans.filter(pl.col("trace_id") == tid).height
True
>>> edges = pl.DataFrame({"caller": ["web", "api"], "callee": ["api", "db"], "calls": [100, 80],
...                       "fault_rate": [0.01, 0.0], "p99_ms": [250.0, 40.0]})
>>> g = service_graph_chart(edges, hot={("api", "db")})
>>> [a.arrowcolor for a in g.layout.annotations if a.arrowcolor]
['#999999', '#D55E00']
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import polars as pl

from slo_analysis.viz.overlays import ChartDataError, finish_figure, require_columns
from slo_analysis.viz.theme import PALETTE, new_figure, to_display_tz

__all__ = ["SERVICE_COLOURS", "trace_waterfall", "service_graph_chart", "graph_layers"]

#: colours services take in order of appearance (vermillion and orange are kept for faults and errors)
SERVICE_COLOURS: tuple[str, ...] = tuple(PALETTE[k] for k in ("blue", "green", "sky", "purple", "yellow", "black",
                                                              "grey"))
_MARKS = (("fault", "Fault (5xx)", PALETTE["vermillion"], "x"),
          ("error", "Error (4xx)", PALETTE["orange"], "triangle-up"),
          ("throttle", "Throttled (429)", PALETTE["purple"], "diamond"))


def _tree_order(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(row index, depth) in depth-first order, children by start time; orphans start their own tree."""
    ids = {r["span_id"]: i for i, r in enumerate(rows)}
    kids: dict[int | None, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        parent = ids.get(r["parent_id"]) if r["parent_id"] is not None else None
        kids[parent if parent != i else None].append(i)
    for v in kids.values():
        v.sort(key=lambda i: (rows[i]["start"], rows[i]["span_id"]))
    out: list[tuple[int, int]] = []
    seen: set[int] = set()
    stack = [(i, 0) for i in reversed(kids[None])]
    while stack:
        i, d = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        out.append((i, d))
        stack.extend((k, d + 1) for k in reversed(kids[i]))
    for i in range(len(rows)):  # spans in a parent cycle: keep them, at depth 0
        if i not in seen:
            out.append((i, 0))
    return out


def trace_waterfall(spans: pl.DataFrame | pl.LazyFrame, trace_id: str, *, tz: str = "UTC",
                    height: int | None = None) -> go.Figure:
    """One trace's spans as a waterfall: bars from start to end, in tree order, coloured by service.

    The x axis is milliseconds since the trace's first span (the absolute start, in ``tz``, is in the
    title and every hover). Labels are indented by depth in the span tree (``parent_id``); a span
    still in progress (null ``end``) runs to the trace's end. Faults, errors and throttles get a
    marker at the end of their bar, with their own legend entries.

    Raises
    ------
    ChartDataError
        No span with this ``trace_id``.
    """
    require_columns(spans, ("trace_id", "span_id", "parent_id", "service", "name", "start", "end"), "spans")
    df = spans.lazy().filter(pl.col("trace_id") == trace_id).collect()
    if df.is_empty():
        raise ChartDataError(f"spans frame: no span with trace_id {trace_id!r}")
    t0: datetime = df["start"].min()  # type: ignore[assignment]
    t_end: datetime = df.select(pl.max_horizontal(pl.col("end").max(), pl.col("start").max())).item()
    rows = df.to_dicts()
    order = _tree_order(rows)
    services = list(dict.fromkeys(rows[i]["service"] for i, _ in order))
    colour = {s: SERVICE_COLOURS[k % len(SERVICE_COLOURS)] for k, s in enumerate(services)}

    def ms(t: datetime) -> float:
        return (t - t0).total_seconds() * 1000.0

    y_labels: list[str] = []
    bars: dict[str, dict[str, list[Any]]] = {s: {"y": [], "base": [], "x": [], "text": []} for s in services}
    marks: dict[str, dict[str, list[Any]]] = {m[0]: {"y": [], "x": [], "text": []} for m in _MARKS}
    for pos, (i, depth) in enumerate(order):
        r = rows[i]
        end = r["end"] or t_end
        start_ms, dur = ms(r["start"]), max(ms(end) - ms(r["start"]), 0.0)
        label = r["name"] if r["name"] == r["service"] else f"{r['name']} ({r['service']})"
        y_labels.append("\u00a0\u00a0\u00a0" * depth + label)
        status = r.get("http_status")
        flags = [name for name, *_ in _MARKS if r.get(name)]
        hover = [f"<b>{label}</b>", f"{r.get('kind') or 'span'} of {r['service']}",
                 f"start +{start_ms:,.1f} ms ({to_display_tz([r['start']], tz)[0].strftime('%H:%M:%S.%f')[:-3]})",
                 f"duration {dur:,.1f} ms" + (" (in progress)" if r["end"] is None else "")]
        if status is not None:
            hover.append(f"HTTP {status}")
        if r.get("cause"):
            hover.append(f"cause: {r['cause']}")
        if r.get("sql_query"):
            hover.append(f"SQL: {str(r['sql_query'])[:120]}")
        if flags:
            hover.append("flags: " + ", ".join(flags))
        b = bars[r["service"]]
        b["y"].append(pos)
        b["base"].append(start_ms)
        b["x"].append(max(dur, 0.001))
        b["text"].append("<br>".join(hover))
        for name in flags:
            marks[name]["y"].append(pos)
            marks[name]["x"].append(start_ms + dur)
            marks[name]["text"].append(f"{label}: {name}" + (f" (HTTP {status})" if status is not None else ""))

    total = ms(t_end)
    when = to_display_tz([t0], tz)[0].strftime("%Y-%m-%d %H:%M:%S %Z")
    fig = new_figure(f"Trace {trace_id}: {len(rows)} spans, {total:,.0f} ms, started {when}",
                     x_title="milliseconds since the trace started", height=height or max(260, 80 + 26 * len(rows)))
    for s in services:
        b = bars[s]
        fig.add_trace(go.Bar(
            orientation="h", y=b["y"], x=b["x"], base=b["base"], name=s, marker={"color": colour[s]},
            hovertext=b["text"], hovertemplate="%{hovertext}<extra></extra>", width=0.6,
        ))
    for name, legend, c, symbol in _MARKS:
        m = marks[name]
        if m["x"]:
            fig.add_trace(go.Scatter(
                x=m["x"], y=m["y"], mode="markers", name=legend, hovertext=m["text"],
                hovertemplate="%{hovertext}<extra></extra>",
                marker={"symbol": symbol, "size": 11, "color": c, "line": {"width": 1.5, "color": c}},
            ))
    fig.update_yaxes(tickvals=list(range(len(y_labels))), ticktext=y_labels, autorange="reversed", showgrid=False,
                     automargin=True)
    fig.update_xaxes(rangemode="tozero")
    fig.update_layout(barmode="overlay", hovermode="closest", bargap=0.3)
    return finish_figure(fig)


def graph_layers(edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Layer of every node: the longest path (in edges) from a root, a root having no caller.

    Cycles are broken by ignoring the edges that close them (found depth-first from the roots, then
    from the remaining nodes in name order); self-calls are ignored.

    Examples
    --------
    >>> graph_layers([("web", "api"), ("api", "db"), ("web", "db"), ("db", "api")])
    {'web': 0, 'api': 1, 'db': 2}
    """
    succ: dict[str, list[str]] = defaultdict(list)
    nodes: dict[str, None] = {}
    for a, b in edges:
        nodes.setdefault(a)
        nodes.setdefault(b)
        if a != b and b not in succ[a]:
            succ[a].append(b)
    has_caller = {b for a in succ for b in succ[a]}
    roots = [n for n in nodes if n not in has_caller]
    # depth-first: keep the edges that do not close a cycle (a DAG), in a topological order
    state: dict[str, int] = {}
    topo: list[str] = []
    dag: dict[str, list[str]] = defaultdict(list)
    for start in roots + sorted(nodes):
        if start in state:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            node, k = stack.pop()
            nxt = sorted(succ[node])
            if k < len(nxt):
                stack.append((node, k + 1))
                child = nxt[k]
                if state.get(child) == 1:
                    continue  # back edge: closes a cycle
                dag[node].append(child)
                if child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
                topo.append(node)
    layer = dict.fromkeys(nodes, 0)
    for node in reversed(topo):
        for child in dag[node]:
            layer[child] = max(layer[child], layer[node] + 1)
    return layer


def _positions(layer: dict[str, int], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """x = layer; y spread within a layer, ordered by the mean y of callers (fewer crossings)."""
    by_layer: dict[int, list[str]] = defaultdict(list)
    for n, k in layer.items():
        by_layer[k].append(n)
    callers: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        callers[b].append(a)
    pos: dict[str, tuple[float, float]] = {}
    for k in sorted(by_layer):
        names = sorted(by_layer[k])
        if k > 0:
            def key(n: str) -> tuple[float, str]:
                ys = [pos[c][1] for c in callers[n] if c in pos]
                return (-(sum(ys) / len(ys)) if ys else 0.0, n)  # top (high y) callers first
            names.sort(key=key)
        m = len(names)
        for j, n in enumerate(names):
            pos[n] = (float(k), (m - 1) / 2.0 - j)
    return pos


def _edge_text(row: dict[str, Any]) -> str:
    parts = [f"<b>{row['caller']} → {row['callee']}</b>", f"{row['calls']:,} calls"]
    fr = row.get("fault_rate")
    if fr is not None:
        parts.append(f"fault rate {fr:.2%}")
    for col, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
        v = row.get(col)
        if v is not None:
            parts.append(f"{name} {v:,.0f} ms")
    return "<br>".join(parts)


def service_graph_chart(edges: pl.DataFrame, *, hot: Collection[tuple[str, str]] | None = None,
                        title: str = "Service dependency graph (from traces)", height: int | None = None) -> go.Figure:
    """The service dependency graph, callers left of callees, edge width by calls, hot edges vermillion.

    ``edges`` has one row per caller -> callee with ``calls`` (and optionally ``fault_rate``,
    ``p50_ms``, ``p99_ms``, shown in the hover at each edge's midpoint). ``hot`` is a set of
    ``(caller, callee)`` pairs to highlight (the incident's path); a node on a hot edge gets a
    vermillion outline. Layers come from :func:`graph_layers` (no graph library needed).
    """
    require_columns(edges, ("caller", "callee", "calls"), "edges")
    hot_set = {(str(a), str(b)) for a, b in (hot or ())}
    rows = edges.to_dicts()
    pairs = [(str(r["caller"]), str(r["callee"])) for r in rows]
    layer = graph_layers(pairs)
    pos = _positions(layer, pairs)
    max_calls = max([float(r["calls"] or 0) for r in rows] + [1.0])
    n_layers = max(layer.values(), default=0) + 1
    widest = max([sum(1 for k in layer.values() if k == j) for j in range(n_layers)] + [1])
    fig = new_figure(title, height=height or max(320, 90 + 70 * widest))
    mid_x: list[float] = []
    mid_y: list[float] = []
    mid_text: list[str] = []
    for r, (a, b) in zip(rows, pairs, strict=True):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        is_hot = (a, b) in hot_set
        width = 1.0 + 7.0 * math.log1p(float(r["calls"] or 0)) / math.log1p(max_calls)
        if a == b:  # a self-call: a small loop marker above the node
            mid_x.append(x0)
            mid_y.append(y0 + 0.25)
            mid_text.append(_edge_text(r) + "<br>(calls itself)")
            continue
        fig.add_annotation(
            x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True,
            arrowhead=2, arrowsize=0.8, arrowwidth=width, standoff=16, startstandoff=16,
            arrowcolor=PALETTE["vermillion"] if is_hot else PALETTE["grey"], opacity=0.95 if is_hot else 0.7,
        )
        mid_x.append((x0 + x1) / 2.0)
        mid_y.append((y0 + y1) / 2.0)
        mid_text.append(_edge_text(r) + ("<br><b>hot</b>" if is_hot else ""))
    fig.add_trace(go.Scatter(
        x=mid_x, y=mid_y, mode="markers", name="calls (hover)", showlegend=False, hovertext=mid_text,
        hovertemplate="%{hovertext}<extra></extra>", marker={"size": 10, "color": PALETTE["grey"], "opacity": 0.0},
    ))
    names = list(pos)
    on_hot = {n for pair in hot_set for n in pair}
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers+text", name="services",
        text=names, textposition="bottom center", showlegend=False,
        hovertext=[f"<b>{n}</b><br>layer {layer[n]}" for n in names], hovertemplate="%{hovertext}<extra></extra>",
        marker={"size": 22, "color": PALETTE["blue"],
                "line": {"width": [4 if n in on_hot else 1 for n in names],
                         "color": [PALETTE["vermillion"] if n in on_hot else PALETTE["black"] for n in names]}},
    ))
    for name, c in (("calls (width: number of calls)", PALETTE["grey"]), ("hot path", PALETTE["vermillion"])):
        if c == PALETTE["grey"] or hot_set:  # legend keys only
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name, line={"color": c, "width": 4}))
    fig.update_xaxes(visible=False, range=[-0.5, n_layers - 0.5])
    fig.update_yaxes(visible=False, range=[-(widest / 2.0) - 0.2, widest / 2.0 + 0.2])
    fig.update_layout(hovermode="closest")
    if not rows:
        fig.add_annotation(text="no calls between services in these traces", showarrow=False, x=0, y=0)
    return finish_figure(fig, legend="top")
