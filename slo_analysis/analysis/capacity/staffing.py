"""Erlang C staffing: how many agents keep "X % of tickets answered within T" at a forecast arrival rate.

The support queue is an M/M/c queue: tickets arrive as a Poisson stream at rate ``lambda`` (per second),
each takes an exponentially distributed handle time of mean ``AHT`` seconds, ``c`` agents work in parallel.
With offered load ``A = lambda * AHT`` erlangs:

- Erlang B by the stable recurrence ``B(0) = 1``, ``B(k) = A B(k-1) / (k + A B(k-1))`` (no factorials, so
  thousands of agents work);
- probability of waiting ``C = c B / (c - A (1 - B))``;
- service level ``P(wait <= T) = 1 - C exp(-(c - A) T / AHT)``;
- average speed of answer ``ASA = C AHT / (c - A)``; occupancy ``A / c``.

The guard: for ``A >= c`` the queue has no steady state. The scalar functions raise
:class:`~slo_analysis.analysis.capacity.errors.UnstableQueueError`; :func:`staffing_table` keeps such rows
and marks them ``stable = False`` with service level 0 and an infinite ASA, so a what-if table never breaks.

Examples
--------
The worked example of Call Centre Helper ("Erlang C formula - made simple"): 100 calls per 30 minutes,
3-minute handle time, 80 % answered within 20 s:

>>> r = agents_needed(100 / 1800, 180.0, target=0.80, answer_within_s=20.0)
>>> r.agents, round(r.erlangs, 6), round(r.service_level, 3)
(14, 10.0, 0.888)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from slo_analysis.analysis.capacity.errors import CapacityError, UnstableQueueError

__all__ = [
    "StaffingResult",
    "erlang_b",
    "erlang_c",
    "erlang_c_array",
    "service_level",
    "average_speed_of_answer",
    "agents_needed",
    "staffing_table",
]


def _check(load: float, agents: int) -> None:
    if agents < 1:
        raise CapacityError(f"agents={agents}: need at least one agent")
    if not (load >= 0 and math.isfinite(load)):
        raise CapacityError(f"offered load {load!r} erlangs: must be a finite number >= 0")


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of ``agents`` servers offered ``load`` erlangs (Erlang B, by recurrence).

    >>> round(erlang_b(30, 25.0), 4)  # 30 lines, 25 erlangs: about 5 % blocked
    0.0526
    """
    _check(load, agents)
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(agents: int, load: float) -> float:
    """Probability that an arrival waits (Erlang C); raises :class:`UnstableQueueError` when ``load >= agents``.

    >>> round(erlang_c(11, 10.0), 4)
    0.6821
    """
    _check(load, agents)
    if load >= agents:
        raise UnstableQueueError(load, agents)
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1.0 - b))


def erlang_c_array(agents: int, load: np.ndarray) -> np.ndarray:
    """Erlang C for one server count over an array of loads; ``nan`` where ``load >= agents``."""
    a = np.asarray(load, dtype=np.float64)
    b = np.ones_like(a)
    for k in range(1, agents + 1):
        b = a * b / (k + a * b)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = agents * b / (agents - a * (1.0 - b))
    return np.where(a < agents, c, np.nan)


def service_level(agents: int, arrival_rate: float, aht_s: float, answer_within_s: float) -> float:
    """Share of arrivals answered within ``answer_within_s`` seconds: ``1 - C exp(-(c - A) T / AHT)``."""
    load = arrival_rate * aht_s
    c = erlang_c(agents, load)
    return 1.0 - c * math.exp(-(agents - load) * answer_within_s / aht_s)


def average_speed_of_answer(agents: int, arrival_rate: float, aht_s: float) -> float:
    """Mean wait before an agent picks an arrival up, seconds: ``C AHT / (c - A)``."""
    load = arrival_rate * aht_s
    return erlang_c(agents, load) * aht_s / (agents - load)


@dataclass(frozen=True)
class StaffingResult:
    """The smallest agent count meeting a service level (and an occupancy cap), with its figures."""

    agents: int
    erlangs: float  # offered load A = arrival rate x AHT
    arrival_rate: float  # per second
    aht_s: float
    answer_within_s: float
    target: float
    service_level: float  # achieved with ``agents``
    probability_wait: float
    asa_s: float  # average speed of answer
    occupancy: float

    def summary(self) -> dict[str, float | int]:
        """The result as a plain dict (for tables and JSON)."""
        return asdict(self)


def agents_needed(arrival_rate: float, aht_s: float, *, target: float, answer_within_s: float,
                  max_occupancy: float | None = None, max_agents: int = 100_000) -> StaffingResult:
    """The fewest agents with service level >= ``target`` (and occupancy <= ``max_occupancy`` if given).

    ``arrival_rate`` is per second, ``aht_s`` the mean handle time in seconds. The search starts at the
    smallest stable count ``floor(A) + 1`` and steps up; the service level rises monotonically with agents.
    """
    if not 0.0 < target < 1.0:
        raise CapacityError(f"target={target!r}: a service level is a share strictly between 0 and 1")
    if aht_s <= 0 or arrival_rate < 0:
        raise CapacityError(f"aht_s={aht_s!r}, arrival_rate={arrival_rate!r}: need aht_s > 0, arrival_rate >= 0")
    load = arrival_rate * aht_s
    agents = max(1, math.floor(load) + 1)
    if max_occupancy is not None:
        agents = max(agents, math.ceil(load / max_occupancy))
    while agents <= max_agents:
        sl = service_level(agents, arrival_rate, aht_s, answer_within_s)
        if sl >= target:
            pw = erlang_c(agents, load)
            return StaffingResult(agents, load, arrival_rate, aht_s, answer_within_s, target, sl, pw,
                                  pw * aht_s / (agents - load), load / agents)
        agents += 1
    raise CapacityError(f"no agent count up to {max_agents} meets service level {target} at {load:g} erlangs")


def staffing_table(arrival_rate: float, aht_s: float, answer_within_s: float,
                   agents: range | list[int]) -> pl.DataFrame:
    """Erlang C figures for each agent count: the curve behind an agents-vs-service-level chart.

    Returns ``agents, erlangs, stable, probability_wait, service_level, asa_s, occupancy``; rows with
    ``erlangs >= agents`` are ``stable = False``, service level 0, probability of waiting 1, ASA ``inf``.

    >>> t = staffing_table(100 / 1800, 180.0, 20.0, range(9, 15))
    >>> t["stable"].to_list()
    [False, False, True, True, True, True]
    >>> [round(x, 3) for x in t["service_level"].to_list()[2:]]
    [0.39, 0.64, 0.796, 0.888]
    """
    load = arrival_rate * aht_s
    rows = []
    for c in agents:
        if load < c:
            pw = erlang_c(c, load)
            sl = 1.0 - pw * math.exp(-(c - load) * answer_within_s / aht_s)
            rows.append((c, load, True, pw, sl, pw * aht_s / (c - load), load / c))
        else:
            rows.append((c, load, False, 1.0, 0.0, math.inf, load / c))
    return pl.DataFrame(rows, schema={"agents": pl.Int64, "erlangs": pl.Float64, "stable": pl.Boolean,
                                      "probability_wait": pl.Float64, "service_level": pl.Float64,
                                      "asa_s": pl.Float64, "occupancy": pl.Float64}, orient="row")
