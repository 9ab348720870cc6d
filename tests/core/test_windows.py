"""Breach windows, incident windows (hysteresis, onset/end refinement) and at-risk periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from slo_analysis.core.budget import BREACHED, budgets_for_many, rolling_budget, stack_slis
from slo_analysis.core.windows import (
    at_risk_periods,
    breach_windows,
    breach_windows_for_many,
    incident_windows,
    incident_windows_for_many,
    mask_windows,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def minutes(bad_ratio: np.ndarray, per_minute: float = 1000.0) -> pl.DataFrame:
    n = len(bad_ratio)
    ts = pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_unit="ms")
    bad = per_minute * bad_ratio
    return pl.DataFrame({"timestamp": ts, "good": per_minute - bad, "bad": bad})


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_mask_windows_merge_and_min_duration() -> None:
    ts = pl.datetime_range(T0, at(9), "1m", eager=True, time_unit="ms")
    m = pl.Series([1, 1, 0, 1, 0, 0, 0, 1, 0, 0]).cast(pl.Boolean)
    assert mask_windows(ts, m, 60)["duration_s"].to_list() == [120.0, 60.0, 60.0]
    assert mask_windows(ts, m, 60, merge_gap_s=120)["duration_s"].to_list() == [240.0, 60.0]
    assert mask_windows(ts, m, 60, merge_gap_s=180)["duration_s"].to_list() == [240.0, 60.0]  # strictly shorter
    assert mask_windows(ts, m, 60, merge_gap_s=181)["duration_s"].to_list() == [480.0]
    assert mask_windows(ts, m, 60, min_duration_s=120)["duration_s"].to_list() == [120.0]


def test_breach_windows_match_status() -> None:
    r = np.zeros(3 * 1440)
    r[1440 + 600 : 1440 + 660] = 0.05  # one hour at 5 % errors on day 2 breaches a 1-day 99.9 % SLO
    f = minutes(r)
    b = rolling_budget(f, 0.999, 86400, period_s=60, method="request")
    w = breach_windows(b, 60)
    assert w.height == 1
    # breached from the minute where bad > 0.001 x total, until the bad hour rolls out a day later
    first = b.filter(pl.col("status") == BREACHED)["timestamp"]
    assert w["start"][0] == first[0] and w["end"][0] == first[-1] + timedelta(minutes=1)
    # 50 bad per minute against a budget of 1440 per day: breached from the 29th bad minute (1450 > 1440)
    # until 32 of the 60 bad minutes have rolled out of the day (28 x 50 = 1400 <= 1440)
    assert w["start"][0] == at(1440 + 600 + 28)
    assert w["end"][0] == at(1440 + 600 + 1440 + 31)
    assert w["worst_attainment"][0] == pytest.approx(1 - 0.05 * 60 / 1440, rel=1e-9)


def test_incident_onset_and_end_refined_against_noisy_baseline() -> None:
    rng = np.random.default_rng(7)
    r = rng.uniform(0.0, 0.0004, 2 * 1440)  # baseline well under 0.1 %
    r[1500:1530] = 0.02  # 30 minutes at 2 % (burn 20): the 1h/5m page needs 44 minutes of it
    r[1530:1560] = 0.05  # then 30 minutes at 5 %
    f = minutes(r)
    w = incident_windows(f, 0.999, period_s=60)
    assert w.height == 1
    assert w["start"][0] == at(1500)  # onset refined back to the first elevated minute
    assert w["end"][0] == at(1560)
    assert w["condition_start"][0] > at(1530)  # the raw condition lagged the onset
    assert w["threshold_ratio"][0] == pytest.approx(0.001)  # floored at 1 - goal
    assert w["bad"][0] == pytest.approx(1000 * (30 * 0.02 + 30 * 0.05))


def test_incident_hysteresis_merges_close_bursts() -> None:
    # with the 1h/5m page condition alone (the 6h/30m one would hold through the 15-minute gap)
    page = [((3600.0, 300.0), 14.4)]
    r = np.zeros(1440)
    r[600:610] = 1.0
    r[625:635] = 1.0  # 15 minutes apart: one incident with the default 15-minute merge gap
    r[900:910] = 1.0  # far away: another
    f = minutes(r)
    w = incident_windows(f, 0.999, page, period_s=60)
    assert w.select("start", "end").rows() == [(at(600), at(635)), (at(900), at(910))]
    w0 = incident_windows(f, 0.999, page, period_s=60, merge_gap_s=0)
    assert w0.select("start", "end").rows() == [(at(600), at(610)), (at(625), at(635)), (at(900), at(910))]
    assert incident_windows(f, 0.999, page, period_s=60, min_duration_s=30 * 60).height == 1


def test_at_risk_not_breached_with_projection() -> None:
    # 1-day rolling 99 % SLO, 1000 req/min: budget 14400 requests. From minute 1440 on, 2 % errors
    # (burn 2) spend the budget in 12 h: at risk with a 24 h horizon, breached only after 12 h
    r = np.zeros(3 * 1440)
    r[1440:] = 0.02
    f = minutes(r)
    b = rolling_budget(f, 0.99, 86400, period_s=60, method="request")
    risk = at_risk_periods(f, 0.99, b, lookback_s=3600, horizon_s=86400, period_s=60)
    assert risk.height > 0
    assert not risk["status"].is_in([BREACHED]).any()
    first = risk.row(0, named=True)
    # the 1h burn ramps up 2/60 per minute and first exceeds 1 after 31 bad minutes (620 bad):
    # remaining 13780/14400, burn (620 / 60000) / 0.01 = 1.033 -> exhaustion in 80,010 s < 24 h
    assert first["timestamp"] == at(1440 + 30)
    assert first["time_to_exhaustion_s"] == pytest.approx(13780 / 14400 * 86400 / (620 / 60000 / 0.01))
    breach = b.filter(pl.col("status") == BREACHED)["timestamp"][0]
    assert breach == at(1440 + 720)  # bad 14420 > budget 14400 at the 721st minute
    assert risk["timestamp"].max() < breach
    # a 1-hour horizon flags only the last hour before the breach
    near = at_risk_periods(f, 0.99, b, lookback_s=3600, horizon_s=3600, period_s=60)
    assert near["timestamp"].min() >= breach - timedelta(minutes=61)


def test_burning_exactly_the_allowed_rate_is_not_at_risk() -> None:
    # 1 % errors against a 99 % goal: burn 1, the budget is spent exactly as fast as it is earned
    f = minutes(np.full(3 * 1440, 0.01))
    b = rolling_budget(f, 0.99, 86400, period_s=60, method="request")
    assert at_risk_periods(f, 0.99, b, lookback_s=3600, horizon_s=86400, period_s=60).height == 0
    assert at_risk_periods(f, 0.99, b, lookback_s=3600, horizon_s=86400, period_s=60,
                           min_burn_rate=0.5).height > 0


def test_incident_windows_reuse_burn_rates_exactly() -> None:
    from slo_analysis.core.budget import burn_rates as _burn_rates

    ts = pl.datetime_range(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC), "1m",
                           eager=True, time_unit="ms", closed="left")
    bad = [300.0 if 600 <= i < 660 else (0.0 if i % 7 else 1.0) for i in range(ts.len())]
    f = pl.DataFrame({"timestamp": ts, "good": [1000.0 - b for b in bad], "bad": bad})
    br = _burn_rates(f, 0.999, [300, 1800, 3600, 7200, 21600, 86400], period_s=60)
    own = incident_windows(f, 0.999, period_s=60)
    assert own.height == 1
    assert own.equals(incident_windows(f, 0.999, period_s=60, burn=br))
    quiet = f.with_columns(good=pl.lit(1000.0), bad=pl.lit(0.0))
    assert incident_windows(quiet, 0.999, period_s=60).schema == own.schema


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_windows_for_many_equal_the_per_slo_functions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    slis = {}
    for k in range(5):
        n = int(rng.integers(600, 3 * 1440))
        r = rng.uniform(0.0, 0.0005, n)
        for start in rng.integers(0, n, size=int(rng.integers(0, 4))):
            r[start : start + int(rng.integers(3, 120))] = rng.uniform(0.005, 0.6)
        traffic = rng.uniform(0.0, 900.0, n) * (rng.random(n) > 0.05)  # some empty periods
        slis[f"s{k}"] = minutes(r, 1.0).with_columns(good=pl.col("good") * traffic, bad=pl.col("bad") * traffic)
    # SLOs ending in an incident and starting in one: runs must not cross from one SLO into the next
    slis["s0"] = minutes(np.r_[np.zeros(200), np.full(60, 0.3)])
    slis["s1"] = minutes(np.r_[np.full(90, 0.3), np.zeros(300)])
    long, p, m = stack_slis(slis, period_s=60)
    budget, burn = budgets_for_many(long, 0.999, 86400, [300, 1800, 3600, 21600], period_s=p, method=m)
    breaches = breach_windows_for_many(budget, 60, merge_gap_s=600)
    incidents = incident_windows_for_many(long, 0.999, period_s=60, burn=burn)
    recomputed = incident_windows_for_many(long, 0.999, period_s=60, merge_gap_s=900)
    assert incidents.equals(recomputed)
    assert incidents.height >= 2 and breaches.height >= 2
    for name, f in slis.items():
        one_b = breach_windows(rolling_budget(f, 0.999, 86400, period_s=60, method="request"), 60, merge_gap_s=600)
        assert breaches.filter(pl.col("slo") == name).drop("slo").equals(one_b), name
        one_i = incident_windows(f, 0.999, period_s=60)
        assert incidents.filter(pl.col("slo") == name).drop("slo").equals(one_i), name
    # s0's incident ends with s0; s1's starts with s1
    assert incidents.filter(pl.col("slo") == "s0")["end"].to_list() == [at(260)]
    assert incidents.filter(pl.col("slo") == "s1")["start"].to_list() == [at(0)]
