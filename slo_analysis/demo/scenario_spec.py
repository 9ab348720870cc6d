"""What one benchmark incident scenario is: its cause, culprit, fault, timing and decoy deployments.

A :class:`Scenario` is a plain, frozen description; :func:`slo_analysis.demo.scenarios.simulate_scenario`
turns it into canonical frames. The vocabulary:

``cause``
    ``deployment`` (a new version of ``culprit_service`` carries the fault), ``surge`` (traffic rises
    2-3x with no change; the serving service saturates its CPU) or ``dependency`` (a dependency degrades
    with no version change: ``dynamodb`` throttling, a slow ``kb-opensearch`` cluster or a slow
    ``aurora-prod`` database).
``fault``
    for deployments: ``latency`` (a slower code path or query), ``errors`` (an exception on a share of
    requests) or ``exhaustion`` (the version leaks connections/memory: latency and faults grow through
    the incident while ECS MemoryUtilization and CPUUtilization climb). For dependencies, the symptom the
    SLO sees (``latency`` or ``errors``). ``None`` for a surge.
``decoys``
    benign deployments near the onset, each a :class:`Decoy` whose ``offset`` is the time its new
    version finished taking traffic, relative to the onset (negative: before).

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> s = Scenario("x", 1, "deployment", "routing-service", "latency", datetime(2026, 11, 4, 14, tzinfo=UTC),
...              timedelta(minutes=50), (Decoy("kb-search", timedelta(minutes=-30)),), "ticket-api", "CreateTicket")
>>> s.window_start.isoformat(), s.end.isoformat()
('2026-11-03T00:00:00+00:00', '2026-11-04T14:50:00+00:00')
>>> Scenario("y", 1, "surge", "ticket-api", None, s.onset, s.duration, (), "ticket-api", "CreateTicket")
Traceback (most recent call last):
...
slo_analysis.demo.scenario_spec.ScenarioError: scenario 'y', field 'culprit_service': must be None unless ...
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slo_analysis.demo.story import OPERATIONS, SERVICES
from slo_analysis.exceptions import SloAnalysisError

__all__ = ["CAUSES", "FAULTS", "DEPENDENCIES", "ScenarioError", "Decoy", "Scenario"]

CAUSES: tuple[str, ...] = ("deployment", "surge", "dependency")
FAULTS: tuple[str, ...] = ("latency", "errors", "exhaustion")
#: dependency -> the service that calls it (and logs its failures)
DEPENDENCIES: dict[str, str] = {
    "dynamodb": "ticket-api", "kb-opensearch": "kb-search", "aurora-prod": "routing-service",
}


class ScenarioError(SloAnalysisError):
    """A scenario description is inconsistent (names the scenario and the field)."""

    def __init__(self, name: str, field: str, problem: str) -> None:
        self.name = name
        self.field = field
        self.problem = problem
        super().__init__(f"scenario {name!r}, field {field!r}: {problem}")


@dataclass(frozen=True)
class Decoy:
    """A benign deployment of ``service`` whose new version took traffic at ``onset + offset``."""

    service: str
    offset: timedelta


@dataclass(frozen=True)
class Scenario:
    """One incident to simulate (all times UTC). See the module docstring for the vocabulary."""

    name: str
    seed: int
    cause: str
    culprit_service: str | None
    fault: str | None
    onset: datetime
    duration: timedelta
    decoys: tuple[Decoy, ...]
    slo_service: str
    slo_operation: str
    dependency: str | None = None  # dynamodb | kb-opensearch | aurora-prod (cause == "dependency")
    surge_factor: float = 2.5  # peak traffic multiplier (cause == "surge")
    deploy_gap: timedelta = timedelta(minutes=6)  # culprit deployment finished -> onset
    magnitude: float = 1.0  # severity scale, about 0.7 to 1.3
    latency_method: str = "period"  # a latency SLO counts 1-minute p99 periods ("period") or requests ("request")
    days: int = 3
    front_door_rps: float = 0.3  # average front-door requests per second over weekdays
    start: datetime | None = None  # window start (UTC midnight); None: the day before the onset

    def __post_init__(self) -> None:  # noqa: C901 - one check per field
        def bad(field: str, problem: str) -> ScenarioError:
            return ScenarioError(self.name, field, problem)

        if self.cause not in CAUSES:
            raise bad("cause", f"{self.cause!r} is not one of {CAUSES}")
        if self.onset.tzinfo is None:
            raise bad("onset", "must be timezone-aware (UTC)")
        if self.cause == "deployment":
            if self.culprit_service not in SERVICES[:4]:
                raise bad("culprit_service", f"{self.culprit_service!r} is not one of {SERVICES[:4]}")
            if self.fault not in FAULTS:
                raise bad("fault", f"{self.fault!r} is not one of {FAULTS}")
            if not timedelta(0) <= self.deploy_gap <= timedelta(minutes=20):
                raise bad("deploy_gap", "the culprit deployment finishes 0 to 20 minutes before the onset")
        elif self.culprit_service is not None:
            raise bad("culprit_service", "must be None unless ... the cause is 'deployment'")
        if self.cause == "dependency" and self.dependency not in DEPENDENCIES:
            raise bad("dependency", f"{self.dependency!r} is not one of {tuple(DEPENDENCIES)}")
        if self.cause == "surge" and not 1.5 <= self.surge_factor <= 4.0:
            raise bad("surge_factor", f"{self.surge_factor} is outside [1.5, 4]")
        if self.slo_operation not in OPERATIONS.get(self.slo_service, ()):
            raise bad("slo_operation", f"{self.slo_operation!r} is not an operation of {self.slo_service!r}")
        if self.latency_method not in ("period", "request"):
            raise bad("latency_method", f"{self.latency_method!r} is not 'period' or 'request'")
        if not timedelta(minutes=10) <= self.duration <= timedelta(hours=6):
            raise bad("duration", "must be between 10 minutes and 6 hours")
        if self.days < 2 or self.front_door_rps <= 0:
            raise bad("days" if self.days < 2 else "front_door_rps", "needs at least 2 days and some traffic")
        for i, d in enumerate(self.decoys):
            if d.service not in SERVICES:
                raise bad(f"decoys[{i}].service", f"{d.service!r} is not one of {SERVICES}")
            if d.service == self.culprit_service and d.offset > -(timedelta(hours=2) + self.deploy_gap):
                raise bad(f"decoys[{i}].offset", "a decoy of the culprit service must finish 2 h before it")
        if not self.window_start <= self.onset - timedelta(hours=6) < self.end + timedelta(hours=2) <= self.window_end:
            raise bad("onset", "the window must hold 6 h before the onset and 2 h after the end")

    @property
    def window_start(self) -> datetime:
        if self.start is not None:
            return self.start.astimezone(UTC)
        day = self.onset.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=1)

    @property
    def window_end(self) -> datetime:
        return self.window_start + timedelta(days=self.days)

    @property
    def end(self) -> datetime:
        """When the incident is over (the rollback finished, the surge or the outage ended)."""
        return self.onset + self.duration
