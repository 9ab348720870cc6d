"""Golden detection times of burn-rate alerts (SRE Workbook ch. 5) and backtest bookkeeping.

Detection time of the 1h/5m page at 14.4 for an error ratio e after a clean hour:
``(1 - SLO) / e x 1 h x 14.4``. The alert is evaluated at the end of each period with a strict ``>``,
so on a grid it fires at the first period end *after* that time: the tests state the grid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from slo_analysis.core.alerts import (
    DAY_S,
    AlertRule,
    alert_episodes,
    application_signals_policy,
    backtest,
    compare_policies,
    custom_policy,
    pyrra_policy,
    sloth_policy,
    workbook_policy,
)
from slo_analysis.core.model import SLO, Interval

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PAGE = custom_policy("page", [AlertRule("page-1h", "page", (3600.0, 300.0), 14.4)])


def steady(ratio_bad: float, clean_s: int, bad_s: int, every_s: float, per_period: float = 1000.0) -> pl.DataFrame:
    """``clean_s`` seconds without errors, then ``bad_s`` seconds at a steady error ratio."""
    n_clean, n_bad = round(clean_s / every_s), round(bad_s / every_s)
    n = n_clean + n_bad
    step = pl.duration(milliseconds=round(every_s * 1000))
    bad = [0.0] * n_clean + [per_period * ratio_bad] * n_bad
    return pl.DataFrame({"i": range(n)}).select(
        timestamp=pl.lit(T0).cast(pl.Datetime("ms", "UTC")) + step * pl.col("i"),
        good=pl.Series([per_period - b for b in bad]),
        bad=pl.Series(bad),
    )


def first_fire_delay(f: pl.DataFrame, onset_s: float, every_s: float) -> float | None:
    ep = alert_episodes(f, 0.999, PAGE, period_s=every_s)
    if ep.is_empty():
        return None
    return (ep["fired_at"][0] - (T0 + timedelta(seconds=onset_s))).total_seconds()


@pytest.mark.parametrize(("every_s", "expected"), [(1.0, 52.0), (0.1, 51.9)])
def test_full_outage_fires_after_51_84_s(every_s: float, expected: float) -> None:
    # 0.001 x 3600 s x 14.4 = 51.84 s; first period end after it: 52 s (1-s grid), 51.9 s (0.1-s grid)
    f = steady(1.0, 3600, 120, every_s, per_period=10.0)
    delay = first_fire_delay(f, 3600, every_s)
    assert delay == pytest.approx(expected)
    assert expected - every_s < 51.84 <= expected


def test_steady_1_5_percent_fires_after_57_6_min() -> None:
    # 0.001 / 0.015 x 3600 s x 14.4 = 3456 s = 57.6 min; on a 6-s grid the burn equals 14.4 exactly at
    # 3456 s (576 periods, not > 14.4) and exceeds it at the next period end, 3462 s
    f = steady(0.015, 3600, 7200, 6.0)
    assert first_fire_delay(f, 3600, 6.0) == pytest.approx(3462.0)
    # on a 1-minute grid: 58 min, the first minute after 57.6 min
    f = steady(0.015, 3600, 7200, 60.0)
    assert first_fire_delay(f, 3600, 60.0) == pytest.approx(58 * 60.0)


@pytest.mark.parametrize(("ratio", "fires"), [(0.014, False), (0.0143, False), (0.0145, True), (0.015, True)])
def test_boundary_at_burn_14_4(ratio: float, fires: bool) -> None:
    # steady ratios: burn 14 and 14.3 never page, 14.5 and 15 do (after a clean hour, for 3 hours)
    f = steady(ratio, 3600, 3 * 3600, 60.0)
    assert (first_fire_delay(f, 3600, 60.0) is not None) is fires


def test_reset_when_condition_clears() -> None:
    # 10 min full outage: the 5m window drops below 14.4 within 5 min of recovery, resetting the page
    f = steady(1.0, 3600, 600, 60.0)
    tail = steady(0.0, 3600, 0, 60.0).with_columns(pl.col("timestamp") + pl.duration(seconds=4200))
    f = pl.concat([f, tail])
    ep = alert_episodes(f, 0.999, PAGE, period_s=60)
    assert ep.height == 1
    fired, reset = ep["fired_at"][0], ep["reset_at"][0]
    assert fired == T0 + timedelta(seconds=3600 + 60)
    # the 5m window holds >1.44 % bad until 4 min after recovery; first clear period ends at +5 min
    assert reset == T0 + timedelta(seconds=4200 + 300)
    assert ep["budget_consumed_at_fire"][0] == pytest.approx(1000 * 60 / (30 * DAY_S))


def test_policy_parameters() -> None:
    wb = workbook_policy()
    assert [(r.windows_s, r.factor) for r in wb.rules] == [
        ((3600.0, 300.0), 14.4), ((21600.0, 1800.0), 6.0), ((3 * DAY_S, 21600.0), 1.0)
    ]
    assert [r.budget_consumed(30 * DAY_S) for r in wb.rules] == [
        pytest.approx(0.02), pytest.approx(0.05), pytest.approx(0.10)
    ]
    assert [r.factor for r in sloth_policy().rules] == [pytest.approx(x) for x in (14.4, 6, 3, 1)]
    assert [r.windows_s for r in sloth_policy().rules][2] == (DAY_S, 7200.0)
    py30 = pyrra_policy(30 * DAY_S)
    assert [r.factor for r in py30.rules] == [14, 7, 2, 1]
    # 30/28 scaling rounded to the minute: 1h -> 64m, 5m -> 5m, 2m -> 2m
    assert py30.rules[0].windows_s == (3840.0, 300.0) and py30.rules[0].for_s == 120.0
    aps = application_signals_policy([(60, 10.0), (5, 20.0)])
    assert [(r.windows_s, r.factor) for r in aps.rules] == [((3600.0,), 10.0), ((300.0,), 20.0)]


def test_pyrra_for_delays_firing() -> None:
    f = steady(1.0, 3600, 600, 60.0)
    pol = custom_policy("p", [AlertRule("c", "critical", (3600.0, 300.0), 14.0, for_s=120.0)])
    ep = alert_episodes(f, 0.999, pol, period_s=60)
    assert ep["fired_at"][0] == T0 + timedelta(seconds=3600 + 60 + 120)


def test_backtest_delay_budget_false_and_missed() -> None:
    # day 1: a 10-minute full outage at 12:00 (incident); day 2 12:00: a 3-minute outage not listed
    # as an incident (a false page); an incident listed on day 2 at 18:00 with no errors (missed)
    n = 2 * 1440
    bad = [0.0] * n
    for i in range(720, 730):
        bad[i] = 1000.0
    for i in range(1440 + 720, 1440 + 723):
        bad[i] = 1000.0
    ts = pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_unit="ms")
    f = pl.DataFrame({"timestamp": ts, "good": [1000.0 - b for b in bad], "bad": bad})
    inc = pl.DataFrame({"start": [ts[720], ts[1440 + 1080]], "end": [ts[730], ts[1440 + 1090]]})
    r = backtest(f, 0.999, PAGE, inc, period_s=60)
    d = r.incidents
    assert d["detected"].to_list() == [True, False]
    assert d["delay_s"][0] == 60.0  # fires at the end of the first outage minute
    # one minute at burn 1000 = 1000 x 60 s / 30 d of budget = 2.31 %
    assert d["budget_consumed_before_detection"][0] == pytest.approx(1000 * 60 / (30 * DAY_S))
    assert r.summary["false_pages"] == 1 and r.summary["missed"] == 1
    table = compare_policies(f, 0.999, [workbook_policy(), sloth_policy(), pyrra_policy()], inc, period_s=60)
    assert table["policy"].to_list() == ["workbook", "sloth", "pyrra"]
    assert table["detected"].to_list() == [1, 1, 1]


@pytest.mark.parametrize("every_s", [60.0, 6.0, 1.0])
def test_exactly_burn_14_4_never_fires(every_s: float) -> None:
    # 1.44 % errors at 99.9 % is burn 14.4 exactly; cumulative-sum rounding put it a few 1e-13 above 14.4,
    # which used to fire after 12,480 s (1-minute grid) under the strict `>`
    f = steady(0.0144, 3600, 6 * 3600, every_s)
    assert first_fire_delay(f, 3600, every_s) is None


def test_just_above_14_4_fires_on_time() -> None:
    # 1.4401 %: burn 14.401 exceeds 14.4 by far more than the tolerance; detection after a clean hour is
    # 0.001 / 0.014401 x 3600 s x 14.4 = 3599.75 s, so on a 1-minute grid the first period end after it: 3600 s
    f = steady(0.014401, 3600, 3 * 3600, 60.0)
    assert first_fire_delay(f, 3600, 60.0) == pytest.approx(3600.0)
    # and 1.5 % still fires at 58 min (57.6 min rounded up to the grid)
    assert first_fire_delay(steady(0.015, 3600, 7200, 60.0), 3600, 60.0) == pytest.approx(58 * 60.0)


def test_gte_rule_fires_at_the_factor() -> None:
    gte = custom_policy("gte", [AlertRule("page-1h", "page", (3600.0, 300.0), 14.4, op="gte")])
    f = steady(0.0144, 3600, 3 * 3600, 60.0)
    ep = alert_episodes(f, 0.999, gte, period_s=60)
    # >= 14.4 is reached once the 1h window is all at 1.44 %: at the end of the 60th bad minute
    assert (ep["fired_at"][0] - (T0 + timedelta(seconds=3600))).total_seconds() == 3600.0
    with pytest.raises(ValueError, match="op"):
        AlertRule("x", "page", (60.0,), 1.0, op="lt")


def test_backtest_measures_budget_against_the_slos_own_interval() -> None:
    # one minute of full outage (burn 1000) before detection
    f = steady(1.0, 3600, 600, 60.0)
    inc = pl.DataFrame({"start": [T0 + timedelta(seconds=3600)], "end": [T0 + timedelta(seconds=4200)]})
    week = SLO(name="a", sli_kind="availability", method="request", target=0.999,
               interval=Interval("rolling", 7, "DAY"))
    r7 = backtest(f, week, PAGE, inc, period_s=60)
    assert r7.incidents["budget_consumed_before_detection"][0] == pytest.approx(1000 * 60 / (7 * DAY_S))
    # a bare target keeps the 30-day default; an explicit slo_period_s wins over the SLO's interval
    r30 = backtest(f, 0.999, PAGE, inc, period_s=60)
    assert r30.incidents["budget_consumed_before_detection"][0] == pytest.approx(1000 * 60 / (30 * DAY_S))
    r1 = backtest(f, week, PAGE, inc, period_s=60, slo_period_s=DAY_S)
    assert r1.incidents["budget_consumed_before_detection"][0] == pytest.approx(1000 * 60 / DAY_S)
    # at fire the 1h window holds one outage minute: burn 1000 / 60; x 1 h / 7 d
    assert alert_episodes(f, week, PAGE, period_s=60)["budget_consumed_at_fire"][0] == pytest.approx(
        1000 / 60 * 3600 / (7 * DAY_S))
    # a calendar month: the month of the SLI's last period (January 2024: 31 days)
    month = SLO(name="m", sli_kind="availability", method="request", target=0.999,
                interval=Interval("calendar", 1, "MONTH", datetime(2024, 1, 1, tzinfo=UTC)))
    table = compare_policies(f, month, [PAGE], inc, period_s=60)
    assert table["mean_budget_consumed_before_detection"][0] == pytest.approx(1000 * 60 / (31 * DAY_S))
