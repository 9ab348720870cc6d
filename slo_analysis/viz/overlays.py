"""What every time chart of a review shares: shaded windows, deployment markers, thinning long series.

A review's charts put the same context on different series: the breach and incident windows, the
deployments, the alert episodes. The helpers here add them to any time-axis figure in one look:

- :func:`add_windows` shades half-open ``[start, end)`` windows (a frame with ``start`` and ``end``)
  across the whole plotting area, in one colour per kind, with one legend entry per kind;
- :func:`add_deployments` draws a dotted vertical line at each deployment's start and a marker on top
  whose hover names the deployment (id, service, versions, actor, start and finish);
- :func:`thin` aggregates a long regular series into at most ``max_points`` buckets so a 14-day
  1-minute series stays light in a notebook or an HTML review (peaks are kept with ``max``/``min``).

Shapes span the figure's full height (``yref="paper"``), so they shade every row of a figure with
shared x axes. The deployment markers sit on an invisible overlay y axis with range [0, 1].

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timezone
>>> from slo_analysis.viz.theme import new_figure
>>> t = datetime(2026, 11, 11, 14, tzinfo=timezone.utc)
>>> w = pl.DataFrame({"start": [t], "end": [t.replace(hour=15)]})
>>> fig = add_windows(new_figure("demo"), w, name="Breach", colour="#D55E00", tz="Europe/Berlin")
>>> fig.layout.shapes[0].x0.isoformat(), fig.layout.shapes[0].name
('2026-11-11T15:00:00+01:00', 'Breach')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import plotly.graph_objects as go
import polars as pl

from slo_analysis.exceptions import FrameValidationError, SloAnalysisError
from slo_analysis.viz.theme import PALETTE, to_display_tz

__all__ = [
    "ChartDataError",
    "Frame",
    "add_windows",
    "add_deployments",
    "thin",
    "require_columns",
    "bucket_seconds",
    "format_duration",
    "finish_figure",
    "zoom_to",
]

Frame = pl.DataFrame | pl.LazyFrame
_TS = pl.Datetime("ms", "UTC")
#: bucket sizes :func:`bucket_seconds` picks from (seconds): 1m ... 1d
_NICE_BUCKETS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


class ChartDataError(SloAnalysisError, ValueError):
    """A chart cannot be drawn from these inputs (no rows for the selection, ambiguous selection)."""


def require_columns(df: Frame, columns: Sequence[str], frame: str) -> None:
    """Raise :class:`FrameValidationError` naming the first of ``columns`` that ``df`` lacks."""
    have = df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns
    for col in columns:
        if col not in have:
            raise FrameValidationError(frame, col, "missing column (needed for this chart)")


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``90 -> '1 min 30 s'``, ``5400 -> '1 h 30 min'``, ``None -> 'n/a'``.

    Examples
    --------
    >>> [format_duration(s) for s in (42, 90, 5400, 90000, None)]
    ['42 s', '1 min 30 s', '1 h 30 min', '1 d 1 h', 'n/a']
    """
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    s = int(round(seconds))
    for big, big_name, small, small_name in ((86400, "d", 3600, "h"), (3600, "h", 60, "min"), (60, "min", 1, "s")):
        if s >= big:
            rest = (s % big) // small
            return f"{s // big} {big_name}" + (f" {rest} {small_name}" if rest else "")
    return f"{s} s"


def bucket_seconds(span_s: float, period_s: float, max_points: int) -> int:
    """The smallest round bucket (a multiple of ``period_s``) that keeps ``span_s`` within ``max_points``.

    Examples
    --------
    >>> bucket_seconds(14 * 86400, 60, 2000), bucket_seconds(3600, 60, 2000)
    (900, 60)
    """
    if span_s / period_s <= max_points:
        return int(period_s)
    for b in _NICE_BUCKETS:
        if b >= period_s and b % period_s == 0 and span_s / b <= max_points:
            return b
    return int(math.ceil(span_s / max_points / period_s) * period_s)


def thin(df: pl.DataFrame, every_s: int, aggs: Sequence[pl.Expr], *, time_column: str = "timestamp") -> pl.DataFrame:
    """Aggregate ``df`` into ``every_s``-second buckets (labelled by their start) with ``aggs``.

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"timestamp": [0, 60_000, 120_000], "v": [1.0, 5.0, 2.0]},
    ...                  schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> thin(f, 120, [pl.col("v").max()])["v"].to_list()
    [5.0, 2.0]
    """
    if df.is_empty():
        return df.select(time_column, *aggs).clear()
    return (
        df.sort(time_column)
        .group_by_dynamic(time_column, every=f"{int(every_s)}s", closed="left", label="left")
        .agg(*aggs)
    )


def finish_figure(fig: go.Figure, *, legend: Literal["right", "top"] = "right") -> go.Figure:
    """Last touches every chart here shares: x axis titles clear of two-line date ticks, and the legend in a
    column right of the plot (``legend="right"``, for charts with many entries) or the theme's row on top."""
    fig.update_xaxes(automargin=True, title_standoff=10)
    fig.update_yaxes(automargin=True)
    if legend == "right":
        fig.update_layout(legend={"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1.0, "yanchor": "top",
                                  "font": {"size": 12}, "groupclick": "toggleitem"})
    return fig


def zoom_to(fig: go.Figure, zoom: tuple[datetime, datetime] | None, tz: str = "UTC") -> go.Figure:
    """Open the figure on ``zoom`` (start, end) of its shared time axis; the data outside stays (pan/zoom out)."""
    if zoom is not None:
        lo, hi = to_display_tz(list(zoom), tz)
        fig.update_xaxes(range=[lo, hi])
    return fig


def _overlay_axis(fig: go.Figure) -> str:
    """A fresh invisible y axis over the first plot, range [0, 1]; returns its trace reference (``y7``)."""
    used = {1}
    for key in fig.layout.to_plotly_json():
        if key.startswith("yaxis"):
            used.add(int(key[5:] or 1))
    for trace in fig.data:
        ref = getattr(trace, "yaxis", None)
        if ref:
            used.add(int(ref[1:] or 1))
    n = max(used) + 1
    fig.update_layout({f"yaxis{n}": {"overlaying": "y", "range": [0.0, 1.0], "visible": False,
                                     "fixedrange": True, "showgrid": False}})
    return f"y{n}"


def add_windows(
    fig: go.Figure,
    windows: pl.DataFrame | None,
    *,
    name: str,
    colour: str,
    tz: str = "UTC",
    opacity: float = 0.18,
    clip: tuple[datetime, datetime] | None = None,
    end_default: datetime | None = None,
    start_column: str = "start",
    end_column: str = "end",
    yref: str = "paper",
) -> go.Figure:
    """Shade each ``[start, end)`` of ``windows`` over the figure's full height; one legend entry ``name``.

    ``end_default`` stands for a null end (a window still open when the data ends); ``clip`` trims the
    windows to a range (the chart's x range); ``yref`` (``"y2 domain"``) limits the shading to one row
    of a figure with subplots. Returns the same figure.
    """
    if windows is None or windows.is_empty():
        return fig
    require_columns(windows, (start_column, end_column), "windows")
    w = windows.select(pl.col(start_column).cast(_TS).alias("s"), pl.col(end_column).cast(_TS).alias("e"))
    if end_default is not None:
        w = w.with_columns(pl.col("e").fill_null(pl.lit(end_default).cast(_TS)))
    w = w.drop_nulls()
    if clip is not None:
        lo, hi = pl.lit(clip[0]).cast(_TS), pl.lit(clip[1]).cast(_TS)
        w = w.with_columns(s=pl.max_horizontal("s", lo), e=pl.min_horizontal("e", hi)).filter(pl.col("e") > pl.col("s"))
    starts, ends = to_display_tz(w["s"], tz), to_display_tz(w["e"], tz)
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        fig.add_shape(
            type="rect", xref="x", yref=yref, x0=s, x1=e, y0=0, y1=1, fillcolor=colour, opacity=opacity,
            line={"width": 0}, layer="below", name=name, legendgroup=name, showlegend=i == 0,
        )
    return fig


def _deployment_text(row: dict[str, Any], tz: str) -> str:
    def when(t: datetime | None) -> str:
        return to_display_tz([t], tz)[0].strftime("%Y-%m-%d %H:%M:%S %Z") if t is not None else "n/a"

    versions = f"{row.get('version_from') or '?'} → {row.get('version_to') or '?'}"
    lines = [
        f"<b>{row.get('id')}</b> ({row.get('source') or 'deployment'})",
        f"service: {row.get('service')}",
        f"version: {versions}",
        f"actor: {row.get('actor') or 'unknown'}",
        f"started: {when(row.get('started_at'))}",
        f"finished: {when(row.get('finished_at'))}",
    ]
    if row.get("status"):
        lines.append(f"status: {row['status']}")
    return "<br>".join(lines)


def add_deployments(
    fig: go.Figure,
    deployments: pl.DataFrame | None,
    *,
    tz: str = "UTC",
    window: tuple[datetime, datetime] | None = None,
    at: Literal["started_at", "finished_at"] = "started_at",
    colour: str = PALETTE["black"],
    name: str = "Deployments",
) -> go.Figure:
    """Mark each deployment at ``at`` (its start by default; the other time when null) within ``window``.

    A dotted vertical line spans the figure's height; a triangle at the top of the plot carries the
    hover (id, source, service, version_from -> version_to, actor, start, finish, status). Deployments
    outside ``window`` are left out. Returns the same figure.
    """
    if deployments is None or deployments.is_empty():
        return fig
    require_columns(deployments, ("id", "service", "started_at"), "deployments")
    other = "finished_at" if at == "started_at" else "started_at"
    cols = deployments.columns
    d = deployments.with_columns(
        _at=pl.coalesce(pl.col(at), pl.col(other)) if other in cols else pl.col(at)
    ).filter(pl.col("_at").is_not_null())
    if window is not None:
        d = d.filter((pl.col("_at") >= pl.lit(window[0]).cast(_TS)) & (pl.col("_at") < pl.lit(window[1]).cast(_TS)))
    if d.is_empty():
        return fig
    d = d.sort("_at")
    xs = to_display_tz(d["_at"], tz)
    for x in xs:
        fig.add_shape(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1, layer="above",
                      line={"color": colour, "width": 1, "dash": "dot"})
    axis = _overlay_axis(fig)
    fig.add_trace(go.Scatter(
        x=xs, y=[0.985] * d.height, yaxis=axis, mode="markers", name=name, legendgroup=name,
        marker={"symbol": "triangle-down", "size": 11, "color": colour},
        hovertext=[_deployment_text(r, tz) for r in d.iter_rows(named=True)],
        hovertemplate="%{hovertext}<extra></extra>",
    ))
    return fig
