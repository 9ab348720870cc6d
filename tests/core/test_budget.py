"""Golden and semantic tests for slo_analysis.core.budget (numbers hand-checked in comments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from slo_analysis.core.budget import (
    BREACHED,
    INSUFFICIENT_DATA,
    OK,
    WARNING,
    budget_consumed,
    budgets_for_many,
    burn_rates,
    calendar_budget,
    calendar_interval_bounds,
    error_budget_seconds,
    rolling_budget,
    slo_groups,
    stack_slis,
)
from slo_analysis.exceptions import FrameValidationError

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = 86400


def sli(good: list[float], bad: list[float], every_s: int = 60, start: datetime = T0) -> pl.DataFrame:
    """An SLI frame on a regular grid of ``every_s`` seconds from ``start``."""
    ts = pl.datetime_range(start, start + timedelta(seconds=every_s * (len(good) - 1)), f"{every_s}s",
                           eager=True, time_unit="ms")
    return pl.DataFrame({"timestamp": ts, "good": good, "bad": bad}, schema_overrides={"good": pl.Float64,
                                                                                       "bad": pl.Float64})


def test_golden_budget_minutes() -> None:
    # (1 - 0.999) x 30 d x 1440 min = 43.2 min; (1 - 0.9995) x 43200 min = 21.6 min
    assert error_budget_seconds(0.999, 30 * DAY) / 60 == pytest.approx(43.2, rel=1e-12)
    assert error_budget_seconds(0.9995, 30 * DAY) / 60 == pytest.approx(21.6, rel=1e-12)


def test_golden_workbook_consumption() -> None:
    # 14.4 x 1 h / 720 h = 2 %; 6 x 6 h / 720 h = 5 %; 1 x 72 h / 720 h = 10 %
    assert budget_consumed(14.4, 3600, 30 * DAY) == pytest.approx(0.02, rel=1e-12)
    assert budget_consumed(6, 6 * 3600, 30 * DAY) == pytest.approx(0.05, rel=1e-12)
    assert budget_consumed(1, 3 * DAY, 30 * DAY) == pytest.approx(0.10, rel=1e-12)


def test_period_based_budget_in_seconds_matches_golden() -> None:
    # 30 days of 1-minute periods, all good: budget = 0.001 x 43200 periods = 43.2 periods = 43.2 min
    n = 30 * 1440
    f = sli([1.0] * n, [0.0] * n)
    b = rolling_budget(f, 0.999, 30 * DAY, period_s=60, method="period")
    assert b["budget_total"][-1] == pytest.approx(43.2, rel=1e-12)
    assert b["budget_total_s"][-1] / 60 == pytest.approx(43.2, rel=1e-12)
    assert b["status"][-1] == OK


def test_burn_rate_is_error_ratio_over_allowed() -> None:
    f = sli([985.0] * 120, [15.0] * 120)
    br = burn_rates(f, 0.999, [3600, 300], period_s=60)
    # 1.5 % errors at 99.9 % = burn 15, from the first full look-back on
    assert br["burn_1h"][58] is None and br["burn_1h"][59] == pytest.approx(15.0, rel=1e-12)
    assert br["burn_5m"][4] == pytest.approx(15.0, rel=1e-12)
    assert br["burn_5m"][3] is None
    assert burn_rates(f, 0.999, [300], period_s=60, partial=True)["burn_5m"][0] == pytest.approx(15.0, rel=1e-12)


def test_burn_rate_null_without_data() -> None:
    f = sli([0.0] * 3, [0.0] * 3)
    assert burn_rates(f, 0.99, [60], period_s=60)["burn_1m"].to_list() == [None] * 3


def test_status_sequence_request_based() -> None:
    # window 2 periods; budget = 0.01 x total
    f = sli([0.0, 1000.0, 998.0, 990.0, 1000.0], [0.0, 0.0, 2.0, 10.0, 0.0])
    b = rolling_budget(f, 0.99, 120, period_s=60, method="request")
    # t0: no data; t1: 0 bad; t2: total 2000, budget 20, bad 2 -> 90 % left;
    # t3: total 2000, budget 20, bad 12 -> 40 % left -> WARNING; t4: 10 of 20 -> 50 % not below -> OK
    assert b["status"].to_list() == [INSUFFICIENT_DATA, OK, OK, WARNING, OK]
    assert b["remaining_fraction"][3] == pytest.approx(0.4, rel=1e-9)
    assert b["budget_remaining_s"].null_count() == 5  # seconds only for period-based


def test_breached_means_attainment_below_goal_request_based() -> None:
    f = sli([989.0, 990.0], [11.0, 10.0])
    b = rolling_budget(f, 0.99, 60, period_s=60, method="request")
    assert b["status"][0] == BREACHED and b["status"][1] != BREACHED
    assert b["attainment"][0] < 0.99 and b["budget_remaining"][0] < 0
    assert b["attainment"][1] == pytest.approx(0.99) and b["budget_remaining"][1] >= -1e-9


def _five_days_bad_on_day_two(method: str) -> pl.DataFrame:
    # hourly periods over 5 days; day 2 has a bad hour; 1000 requests per hour when request-based
    n = 5 * 24
    bad_hour = 24 + 5
    if method == "period":
        good = [0.0 if i == bad_hour else 1.0 for i in range(n)]
        bad = [1.0 if i == bad_hour else 0.0 for i in range(n)]
    else:
        good = [900.0 if i == bad_hour else 1000.0 for i in range(n)]
        bad = [100.0 if i == bad_hour else 0.0 for i in range(n)]
    return sli(good, bad, 3600)


def test_calendar_period_based_budget_only_shrinks_and_resets() -> None:
    f = _five_days_bad_on_day_two("period")
    b = calendar_budget(f, 0.95, T0, 2, "DAY", period_s=3600, method="period")
    # 2-day intervals: 48 periods x 5 % = 2.4 periods of budget, constant within the interval
    first = b.filter(pl.col("interval_start") == T0)
    assert first["budget_total"].unique().to_list() == [pytest.approx(2.4)]
    rem = first["budget_remaining"]
    assert (rem.diff().drop_nulls() <= 0).all()  # never grows inside the interval
    assert rem[-1] == pytest.approx(1.4)
    # the next interval starts with a full budget again
    second = b.filter(pl.col("interval_start") == datetime(2024, 1, 3, tzinfo=UTC))
    assert second["budget_remaining"][0] == pytest.approx(2.4)
    assert second["budget_total_s"][0] == pytest.approx(2.4 * 3600)


def test_calendar_request_based_budget_grows_back() -> None:
    f = _five_days_bad_on_day_two("request")
    b = calendar_budget(f, 0.95, T0, 2, "DAY", period_s=3600, method="request")
    first = b.filter(pl.col("interval_start") == T0)
    rem = first["budget_remaining"].to_list()
    i = 24 + 5  # the bad hour: remaining = 0.05 x 30000 - 100 = 1400 ...
    assert rem[i] == pytest.approx(0.05 * 30000 - 100)
    assert rem[i] < rem[i - 1]
    assert rem[i + 1] > rem[i]  # ... and grows as good requests add to the total
    assert rem[-1] == pytest.approx(0.05 * 48000 - 100)


@pytest.mark.parametrize("method", ["period", "request"])
def test_rolling_budget_recovers_as_bad_rolls_out(method: str) -> None:
    f = _five_days_bad_on_day_two(method)
    b = rolling_budget(f, 0.95, DAY, period_s=3600, method=method)
    i = 24 + 5
    rem = b["budget_remaining"].to_list()
    assert rem[i] < rem[i - 1]
    assert rem[i + 24] > rem[i + 23]  # the bad hour left the 1-day look-back
    if method == "period":
        assert rem[i + 24] == pytest.approx(0.05 * 24)


def test_calendar_month_bounds_follow_calendar() -> None:
    ts = pl.Series(
        [datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 2, 14, 23, tzinfo=UTC),
         datetime(2024, 2, 15, tzinfo=UTC), datetime(2024, 4, 20, tzinfo=UTC)],
        dtype=pl.Datetime("ms", "UTC"),
    )
    s, e = calendar_interval_bounds(ts, datetime(2024, 1, 15, tzinfo=UTC), 1, "MONTH")
    assert [x.date().isoformat() for x in s] == ["2024-01-15", "2024-01-15", "2024-02-15", "2024-04-15"]
    assert [x.date().isoformat() for x in e] == ["2024-02-15", "2024-02-15", "2024-03-15", "2024-05-15"]
    s3, e3 = calendar_interval_bounds(ts, datetime(2024, 1, 1, tzinfo=UTC), 3, "MONTH")
    assert [x.date().isoformat() for x in s3] == ["2024-01-01", "2024-01-01", "2024-01-01", "2024-04-01"]


def test_calendar_month_period_budget_uses_month_length() -> None:
    # a 1-MONTH calendar interval in February 2024 holds 29 days of 1-hour periods
    f = sli([1.0] * 3, [0.0] * 3, 3600, start=datetime(2024, 2, 1, tzinfo=UTC))
    jan = datetime(2024, 1, 1, tzinfo=UTC)
    b = calendar_budget(f, 0.99, jan, 1, "MONTH", period_s=3600, method="period")
    assert b["budget_total"][0] == pytest.approx(0.01 * 29 * 24)


def test_sliseries_duck_typing_and_validation() -> None:
    class Series:
        frame = sli([1.0], [0.0])
        period_s = 60
        method = "period"

    assert rolling_budget(Series(), 0.99, 3600)["budget_total"][0] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="period_s"):
        rolling_budget(sli([1.0], [0.0]), 0.99, 3600)
    with pytest.raises(Exception, match="bad"):
        rolling_budget(sli([1.0], [0.0]).drop("bad"), 0.99, 3600, period_s=60)


def _random_slis(seed: int, method: str) -> dict[str, pl.DataFrame]:
    """SLIs of different lengths with fractional counts, empty periods and bursts (no integer luck)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(4):
        n = int(rng.integers(1, 3000))
        if method == "period":
            bad = (rng.random(n) < 0.05).astype(float)
            good = 1.0 - bad
            good[rng.random(n) < 0.1] = 0.0  # excluded periods
        else:
            total = rng.uniform(0.0, 50.0, n) * (rng.random(n) > 0.1)
            bad = total * rng.uniform(0.0, 0.02, n)
            burst = int(rng.integers(0, n))
            bad[burst : burst + 30] = total[burst : burst + 30] * 0.7
            good = total - bad
        out[f"slo-{seed}-{k}"] = sli(list(good), list(bad), start=T0 + timedelta(minutes=int(rng.integers(0, 99))))
    return out


@pytest.mark.parametrize(
    ("seed", "method", "partial"), [(1, "request", False), (2, "period", True), (3, "request", True)]
)
def test_budgets_for_many_equal_the_per_slo_functions(seed: int, method: str, partial: bool) -> None:
    slis = _random_slis(seed, method)
    lookbacks = [300, 3600, 7200]
    long, p, m = stack_slis(slis, period_s=60, method=method)
    budget, burn = budgets_for_many(long, 0.99, 6 * 3600, lookbacks, period_s=p, method=m, partial=partial)
    assert budget.height == burn.height == sum(f.height for f in slis.values())
    for name, f in slis.items():
        one = rolling_budget(f, 0.99, 6 * 3600, period_s=60, method=method)
        mine = budget.filter(pl.col("slo") == name).drop("slo")
        # bit for bit, statuses included (not approximately)
        assert mine.equals(one), name
        rates = burn_rates(f, 0.99, lookbacks, period_s=60, partial=partial)
        assert burn.filter(pl.col("slo") == name).drop("slo").equals(rates), name
    assert (budget["status"] == BREACHED).any()  # the bursts make the comparison meaningful


def test_stacking_checks_layout_and_metadata() -> None:
    f = sli([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="differs"):
        stack_slis({"a": _Series(f, 60), "b": _Series(f, 3600)})
    long, _, _ = stack_slis({"a": f, "b": f}, period_s=60)
    assert [x.tolist() for x in slo_groups(long)] == [[0, 2], [2, 2]]
    with pytest.raises(FrameValidationError, match="contiguous"):
        slo_groups(long.sort("timestamp"))
    with pytest.raises(ValueError, match="at least one"):
        stack_slis({})


class _Series:
    """An SliSeries-like object (frame, period, method)."""

    def __init__(self, frame: pl.DataFrame, period_s: int) -> None:
        self.frame, self.period_s, self.method = frame, period_s, "request"
