"""Figures of a capacity-planning session: forecast, saturation curve, headroom over time, Erlang C staffing.

Each function returns a ``plotly.graph_objects.Figure`` in the house theme and never shows or writes it;
time axes are converted to the display zone ``tz``.

Examples
--------
>>> from slo_analysis.analysis.capacity import staffing_table
>>> fig = staffing_figure(staffing_table(100 / 1800, 180.0, 20.0, range(9, 19)), target=0.8)
>>> [t.name for t in fig.data]
['service level', 'occupancy']
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import plotly.graph_objects as go
import polars as pl

from slo_analysis.analysis.capacity.errors import CapacityWarning
from slo_analysis.analysis.capacity.forecast import Forecast
from slo_analysis.analysis.capacity.headroom import Headroom
from slo_analysis.analysis.capacity.saturation import SaturationFit
from slo_analysis.viz.theme import PALETTE, new_figure, to_display_tz

__all__ = ["forecast_figure", "saturation_figure", "headroom_figure", "staffing_figure"]


def _band(fig: go.Figure, x: object, lo: object, hi: object, name: str, colour: str, opacity: float) -> None:
    fig.add_trace(go.Scatter(x=x, y=hi, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip",
                             name=f"{name} upper"))
    fig.add_trace(go.Scatter(x=x, y=lo, mode="lines", line={"width": 0}, fill="tonexty", fillcolor=colour,
                             opacity=opacity, name=name, hoverinfo="skip"))


def forecast_figure(forecast: Forecast, *, title: str = "Demand forecast", y_title: str = "requests per bucket",
                    tz: str = "UTC", show_fit: bool = False) -> go.Figure:
    """History, (optionally) the in-sample fit, and the forecast mean with its 95 % and 80 % intervals.

    >>> import numpy as np, polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> from slo_analysis.analysis.capacity import forecast_demand
    >>> ts = pl.datetime_range(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC), "1h",
    ...                        eager=True, time_unit="ms")
    >>> fc = forecast_demand(pl.DataFrame({"timestamp": ts, "value": 100 + 50 * np.sin(np.arange(ts.len()) / 4)}),
    ...                      horizon=timedelta(days=1))
    >>> [t.name for t in forecast_figure(fc).data]
    ['95 % interval upper', '95 % interval', '80 % interval upper', '80 % interval', 'history', 'forecast']
    """
    fig = new_figure(title, y_title=y_title)
    h, f = forecast.history, forecast.forecast
    fx = to_display_tz(f["timestamp"], tz)
    _band(fig, fx, f["lo95"].to_list(), f["hi95"].to_list(), "95 % interval", "rgba(0,114,178,0.15)", 1.0)
    _band(fig, fx, f["lo80"].to_list(), f["hi80"].to_list(), "80 % interval", "rgba(0,114,178,0.30)", 1.0)
    fig.add_trace(go.Scatter(x=to_display_tz(h["timestamp"], tz), y=h["value"].to_list(), mode="lines",
                             name="history", line={"color": PALETTE["black"], "width": 1}))
    if show_fit:
        fig.add_trace(go.Scatter(x=to_display_tz(h["timestamp"], tz), y=h["fitted"].to_list(), mode="lines",
                                 name="fit", line={"color": PALETTE["orange"], "width": 1, "dash": "dot"}))
    fig.add_trace(go.Scatter(x=fx, y=f["mean"].to_list(), mode="lines", name="forecast",
                             line={"color": PALETTE["blue"], "width": 2}))
    fig.update_xaxes(title_text=f"time ({tz})")
    return fig


def saturation_figure(load: pl.Series | np.ndarray, latency_ms: pl.Series | np.ndarray, fit: SaturationFit, *,
                      threshold_ms: float | None = None, title: str | None = None,
                      x_max: float | None = None) -> go.Figure:
    """Observed latency against load per instance, the USL fit (with its 95 % band) and the M/M/c fit,
    the knee, the USL maximum throughput and the SLO threshold."""
    x = np.asarray(load, dtype=np.float64)
    top = x_max if x_max is not None else max(float(np.nanmax(x)) * 1.3,
                                              min(fit.usl.max_throughput, fit.mmc.max_throughput) * 1.02)
    grid = np.linspace(top / 400.0, top, 400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)  # the figure shows the extrapolation on purpose
        pred = fit.predict(grid)
    cap = float(np.nanmax(np.asarray(latency_ms, dtype=np.float64))) * 3.0

    def clip(v: pl.Series) -> list[float | None]:
        return [None if (not math.isfinite(a) or a > cap) else a for a in v.to_list()]

    fig = new_figure(title or f"{fit.latency} against load per instance", x_title="requests/s per instance",
                     y_title="latency (ms)")
    fig.add_trace(go.Scatter(x=x, y=np.asarray(latency_ms), mode="markers", name="observed",
                             marker={"color": PALETTE["grey"], "size": 4, "opacity": 0.5}))
    _band(fig, grid, clip(pred["usl_lo_ms"]), clip(pred["usl_hi_ms"]), "USL 95 % band", "rgba(0,114,178,0.2)", 1)
    fig.add_trace(go.Scatter(x=grid, y=clip(pred["usl_ms"]), mode="lines", name="USL",
                             line={"color": PALETTE["blue"], "width": 2}))
    fig.add_trace(go.Scatter(x=grid, y=clip(pred["mmc_ms"]), mode="lines", name=f"M/M/{fit.mmc.servers}",
                             line={"color": PALETTE["orange"], "width": 2, "dash": "dash"}))
    if math.isfinite(fit.knee_load):
        fig.add_vline(x=fit.knee_load, line={"color": PALETTE["green"], "dash": "dot"},
                      annotation_text=f"knee {fit.knee_load:.3g}/s")
    if math.isfinite(fit.usl.max_throughput):
        fig.add_vline(x=fit.usl.max_throughput, line={"color": PALETTE["vermillion"], "dash": "dot"},
                      annotation_text=f"max {fit.usl.max_throughput:.3g}/s", annotation_position="bottom right")
    fig.add_vrect(x0=fit.observed_load[1], x1=top, fillcolor="rgba(153,153,153,0.12)", line_width=0,
                  annotation_text="extrapolated", annotation_position="top right")
    if threshold_ms is not None:
        fig.add_hline(y=threshold_ms, line={"color": PALETTE["vermillion"]}, annotation_text=f"SLO {threshold_ms:g} ms")
    fig.update_layout(hovermode="closest")
    return fig


def headroom_figure(timeline: pl.DataFrame, result: Headroom | None = None, *, tz: str = "UTC",
                    title: str = "Headroom at the daily peak") -> go.Figure:
    """Headroom (1 - upper-bound peak load / safe load) per day, forecast then trend, with the run-out date."""
    fig = new_figure(title, y_title="headroom (share of the safe load)")
    for source, colour, dash in (("forecast", PALETTE["blue"], "solid"), ("trend", PALETTE["sky"], "dash")):
        part = timeline.filter(pl.col("source") == source)
        if part.height:
            fig.add_trace(go.Scatter(x=to_display_tz(part["date"], tz), y=part["headroom"].to_list(), mode="lines",
                                     name=source, line={"color": colour, "dash": dash, "width": 2}))
    fig.add_hline(y=0.0, line={"color": PALETTE["vermillion"]}, annotation_text="no headroom")
    if result is not None and result.runout_date_hi95 is not None:
        x = to_display_tz([result.runout_date_hi95], tz)[0]
        fig.add_vline(x=x.timestamp() * 1000, line={"color": PALETTE["vermillion"], "dash": "dot"},
                      annotation_text=f"run-out {x:%Y-%m-%d}")
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(title_text=f"date ({tz})")
    return fig


def staffing_figure(table: pl.DataFrame, *, target: float | None = None, title: str = "Agents and service level"
                    ) -> go.Figure:
    """Service level and occupancy against the number of agents (from
    :func:`~slo_analysis.analysis.capacity.staffing.staffing_table`), with the target and the fewest agents
    meeting it; unstable counts (load >= agents) show as service level 0."""
    fig = new_figure(title, x_title="agents", y_title="share")
    fig.add_trace(go.Bar(x=table["agents"].to_list(), y=table["service_level"].to_list(), name="service level",
                         marker={"color": [PALETTE["blue"] if s else PALETTE["grey"] for s in table["stable"]]}))
    fig.add_trace(go.Scatter(x=table["agents"].to_list(), y=table["occupancy"].clip(upper_bound=1.0).to_list(),
                             mode="lines+markers", name="occupancy", line={"color": PALETTE["orange"]}))
    if target is not None:
        fig.add_hline(y=target, line={"color": PALETTE["vermillion"], "dash": "dot"},
                      annotation_text=f"target {target:.0%}")
        ok = table.filter(pl.col("stable") & (pl.col("service_level") >= target))
        if ok.height:
            n = int(ok["agents"].min())  # type: ignore[arg-type]
            fig.add_vline(x=n, line={"color": PALETTE["green"]}, annotation_text=f"{n} agents")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_layout(hovermode="x")
    return fig
