"""The demo incident's scenario: services, versions, people, and the timeline of events.

Everything here is a constant or derived from ``(start, days)`` alone, so the random draws in
:mod:`slo_analysis.demo.traffic` never move an event; the same story plays at any seed or scale.

Examples
--------
>>> from slo_analysis.demo.story import build_story
>>> s = build_story("2026-11-02", 14)
>>> s.culprit.version_to
'2.4.0'
>>> s.onset_ms > s.decoy.started_ms > s.surge_start_ms
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "ACCOUNT",
    "REGION",
    "ENVIRONMENT",
    "CLUSTER",
    "TABLE",
    "LOAD_BALANCER",
    "SERVICES",
    "ROUTES",
    "OPERATIONS",
    "VERSIONS",
    "Change",
    "Story",
    "build_story",
    "iso_ms",
    "iso_s",
    "MINUTE_MS",
]

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ENVIRONMENT = "prod"
CLUSTER = "prod"
TABLE = "tickets"
LOAD_BALANCER = "app/prod-support-web/50dc6c495c0c9188"
MINUTE_MS = 60_000

#: services in the order every file lists them
SERVICES: tuple[str, ...] = ("support-web", "ticket-api", "routing-service", "kb-search", "notify-worker")

#: front-door routes: (route, downstream service, downstream operation, share of traffic)
ROUTES: tuple[tuple[str, str, str, float], ...] = (
    ("POST /tickets", "ticket-api", "CreateTicket", 0.12),
    ("GET /tickets/{id}", "ticket-api", "GetTicket", 0.45),
    ("POST /tickets/{id}/replies", "ticket-api", "ReplyToTicket", 0.18),
    ("GET /kb/search", "kb-search", "SearchArticles", 0.25),
)

#: every served operation, per service (support-web's operations are its routes)
OPERATIONS: dict[str, tuple[str, ...]] = {
    "support-web": tuple(r[0] for r in ROUTES),
    "ticket-api": ("CreateTicket", "GetTicket", "ReplyToTicket"),
    "routing-service": ("AssignAgent",),
    "kb-search": ("SearchArticles",),
    "notify-worker": ("SendNotification",),
}

#: the version each service runs before any change in the window
VERSIONS: dict[str, str] = {
    "support-web": "3.12.0",
    "ticket-api": "5.4.2",
    "routing-service": "2.3.1",
    "kb-search": "1.8.0",
    "notify-worker": "1.2.7",
}


def iso_ms(ms: int) -> str:
    """``2026-11-02T00:00:00.123Z`` for epoch milliseconds."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_s(ms: int) -> str:
    """``2026-11-02T00:00:00+00:00`` (whole seconds) for epoch milliseconds."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).isoformat()


@dataclass(frozen=True)
class Change:
    """One change to production, as the ground truth knows it."""

    id: str
    service: str
    kind: str  # codedeploy | ecs | feature-flag
    started_ms: int
    finished_ms: int
    version_from: str
    version_to: str
    actor: str
    description: str
    status: str = "Succeeded"


@dataclass(frozen=True)
class Story:
    """The timeline of the demo incident in epoch milliseconds (UTC)."""

    start_ms: int
    end_ms: int
    days: int
    surge_start_ms: int
    surge_end_ms: int
    surge_peak_factor: float
    decoy: Change
    culprit: Change  # CodeDeploy blue/green; finished_ms is when it was stopped for the rollback
    rollback: Change
    feature_flag: Change
    onset_ms: int  # production traffic rerouted to v2.4.0
    recovery_ms: int  # the slow-query contention has drained
    ramp_ms: int = 15 * MINUTE_MS  # surge ramp up and down

    @property
    def minutes(self) -> int:
        return (self.end_ms - self.start_ms) // MINUTE_MS

    def surge_factor(self, t_ms: float) -> float:
        """Traffic multiplier of the surge at ``t_ms`` (1 outside it, trapezoid inside)."""
        a, b, r = self.surge_start_ms, self.surge_end_ms, self.ramp_ms
        if t_ms <= a or t_ms >= b:
            return 1.0
        up = min(1.0, (t_ms - a) / r, (b - t_ms) / r)
        return 1.0 + (self.surge_peak_factor - 1.0) * up


def _at(day0: date, day: int, hh: int, mm: int, ss: int = 0) -> int:
    dt = datetime(day0.year, day0.month, day0.day, tzinfo=UTC) + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)
    return int(dt.timestamp() * 1000)


def _weekday_at_or_after(day0: date, day: int, avoid: set[int], days: int) -> int:
    for d in list(range(day, days)) + list(range(day - 1, -1, -1)):
        if (day0 + timedelta(days=d)).weekday() < 5 and d not in avoid:
            return d
    return day  # a window of weekend days only: keep the nominal day


def build_story(start: str, days: int) -> Story:
    """The timeline for a window of ``days`` days from ``start`` (``YYYY-MM-DD``, UTC midnight).

    The incident falls five days before the end (day 1 in short windows), the decoy the day before
    it and the surge on a weekday early in the window; all on weekdays when the window allows.

    Raises
    ------
    ValueError
        when ``days < 2`` (the story needs a day before the incident).
    """
    if days < 2:
        raise ValueError(f"the demo needs at least 2 days, got days={days}")
    day0 = date.fromisoformat(start)
    inc_day = _weekday_at_or_after(day0, max(1, days - 5), {0}, days)
    surge_day = _weekday_at_or_after(day0, 3 if days >= 7 else 0, {inc_day}, days)
    decoy_day = max(0, inc_day - 1)
    flag_day = min(days - 1, 5) if days >= 7 else 0

    created = _at(day0, inc_day, 13, 58, 12)  # CodeDeploy deployment created
    onset = _at(day0, inc_day, 14, 7, 41)  # traffic rerouted to the green task set
    rb_start = onset + 71 * MINUTE_MS + 18_000  # stop-and-rollback pressed
    rb_end = rb_start + 5 * MINUTE_MS + 27_000  # traffic back on the blue task set
    recovery = rb_end + 4 * MINUTE_MS  # lock contention on agent_skills drained

    culprit = Change(
        id="d-7KQ2M4XJB",
        service="routing-service",
        kind="codedeploy",
        started_ms=created,
        finished_ms=rb_start,
        version_from="2.3.1",
        version_to="2.4.0",
        actor="priya.natarajan",
        description="routing-service v2.4.0: skill-based matching reads agent_skills with language fallback",
        status="Stopped",
    )
    rollback = Change(
        id="d-9RT5WZ1CE",
        service="routing-service",
        kind="codedeploy",
        started_ms=rb_start,
        finished_ms=rb_end,
        version_from="2.4.0",
        version_to="2.3.1",
        actor="tomas.novak",
        description="rollback of d-7KQ2M4XJB (stopped by tomas.novak after CreateTicket latency alarm)",
    )
    decoy_start = _at(day0, decoy_day, 16, 38, 5)
    decoy = Change(
        id="ecs-svc/4102863817462953187",
        service="kb-search",
        kind="ecs",
        started_ms=decoy_start,
        finished_ms=decoy_start + 6 * MINUTE_MS + 41_000,
        version_from="1.8.0",
        version_to="1.8.1",
        actor="lena.fischer",
        description="kb-search 1.8.1: synonym list refresh",
    )
    flag_ms = _at(day0, flag_day, 9, 40, 0)
    flag = Change(
        id="FF-2291",
        service="notify-worker",
        kind="feature-flag",
        started_ms=flag_ms,
        finished_ms=flag_ms + 60_000,
        version_from="sms_digest=off",
        version_to="sms_digest=on",
        actor="marco.rossi",
        description="feature flag sms_digest enabled for enterprise tier",
    )
    return Story(
        start_ms=_at(day0, 0, 0, 0),
        end_ms=_at(day0, days, 0, 0),
        days=days,
        surge_start_ms=_at(day0, surge_day, 12, 35),
        surge_end_ms=_at(day0, surge_day, 14, 35),
        surge_peak_factor=2.75,
        decoy=decoy,
        culprit=culprit,
        rollback=rollback,
        feature_flag=flag,
        onset_ms=onset,
        recovery_ms=recovery,
    )
