"""Show plotly figures in a notebook so that the exported HTML review works offline.

Plotly's own notebook renderers load plotly.js from a CDN or through require.js, and an HTML export
made with nbconvert then draws nothing without internet access. :func:`show` emits each figure as a
plain HTML fragment instead, with plotly.js inlined once per kernel: the first figure carries the
library (about 4.6 MB), the later ones only their data.

Examples
--------
>>> import plotly.graph_objects as go
>>> html = figure_html(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), include_plotlyjs=False)
>>> html.startswith("<div") and "Plotly.newPlot" in html
True
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

__all__ = ["show", "figure_html", "reset"]

_state = {"plotlyjs_sent": False}
_CONFIG = {"displaylogo": False, "responsive": True}


def figure_html(fig: go.Figure, *, include_plotlyjs: bool | str = False, div_id: str | None = None) -> str:
    """``fig`` as an HTML fragment (a div and its script)."""
    return str(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs, config=_CONFIG, div_id=div_id))


def show(fig: go.Figure) -> Any:
    """Display ``fig`` in the running notebook as self-contained HTML (plotly.js inlined the first time)."""
    from IPython.display import HTML, display

    first = not _state["plotlyjs_sent"]
    _state["plotlyjs_sent"] = True
    return display(HTML(figure_html(fig, include_plotlyjs=first)))


def reset() -> None:
    """Forget that plotly.js was sent (a new notebook in the same kernel needs it again)."""
    _state["plotlyjs_sent"] = False
