"""One look for every figure: the Okabe-Ito colour-blind-safe palette, one plotly template, display timezones.

Every figure function in :mod:`slo_analysis.viz` builds on :func:`new_figure` (or calls :func:`apply_theme`)
and converts timestamps with :func:`to_display_tz`, so a review reads the same in every chart.

Examples
--------
>>> fig = new_figure("Checkout latency", y_title="ms")
>>> fig.layout.template.layout.colorway[0] == PALETTE["blue"]
True
>>> to_display_tz([0], "Europe/Berlin")[0].isoformat()
'1970-01-01T01:00:00+01:00'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import polars as pl

__all__ = ["PALETTE", "SEQUENCE", "STATUS_COLOURS", "TEMPLATE", "new_figure", "apply_theme", "to_display_tz"]

#: Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies
PALETTE: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#999999",
}
#: the order traces take their colours in
SEQUENCE: tuple[str, ...] = tuple(PALETTE[k] for k in ("blue", "orange", "green", "vermillion", "sky", "purple",
                                                      "yellow", "black"))
#: budget status colours, shared by every chart and table that shows a status
STATUS_COLOURS: dict[str, str] = {
    "OK": PALETTE["green"],
    "WARNING": PALETTE["orange"],
    "BREACHED": PALETTE["vermillion"],
    "INSUFFICIENT_DATA": PALETTE["grey"],
}

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        colorway=list(SEQUENCE),
        font={"family": "Inter, Helvetica, Arial, sans-serif", "size": 13, "color": "#222"},
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis={"showgrid": True, "gridcolor": "#eee", "zeroline": False, "linecolor": "#888", "ticks": "outside"},
        yaxis={"showgrid": True, "gridcolor": "#eee", "zeroline": False, "linecolor": "#888", "ticks": "outside"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0.0},
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        hovermode="x unified",
    )
)


def apply_theme(fig: go.Figure, title: str | None = None, *, x_title: str | None = None,
                y_title: str | None = None, height: int = 380) -> go.Figure:
    """Give ``fig`` the house template, a title and axis titles; returns the same figure."""
    fig.update_layout(template=TEMPLATE, height=height)
    if title is not None:
        fig.update_layout(title={"text": title, "x": 0.0, "xanchor": "left"})
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


def new_figure(title: str | None = None, *, x_title: str | None = None, y_title: str | None = None,
               height: int = 380) -> go.Figure:
    """An empty figure in the house theme."""
    return apply_theme(go.Figure(), title, x_title=x_title, y_title=y_title, height=height)


def to_display_tz(values: pl.Series | Iterable[Any], tz: str = "UTC") -> pd.DatetimeIndex:
    """Timestamps (polars ``Datetime`` or epoch ms or datetimes) as a pandas index in display zone ``tz``."""
    if isinstance(values, pl.Series):
        if values.dtype == pl.Datetime:
            values = values.dt.epoch("ms")
        values = values.to_list()
    items = list(values)
    if items and isinstance(items[0], datetime):
        idx = pd.DatetimeIndex(pd.to_datetime(items, utc=True))
    else:
        idx = pd.DatetimeIndex(pd.to_datetime(items, unit="ms", utc=True))
    return idx.tz_convert(tz)
