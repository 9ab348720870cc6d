"""Analyses built on the pure core, applied to a snapshot (or a mapping of frames).

The common entry points are importable from here; each lives in its own module, loaded on first use so
``import slo_analysis.analysis`` stays light (drain3, ruptures and statsmodels load only when needed):

- SLOs: :func:`evaluate_slos`, :func:`status_table` (``slo_evaluation``), :func:`sli_for_slo` (``slo_status``),
  :func:`supported_targets` (``slo_tuning``);
- root cause: :func:`analyze`, :func:`to_json` (``root_cause``), :func:`rank_suspects` (``suspects``),
  :func:`incident_timeline`, :func:`incident_impact` (``impact``);
- evidence: :func:`anomaly_scores`, :func:`change_point_onset` (``anomalies``), :func:`sweep_metrics`
  (``metric_sweep``), :func:`attribution`, :func:`service_attribution`, :func:`exemplars` (``traces``),
  :func:`service_graph`, :func:`critical_path` (``trace_graph``), :func:`mine_templates`,
  :func:`template_changes` (``log_templates``), :func:`dimension_lift` (``dimensions``);
- capacity planning: the ``capacity`` sub-package.

>>> import slo_analysis as sa
>>> sa.analysis.analyze.__module__
'slo_analysis.analysis.root_cause'
"""

from __future__ import annotations

import importlib
from typing import Any

from slo_analysis.analysis.slo_status import (
    FrameSource,
    SliSource,
    frame_of,
    sli_for_slo,
    sli_source,
    slis_for_slos,
    ticket_events_from_logs,
)

_WHERE = {
    "evaluate_slos": "slo_evaluation", "evaluate_slo": "slo_evaluation", "status_table": "slo_evaluation",
    "SloEvaluation": "slo_evaluation", "supported_targets": "slo_tuning",
    "analyze": "root_cause", "analyze_incident": "root_cause", "to_json": "root_cause",
    "IncidentAnalysis": "root_cause", "format_analyses": "root_cause_text",
    "rank_suspects": "suspects", "candidate_changes": "suspects", "verdict": "suspects",
    "incident_timeline": "impact", "incident_impact": "impact",
    "merge_incidents": "incidents", "baseline_window": "incidents",
    "anomaly_scores": "anomalies", "anomalous_windows": "anomalies", "change_point_onset": "anomalies",
    "DEFAULT_THRESHOLD": "anomalies", "sweep_metrics": "metric_sweep",
    "self_times": "traces", "attribution": "traces", "service_attribution": "traces", "exemplars": "traces",
    "service_graph": "trace_graph", "downstream_of": "trace_graph", "critical_path": "trace_graph",
    "slowest_critical_paths": "trace_graph",
    "mine_templates": "log_templates", "template_counts": "log_templates", "template_changes": "log_templates",
    "redact": "log_templates", "TemplateMining": "log_templates", "dimension_lift": "dimensions",
}
_SUBMODULES = {"slo_status", "slo_evaluation", "slo_tuning", "root_cause", "root_cause_text", "suspects", "impact",
               "incidents", "anomalies", "metric_sweep", "traces", "trace_graph", "log_templates", "dimensions",
               "capacity"}

__all__ = ["FrameSource", "SliSource", "frame_of", "sli_for_slo", "sli_source", "slis_for_slos",
           "ticket_events_from_logs", *sorted(_WHERE), *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"slo_analysis.analysis.{_WHERE[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"slo_analysis.analysis.{name}")
    raise AttributeError(f"module 'slo_analysis.analysis' has no attribute {name!r}")
