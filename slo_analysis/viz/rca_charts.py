"""Root-cause charts of a review: log templates over time, the ranked suspects, lift, the timeline.

- :func:`template_counts_chart`: log lines per template over time (the ``top`` templates by lines, the
  rest as "other"), so a new error template that starts with the incident stands out;
- :func:`suspects_table`: the ranked suspect changes as a table, the top suspect highlighted;
- :func:`lift_chart`: which request dimensions (``dimension=value``) are over-represented among bad
  requests, significant ones coloured, with the no-effect line at lift 1;
- :func:`timeline_chart`: the incident's change, onset, detection, mitigation and recovery (and
  alarms) on one time axis, with the time to detect, mitigate and recover.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timezone
>>> t = datetime(2026, 11, 11, 14, 7, 41, tzinfo=timezone.utc)
>>> events = pl.DataFrame({"timestamp": [t, t.replace(minute=20)], "kind": ["onset", "detection"],
...                        "label": ["latency rises", "alarm p99 went to ALARM"]})
>>> fig = timeline_chart(events, tz="Europe/Berlin")
>>> fig.data[0].name, fig.data[0].x[0].isoformat()
('onset', '2026-11-11T15:07:41+01:00')
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl

from slo_analysis.viz.overlays import finish_figure, format_duration, require_columns
from slo_analysis.viz.theme import PALETTE, SEQUENCE, new_figure, to_display_tz

__all__ = ["KIND_COLOURS", "SUSPECT_COLUMNS", "template_counts_chart", "suspects_table", "lift_chart",
           "timeline_chart"]

#: colour and marker of each timeline kind (other kinds: grey circles)
KIND_COLOURS: dict[str, str] = {
    "change": PALETTE["blue"],
    "onset": PALETTE["vermillion"],
    "alarm": PALETTE["purple"],
    "detection": PALETTE["orange"],
    "mitigation": PALETTE["sky"],
    "recovery": PALETTE["green"],
}
_KIND_SYMBOLS = {"change": "diamond", "onset": "x", "alarm": "triangle-up", "detection": "star",
                 "mitigation": "square", "recovery": "circle"}
#: the suspect table's columns (in order) and their headers; other columns of the frame are left out
SUSPECT_COLUMNS: dict[str, str] = {"rank": "#", "deployment_id": "change", "service": "service",
                                   "finished_at": "finished", "score": "score", "evidence": "evidence"}
_WHITE = "white"  # the page background (theme paper_bgcolor), used for plain table cells


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def template_counts_chart(
    counts: pl.DataFrame,
    templates: pl.DataFrame,
    *,
    top: int = 8,
    template_ids: Sequence[int] | None = None,
    tz: str = "UTC",
    stacked: bool = False,
    log_y: bool = False,
    height: int = 420,
) -> go.Figure:
    """Log lines per template over time: the ``top`` templates by total lines, the rest summed as "other".

    ``counts`` is :func:`slo_analysis.analysis.log_templates.template_counts` (``timestamp,
    template_id, count``), ``templates`` the mining's templates (``template_id, template`` and
    optionally ``service``, ``level``). Lines by default (a small new template is not buried under a
    big one); ``stacked=True`` stacks areas to show the total volume; ``log_y`` puts a rare error
    template and the bulk of INFO lines on one readable axis. ``template_ids`` picks the templates to
    draw instead of the biggest ones (say the significant rows of ``template_changes``). The legend names
    each template by its (shortened) text and service; the hover has the full text and level.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> ts = [datetime(2026, 11, 11, h, tzinfo=timezone.utc) for h in (13, 14, 15)]
    >>> counts = pl.DataFrame({"timestamp": ts * 3, "template_id": [0] * 3 + [1] * 3 + [2] * 3,
    ...                        "count": [900, 950, 920, 0, 40, 2, 5, 5, 6]})
    >>> templates = pl.DataFrame({"template_id": [0, 1, 2], "template": ["INFO request completed",
    ...                           "WARN slow query on agent_skills", "INFO cache refreshed"]})
    >>> [t.name for t in template_counts_chart(counts, templates, top=2).data]
    ['INFO request completed', 'WARN slow query on agent_skills', 'other (1 templates)']
    """
    require_columns(counts, ("timestamp", "template_id", "count"), "template counts")
    require_columns(templates, ("template_id", "template"), "templates")
    totals = counts.group_by("template_id").agg(pl.col("count").sum()).sort(["count", "template_id"],
                                                                            descending=[True, False])
    keep = list(template_ids) if template_ids is not None else totals.head(top)["template_id"].to_list()
    info = {r["template_id"]: r for r in templates.to_dicts()}
    buckets = counts["timestamp"].unique().sort()
    bucket_frame = buckets.to_frame("timestamp")
    which = f"top {len(keep)}" if template_ids is None else f"{len(keep)} chosen"
    fig = new_figure(f"Log lines per template ({which} of {totals.height})",
                     x_title=f"time ({tz})", y_title="log lines per bucket", height=height)
    x = to_display_tz(buckets, tz)
    colours = [c for c in SEQUENCE if c != PALETTE["grey"]]
    for k, tid in enumerate(keep):
        series = bucket_frame.join(counts.filter(pl.col("template_id") == tid).select("timestamp", "count"),
                                   on="timestamp", how="left").sort("timestamp")["count"].fill_null(0)
        row = info.get(tid, {})
        text = str(row.get("template") or f"template {tid}")
        who = " ".join(str(row[c]) for c in ("level", "service") if row.get(c))
        name = _short(text, 48) + (f" [{row['service']}]" if row.get("service") else "")
        full = "<br>".join(textwrap.wrap(text, 90)) or text
        fig.add_trace(go.Scatter(
            x=x, y=series, mode="lines", name=name, stackgroup="t" if stacked else None,
            line={"color": colours[k % len(colours)], "width": 1.6},
            hovertemplate=f"%{{y:,}} lines: {full}" + (f" ({who})" if who else "") + "<extra></extra>",
        ))
    rest = counts.filter(~pl.col("template_id").is_in(keep))
    if rest.height:
        other = bucket_frame.join(rest.group_by("timestamp").agg(pl.col("count").sum()), on="timestamp",
                                  how="left").sort("timestamp")["count"].fill_null(0)
        n_rest = rest["template_id"].n_unique()
        fig.add_trace(go.Scatter(
            x=x, y=other, mode="lines", name=f"other ({n_rest} templates)", stackgroup="t" if stacked else None,
            line={"color": PALETTE["grey"], "width": 1.2, "dash": "dot" if not stacked else "solid"},
            hovertemplate=f"%{{y:,}} lines in {n_rest} other templates<extra></extra>",
        ))
    if log_y:
        fig.update_yaxes(type="log", title_text="log lines per bucket (log scale)")
    else:
        fig.update_yaxes(rangemode="tozero")
    fig.update_layout(hovermode="closest")
    return finish_figure(fig)


def _cell(value: Any, col: str, tz: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return str(to_display_tz([value], tz)[0].strftime("%Y-%m-%d %H:%M %Z"))
    if col == "score" and isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def suspects_table(suspects: pl.DataFrame, *, tz: str = "UTC", top: int | None = 10,
                   height: int | None = None) -> go.Figure:
    """The ranked suspect changes as a table; the top suspect's row highlighted.

    Shows the columns of :data:`SUSPECT_COLUMNS` that ``suspects`` has (``rank, deployment_id, service,
    finished_at, score, evidence``; other columns are ignored), times in ``tz``, at most ``top`` rows.
    Without a ``rank`` column rows are ranked in the frame's order.
    """
    cols = [c for c in SUSPECT_COLUMNS if c in suspects.columns]
    if not cols:
        require_columns(suspects, ("deployment_id",), "suspects")
    df = suspects if "rank" in suspects.columns else suspects.with_row_index("rank", offset=1)
    if "rank" not in cols:
        cols = ["rank", *cols]
    df = df.sort("rank")
    if top is not None:
        df = df.head(top)
    values = [[_cell(v, c, tz) for v in df[c].to_list()] for c in cols]
    n = df.height
    fill = [[PALETTE["yellow"] if i == 0 else _WHITE for i in range(n)] for _ in cols]
    widths = {"rank": 0.35, "deployment_id": 2.2, "service": 1.3, "finished_at": 1.6, "score": 0.5,
              "evidence": 5.0}
    fig = go.Figure(go.Table(
        columnwidth=[widths.get(c, 1.0) for c in cols],
        header={"values": [f"<b>{SUSPECT_COLUMNS.get(c, c)}</b>" for c in cols], "fill_color": PALETTE["blue"],
                "font": {"color": _WHITE, "size": 13}, "align": "left", "line_color": PALETTE["grey"]},
        cells={"values": values, "fill_color": fill, "align": "left", "line_color": PALETTE["grey"],
               "font": {"color": PALETTE["black"], "size": 12}, "height": 28},
    ))
    title = "Suspect changes, ranked" + (f": top is {df['deployment_id'][0]}" if n and "deployment_id" in cols
                                         else "")
    lines = sum(max(1, len(str(v)) // 110 + 1) for v in (df["evidence"] if "evidence" in cols else [""] * n))
    fig.update_layout(title={"text": title, "x": 0.0, "xanchor": "left"}, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      height=height or 110 + 22 * lines + 14 * n, paper_bgcolor=_WHITE)
    return fig


def lift_chart(lift: pl.DataFrame, *, top: int = 15, height: int | None = None) -> go.Figure:
    """Lift of each ``dimension=value`` among bad requests: horizontal bars, significant ones coloured.

    ``lift`` has ``dimension, value, lift`` and optionally ``p_value, significant, bad_count,
    total_count`` (:func:`slo_analysis.analysis.dimensions.dimension_lift`). The ``top`` rows by lift
    are drawn, highest on top; significant bars are vermillion above 1 (over-represented), blue below
    (under-represented), the rest grey; the dashed line at 1 is "as common among bad requests as among
    all".
    """
    require_columns(lift, ("dimension", "value", "lift"), "lift")
    df = lift.filter(pl.col("lift").is_not_null()).sort("lift", descending=True).head(top)
    sig = df["significant"].fill_null(False).to_list() if "significant" in df.columns else [False] * df.height
    labels = [f"{d}={v}" for d, v in zip(df["dimension"].to_list(), df["value"].to_list(), strict=True)]
    hover = []
    for r in df.to_dicts():
        parts = [f"<b>{r['dimension']}={r['value']}</b>", f"lift {r['lift']:.2f}x"]
        if r.get("bad_count") is not None and r.get("total_count") is not None:
            parts.append(f"{r['bad_count']:,} bad of {r['total_count']:,} requests")
        if r.get("p_value") is not None:
            parts.append(f"p = {r['p_value']:.2g}" + (" (significant)" if r.get("significant") else ""))
        hover.append("<br>".join(parts))
    fig = new_figure("Which request attributes are over-represented among bad requests (lift)",
                     x_title="lift (share among bad requests / share among all)",
                     height=height or max(260, 90 + 28 * df.height))
    lifts = df["lift"].to_list()
    group = ["over" if s and v > 1 else "under" if s else "ns" for s, v in zip(sig, lifts, strict=True)]
    for key, name, colour in (("over", "significant, over-represented", PALETTE["vermillion"]),
                              ("under", "significant, under-represented", PALETTE["blue"]),
                              ("ns", "not significant", PALETTE["grey"])):
        idx = [i for i, g in enumerate(group) if g == key]
        if not idx:
            continue
        fig.add_trace(go.Bar(
            orientation="h", x=[df["lift"][i] for i in idx], y=[labels[i] for i in idx], name=name,
            marker={"color": colour}, hovertext=[hover[i] for i in idx], hovertemplate="%{hovertext}<extra></extra>",
        ))
    fig.add_vline(x=1.0, line={"color": PALETTE["black"], "dash": "dash", "width": 1.2})
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(labels)), automargin=True)
    fig.update_layout(hovermode="closest", barmode="overlay")
    return finish_figure(fig, legend="top")


def timeline_chart(events: pl.DataFrame, *, tz: str = "UTC", height: int = 360,
                   title: str = "Incident timeline") -> go.Figure:
    """The incident's key moments on one time axis: a lane per kind, a label at every marker.

    ``events`` is :func:`slo_analysis.analysis.impact.incident_timeline` (``timestamp, kind, label``;
    kinds ``change, onset, detection, mitigation, recovery`` and ``alarm``; others are drawn too). When
    the frame has an onset, bars under the lanes show the time to detect (onset -> detection), to
    mitigate (-> mitigation) and to recover (-> recovery); their legend entries give the durations.
    """
    require_columns(events, ("timestamp", "kind", "label"), "events")
    df = events.sort("timestamp")
    known = [k for k in KIND_COLOURS if k in df["kind"].to_list()]
    kinds = known + [k for k in dict.fromkeys(df["kind"].to_list()) if k not in KIND_COLOURS]
    lane = {k: len(kinds) - i for i, k in enumerate(kinds)}  # first kind on top
    fig = new_figure(title, x_title=f"time ({tz})", height=height)
    for k in kinds:
        sub = df.filter(pl.col("kind") == k)
        x = to_display_tz(sub["timestamp"], tz)
        labels = sub["label"].to_list()
        fig.add_trace(go.Scatter(
            x=x, y=[lane[k]] * sub.height, mode="markers+text", name=k,
            text=[_short(str(t), 60) for t in labels], textposition="middle right", textfont={"size": 11},
            marker={"symbol": _KIND_SYMBOLS.get(k, "circle"), "size": 14, "color": KIND_COLOURS.get(k, PALETTE["grey"]),
                    "line": {"width": 1, "color": PALETTE["black"]}},
            hovertext=[f"<b>{k}</b> {t.strftime('%Y-%m-%d %H:%M:%S %Z')}<br>{lab}" for t, lab in zip(x, labels,
                                                                                                      strict=True)],
            hovertemplate="%{hovertext}<extra></extra>",
        ))
    first = {k: df.filter(pl.col("kind") == k)["timestamp"].min() for k in ("onset", "detection", "mitigation",
                                                                            "recovery")}
    onset = first["onset"]
    if isinstance(onset, datetime):
        spans = [("detection", "time to detect"), ("mitigation", "time to mitigate"), ("recovery", "time to recover")]
        y = 0.0
        for k, name in spans:
            t = first[k]
            if not isinstance(t, datetime):
                continue
            secs = (t - onset).total_seconds()
            xs = to_display_tz([onset, t], tz)
            fig.add_trace(go.Scatter(
                x=list(xs), y=[y, y], mode="lines+markers", name=f"{name}: {format_duration(secs)}",
                line={"color": KIND_COLOURS[k], "width": 3}, marker={"symbol": "line-ns-open", "size": 12,
                                                                     "color": KIND_COLOURS[k]},
                hovertemplate=f"{name}: {format_duration(secs)} after the onset<extra></extra>",
            ))
            y -= 0.35
    fig.update_yaxes(tickvals=[lane[k] for k in kinds], ticktext=kinds, showgrid=False, zeroline=False, automargin=True,
                     range=[min(-1.2, -0.35 * 3 - 0.2), len(kinds) + 0.7])
    if df.height:
        lo, hi = df["timestamp"].min(), df["timestamp"].max()
        if isinstance(lo, datetime) and isinstance(hi, datetime):
            pad = max((hi - lo) * 0.08, timedelta(minutes=5))
            fig.update_xaxes(range=list(to_display_tz([lo - pad, hi + pad * 4], tz)))
    fig.update_layout(hovermode="closest")
    return finish_figure(fig)
