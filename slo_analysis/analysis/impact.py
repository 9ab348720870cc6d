"""The review's timeline (change, onset, detection, mitigation, recovery) and impact of an incident.

- **change**: the top suspect when a change explains the incident;
- **onset** and **recovery**: the incident window (the first and last period where bad events stood
  above the baseline, refined by :func:`slo_analysis.core.windows.incident_windows`);
- **detection**: the first alarm that went to ALARM between shortly before the onset and the recovery;
- **mitigation**: the first change to the suspect's service (a rollback, a redeploy) after the onset.

Impact per SLO: bad events in the incident (requests, periods or tickets, in the SLI's unit), their
share, and the error budget the incident consumed (the drop of the remaining budget fraction).

Examples
--------
>>> import slo_analysis as sa
>>> from slo_analysis.analysis.root_cause import analyze
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> a = analyze(snap, slos=["CreateTicket-Latency-p99"])[0]
>>> tl = incident_timeline(snap, a)
>>> tl["kind"].to_list()[:3]
['change', 'onset', 'detection']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl

from slo_analysis.analysis.root_cause import IncidentAnalysis
from slo_analysis.analysis.slo_evaluation import SloEvaluation
from slo_analysis.analysis.slo_status import FrameSource, frame_of
from slo_analysis.sources.deployment_merge import merge_deployments

__all__ = ["incident_timeline", "incident_impact", "TIMELINE_KINDS"]

TIMELINE_KINDS = ("change", "onset", "detection", "mitigation", "recovery")
_UTC_MS = pl.Datetime("ms", "UTC")


def incident_timeline(frames: FrameSource, analysis: IncidentAnalysis, *,
                      detection_lead: timedelta = timedelta(minutes=10)) -> pl.DataFrame:
    """The incident's key moments: ``timestamp, kind, label, minutes_from_onset`` in time order."""
    inc = analysis.incident
    rows: list[tuple[datetime, str, str]] = []
    v = analysis.verdict
    suspect = None
    if v.explained and analysis.suspects.height:
        suspect = analysis.suspects.row(0, named=True)
        when = suspect["finished_at"] if suspect["finished_at"] and suspect["finished_at"] <= inc.start \
            else suspect["started_at"]
        rows.append((when, "change", f"{suspect['deployment_id']} {suspect['service']} "
                                     f"{suspect['version_from'] or '?'} -> {suspect['version_to'] or '?'}"
                                     f" by {suspect['actor'] or 'unknown'}"))
    rows.append((inc.start, "onset", f"bad events rise above the baseline ({', '.join(inc.slos)})"))
    alarms = frame_of(frames, "alarms", required=False).filter(
        (pl.col("new_state") == "ALARM") & (pl.col("timestamp") >= inc.start - detection_lead)
        & (pl.col("timestamp") < inc.end)).sort("timestamp").collect()
    if alarms.height:
        a = alarms.row(0, named=True)
        rows.append((a["timestamp"], "detection", f"alarm {a['alarm_name']} went to ALARM"))
    if suspect is not None:
        deps = frame_of(frames, "deployments", required=False).collect()
        if deps.height:
            later = merge_deployments([deps]).filter(
                (pl.col("service") == suspect["service"]) & (pl.col("started_at") > inc.start)
                & (pl.col("id") != suspect["deployment_id"])).sort("started_at")
            if later.height:
                m = later.row(0, named=True)
                rows.append((m["started_at"], "mitigation",
                             f"{m['id']} {m['service']} {m['version_from'] or '?'} -> {m['version_to'] or '?'}"
                             f" by {m['actor'] or 'unknown'}"))
    rows.append((inc.end, "recovery", "bad events back at the baseline"))
    df = pl.DataFrame(rows, schema={"timestamp": _UTC_MS, "kind": pl.String, "label": pl.String}, orient="row")
    return df.sort("timestamp", maintain_order=True).with_columns(
        minutes_from_onset=(pl.col("timestamp") - pl.lit(inc.start).cast(_UTC_MS)).dt.total_seconds() / 60.0)


def incident_impact(analysis: IncidentAnalysis, evaluations: Sequence[SloEvaluation]) -> pl.DataFrame:
    """Per SLO of the incident: ``slo, unit, bad_events, total_events, bad_share, budget_consumed``.

    ``budget_consumed`` is the fraction of the SLO's error budget the incident used: the remaining
    fraction just before the onset minus the remaining fraction at the recovery.
    """
    inc = analysis.incident
    rows = []
    for ev in evaluations:
        if ev.slo.name not in inc.slos:
            continue
        sli = ev.sli.frame.filter((pl.col("timestamp") >= inc.start) & (pl.col("timestamp") < inc.end))
        bad, good = float(sli["bad"].sum()), float(sli["good"].sum())
        before = ev.budget.filter(pl.col("timestamp") < inc.start).tail(1)
        after = ev.budget.filter(pl.col("timestamp") < inc.end).tail(1)
        consumed = None
        if before.height and after.height:
            consumed = float(before["remaining_fraction"][0]) - float(after["remaining_fraction"][0])
        unit = {"period": "periods"}.get(ev.slo.method, "requests")
        if ev.slo.metrics and any("FirstResponse" in (m.metric or "") for m in ev.slo.metrics):
            unit = "tickets"
        rows.append({"slo": ev.slo.name, "unit": unit, "bad_events": bad, "total_events": bad + good,
                     "bad_share": bad / (bad + good) if bad + good else None, "budget_consumed": consumed})
    schema = {"slo": pl.String, "unit": pl.String, "bad_events": pl.Float64, "total_events": pl.Float64,
              "bad_share": pl.Float64, "budget_consumed": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
