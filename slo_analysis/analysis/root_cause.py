"""Root-cause analysis of each incident: what changed, what else went wrong, and where.

:func:`analyze` evaluates the SLOs, merges their incident windows into incidents
(:mod:`~slo_analysis.analysis.incidents`) and, for each, gathers the evidence a reviewer checks:

- the ranked suspects (:mod:`~slo_analysis.analysis.suspects`) and a verdict that says plainly when
  no change explains the incident, naming the leading alternative (load, a dependency);
- the metric sweep: every metric ranked by how far and how early it departed from its baseline;
- traces: self-time and error attribution, the service graph, critical paths, exemplar traces;
- logs: templates new or surging in the incident;
- dimensions: which attribute values are over-represented among bad requests.

:func:`to_json` gives the result as plain JSON with stable keys (documented in ``docs/root-cause.md``).

Examples
--------
>>> import slo_analysis as sa
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> result = analyze(snap, slos=["CreateTicket-Latency-p99"])
>>> first = result[0]
>>> first.verdict.explained, first.suspects["deployment_id"][0]
(True, 'd-7KQ2M4XJB')
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from slo_analysis.analysis.dimensions import dimension_lift
from slo_analysis.analysis.incidents import (
    Incident,
    baseline_window,
    dependency_health,
    hot_edges,
    load_rise_start,
    load_shift,
    merge_incidents,
)
from slo_analysis.analysis.log_templates import TemplateMining, mine_templates, template_changes
from slo_analysis.analysis.metric_sweep import sweep_metrics
from slo_analysis.analysis.slo_evaluation import SloEvaluation, evaluate_slos, snapshot_window
from slo_analysis.analysis.slo_status import FrameSource, frame_of
from slo_analysis.analysis.suspects import (
    ServiceEvidence,
    Verdict,
    candidate_changes,
    metric_shift,
    rank_suspects,
    verdict,
)
from slo_analysis.analysis.trace_graph import downstream_of, service_graph
from slo_analysis.analysis.traces import exemplars, in_window, service_attribution
from slo_analysis.core.model import SLO, slos_from_frame
from slo_analysis.sources.deployment_merge import merge_deployments

__all__ = ["IncidentAnalysis", "analyze", "analyze_incident", "to_json", "JSON_VERSION"]

log = logging.getLogger(__name__)

#: bumped when a key of :func:`to_json` changes meaning or disappears
JSON_VERSION = 1
_SEVERE = ("WARN", "WARNING", "ERROR", "FATAL", "CRITICAL")


@dataclass(frozen=True)
class IncidentAnalysis:
    """Everything the root-cause analysis found for one incident."""

    incident: Incident
    baseline: tuple[datetime, datetime]
    slos: tuple[SLO, ...]
    suspects: pl.DataFrame  # analysis.suspects.SUSPECT_COLUMNS
    verdict: Verdict
    sweep: pl.DataFrame  # analysis.metric_sweep.sweep_metrics
    attribution: pl.DataFrame  # analysis.traces.service_attribution
    service_edges: pl.DataFrame  # analysis.traces.service_graph over baseline and incident
    hot_edges: frozenset[tuple[str, str]]  # edges whose p99 or fault rate grew in the incident
    exemplars: pl.DataFrame  # analysis.traces.exemplars in the incident
    dependencies: pl.DataFrame  # analysis.incidents.dependency_health
    log_changes: pl.DataFrame  # analysis.log_templates.template_changes
    dimensions: pl.DataFrame  # analysis.dimensions.dimension_lift
    notes: tuple[str, ...] = field(default_factory=tuple)


def _bad_expr(slo: SLO) -> pl.Expr:
    """What makes one request bad for ``slo``: slower than its threshold, or a fault."""
    if slo.sli_kind in ("latency", "threshold") and slo.threshold is not None:
        return pl.col("latency_ms") > slo.threshold
    return pl.col("fault")


def analyze_incident(frames: FrameSource, incident: Incident, slos: Sequence[SLO], *,
                     data_window: tuple[datetime, datetime], lookback: timedelta = timedelta(hours=24),
                     mining: TemplateMining | None = None) -> IncidentAnalysis:
    """Gather the evidence for one incident (see the module docstring)."""
    notes: list[str] = []
    baseline = baseline_window(incident, data_window)
    both = (min(baseline[0], incident.start), incident.end)
    slo_services = [s.service for s in slos if s.service]

    spans = frame_of(frames, "spans", required=False).filter(in_window("start", both)).collect()
    edges = service_graph(spans)
    attribution = service_attribution(spans, incident.window, baseline)
    deps = dependency_health(spans, incident.window, baseline)
    examples = exemplars(spans, incident.window)
    hot: set[tuple[str, str]] = set()
    path: set[str] | None = None  # unknown without traces
    if spans.is_empty():
        notes.append("no traces in the snapshot: topology and trace attribution are unknown")
    else:
        hot = hot_edges(service_graph(spans, incident.window), service_graph(spans, baseline))
        path = set(slo_services)
        for s in slo_services:
            path |= downstream_of(edges, s)
    shared = deps.filter(pl.col("shared") & pl.col("degraded"))

    logs = frame_of(frames, "logs", required=False).filter(in_window("timestamp", both))
    if mining is None:
        mining = mine_templates(logs.collect())
    changes = template_changes(mining, incident.window, baseline)
    severe = changes.filter(pl.col("significant") & pl.col("level").str.to_uppercase().is_in(_SEVERE))

    metrics = frame_of(frames, "metrics", required=False)
    deployments = frame_of(frames, "deployments", required=False).collect()
    if deployments.height:
        deployments = merge_deployments([deployments])
    candidates = candidate_changes(deployments, incident.start, lookback=lookback)

    evidence: dict[str, ServiceEvidence] = {}
    for d in candidates.iter_rows(named=True):
        svc = d["service"]
        if svc in evidence:
            continue
        changed = d["started_at"]
        effective = min(d["finished_at"] or changed, incident.start)
        shift = metric_shift(metrics, svc, (changed - timedelta(hours=1), changed),
                             (effective, min(effective + timedelta(hours=2), incident.end)))
        attr = attribution.filter(pl.col("service") == svc)
        svc_templates = severe.filter(pl.col("service") == svc)["template"].to_list()
        called = deps.filter(pl.col("caller") == svc)["dependency"].to_list()
        svc_shared = [name for name in shared["dependency"].unique().to_list() if name in called]
        evidence[svc] = ServiceEvidence(
            on_path=None if path is None else svc in path,
            metric_effect=None if shift is None else shift[0],
            metric_p_value=None if shift is None else shift[1],
            metric_name="latency" if shift is None else shift[2],
            self_share_delta=float(attr["self_share_delta"][0]) if attr.height else (None if path is None else 0.0),
            error_share_delta=float(attr["error_share_delta"][0]) if attr.height else None,
            shared_dependency=svc_shared[0] if svc_shared else None,
            new_templates=tuple(svc_templates) if mining.events.height else None,
        )
    front = slo_services[0] if slo_services else None
    requests_lf = frame_of(frames, "requests", required=False)
    load = load_shift(requests_lf, incident, data_window, service=front)
    load_began = None
    if load is not None and load[0] >= 1.5:
        load_began = load_rise_start(requests_lf, incident, data_window, service=front)
    suspects = rank_suspects(candidates, incident.start, evidence, load_began=load_began)

    # the leading dependency: one that degraded for several callers (or throttled), else any that degraded
    degraded = shared if shared.height else deps.filter(pl.col("degraded")).sort("duration_ratio", descending=True)
    dep_name = degraded["dependency"][0] if degraded.height else None
    dep_sentence = None
    if dep_name is not None:
        rows = degraded.filter(pl.col("dependency") == dep_name)
        callers = ", ".join(rows["caller"].to_list())
        ratio = float(rows["duration_ratio"].max() or 0.0)  # type: ignore[arg-type]
        failing = float(rows["failing_delta"].max() or 0.0)  # type: ignore[arg-type]
        dep_sentence = (f"calls to {dep_name} degraded for {callers} (mean duration {ratio:.1f}x, failing share "
                        f"{failing:+.0%})")
    result = verdict(suspects, load_ratio=None if load is None else load[0],
                     load_evidence=None if load is None else load[1], dependency=dep_name,
                     dependency_evidence=dep_sentence)

    week_before = (both[0] - timedelta(days=7), both[1])  # the sweep's seasonal baseline needs history
    sweep = sweep_metrics(metrics.filter(in_window("timestamp", week_before)), incident.window)

    lift = pl.DataFrame()
    requests = frame_of(frames, "requests", required=False).filter(in_window("timestamp", both)).collect()
    served = set(requests["service"].unique().to_list()) if requests.height else set()
    for slo in slos:  # the first SLO whose service's requests are in the frame
        if slo.service is None or slo.service not in served:
            continue
        lift = dimension_lift(requests, incident.window, baseline, bad=_bad_expr(slo), service=slo.service,
                              operation=slo.operation, trace_attributes=True)
        break
    return IncidentAnalysis(incident, baseline, tuple(slos), suspects, result, sweep, attribution, edges,
                            frozenset(hot), examples, deps, changes, lift, tuple(notes))


def analyze(frames: FrameSource, *, slos: Sequence[str] | None = None,
            window: tuple[datetime, datetime] | None = None,
            evaluations: Sequence[SloEvaluation] | None = None) -> list[IncidentAnalysis]:
    """Root-cause analysis of every incident of the SLOs named in ``slos`` (default: all) in ``window``.

    ``evaluations`` (from :func:`~slo_analysis.analysis.slo_evaluation.evaluate_slos`) can be passed when
    the caller already has them.
    """
    data_window = window or snapshot_window(frames)
    if evaluations is None:
        all_slos = slos_from_frame(frame_of(frames, "slos", required=False).collect())
        chosen = [s for s in all_slos if slos is None or s.name in slos]
        evaluations = evaluate_slos(frames, chosen, data_window)
    elif slos is not None:
        evaluations = [e for e in evaluations if e.slo.name in slos]
    by_name = {e.slo.name: e.slo for e in evaluations}
    windows = [e.incidents.select("start", "end").with_columns(slo=pl.lit(e.slo.name)) for e in evaluations
               if e.incidents.height]
    if not windows:
        return []
    incidents = merge_incidents(pl.concat(windows))
    # one mining run for every incident (template ids are then comparable), from a day before the first
    span = (min(i.start for i in incidents) - timedelta(days=1), max(i.end for i in incidents))
    mining = mine_templates(frame_of(frames, "logs", required=False).filter(in_window("timestamp", span)).collect())
    return [analyze_incident(frames, inc, [by_name[n] for n in inc.slos], data_window=data_window, mining=mining)
            for inc in incidents]


def _iso(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


def _records(df: pl.DataFrame, columns: Sequence[str], limit: int | None = None) -> list[dict[str, Any]]:
    present = [c for c in columns if c in df.columns]
    rows = df.select(present).head(limit) if limit else df.select(present)
    return [{k: _iso(v) for k, v in r.items()} for r in rows.iter_rows(named=True)]


def to_json(analyses: Sequence[IncidentAnalysis]) -> dict[str, Any]:
    """The analyses as JSON-ready data with stable keys (``docs/root-cause.md`` documents each)."""
    out = []
    for a in analyses:
        v = a.verdict
        out.append({
            "id": a.incident.id,
            "start": _iso(a.incident.start),
            "end": _iso(a.incident.end),
            "duration_s": a.incident.duration.total_seconds(),
            "slos": list(a.incident.slos),
            "baseline": {"start": _iso(a.baseline[0]), "end": _iso(a.baseline[1])},
            "verdict": {"explained": v.explained, "deployment_id": v.deployment_id, "service": v.service,
                        "statement": v.statement, "alternative": v.alternative,
                        "alternative_evidence": v.alternative_evidence},
            "suspects": _records(a.suspects, [
                "rank", "deployment_id", "service", "source", "actor", "version_from", "version_to", "started_at",
                "finished_at", "minutes_before_onset", "on_path", "timing_score", "metric_score", "trace_score",
                "log_score", "score", "evidence"]),
            "metric_sweep": _records(a.sweep, ["rank", "namespace", "metric", "dimensions", "stat", "departure",
                                               "direction", "first_anomalous_at"], limit=10),
            "trace_attribution": _records(a.attribution, list(a.attribution.columns), limit=10),
            "hot_edges": [{"caller": c, "callee": d} for c, d in sorted(a.hot_edges)],
            "dependencies": _records(a.dependencies, ["dependency", "caller", "duration_ratio", "failing_delta",
                                                      "degraded", "shared"]),
            "log_templates": _records(a.log_changes.filter(pl.col("significant")) if a.log_changes.height
                                      else a.log_changes, ["template", "service", "level", "baseline_count",
                                                           "incident_count", "is_new", "p_value"], limit=10),
            "dimensions": _records(a.dimensions.filter(pl.col("significant")) if a.dimensions.height
                                   else a.dimensions, ["dimension", "value", "lift", "bad_count", "p_value"],
                                   limit=10),
            "exemplar_traces": _records(a.exemplars, ["trace_id", "kind", "duration_ms"]),
            "notes": list(a.notes),
        })
    return {"version": JSON_VERSION, "incidents": out}
