"""Erlang C against published worked examples and an exact (fractions) evaluation of the textbook formula.

Sources of the figures:
- Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example"
  (https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm): 100 calls per 30 minutes, average
  handle time 180 s, 80 % to be answered within 20 s -> traffic intensity 10 erlangs; with 11 agents the
  probability of waiting is 0.6821 and the service level 39 %; 14 agents reach the 80 % target (the article
  then adds shrinkage, which is outside Erlang C). Hand check: SL(11) = 1 - 0.6821 * exp(-(11 - 10) * 20 / 180)
  = 1 - 0.6821 * 0.8948 = 0.390; SL(13) = 0.796 < 0.80 <= SL(14) = 0.888.
- The textbook Erlang C formula (e.g. Wikipedia, "Erlang (unit)", section Erlang C formula):
  P_w = (A^N / N! * N / (N - A)) / (sum_{i<N} A^i / i! + A^N / N! * N / (N - A)), evaluated here exactly with
  rational arithmetic for the worked example "360 calls per half hour, 4-minute calls, 55 agents, 15 s target"
  used by several Erlang C tutorials (A = 48 erlangs).
"""

from __future__ import annotations

import math
from fractions import Fraction

import polars as pl
import pytest

from slo_analysis.analysis.capacity import (
    UnstableQueueError,
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
    staffing_table,
    ticket_arrivals,
)
from slo_analysis.store import Snapshot


def exact_erlang_c(n: int, a: Fraction) -> float:
    """The textbook formula with factorials, in exact rational arithmetic (slow, reference only)."""
    top = a**n / math.factorial(n) * Fraction(n) / (n - a)
    bottom = sum(a**i / math.factorial(i) for i in range(n)) + top
    return float(top / bottom)


def test_call_centre_helper_worked_example() -> None:
    rate, aht, t = 100 / 1800, 180.0, 20.0
    assert rate * aht == pytest.approx(10.0)
    assert erlang_c(11, 10.0) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(11, rate, aht, t) == pytest.approx(0.390, abs=5e-4)
    assert service_level(13, rate, aht, t) == pytest.approx(0.796, abs=5e-4)
    assert service_level(14, rate, aht, t) == pytest.approx(0.888, abs=5e-4)
    r = agents_needed(rate, aht, target=0.80, answer_within_s=t)
    assert r.agents == 14
    assert r.occupancy == pytest.approx(10 / 14)
    # ASA = Pw * AHT / (N - A) = 0.1741 * 180 / 4 (hand: 7.8 s)
    assert r.asa_s == pytest.approx(erlang_c(14, 10.0) * 180 / 4)
    assert r.asa_s == pytest.approx(7.83, abs=0.01)


def test_max_occupancy_cap_adds_agents() -> None:
    r = agents_needed(100 / 1800, 180.0, target=0.80, answer_within_s=20.0, max_occupancy=0.6)
    assert r.agents == math.ceil(10 / 0.6) and r.occupancy <= 0.6


@pytest.mark.parametrize(("n", "a"), [(55, Fraction(48)), (11, Fraction(10)), (3, Fraction(2)), (60, Fraction(119, 2))])
def test_recurrence_matches_exact_formula(n: int, a: Fraction) -> None:
    assert erlang_c(n, float(a)) == pytest.approx(exact_erlang_c(n, a), rel=1e-12)


def test_360_calls_half_hour_example() -> None:
    rate, aht = 360 / 1800, 240.0
    assert rate * aht == pytest.approx(48.0)
    pw = exact_erlang_c(55, Fraction(48))
    assert service_level(55, rate, aht, 15.0) == pytest.approx(1 - pw * math.exp(-(55 - 48) * 15 / 240))
    assert average_speed_of_answer(55, rate, aht) == pytest.approx(pw * 240 / 7)


def test_erlang_b_thirty_lines() -> None:
    # 30 lines offered 25 erlangs block about 5 % (classic Erlang B table value 0.0526)
    assert erlang_b(30, 25.0) == pytest.approx(0.0526, abs=5e-5)


def test_thousands_of_agents_are_stable_numerically() -> None:
    pw = erlang_c(2000, 1950.0)
    assert 0.0 < pw < 1.0 and math.isfinite(pw)
    r = agents_needed(1000.0 / 60, 60.0, target=0.9, answer_within_s=10.0)  # 1,000 erlangs
    assert 1000 < r.agents < 1100
    assert service_level(r.agents - 1, 1000.0 / 60, 60.0, 10.0) < 0.9 <= r.service_level


def test_guard_load_at_or_above_agents() -> None:
    with pytest.raises(UnstableQueueError, match="10 erlangs >= 10 agents"):
        erlang_c(10, 10.0)
    with pytest.raises(UnstableQueueError):
        service_level(5, 1.0, 6.0, 20.0)
    t = staffing_table(100 / 1800, 180.0, 20.0, range(9, 13))
    assert t.filter(~pl.col("stable"))["agents"].to_list() == [9, 10]
    assert t.filter(~pl.col("stable"))["service_level"].to_list() == [0.0, 0.0]
    assert t.filter(pl.col("stable"))["service_level"].is_sorted()


def test_demo_first_response_staffing(demo_snapshot) -> None:
    """Agents for 95 % of tickets answered within 5 minutes at the busiest forecast hour."""
    arrivals = ticket_arrivals(Snapshot.open(demo_snapshot))
    peak_per_s = float(arrivals["value"].max()) / 3600
    r = agents_needed(peak_per_s, 240.0, target=0.95, answer_within_s=300.0)
    assert r.agents > r.erlangs and r.service_level >= 0.95
    if r.agents - 1 > r.erlangs:
        assert service_level(r.agents - 1, peak_per_s, 240.0, 300.0) < 0.95
