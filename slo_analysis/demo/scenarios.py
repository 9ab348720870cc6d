"""Incident scenarios for the root-cause accuracy benchmark, simulated in memory as canonical frames.

:func:`scenario_suite` gives a deterministic, varied list of :class:`Scenario` (deployment-caused
incidents of every fault kind on four services, traffic surges, dependency outages; decoy deployments
before and after the onset, on and off the request path). :func:`simulate_scenario` draws three days
of the demo platform's traffic at 1-minute resolution around one of them and returns the frames an
analysis reads (``requests``, ``spans``, ``logs``, ``metrics``, ``deployments``, ``slos``), each
validated against :mod:`slo_analysis.frames`, plus the ground truth (which the analysis must not read).

The simulation reuses the demo's topology, constants, id helpers and traffic shape (see
:mod:`slo_analysis.demo.scenario_traffic`); nothing is written to disk.

Examples
--------
>>> suite = scenario_suite()
>>> len(suite), sorted({s.cause for s in suite})
(24, ['dependency', 'deployment', 'surge'])
>>> data = simulate_scenario(suite[0])
>>> sorted(data.frames)
['deployments', 'logs', 'metrics', 'requests', 'slos', 'spans']
>>> data.truth["cause"], data.truth["culprit_deployment_id"] in data.frames["deployments"]["id"].to_list()
('deployment', True)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from slo_analysis.demo.scenario_frames import (
    deployments_frame,
    hops,
    metrics_frame,
    requests_frame,
    slo_kind,
    slos_frame,
    spans_frame,
)
from slo_analysis.demo.scenario_logs import logs_frame
from slo_analysis.demo.scenario_plan import plan_changes
from slo_analysis.demo.scenario_spec import CAUSES, DEPENDENCIES, FAULTS, Decoy, Scenario, ScenarioError
from slo_analysis.demo.scenario_traffic import simulate_traffic

__all__ = ["Scenario", "Decoy", "ScenarioError", "ScenarioData", "scenario_suite", "simulate_scenario",
           "CAUSES", "FAULTS", "DEPENDENCIES"]

logger = logging.getLogger(__name__)

_CULPRITS = ("routing-service", "ticket-api", "kb-search", "support-web")
#: the SLO a culprit's fault breaches: (service, operation) per culprit
_SLO_OF = {"routing-service": ("ticket-api", "CreateTicket"), "ticket-api": ("ticket-api", "CreateTicket"),
           "kb-search": ("kb-search", "SearchArticles"), "support-web": ("support-web", "GET /tickets/{id}")}
_DEP_SLO = {"dynamodb": ("ticket-api", "CreateTicket", "errors"),
            "kb-opensearch": ("kb-search", "SearchArticles", "latency"),
            "aurora-prod": ("ticket-api", "CreateTicket", "latency")}
# the services on each SLO's request path (a decoy there is a plausible suspect)
_PATH = {"ticket-api": ("support-web", "ticket-api", "routing-service"), "kb-search": ("support-web", "kb-search"),
         "support-web": ("support-web", "ticket-api")}
_ALL = ("support-web", "ticket-api", "routing-service", "kb-search", "notify-worker")
_BASE_DAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class ScenarioData:
    """A simulated scenario: canonical frames, the ground truth, and how long the simulation took."""

    scenario: Scenario
    frames: dict[str, pl.DataFrame]
    truth: dict[str, Any]
    seconds: float


def _decoys(rng: np.random.Generator, pattern: int, path: tuple[str, ...], culprit: str | None,
            limit: int) -> tuple[Decoy, ...]:
    """Decoy deployments by pattern: none; shortly after on the path; shortly before off the path; mixes."""
    on_path = [s for s in path if s != culprit] or ["support-web"]
    off_path = [s for s in _ALL if s not in path and s != culprit]

    def mins(a: int, b: int) -> timedelta:
        return timedelta(minutes=int(rng.integers(a, b)))

    def pick(xs: list[str]) -> str:
        return xs[int(rng.integers(0, len(xs)))]

    options: list[list[Decoy]] = [
        [],
        [Decoy(pick(on_path), mins(2, 12))],
        [Decoy(pick(off_path), -mins(8, 30))],
        [Decoy(pick(off_path), -mins(8, 30)), Decoy(pick(on_path), mins(2, 12))],
        [Decoy(pick(on_path), -mins(150, 600)), Decoy(pick(off_path), mins(15, 60)),
         Decoy(pick(on_path), -mins(5, 25))],
        [Decoy(pick(on_path), -mins(30, 90)), Decoy(pick(off_path), mins(3, 15))],
    ]
    chosen = options[pattern % len(options)][:limit]
    # a decoy of the culprit service must be long before it (the culprit's version chain stays simple)
    return tuple(d for d in chosen if d.service != culprit or d.offset < -timedelta(hours=3))


def scenario_suite(n: int = 24, seed: int = 7) -> list[Scenario]:
    """A deterministic, varied list of ``n`` scenarios (``n >= 3``).

    About two thirds are deployment-caused, cycling through the culprit services (routing-service,
    ticket-api, kb-search, support-web) and the three fault kinds, with 0-3 decoys in six patterns
    (including one deployed shortly after the onset on the request path and one shortly before it off
    the path). The rest are split between surges (2-3x traffic, no change; ticket-api or kb-search
    saturates) and dependency outages (DynamoDB throttling, slow kb-opensearch, slow aurora-prod), each
    with 0-2 benign decoys close to the onset. For ``n = 24``: 16, 4 and 4.
    """
    if n < 3:
        raise ScenarioError(f"suite(n={n})", "n", "a suite needs at least 3 scenarios (one per cause)")
    rng = np.random.default_rng(seed)
    n_surge = n_dep = max(1, round(n / 6))
    n_deploy = n - n_surge - n_dep
    causes = ["deployment"] * n_deploy + ["surge"] * n_surge + ["dependency"] * n_dep
    out: list[Scenario] = []
    counts = {c: 0 for c in CAUSES}
    for i, cause in enumerate(causes):
        k = counts[cause]
        counts[cause] += 1
        start = _BASE_DAY + timedelta(weeks=i, days=int(rng.integers(0, 3)))
        day = int(rng.integers(1, 3))
        onset = start + timedelta(days=day, hours=int(rng.integers(10, 15)), minutes=int(rng.integers(0, 60)),
                                  seconds=int(rng.integers(0, 60)))
        duration = timedelta(minutes=int(rng.integers(35, 110)))
        mag = float(np.round(rng.uniform(0.8, 1.25), 2))
        common: dict[str, Any] = {"seed": int(seed * 1000 + i), "onset": onset, "duration": duration,
                                  "start": start, "magnitude": mag,
                                  "latency_method": "request" if i % 3 == 2 else "period"}
        if cause == "deployment":
            culprit = _CULPRITS[k % 4]
            fault = FAULTS[(k + k // 4) % 3]  # every culprit meets every fault within 12 scenarios
            svc, op = _SLO_OF[culprit]
            if culprit == "ticket-api" and fault != "exhaustion" and k % 8 == 5:
                op = "GetTicket"
            gap = timedelta(minutes=int(rng.integers(0, 21)), seconds=int(rng.integers(0, 60)))
            gap = min(gap, timedelta(minutes=20))
            decoys = _decoys(rng, k, _PATH[svc], culprit, 3)
            out.append(Scenario(name=f"{i:02d}-deploy-{culprit}-{fault}", cause=cause, culprit_service=culprit,
                                fault=fault, decoys=decoys, slo_service=svc, slo_operation=op, deploy_gap=gap,
                                **common))
        elif cause == "surge":
            svc, op = (("ticket-api", "CreateTicket"), ("kb-search", "SearchArticles"))[k % 2]
            factor = float(np.round(rng.uniform(2.0, 3.0), 2))
            decoys = _decoys(rng, (1, 3, 2, 0)[k % 4], _PATH[svc], None, 2)
            common["duration"] = timedelta(minutes=int(rng.integers(80, 150)))
            out.append(Scenario(name=f"{i:02d}-surge-{svc}", cause=cause, culprit_service=None, fault=None,
                                decoys=decoys, slo_service=svc, slo_operation=op, surge_factor=factor, **common))
        else:
            dep = tuple(DEPENDENCIES)[k % 3]
            svc, op, symptom = _DEP_SLO[dep]
            # the calling service keeps its version: the outage is not a change of it
            decoys = _decoys(rng, (3, 1, 2, 0)[k % 4], _PATH[svc], DEPENDENCIES[dep], 2)
            out.append(Scenario(name=f"{i:02d}-dependency-{dep}", cause=cause, culprit_service=None, fault=symptom,
                                decoys=decoys, slo_service=svc, slo_operation=op, dependency=dep, **common))
    return out


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def simulate_scenario(s: Scenario) -> ScenarioData:
    """Simulate ``s``: canonical, validated frames and the ground truth. Same scenario, same frames.

    ``truth`` holds ``cause``, ``culprit_deployment_id`` (None unless a deployment caused it),
    ``culprit_service``, ``fault``, ``dependency``, ``onset`` and ``end`` (UTC datetimes),
    ``rollback_deployment_id``, ``decoy_deployment_ids``, ``slo_name``, ``slo_service`` and
    ``slo_operation``.
    """
    t0 = time.perf_counter()
    r_plan, r_spans, r_logs = np.random.default_rng(s.seed).spawn(3)
    plan = plan_changes(s, r_plan)
    traffic = simulate_traffic(s, plan, seed=s.seed)
    h = hops(traffic)
    out = {
        "requests": requests_frame(h, plan.end_ms),
        "spans": spans_frame(traffic, s, plan, r_spans),
        "logs": logs_frame(s, plan, traffic, h, r_logs),
        "metrics": metrics_frame(h, traffic, plan),
        "deployments": deployments_frame(plan),
        "slos": slos_frame(s, plan),
    }
    culprit = next(iter(plan.of_role("culprit")), None)
    rollback = next(iter(plan.of_role("rollback")), None)
    truth: dict[str, Any] = {
        "scenario": s.name,
        "cause": s.cause,
        "culprit_deployment_id": None if culprit is None else culprit.id,
        "culprit_service": s.culprit_service,
        "fault": s.fault,
        "dependency": s.dependency,
        "onset": _dt(plan.onset_ms),
        "end": _dt(plan.incident_end_ms),
        "rollback_deployment_id": None if rollback is None else rollback.id,
        "decoy_deployment_ids": [d.id for d in plan.of_role("decoy")],
        "slo_name": out["slos"]["name"][0],
        "slo_kind": slo_kind(s),
        "slo_service": s.slo_service,
        "slo_operation": s.slo_operation,
    }
    seconds = time.perf_counter() - t0
    logger.info("scenario %s simulated in %.2f s (%d requests)", s.name, seconds, out["requests"].height)
    return ScenarioData(scenario=s, frames=out, truth=truth, seconds=seconds)
