"""The change timeline of a benchmark scenario: every deployment, the versions and ECS tasks they start.

Routine deployments (seeded, kept away from the incident), the scenario's decoys, the culprit (its new
version takes traffic ``deploy_gap`` before the onset) and the culprit's rollback (finishing at the
incident's end). A deployment rolls out gradually: between its start and its finish a growing share
of requests reaches the new version's tasks.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> from slo_analysis.demo.scenario_spec import Decoy, Scenario
>>> s = Scenario("x", 3, "deployment", "kb-search", "errors", datetime(2026, 11, 4, 14, tzinfo=UTC),
...              timedelta(minutes=40), (Decoy("ticket-api", timedelta(minutes=5)),), "kb-search", "SearchArticles")
>>> plan = plan_changes(s, np.random.default_rng(0))
>>> [(d.role, d.version_from, d.version_to) for d in plan.deploys if d.service == "kb-search"][-2:]
[('culprit', '1.8.0', '1.9.0'), ('rollback', '1.9.0', '1.8.0')]
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from slo_analysis.demo.ids import hex_strings
from slo_analysis.demo.scenario_spec import Scenario
from slo_analysis.demo.story import MINUTE_MS, SERVICES, VERSIONS
from slo_analysis.demo.traffic import cat

__all__ = ["Deploy", "Plan", "plan_changes", "task_ids", "assign", "SOURCE", "ACTORS"]

#: the pipeline each service deploys through
SOURCE: dict[str, str] = {
    "support-web": "ecs",
    "ticket-api": "codedeploy",
    "routing-service": "codedeploy",
    "kb-search": "ecs",
    "notify-worker": "ecs",
}
ACTORS: tuple[str, ...] = (
    "priya.natarajan", "tomas.novak", "lena.fischer", "marco.rossi", "aisha.bello", "kenji.watanabe",
    "sofia.alves", "deploy-bot",
)
# release notes: the culprit draws from the same pool as every other change, so text does not betray it
_NOTES: dict[str, tuple[str, ...]] = {
    "support-web": ("ticket view: show SLA badge", "upgrade session middleware", "lazy-load reply editor",
                    "new help-centre footer", "bump frontend dependencies"),
    "ticket-api": ("attachment metadata on create", "validate reply length server-side", "ticket tags API",
                   "upgrade AWS SDK", "audit fields on update"),
    "routing-service": ("skill-based matching with language fallback", "queue weights per tier",
                        "agent presence from chat gateway", "upgrade JDBC driver", "tune HikariCP settings"),
    "kb-search": ("synonym list refresh", "boost recent articles", "highlight snippets in results",
                  "upgrade OpenSearch client", "spell-correction for queries"),
    "notify-worker": ("SMS digest templates", "retry policy for email bounces", "upgrade SQS client",
                      "localised push titles", "batch size 10 -> 20"),
}
_CD_CHARS = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
_AWAY_MS = 4 * 60 * MINUTE_MS  # routine deployments stay this far from the incident


@dataclass(frozen=True)
class Deploy:
    """One deployment as it happened (epoch ms, UTC)."""

    id: str
    service: str
    started_ms: int
    finished_ms: int
    version_from: str
    version_to: str
    source: str  # codedeploy | ecs
    actor: str
    description: str
    role: str  # culprit | rollback | decoy | routine


@dataclass(frozen=True)
class Plan:
    """The scenario's timeline in epoch ms and its deployments in time order."""

    start_ms: int
    end_ms: int
    onset_ms: int
    incident_end_ms: int
    deploys: tuple[Deploy, ...]

    @property
    def minutes(self) -> int:
        return (self.end_ms - self.start_ms) // MINUTE_MS

    def of_role(self, role: str) -> tuple[Deploy, ...]:
        return tuple(d for d in self.deploys if d.role == role)

    def generations(self, service: str) -> list[tuple[Deploy | None, str]]:
        """``(deployment that started it or None, version)`` of every version of ``service`` in order."""
        out: list[tuple[Deploy | None, str]] = [(None, VERSIONS[service])]
        out += [(d, d.version_to) for d in self.deploys if d.service == service]
        return out

    def serving(self, service: str, ts: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Generation index serving each request of ``service`` at ``ts`` (``u`` uniform in [0, 1)).

        During a rollout the new generation takes a share growing linearly from start to finish.
        """
        gen = np.zeros(len(ts), dtype=np.int64)
        for k, (d, _v) in enumerate(self.generations(service)):
            if d is None:
                continue
            share = np.clip((ts - d.started_ms) / max(1, d.finished_ms - d.started_ms), 0.0, 1.0)
            gen = np.where(u < share, k, gen)
        return gen


def _ms(t: object) -> int:
    return int(t.timestamp() * 1000)  # type: ignore[attr-defined]


def _deploy_id(rng: np.random.Generator, source: str) -> str:
    if source == "codedeploy":
        return "d-" + "".join(_CD_CHARS[rng.integers(0, len(_CD_CHARS), 9)])
    return "ecs-svc/" + str(int(rng.integers(10**17, 10**18, dtype=np.int64))) + str(int(rng.integers(0, 10)))


def _bump(version: str, minor: bool) -> str:
    major, mi, patch = (int(p) for p in version.split("."))
    return f"{major}.{mi + 1}.0" if minor else f"{major}.{mi}.{patch + 1}"


def _draft(rng: np.random.Generator, service: str, finished_ms: int, role: str, minutes: tuple[int, int]) -> Deploy:
    source = SOURCE[service]
    took = int(rng.integers(minutes[0] * 60_000, minutes[1] * 60_000))
    note = _NOTES[service][int(rng.integers(0, len(_NOTES[service])))]
    return Deploy(_deploy_id(rng, source), service, finished_ms - took, finished_ms, "", "", source,
                  ACTORS[int(rng.integers(0, len(ACTORS)))], note, role)


def plan_changes(s: Scenario, rng: np.random.Generator) -> Plan:
    """Every deployment of the scenario's window with versions filled in (see the module docstring)."""
    start, end = _ms(s.window_start), _ms(s.window_end)
    onset, inc_end = _ms(s.onset), _ms(s.end)
    drafts: list[Deploy] = []
    for _ in range(int(rng.integers(2, 5))):  # routine changes on working hours, away from the incident
        for _try in range(30):
            day = int(rng.integers(0, s.days))
            t = start + day * 1440 * MINUTE_MS + int(rng.integers(8 * 60, 18 * 60)) * MINUTE_MS
            t += int(rng.integers(0, 60_000))
            if t < onset - _AWAY_MS or t > inc_end + _AWAY_MS:
                svc = SERVICES[int(rng.integers(0, len(SERVICES)))]
                if all(abs(t - d.finished_ms) > 60 * MINUTE_MS for d in drafts if d.service == svc):
                    drafts.append(_draft(rng, svc, t, "routine", (4, 10)))
                    break
    for decoy in s.decoys:
        t = onset + int(decoy.offset.total_seconds() * 1000) + int(rng.integers(-20_000, 20_000))
        drafts.append(_draft(rng, decoy.service, t, "decoy", (4, 10)))
    if s.cause == "deployment" and s.culprit_service is not None:
        fin = onset - int(s.deploy_gap.total_seconds() * 1000)
        culprit = _draft(rng, s.culprit_service, fin, "culprit", (7, 13))
        drafts.append(culprit)
        rb = _draft(rng, s.culprit_service, inc_end, "rollback", (4, 8))
        drafts.append(replace(rb, description=f"rollback of {culprit.id}: {s.culprit_service} back to the "
                                              f"previous version", actor=ACTORS[int(rng.integers(0, 7))]))
    drafts = [d for d in drafts if start < d.started_ms and d.finished_ms < end]
    drafts.sort(key=lambda d: (d.finished_ms, d.id))
    # versions: each service's chain in time order; a rollback returns to the version before its culprit
    current = dict(VERSIONS)
    before_culprit: dict[str, str] = {}
    out = []
    for d in drafts:
        v0 = current[d.service]
        if d.role == "rollback":
            v1 = before_culprit[d.service]
        else:
            v1 = _bump(v0, minor=d.role == "culprit")
            if d.role == "culprit":
                before_culprit[d.service] = v0
        current[d.service] = v1
        desc = d.description if d.role == "rollback" else f"{d.service} {v1}: {d.description}"
        out.append(replace(d, version_from=v0, version_to=v1, description=desc))
    return Plan(start, end, onset, inc_end, tuple(out))


def task_ids(plan: Plan, rng: np.random.Generator) -> dict[str, list[list[str]]]:
    """ECS task ids per service and generation (two or three tasks each)."""
    out: dict[str, list[list[str]]] = {}
    for s in SERVICES:
        n = 3 if s in ("support-web", "ticket-api") else 2
        out[s] = [hex_strings(rng, n, 16).to_list() for _ in plan.generations(s)]
    return out


def assign(plan: Plan, tasks: dict[str, list[list[str]]], service: str, ts: np.ndarray,
           rng: np.random.Generator) -> tuple[np.ndarray, pl.Series, pl.Series]:
    """(generation index, task id, version) of the task serving each request of ``service``."""
    gen = plan.serving(service, ts, rng.random(len(ts)))
    gens = plan.generations(service)
    width = max(len(t) for t in tasks[service])
    pick = rng.integers(0, 1 << 30, len(ts)) % np.array([len(t) for t in tasks[service]])[gen]
    flat = [t for g in tasks[service] for t in (g + [g[0]] * (width - len(g)))]
    task = cat(flat, gen * width + pick)
    version = cat([v for _d, v in gens], gen)
    return gen, task, version

