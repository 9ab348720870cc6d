"""Plotly figures for reviews and notebooks: each function returns a ``go.Figure``, never shows or writes it."""

from slo_analysis.viz.theme import PALETTE, SEQUENCE, STATUS_COLOURS, TEMPLATE, apply_theme, new_figure, to_display_tz

__all__ = ["PALETTE", "SEQUENCE", "STATUS_COLOURS", "TEMPLATE", "apply_theme", "new_figure", "to_display_tz"]
