"""SLI frames: grid contract, comparisons at the boundary, missing data, right-censoring, exclusions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from slo_analysis.core.model import SLO, ExclusionWindow, MetricRef
from slo_analysis.core.sli import (
    SliError,
    SliSeries,
    align_window,
    apply_exclusions,
    first_response_sli,
    period_sli_from_series,
    ratio_timeslices_sli,
    request_sli_from_counts,
    request_sli_from_requests,
    timeslices_sli,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)
W = (T0, T0 + timedelta(minutes=5))
MIN = timedelta(minutes=1)


def _ts(*offsets_s: float) -> pl.Series:
    return pl.Series("timestamp", [T0 + timedelta(seconds=s) for s in offsets_s]).cast(pl.Datetime("ms", "UTC"))


def _check_contract(sli: SliSeries, n: int) -> None:
    f = sli.frame
    assert dict(f.schema) == {"timestamp": pl.Datetime("ms", "UTC"), "good": pl.Float64, "bad": pl.Float64}
    assert f.height == n
    assert f["timestamp"].diff().drop_nulls().unique().to_list() == [timedelta(seconds=sli.period_s)]
    assert f["timestamp"][0] == T0


def _requests() -> pl.DataFrame:
    return pl.DataFrame({
        "timestamp": _ts(0, 10, 70, 130, 131, 400, -1, 300),
        "service": ["api"] * 7 + ["other"],
        "operation": ["Op", "Op", "Op", "Op", "Other", "Op", "Op", "Op"],
        "latency_ms": [100.0, 800.0, 799.999, 900.0, 5000.0, 800.0, 1.0, 1.0],
        "fault": [False, True, False, False, True, False, True, True],
    })


def test_request_availability_from_requests() -> None:
    slo = SLO(name="a", sli_kind="availability", method="request", target=0.99, service="api", operation="Op")
    sli = request_sli_from_requests(_requests(), slo, W, 60)
    _check_contract(sli, 5)
    assert sli.method == "request"
    assert sli.frame["good"].to_list() == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert sli.frame["bad"].to_list() == [1.0, 0.0, 0.0, 0.0, 0.0]  # other op, other service, outside: ignored


@pytest.mark.parametrize(
    ("comparison", "good_at_800"),
    [("LessThan", False), ("LessThanOrEqualTo", True), ("GreaterThan", False), ("GreaterThanOrEqualTo", True)],
)
def test_latency_comparison_at_the_exact_threshold(comparison: str, good_at_800: bool) -> None:
    slo = SLO(name="l", sli_kind="latency", method="request", target=0.99, service="api", operation="Op",
              threshold=800.0, comparison=comparison)  # type: ignore[arg-type]
    reqs = pl.DataFrame({"timestamp": _ts(0, 60, 120), "service": ["api"] * 3, "operation": ["Op"] * 3,
                         "latency_ms": [800.0, 799.0, 801.0], "fault": [False] * 3})
    sli = request_sli_from_requests(reqs, slo, W, 60)
    below_good = comparison.startswith("Less")
    assert sli.frame["good"].to_list()[:3] == [float(good_at_800), float(below_good), float(not below_good)]
    assert (sli.frame["good"] + sli.frame["bad"]).to_list() == [1.0, 1.0, 1.0, 0.0, 0.0]


def _metrics() -> pl.DataFrame:
    rows = []
    dims = "Environment=prod,Operation=Op,Service=api"
    for i, (n, f) in enumerate([(100, 1), (50, 0), (0, 0), (10, 20)]):
        rows.append((T0 + i * MIN, "ApplicationSignals", "Latency", dims, "SampleCount", 60, float(n)))
        if i != 1:  # minute 1 has no Fault datapoint
            rows.append((T0 + i * MIN, "ApplicationSignals", "Fault", dims, "Sum", 60, float(f)))
    # the same SampleCount at 300 s must not be counted twice; another service must be ignored
    rows.append((T0, "ApplicationSignals", "Latency", dims, "SampleCount", 300, 160.0))
    rows.append((T0, "ApplicationSignals", "Fault", dims.replace("api", "web"), "Sum", 60, 99.0))
    return pl.DataFrame(rows, schema={"timestamp": pl.Datetime("ms", "UTC"), "namespace": pl.String,
                                      "metric": pl.String, "dimensions": pl.String, "stat": pl.String,
                                      "period_s": pl.Int64, "value": pl.Float64}, orient="row")


def test_availability_from_fault_and_sample_count() -> None:
    dims = "Environment=prod,Operation=Op,Service=api"
    slo = SLO(name="a", sli_kind="availability", method="request", target=0.999,
              metrics=(MetricRef("total", "ApplicationSignals", "Latency", dims, "SampleCount"),
                       MetricRef("bad", "ApplicationSignals", "Fault", dims, "Sum")))
    sli = request_sli_from_counts(_metrics(), slo, W, 60)
    _check_contract(sli, 5)
    assert sli.frame["good"].to_list() == [99.0, 50.0, 0.0, 0.0, 0.0]
    assert sli.frame["bad"].to_list() == [1.0, 0.0, 0.0, 10.0, 0.0]  # bad capped at the total
    five = request_sli_from_counts(_metrics(), slo, W, 300)
    assert five.frame.select("good", "bad").row(0) == (139.0, 21.0)  # 160 total (60 s data only)
    good_based = request_sli_from_counts(_metrics(), slo, W, 60, total=slo.metric("total"),
                                         good=MetricRef("good", "ApplicationSignals", "Fault", dims, "Sum"))
    assert good_based.frame["good"].to_list() == [1.0, 0.0, 0.0, 10.0, 0.0]
    with pytest.raises(SliError, match="total"):
        request_sli_from_counts(_metrics(), SLO(name="r", sli_kind="ratio", method="request", target=0.9), W)


def _series(values: list[float | None], offsets: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"timestamp": _ts(*offsets), "value": pl.Series(values, dtype=pl.Float64)})


@pytest.mark.parametrize(
    ("missing", "good", "bad"),
    [("good", [1, 0, 1, 1, 1], [0, 1, 0, 0, 0]), ("bad", [1, 0, 0, 0, 1], [0, 1, 1, 1, 0]),
     ("exclude", [1, 0, 0, 0, 1], [0, 1, 0, 0, 0])],
)
def test_period_missing_data_policies(missing: str, good: list[int], bad: list[int]) -> None:
    # minute 2 has no datapoint, minute 3 only a null and a NaN: both missing
    s = _series([799.0, 800.0, None, float("nan"), 100.0], [0, 60, 180, 190, 240])
    sli = period_sli_from_series(s, 800.0, "LessThan", W, 60, missing=missing)  # type: ignore[arg-type]
    _check_contract(sli, 5)
    assert sli.method == "period"
    assert sli.frame["good"].to_list() == [float(g) for g in good]
    assert sli.frame["bad"].to_list() == [float(b) for b in bad]


def test_period_default_is_good_and_all_datapoints_must_pass() -> None:
    s = _series([100.0, 900.0, 100.0], [0, 30, 60])
    sli = period_sli_from_series(s, 800.0, "LessThanOrEqualTo", W, 60)
    assert sli.frame["bad"].to_list() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert sli.frame["good"].to_list() == [0.0, 1.0, 1.0, 1.0, 1.0]
    with pytest.raises(SliError, match="missing-data policy"):
        period_sli_from_series(s, 800.0, "LessThan", W, 60, missing="ignore")  # type: ignore[arg-type]
    with pytest.raises(SliError, match="comparison"):
        period_sli_from_series(s, 800.0, "Equals", W, 60)


def test_window_must_be_whole_periods_and_aware() -> None:
    s = _series([1.0], [0])
    with pytest.raises(SliError, match="whole number"):
        period_sli_from_series(s, 800.0, "LessThan", (T0, T0 + timedelta(seconds=90)), 60)
    with pytest.raises(SliError, match="timezone"):
        period_sli_from_series(s, 800.0, "LessThan", (T0.replace(tzinfo=None), T0 + MIN), 60)
    assert align_window((T0 + timedelta(seconds=5), T0 + timedelta(seconds=61)), 60) == (T0, T0 + 2 * MIN)


def _events(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame({"ticket_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                         "timestamp": _ts(*[r[2] for r in rows])})


def test_first_response_good_bad_and_threshold_inclusive() -> None:
    ev = _events([("A", "ticket_created", 0), ("A", "first_response", 300),       # exactly 5 min: good
                  ("B", "ticket_created", 10), ("B", "first_response", 310.001),  # 1 ms late: bad
                  ("B", "first_response", 20),                                    # earliest response counts
                  ("C", "ticket_created", 70), ("C", "first_response", 371),      # late: bad
                  ("D", "first_response", 100),                                   # no creation: ignored
                  ("E", "ticket_created", -5), ("E", "first_response", 1)])       # created before: ignored
    sli = first_response_sli(ev, 300, (T0, T0 + 10 * MIN), 60)
    assert sli.frame["good"].to_list()[:2] == [2.0, 0.0]
    assert sli.frame["bad"].to_list()[:2] == [0.0, 1.0]
    assert sli.frame.select(pl.col("good").sum(), pl.col("bad").sum()).row(0) == (2.0, 1.0)


def test_first_response_right_censoring_boundary() -> None:
    end = T0 + 10 * MIN
    # created exactly threshold before the end: not yet decidable -> not counted
    at = _events([("A", "ticket_created", 300)])
    assert first_response_sli(at, 300, (T0, end), 60).frame.select(pl.col("good").sum(), pl.col("bad").sum()).row(
        0) == (0.0, 0.0)
    # one millisecond earlier: the threshold has passed without a response -> bad
    past = _events([("A", "ticket_created", 299.999)])
    f = first_response_sli(past, 300, (T0, end), 60).frame
    assert f["bad"].to_list()[4] == 1.0 and f["good"].sum() == 0.0
    # a response at or after the window end is not seen yet
    late = _events([("A", "ticket_created", 200), ("A", "first_response", 600)])
    assert first_response_sli(late, 300, (T0, end), 60).frame["bad"].sum() == 1.0
    young = _events([("A", "ticket_created", 500), ("A", "first_response", 600)])
    assert first_response_sli(young, 300, (T0, end), 60).frame.select(pl.col("good").sum() + pl.col("bad").sum()
                                                                    ).item() == 0.0


def test_exclusions_zero_overlapping_periods() -> None:
    slo = SLO(name="a", sli_kind="availability", method="request", target=0.99, service="api", operation="Op")
    sli = request_sli_from_requests(_requests(), slo, W, 60)
    out = apply_exclusions(sli, [(T0 + timedelta(seconds=30), T0 + timedelta(seconds=61))])
    assert out.frame["good"].to_list() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert out.frame["bad"].to_list() == [0.0, 0.0, 0.0, 0.0, 0.0]
    assert out.frame["timestamp"].equals(sli.frame["timestamp"])
    # an interval ending exactly at a period start does not touch that period
    edge = apply_exclusions(sli, [(T0 - MIN, T0 + 2 * MIN)])
    assert edge.frame["good"].to_list() == [0.0, 0.0, 1.0, 0.0, 0.0]
    rec = ExclusionWindow(duration=1, unit="MINUTE", start=T0 + MIN, recurrence="rate(2 minutes)")
    assert apply_exclusions(sli, [rec]).frame["good"].to_list() == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert apply_exclusions(sli, []).frame.equals(sli.frame)



def _counts(good: list[float], bad: list[float], period_s: int = 60) -> SliSeries:
    """A request-based SLI of event counts on the grid of W."""
    grid = pl.datetime_range(T0, T0 + timedelta(seconds=period_s * (len(good) - 1)), f"{period_s}s", eager=True,
                             time_unit="ms").alias("timestamp")
    return SliSeries(pl.DataFrame({"timestamp": grid, "good": good, "bad": bad}), period_s, "request")


# slices: 9/10, 19/20, 1/2, no events, 100/100 (ratios 0.9, 0.95, 0.5, -, 1.0)
SLICE_GOOD, SLICE_BAD = [9.0, 19.0, 1.0, 0.0, 100.0], [1.0, 1.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize(("target", "good", "bad"), [
    (0.9, [1, 1, 0, 1, 1], [0, 0, 1, 0, 0]),    # 9/10 meets 0.9 exactly (>=)
    (0.95, [0, 1, 0, 1, 1], [1, 0, 1, 0, 0]),   # 19/20 = 0.95 exactly
    (1.0, [0, 0, 0, 1, 1], [1, 1, 1, 0, 0]),
])
def test_timeslices_from_counts(target: float, good: list[int], bad: list[int]) -> None:
    s = timeslices_sli(_counts(SLICE_GOOD, SLICE_BAD), target)
    _check_contract(s, 5)
    assert s.method == "period"
    assert s.frame["good"].to_list() == [float(g) for g in good]
    assert s.frame["bad"].to_list() == [float(b) for b in bad]


def test_ratio_timeslices_average_the_slice_ratios() -> None:
    counts = _counts(SLICE_GOOD, SLICE_BAD)
    s = ratio_timeslices_sli(counts, missing="exclude")
    _check_contract(s, 5)
    assert s.frame["good"].to_list() == [0.9, 0.95, 0.5, 0.0, 1.0]
    assert s.frame["bad"].to_list() == [0.1, 0.05, 0.5, 0.0, 0.0]
    # attainment = mean of the four ratios = 3.35 / 4 = 0.8375; occurrences would give 129 / 132
    total = s.frame["good"].sum() + s.frame["bad"].sum()
    assert total == pytest.approx(4.0)
    assert s.frame["good"].sum() / total == pytest.approx(0.8375)
    # the slice without events counts as a perfect slice by default, as a failed one with "bad"
    assert ratio_timeslices_sli(counts).frame.row(3)[1:] == (1.0, 0.0)
    assert ratio_timeslices_sli(counts, missing="bad").frame.row(3)[1:] == (0.0, 1.0)
    assert timeslices_sli(counts, 0.9, missing="exclude").frame.row(3)[1:] == (0.0, 0.0)


def test_time_slices_reject_bad_input() -> None:
    counts = _counts(SLICE_GOOD, SLICE_BAD)
    with pytest.raises(SliError, match="slice_target"):
        timeslices_sli(counts, 0.0)
    with pytest.raises(SliError, match="slice_target"):
        timeslices_sli(counts, 1.5)
    with pytest.raises(SliError, match="request-based"):
        ratio_timeslices_sli(SliSeries(counts.frame, 60, "period"))
    with pytest.raises(SliError, match="missing-data"):
        ratio_timeslices_sli(counts, missing="skip")  # type: ignore[arg-type]


def test_period_slice_target_is_the_share_of_good_datapoints() -> None:
    # minute 0: 3 of 4 datapoints good; minute 1: 1 of 1; minute 2: 0 of 1
    s = _series([100.0, 100.0, 100.0, 900.0, 100.0, 900.0], [0, 15, 30, 45, 60, 120])
    default = period_sli_from_series(s, 800.0, "LessThan", W, 60)
    assert default.frame["good"].to_list() == [0.0, 1.0, 0.0, 1.0, 1.0]
    three_quarters = period_sli_from_series(s, 800.0, "LessThan", W, 60, slice_target=0.75)
    assert three_quarters.frame["good"].to_list() == [1.0, 1.0, 0.0, 1.0, 1.0]
    assert period_sli_from_series(s, 800.0, "LessThan", W, 60, slice_target=0.8).frame["good"][0] == 0.0
    with pytest.raises(SliError, match="slice_target"):
        period_sli_from_series(s, 800.0, "LessThan", W, 60, slice_target=0)
