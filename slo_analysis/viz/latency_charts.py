"""Latency charts: percentile lines from CloudWatch metrics, and the full distribution from requests.

- :func:`latency_percentiles`: Application Signals ``Latency`` percentiles (p50, p90, p99, ...) of
  one service operation from the canonical metrics frame, with an optional SLO threshold line;
- :func:`latency_heatmap`: every request of one operation binned by time and by latency on a
  log scale; the colour is the number of requests (log scale), so a slow tail that percentiles
  average away shows up as its own band.

Both take a polars ``DataFrame`` or ``LazyFrame`` (``snap.scan("requests")``): the selection is
pushed down before anything is collected.

Examples
--------
>>> import slo_analysis as sa
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> fig = latency_percentiles(snap.scan("metrics"), service="ticket-api", operation="CreateTicket",
...                           threshold_ms=800)
>>> [t.name for t in fig.data]
['p99', 'p90', 'p50', 'SLO threshold 800 ms']
>>> heat = latency_heatmap(snap.scan("requests"), service="ticket-api", operation="CreateTicket", bucket="15m")
>>> import numpy as np, polars as pl
>>> n = snap.scan("requests").filter(pl.col("operation") == "CreateTicket").select(pl.len()).collect().item()
>>> heat.data[0].type, int(np.nansum(heat.data[0].customdata)) == n
('heatmap', True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import polars as pl

from slo_analysis.viz.overlays import ChartDataError, Frame, add_deployments, finish_figure, require_columns
from slo_analysis.viz.theme import PALETTE, new_figure, to_display_tz

__all__ = ["STAT_COLOURS", "HEATMAP_SCALE", "latency_percentiles", "latency_heatmap"]

#: colours of the usual statistics, slow to fast
STAT_COLOURS: dict[str, str] = {
    "p50": PALETTE["blue"],
    "p90": PALETTE["orange"],
    "p95": PALETTE["purple"],
    "p99": PALETTE["vermillion"],
    "p99.9": PALETTE["black"],
    "Average": PALETTE["green"],
    "Maximum": PALETTE["grey"],
}
#: sequential colour scale from the Okabe-Ito palette: few requests light (yellow), many dark (blue)
HEATMAP_SCALE: list[list[float | str]] = [[0.0, PALETTE["yellow"]], [0.35, PALETTE["green"]],
                                          [0.7, PALETTE["blue"]], [1.0, PALETTE["black"]]]
_OTHER = (PALETTE["green"], PALETTE["sky"], PALETTE["purple"], PALETTE["black"], PALETTE["grey"])


def _dims_expr(service: str, operation: str | None, environment: str | None) -> pl.Expr:
    items = pl.col("dimensions").str.split(",")
    cond = items.list.contains(f"Service={service}")
    if operation is not None:
        cond = cond & items.list.contains(f"Operation={operation}")
    else:
        cond = cond & ~pl.col("dimensions").str.contains("Operation=", literal=True)
    if environment is not None:
        cond = cond & items.list.contains(f"Environment={environment}")
    return cond


def latency_percentiles(
    metrics: Frame,
    *,
    service: str,
    operation: str | None,
    stats: Sequence[str] = ("p50", "p90", "p99"),
    threshold_ms: float | None = None,
    environment: str | None = None,
    namespace: str = "ApplicationSignals",
    deployments: pl.DataFrame | None = None,
    log_y: bool = False,
    tz: str = "UTC",
    height: int = 400,
) -> go.Figure:
    """Latency percentiles of one operation over time, from the metrics frame.

    Selects ``namespace``/``Latency`` datapoints whose dimensions name ``Service=service`` and
    ``Operation=operation`` (with ``operation=None``: the service-level series without an Operation
    dimension), one line per statistic in ``stats`` at the finest period present. ``threshold_ms``
    draws the latency SLO's threshold; ``deployments`` adds deployment markers; ``log_y`` puts latency
    on a log axis (a tail many times the median stays readable).

    Raises
    ------
    ChartDataError
        No Latency datapoint for the selection, or several environments and ``environment`` unset.
    """
    require_columns(metrics, ("timestamp", "namespace", "metric", "dimensions", "stat", "period_s", "value"),
                    "metrics")
    lf = metrics.lazy().filter(
        (pl.col("namespace") == namespace) & (pl.col("metric") == "Latency") & pl.col("stat").is_in(list(stats))
        & _dims_expr(service, operation, environment)
    )
    df = lf.select("timestamp", "dimensions", "stat", "period_s", "value").collect()
    what = f"{service} {operation}" if operation else service
    if df.is_empty():
        raise ChartDataError(f"metrics frame: no {namespace} Latency datapoints ({', '.join(stats)}) for {what}")
    dims = df["dimensions"].unique().sort().to_list()
    if len(dims) > 1:
        raise ChartDataError(f"metrics frame: {what} has several dimension sets ({'; '.join(dims)}): "
                             "pass environment=")
    period = int(df["period_s"].min())  # type: ignore[arg-type]
    df = df.filter(pl.col("period_s") == period).sort("timestamp")
    fig = new_figure(f"{what} latency percentiles ({period // 60 if period >= 60 else period}"
                     f"{'-minute' if period >= 60 else '-second'} {namespace} data)",
                     x_title=f"time ({tz})", y_title="latency (ms)", height=height)
    others = iter(_OTHER * 3)
    colours = {stat: STAT_COLOURS.get(stat) or next(others) for stat in stats}
    for rank, stat in reversed(list(enumerate(stats))):  # slowest first, so faster lines draw on top of it
        s = df.filter(pl.col("stat") == stat)
        if s.is_empty():
            continue
        fig.add_trace(go.Scatter(
            x=to_display_tz(s["timestamp"], tz), y=s["value"], mode="lines", name=stat, legendrank=100 + rank,
            line={"color": colours[stat], "width": 1.6},
            hovertemplate=f"{stat} %{{y:,.0f}} ms<extra></extra>",
        ))
    if threshold_ms is not None:
        ts = df["timestamp"]
        fig.add_trace(go.Scatter(
            x=to_display_tz(pl.Series([ts.min(), ts.max()], dtype=ts.dtype), tz), y=[threshold_ms, threshold_ms],
            mode="lines", name=f"SLO threshold {threshold_ms:g} ms",
            line={"color": PALETTE["black"], "width": 1.3, "dash": "dash"},
            hovertemplate=f"threshold {threshold_ms:g} ms<extra></extra>",
        ))
    if deployments is not None:
        ts = df["timestamp"]
        lo, hi = ts.min(), ts.max()
        add_deployments(fig, deployments, tz=tz, window=(lo, hi) if lo is not None else None)  # type: ignore[arg-type]
    if log_y:
        fig.update_yaxes(type="log", title_text="latency (ms, log scale)")
    else:
        fig.update_yaxes(rangemode="tozero")
    return finish_figure(fig)


def _fmt_ms(v: float) -> str:
    return f"{v:,.0f} ms" if v >= 10 else f"{v:.2g} ms"


def latency_heatmap(
    requests: Frame,
    *,
    service: str,
    operation: str,
    bucket: str = "5m",
    bins_per_decade: int = 12,
    threshold_ms: float | None = None,
    tz: str = "UTC",
    height: int = 420,
) -> go.Figure:
    """Latency distribution of one operation over time: requests per (time bucket, latency bin).

    Latency bins are log-spaced (``bins_per_decade`` per factor of ten) between the fastest and the
    slowest request; time buckets are ``bucket`` long (a fixed-length polars duration: ``"1m"``, ``"1h"``).
    The colour is the request count on a log scale (empty cells stay blank); the hover gives the bin's
    latency range and the count. ``threshold_ms`` draws a latency SLO's threshold.

    Raises
    ------
    ChartDataError
        No request of ``service``/``operation`` with a positive latency.
    """
    require_columns(requests, ("timestamp", "service", "operation", "latency_ms"), "requests")
    df = (
        requests.lazy()
        .filter((pl.col("service") == service) & (pl.col("operation") == operation) & (pl.col("latency_ms") > 0))
        # absolute log bin: floor(log10(ms) x bins_per_decade); the epsilon puts 1000 ms (log10 = 2.9999...)
        # in the bin that starts at 1000 ms, as half-open bins [edge, next edge) say
        .select(t=pl.col("timestamp").dt.truncate(bucket),
                k=(pl.col("latency_ms").log10() * bins_per_decade + 1e-9).floor().cast(pl.Int64))
        .collect()
    )
    if df.is_empty():
        raise ChartDataError(f"requests frame: no request of {service} {operation} with a latency")
    k_lo, k_hi = int(df["k"].min()), int(df["k"].max())  # type: ignore[arg-type]
    lo, hi = k_lo / bins_per_decade, (k_hi + 1) / bins_per_decade
    n_bins = k_hi + 1 - k_lo
    counts = (
        df.with_columns(b=pl.col("k") - k_lo)
        .group_by("t", "b").len()
    )
    times = counts["t"].unique().sort()
    # every bucket between the first and the last, so a quiet bucket shows as a gap, not as a jump
    step = pl.select(pl.lit(times[0]).dt.offset_by(bucket)).item() - times[0]
    grid = pl.datetime_range(times[0], times[-1], step, eager=True, time_unit="ms", time_zone="UTC")
    step_ms = round(step.total_seconds() * 1000)
    col = (counts["t"].dt.epoch("ms") - times.dt.epoch("ms")[0]) // step_ms
    z = np.full((n_bins, len(grid)), np.nan)
    z[counts["b"].to_numpy(), col.to_numpy()] = counts["len"].to_numpy()
    centres = 10 ** (lo + (np.arange(n_bins) + 0.5) / bins_per_decade)
    top = float(np.nanmax(z))
    cmax = max(math.log10(top), 1.0)
    ticks = [k for k in range(0, math.ceil(cmax) + 1)]
    fig = new_figure(f"{service} {operation}: latency distribution per {bucket} ({df.height:,} requests)",
                     x_title=f"time ({tz})", y_title="latency (ms, log scale)", height=height)
    fig.add_trace(go.Heatmap(
        x=to_display_tz(grid, tz), y=centres, z=np.log10(z), customdata=z, colorscale=HEATMAP_SCALE,
        zmin=0.0, zmax=cmax,
        hoverongaps=False, name="requests",
        colorbar={"title": {"text": "requests"}, "tickvals": ticks, "ticktext": [f"{10 ** k:,}" for k in ticks]},
        hovertemplate=f"%{{x}}<br>latency ≈ %{{y:,.3~s}} ms (bin ×{10 ** (1 / bins_per_decade):.2f})<br>"
                      "%{customdata:,.0f} requests<extra></extra>",
    ))
    decades = range(math.floor(lo), math.ceil(hi) + 1)
    tickvals = [m * 10.0 ** d for d in decades for m in (1, 2, 5) if lo <= d + math.log10(m) <= hi]
    fig.update_yaxes(type="log", tickvals=tickvals, ticktext=[_fmt_ms(v) for v in tickvals], range=[lo, hi])
    if threshold_ms is not None and threshold_ms > 0:
        y = threshold_ms
        fig.add_trace(go.Scatter(
            x=to_display_tz(grid[[0, -1]], tz), y=[y, y], mode="lines", name=f"SLO threshold {threshold_ms:g} ms",
            line={"color": PALETTE["vermillion"], "width": 1.5, "dash": "dash"},
            hovertemplate=f"threshold {threshold_ms:g} ms<extra></extra>",
        ))
        fig.update_layout(showlegend=True)
    fig.update_layout(hovermode="closest")
    return finish_figure(fig, legend="top")
