"""Shared checks for the figure tests: the colours a figure sets and time conversions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go

from slo_analysis.viz import PALETTE

#: the only colours a figure may set itself (white for table cells and text on dark headers)
ALLOWED = {c.upper() for c in PALETTE.values()} | {"WHITE"}


def colours(fig: go.Figure) -> set[str]:
    """Every colour a figure sets itself (the theme template excluded)."""
    found: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k != "template":
                    walk(v, k)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and ("color" in key.lower() or key == "colorscale"):
            found.add(node.upper())

    walk(fig.to_plotly_json())
    return found


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def as_utc(x: Any) -> datetime:
    return x.to_pydatetime().astimezone(UTC) if hasattr(x, "to_pydatetime") else x.astimezone(UTC)
