"""Deployment correlation: rank the changes before an incident's onset by the evidence against each.

For every candidate change (a deployment or config change that started in the look-back before the
onset), five pieces of evidence, each a number in [0, 1] with a sentence a reviewer can check:

``timing``
    1 when the change was still rolling out at the onset, else ``exp(-gap / 45 min)`` for a change that
    finished ``gap`` before it: a bad change shows within minutes of reaching traffic.
``path``
    whether the changed service sits on the failing SLO's request path (the SLO's service or one it
    calls, from the spans' service graph). Off the path the score is scaled by 0.25; unknown (no
    traces) by 0.6.
``metrics``
    the changed service's own latency and fault rate in the hour before the change against the time
    from the change to the incident's end (at most two hours): a one-sided Mann-Whitney U test and its
    effect size (the rank-biserial correlation, in [-1, 1]); the evidence is the effect when p < 0.01.
``traces``
    the growth of the service's share of trace time (self-time, including calls to dependencies only it
    uses) or of its error share, incident against baseline; growth in a dependency that degraded for
    other callers as well is the dependency's, not the change's.
``logs``
    log templates from the service that are new or surging in the incident (significant, WARN or worse).

The score is ``sqrt(timing) * path * (0.35 metrics + 0.40 traces + 0.25 logs)``: timing and topology
gate, the three observations weigh. Two discounts keep a bystander from taking the blame: symptoms that
sit in a dependency which degraded for other callers too weigh less (traces x0.3, metrics and logs x0.5),
and a change that reached traffic after a load rise, or within 15 minutes before it, scores x0.3. When
no candidate reaches :data:`EXPLAIN_THRESHOLD`, the verdict says that no deployment explains the
incident, and names the leading alternative (``docs/root-cause.md``).

Examples
--------
>>> from datetime import UTC, datetime
>>> import polars as pl
>>> onset = datetime(2026, 11, 11, 14, 7, tzinfo=UTC)
>>> deps = pl.DataFrame({"id": ["d-1", "d-2"], "service": ["routing-service", "kb-search"],
...     "started_at": [datetime(2026, 11, 11, 13, 58, tzinfo=UTC), datetime(2026, 11, 10, 16, 38, tzinfo=UTC)],
...     "finished_at": [datetime(2026, 11, 11, 14, 6, tzinfo=UTC), datetime(2026, 11, 10, 16, 44, tzinfo=UTC)]})
>>> ev = {"routing-service": ServiceEvidence(on_path=True, metric_effect=0.9, metric_p_value=1e-9,
...                                          self_share_delta=0.4, new_templates=("WARN slow query on <*>",)),
...       "kb-search": ServiceEvidence(on_path=False)}
>>> table = rank_suspects(candidate_changes(deps, onset), onset, ev)
>>> table.select("rank", "deployment_id", "service").rows()
[(1, 'd-1', 'routing-service'), (2, 'd-2', 'kb-search')]
>>> round(table["score"][0], 2), table["score"][1]
(0.95, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

__all__ = [
    "EXPLAIN_THRESHOLD",
    "ServiceEvidence",
    "Verdict",
    "candidate_changes",
    "metric_shift",
    "rank_suspects",
    "verdict",
    "SUSPECT_COLUMNS",
]

#: a candidate explains the incident when its score reaches this (documented in docs/root-cause.md)
EXPLAIN_THRESHOLD = 0.45
_TIMING_TAU = timedelta(minutes=45)
_PATH_FACTOR = {True: 1.0, False: 0.25, None: 0.6}
_WEIGHTS = {"metrics": 0.35, "traces": 0.40, "logs": 0.25}
_ALPHA = 0.01
_LOAD_SLACK = timedelta(minutes=15)  # a load rise found within this of a change coincides with it

SUSPECT_COLUMNS = [
    "rank", "deployment_id", "service", "source", "actor", "version_from", "version_to", "started_at", "finished_at",
    "minutes_before_onset", "on_path", "timing_score", "metric_score", "metric_effect", "metric_p_value",
    "trace_score", "self_share_delta", "error_share_delta", "log_score", "new_templates", "score", "evidence",
]


@dataclass(frozen=True)
class ServiceEvidence:
    """What the incident's data say about one service (the same for every change to it).

    ``None`` means "not measured" (no traces, no logs): it counts as no evidence, and the sentence says so.
    """

    on_path: bool | None = None
    metric_effect: float | None = None  # rank-biserial correlation, after > before is positive
    metric_p_value: float | None = None
    metric_name: str = "latency"
    self_share_delta: float | None = None  # change in the service's share of trace time
    error_share_delta: float | None = None  # change in the share of the service's spans that fault or error
    shared_dependency: str | None = None  # a dependency of this service that degraded for other callers too
    new_templates: tuple[str, ...] | None = None  # significant new or surging WARN/ERROR templates


@dataclass(frozen=True)
class Verdict:
    """Whether a change explains the incident, and if not, what does."""

    explained: bool
    deployment_id: str | None
    service: str | None
    statement: str
    alternative: str | None = None  # "load", "dependency:<name>", or None when a change explains it
    alternative_evidence: str | None = None
    details: dict[str, float] = field(default_factory=dict)


def candidate_changes(deployments: pl.DataFrame, onset: datetime, *, lookback: timedelta = timedelta(hours=24),
                      grace: timedelta = timedelta(minutes=2)) -> pl.DataFrame:
    """Changes that could have caused an incident starting at ``onset``.

    A candidate started before ``onset + grace`` (the onset is known to the minute, a deployment to the
    second) and was still rolling out, or finished, within ``lookback`` before the onset. Rollbacks of
    an earlier change are kept (a rollback can break things too) but a change that started after the
    onset cannot have caused it.
    """
    if deployments.is_empty():
        return deployments
    finished = pl.coalesce("finished_at", "started_at")
    return deployments.filter(
        (pl.col("started_at") <= onset + grace) & (finished >= onset - lookback)
    ).sort("started_at")


def _rank_biserial(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """(effect, one-sided p) of ``after`` > ``before``: Mann-Whitney U and the rank-biserial correlation."""
    if before.size < 5 or after.size < 5:
        return 0.0, 1.0
    res = stats.mannwhitneyu(after, before, alternative="greater")
    effect = 2.0 * float(res.statistic) / (before.size * after.size) - 1.0
    return effect, float(res.pvalue)


def metric_shift(metrics: pl.DataFrame | pl.LazyFrame, service: str, before: tuple[datetime, datetime],
                 after: tuple[datetime, datetime]) -> tuple[float, float, str] | None:
    """The strongest rise of ``service``'s own per-minute latency or fault rate from ``before`` to ``after``.

    Reads ``ApplicationSignals`` ``Latency`` (p99, else Average; the worst operation per minute) and
    ``Fault`` over ``Latency`` ``SampleCount`` (the fault rate). Returns ``(effect, p_value, metric)`` of the
    metric with the larger significant effect, or ``None`` when the service has no such metrics.
    """
    lf = metrics.lazy().filter(
        (pl.col("namespace") == "ApplicationSignals")
        & pl.col("dimensions").str.contains(f"Service={service}", literal=True)
        & (pl.col("timestamp") >= before[0]) & (pl.col("timestamp") < after[1])
        & pl.col("dimensions").str.contains("RemoteService", literal=True).not_()
    )
    df = lf.select("timestamp", "metric", "stat", "value").collect()
    if df.is_empty():
        return None
    series: dict[str, pl.DataFrame] = {}
    lat = df.filter((pl.col("metric") == "Latency") & (pl.col("stat") == "p99"))
    if lat.is_empty():
        lat = df.filter((pl.col("metric") == "Latency") & (pl.col("stat") == "Average"))
    if not lat.is_empty():
        series["latency"] = lat.group_by("timestamp").agg(pl.col("value").max())
    faults = df.filter((pl.col("metric") == "Fault") & (pl.col("stat") == "Sum")).group_by("timestamp").agg(
        pl.col("value").sum().alias("faults"))
    count = df.filter((pl.col("metric") == "Latency") & (pl.col("stat") == "SampleCount")).group_by(
        "timestamp").agg(pl.col("value").sum().alias("n"))
    if not faults.is_empty() and not count.is_empty():
        series["fault rate"] = faults.join(count, on="timestamp").select(
            "timestamp", value=pl.col("faults") / pl.col("n").clip(lower_bound=1.0))
    best: tuple[float, float, str] | None = None
    for name, s in series.items():
        b = s.filter((pl.col("timestamp") >= before[0]) & (pl.col("timestamp") < before[1]))["value"].to_numpy()
        a = s.filter((pl.col("timestamp") >= after[0]) & (pl.col("timestamp") < after[1]))["value"].to_numpy()
        effect, p = _rank_biserial(b, a)
        candidate = (effect, p, name)
        if best is None or (p < _ALPHA and (best[1] >= _ALPHA or effect > best[0])) or (
                best[1] >= _ALPHA and p < best[1]):
            best = candidate
    return best


def _timing(started: datetime, finished: datetime | None, onset: datetime) -> tuple[float, float]:
    """(score, minutes from the change's completion to the onset; negative while still rolling out)."""
    end = finished if finished is not None else started
    gap_min = (onset - end).total_seconds() / 60.0
    if end >= onset:
        return 1.0, gap_min
    return math.exp(-(onset - end) / _TIMING_TAU), gap_min


def _trace_score(ev: ServiceEvidence) -> float:
    self_part = max(0.0, ev.self_share_delta or 0.0) / 0.15
    error_part = max(0.0, ev.error_share_delta or 0.0) / 0.05
    score = min(1.0, max(self_part, error_part))
    return score * (0.3 if ev.shared_dependency else 1.0)


def _metric_score(ev: ServiceEvidence) -> float:
    if ev.metric_effect is None or ev.metric_p_value is None or ev.metric_p_value >= _ALPHA:
        return 0.0
    return max(0.0, min(1.0, ev.metric_effect))


def _log_score(ev: ServiceEvidence) -> float:
    return min(1.0, len(ev.new_templates or ()) / 1.0)


def _sentence(row: Mapping[str, object], ev: ServiceEvidence, onset: datetime) -> str:
    parts = []
    gap = float(row["minutes_before_onset"])  # type: ignore[arg-type]
    if gap < 0:
        parts.append("still rolling out at the onset")
    else:
        parts.append(f"finished {_duration(gap)} before the onset")
    parts.append({True: "on the SLO's request path", False: "not on the SLO's request path",
                  None: "request path unknown (no traces)"}[ev.on_path])
    if ev.metric_effect is None:
        parts.append("no own metrics")
    elif ev.metric_p_value is not None and ev.metric_p_value < _ALPHA and ev.metric_effect > 0:
        parts.append(f"its {ev.metric_name} rose after the change (effect {ev.metric_effect:.2f}, "
                     f"p={ev.metric_p_value:.1g})")
    else:
        parts.append(f"its {ev.metric_name} did not rise significantly after the change")
    if ev.self_share_delta is None:
        parts.append("no traces")
    else:
        share = f"its share of trace time {ev.self_share_delta:+.0%}"
        if (ev.error_share_delta or 0.0) > 0.005:
            share += f", error share {ev.error_share_delta:+.1%}"
        parts.append(share)
    if ev.shared_dependency:
        parts.append(f"but {ev.shared_dependency} degraded for other callers too")
    if ev.new_templates is None:
        parts.append("no logs")
    elif ev.new_templates:
        shown = "; ".join(f'"{t}"' for t in ev.new_templates[:2])
        parts.append(f"{len(ev.new_templates)} new or surging log template(s): {shown}")
    else:
        parts.append("no new log templates")
    return "; ".join(parts) + "."


def _duration(minutes: float) -> str:
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def rank_suspects(candidates: pl.DataFrame, onset: datetime, evidence: Mapping[str, ServiceEvidence], *,
                  load_began: datetime | None = None) -> pl.DataFrame:
    """Score and rank ``candidates`` (from :func:`candidate_changes`) with the per-service ``evidence``.

    ``load_began`` is when traffic rose above its usual level before the incident: a change that reached
    traffic after that, or within 15 minutes before it (the rise is found on 10-minute buckets), cannot be
    told apart from the load, so its score is scaled by 0.3.
    Returns one row per candidate with :data:`SUSPECT_COLUMNS`, best first (ties: the later change first).
    """
    rows = []
    for d in candidates.iter_rows(named=True):
        ev = evidence.get(d["service"], ServiceEvidence())
        timing, gap = _timing(d["started_at"], d.get("finished_at"), onset)
        metric, trace, logs = _metric_score(ev), _trace_score(ev), _log_score(ev)
        if ev.shared_dependency:  # the symptoms are the dependency's: they weigh less for the change
            metric, logs = 0.5 * metric, 0.5 * logs
        observed = _WEIGHTS["metrics"] * metric + _WEIGHTS["traces"] * trace + _WEIGHTS["logs"] * logs
        score = math.sqrt(timing) * _PATH_FACTOR[ev.on_path] * observed
        reached = min(d.get("finished_at") or d["started_at"], onset)
        after_load = load_began is not None and load_began < reached + _LOAD_SLACK
        if after_load:
            score *= 0.3
        row = {
            "deployment_id": d["id"], "service": d["service"], "source": d.get("source"), "actor": d.get("actor"),
            "version_from": d.get("version_from"), "version_to": d.get("version_to"),
            "started_at": d["started_at"], "finished_at": d.get("finished_at"), "minutes_before_onset": gap,
            "on_path": ev.on_path, "timing_score": timing, "metric_score": metric,
            "metric_effect": ev.metric_effect, "metric_p_value": ev.metric_p_value, "trace_score": trace,
            "self_share_delta": ev.self_share_delta, "error_share_delta": ev.error_share_delta,
            "log_score": logs, "new_templates": list(ev.new_templates or ()), "score": score,
        }
        row["evidence"] = _sentence(row, ev, onset)
        if after_load:
            row["evidence"] = row["evidence"][:-1] + "; but traffic rose at the same time or before it."
        rows.append(row)
    schema: dict[str, Any] = {
        "deployment_id": pl.String, "service": pl.String, "source": pl.String, "actor": pl.String,
        "version_from": pl.String, "version_to": pl.String, "started_at": pl.Datetime("ms", "UTC"),
        "finished_at": pl.Datetime("ms", "UTC"), "minutes_before_onset": pl.Float64, "on_path": pl.Boolean,
        "timing_score": pl.Float64, "metric_score": pl.Float64, "metric_effect": pl.Float64,
        "metric_p_value": pl.Float64, "trace_score": pl.Float64, "self_share_delta": pl.Float64,
        "error_share_delta": pl.Float64, "log_score": pl.Float64, "new_templates": pl.List(pl.String),
        "score": pl.Float64, "evidence": pl.String,
    }
    table = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    table = table.sort(["score", "started_at"], descending=[True, True])
    return table.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64)).select(
        SUSPECT_COLUMNS)


def verdict(suspects: pl.DataFrame, *, load_ratio: float | None = None, load_evidence: str | None = None,
            dependency: str | None = None, dependency_evidence: str | None = None,
            threshold: float = EXPLAIN_THRESHOLD) -> Verdict:
    """Whether the top suspect explains the incident; otherwise the leading alternative.

    ``load_ratio`` is the incident's request rate over its seasonal baseline; ``dependency`` names a
    dependency that degraded for several callers. The alternative is the dependency when there is one,
    else load when the rate rose by half or more, else unknown.
    """
    details: dict[str, float] = {}
    if load_ratio is not None:
        details["load_ratio"] = load_ratio
    top = suspects.row(0, named=True) if suspects.height else None
    if top is not None:
        details["top_score"] = float(top["score"])
    if top is not None and top["score"] >= threshold:
        statement = (f"Deployment {top['deployment_id']} of {top['service']} "
                     f"({top['version_from'] or '?'} -> {top['version_to'] or '?'}) is the likely cause "
                     f"(score {top['score']:.2f}): {top['evidence']}")
        return Verdict(True, top["deployment_id"], top["service"], statement, details=details)
    if dependency:
        alternative, alt_evidence = f"dependency:{dependency}", dependency_evidence or f"{dependency} degraded"
    elif load_ratio is not None and load_ratio >= 1.5:
        alternative, alt_evidence = "load", load_evidence or f"request rate {load_ratio:.1f}x its baseline"
    else:
        alternative, alt_evidence = None, "neither load nor a shared dependency moved; look at the metric sweep"
    best = (f" The strongest candidate, {top['deployment_id']} of {top['service']}, scores only "
            f"{top['score']:.2f}." if top is not None else " There was no change in the look-back.")
    lead = f"The leading alternative is {alternative or 'unknown'}"
    statement = f"No deployment explains this incident.{best} {lead}: {alt_evidence}."
    return Verdict(False, None, None, statement, alternative, alt_evidence, details)

