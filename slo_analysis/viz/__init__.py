"""Plotly figures for reviews and notebooks: each function returns a ``go.Figure``, never shows or writes it.

- SLOs (:mod:`~slo_analysis.viz.slo_charts`): ``sli_timeline``, ``budget_burndown``, ``burn_rate_chart``
- latency (:mod:`~slo_analysis.viz.latency_charts`): ``latency_percentiles``, ``latency_heatmap``
- traces (:mod:`~slo_analysis.viz.trace_charts`): ``trace_waterfall``, ``service_graph_chart``
- root cause (:mod:`~slo_analysis.viz.rca_charts`): ``template_counts_chart``, ``suspects_table``,
  ``lift_chart``, ``timeline_chart``
- capacity (:mod:`~slo_analysis.viz.capacity`): ``forecast_figure``, ``saturation_figure``,
  ``headroom_figure``, ``staffing_figure``
- overlays for any time chart (:mod:`~slo_analysis.viz.overlays`): ``add_windows``, ``add_deployments``
"""

from slo_analysis.viz.capacity import forecast_figure, headroom_figure, saturation_figure, staffing_figure
from slo_analysis.viz.latency_charts import latency_heatmap, latency_percentiles
from slo_analysis.viz.overlays import ChartDataError, add_deployments, add_windows
from slo_analysis.viz.rca_charts import lift_chart, suspects_table, template_counts_chart, timeline_chart
from slo_analysis.viz.slo_charts import budget_burndown, burn_rate_chart, sli_timeline
from slo_analysis.viz.theme import PALETTE, SEQUENCE, STATUS_COLOURS, TEMPLATE, apply_theme, new_figure, to_display_tz
from slo_analysis.viz.trace_charts import service_graph_chart, trace_waterfall

__all__ = [
    "PALETTE",
    "SEQUENCE",
    "STATUS_COLOURS",
    "TEMPLATE",
    "apply_theme",
    "new_figure",
    "to_display_tz",
    "ChartDataError",
    "add_windows",
    "add_deployments",
    "sli_timeline",
    "budget_burndown",
    "burn_rate_chart",
    "latency_percentiles",
    "latency_heatmap",
    "trace_waterfall",
    "service_graph_chart",
    "template_counts_chart",
    "suspects_table",
    "lift_chart",
    "timeline_chart",
    "forecast_figure",
    "saturation_figure",
    "headroom_figure",
    "staffing_figure",
]
