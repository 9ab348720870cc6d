"""SLO model: construction, validation errors naming the field, golden budgets, exclusion windows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from slo_analysis.core.model import (
    SLO,
    ExclusionWindow,
    Interval,
    MetricRef,
    SloDefinitionError,
    budget_fraction,
    interval_bounds,
    interval_length,
    slos_from_frame,
)
from slo_analysis.exceptions import SloAnalysisError
from slo_analysis.sources.application_signals import slos_from_application_signals
from slo_analysis.sources.openslo import slos_from_python
from slo_analysis.store import Snapshot

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _slo(**kw: object) -> SLO:
    base: dict[str, object] = {"name": "x", "sli_kind": "availability", "method": "request", "target": 0.999}
    base.update(kw)
    return SLO(**base)  # type: ignore[arg-type]


def _budget_minutes(target: float, days: int) -> float:
    slo = _slo(target=target, interval=Interval("rolling", days, "DAY"))
    return budget_fraction(slo) * interval_length(slo).total_seconds() / 60


def test_golden_budget_minutes() -> None:
    assert _budget_minutes(0.999, 30) == pytest.approx(43.2, abs=1e-9)
    assert _budget_minutes(0.9995, 30) == pytest.approx(21.6, abs=1e-9)
    assert budget_fraction(_slo(target=0.999)) == 0.001


def test_calendar_month_lengths_are_real_months() -> None:
    slo = _slo(interval=Interval("calendar", 1, "MONTH", datetime(2026, 1, 1, tzinfo=UTC)))
    assert interval_length(slo, datetime(2026, 2, 10, tzinfo=UTC)) == timedelta(days=28)
    assert interval_length(slo, datetime(2026, 3, 31, 23, tzinfo=UTC)) == timedelta(days=31)
    assert interval_bounds(slo, datetime(2026, 3, 1, tzinfo=UTC)) == (datetime(2026, 3, 1, tzinfo=UTC),
                                                                     datetime(2026, 4, 1, tzinfo=UTC))
    with pytest.raises(SloDefinitionError, match="interval"):
        interval_length(slo)
    rolling = _slo(interval=Interval("rolling", 7, "DAY"))
    assert interval_bounds(rolling, T0) == (T0 - timedelta(days=7), T0)
    cal_day = _slo(interval=Interval("calendar", 1, "DAY", datetime(2026, 1, 1, 6, tzinfo=UTC)))
    assert interval_bounds(cal_day, datetime(2026, 1, 5, 3, tzinfo=UTC))[0] == datetime(2026, 1, 4, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"name": ""}, "name"),
        ({"target": 99.9}, "target"),
        ({"target": 1.0}, "target"),
        ({"target": True}, "target"),
        ({"sli_kind": "speed"}, "sli_kind"),
        ({"method": "both"}, "method"),
        ({"warning_threshold": 50}, "warning_threshold"),
        ({"comparison": "Equals"}, "comparison"),
        ({"sli_kind": "latency", "comparison": "LessThan"}, "threshold"),
        ({"sli_kind": "latency", "threshold": 800}, "comparison"),
        ({"method": "period", "sli_kind": "latency", "threshold": 800, "comparison": "LessThan", "period_s": 30},
         "period_s"),
        ({"method": "period", "sli_kind": "latency", "threshold": 800, "comparison": "LessThan", "period_s": 901},
         "period_s"),
        ({"period_s": 60}, "period_s"),
        ({"interval": Interval("rolling", 0, "DAY")}, "interval.duration"),
        ({"interval": Interval("rolling", 1, "WEEK")}, "interval.unit"),  # type: ignore[arg-type]
        ({"interval": Interval("calendar", 1, "MONTH")}, "interval.start"),
        ({"burn_rate_windows_min": (60, 20000)}, "burn_rate_windows_min[1]"),
        ({"budgeting": "weekly"}, "budgeting"),
        ({"budgeting": "timeslices"}, "budgeting"),  # a request-based SLO counts occurrences
        ({"method": "period", "sli_kind": "ratio", "period_s": 300, "budgeting": "occurrences"}, "budgeting"),
        ({"method": "period", "sli_kind": "latency", "threshold": 800, "comparison": "LessThan", "period_s": 60,
          "budgeting": "ratio_timeslices"}, "budgeting"),
        ({"method": "period", "sli_kind": "ratio", "period_s": 300}, "slice_target"),
        ({"method": "period", "sli_kind": "ratio", "period_s": 300, "slice_target": 0.0}, "slice_target"),
        ({"method": "period", "sli_kind": "ratio", "period_s": 300, "slice_target": 1.01}, "slice_target"),
        ({"method": "period", "sli_kind": "ratio", "period_s": 300, "budgeting": "ratio_timeslices",
          "slice_target": 0.9}, "slice_target"),
        ({"slice_target": 0.9}, "slice_target"),
    ],
)
def test_validation_errors_name_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(SloDefinitionError) as info:
        _slo(**kw)
    assert info.value.field == field
    assert isinstance(info.value, SloAnalysisError)
    assert repr(field) in str(info.value)


def test_period_bounds_are_inclusive() -> None:
    for p in (60, 900):
        assert _slo(method="period", sli_kind="latency", threshold=1, comparison="LessThan", period_s=p).period_s == p


def test_from_python_row_round_trip() -> None:
    df = slos_from_python(name="kb", sli_kind="latency", method="period", target=0.99, threshold=250.0,
                          comparison="LessThanOrEqualTo", period_s=300, interval="1M",
                          calendar_start=datetime(2026, 1, 1, tzinfo=UTC), metric="App/Latency{Service=kb}",
                          statistic="p90")
    (slo,) = slos_from_frame(df)
    assert (slo.sli_kind, slo.method, slo.target, slo.period_s) == ("latency", "period", 0.99, 300)
    assert slo.interval == Interval("calendar", 1, "MONTH", datetime(2026, 1, 1, tzinfo=UTC))
    assert slo.metric("sli") == MetricRef("sli", "App", "Latency", "Service=kb", "p90", 300)


def _aws_slo(**extra: object) -> dict[str, object]:
    q = [{"Id": "m1", "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "ApplicationSignals", "MetricName": "Latency",
                   "Dimensions": [{"Name": "Service", "Value": "api"}, {"Name": "Environment", "Value": "prod"}]},
        "Period": 300, "Stat": "p99"}}]
    slo: dict[str, object] = {
        "Name": "api-latency", "Goal": {"AttainmentGoal": 99.5, "WarningThreshold": 30.0,
                                        "Interval": {"CalendarInterval": {"StartTime": "2026-01-01T00:00:00Z",
                                                                          "Duration": 1, "DurationUnit": "MONTH"}}},
        "Sli": {"SliMetric": {"KeyAttributes": {"Name": "api", "Environment": "prod", "Type": "Service"},
                              "OperationName": "GET /x", "MetricType": "LATENCY", "MetricDataQueries": q},
                "MetricThreshold": 500.0, "ComparisonOperator": "LessThanOrEqualTo"},
        "BurnRateConfigurations": [{"LookBackWindowMinutes": 60}, {"LookBackWindowMinutes": 5}],
    }
    slo.update(extra)
    return slo


def test_application_signals_definition_is_parsed() -> None:
    (row,) = slos_from_application_signals({"Slo": _aws_slo()}).iter_rows(named=True)
    slo = SLO.from_row(row)
    assert (slo.name, slo.service, slo.operation, slo.environment) == ("api-latency", "api", "GET /x", "prod")
    assert (slo.sli_kind, slo.method, slo.period_s) == ("latency", "period", 300)
    assert (slo.target, slo.warning_threshold) == (0.995, 0.3)
    assert (slo.threshold, slo.comparison) == (500.0, "LessThanOrEqualTo")
    assert slo.burn_rate_windows_min == (60, 5)
    assert slo.interval.kind == "calendar" and slo.interval.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert slo.metric("sli") == MetricRef("sli", "ApplicationSignals", "Latency", "Environment=prod,Service=api",
                                          "p99", 300)


def test_application_signals_errors_use_aws_field_names() -> None:
    bad = _aws_slo()
    bad["Goal"] = {"AttainmentGoal": 100.0}
    row = {"name": "api-latency", "source": "application-signals", "definition": json.dumps(bad)}
    with pytest.raises(SloDefinitionError) as info:
        SLO.from_row(row)
    assert info.value.field == "Goal.AttainmentGoal" and info.value.slo == "api-latency"
    with pytest.raises(SloDefinitionError, match="definition"):
        SLO.from_row({"name": "n", "source": "application-signals", "definition": "{not json"})
    with pytest.raises(SloDefinitionError, match="source"):
        SLO.from_row({"name": "n", "source": "datadog", "definition": "{}"})


def test_exclusion_windows_from_definition() -> None:
    ews = [{"Window": {"Duration": 2, "DurationUnit": "HOUR"}, "StartTime": "2026-11-02T01:00:00Z",
            "Reason": "db upgrade"},
           {"Window": {"Duration": 30, "DurationUnit": "MINUTE"}, "StartTime": "2026-11-01T03:00:00Z",
            "RecurrenceRule": {"Expression": "rate(1 day)"}},
           {"Window": {"Duration": 1, "DurationUnit": "HOUR"},
            "RecurrenceRule": {"Expression": "cron(0 22 ? * MON-FRI *)"}}]
    slo = SLO.from_row({"name": "a", "source": "application-signals",
                        "definition": json.dumps(_aws_slo(ExclusionWindows=ews))})
    one, rate, cron = slo.exclusion_windows
    w = (T0, T0 + timedelta(days=2))  # Monday 2 and Tuesday 3 November 2026
    assert one.occurrences(w) == [(T0 + timedelta(hours=1), T0 + timedelta(hours=3))]
    assert one.reason == "db upgrade"
    assert [s.hour for s, _ in rate.occurrences(w)] == [3, 3]
    assert [s for s, _ in rate.occurrences(w)] == [T0 + timedelta(hours=3), T0 + timedelta(days=1, hours=3)]
    assert [s for s, _ in cron.occurrences(w)] == [T0 + timedelta(hours=22), T0 + timedelta(days=1, hours=22)]
    # a weekend: no weekday cron occurrences; a window that starts inside an occurrence still sees it
    sat = datetime(2026, 11, 7, tzinfo=UTC)
    assert cron.occurrences((sat, sat + timedelta(days=2))) == []
    assert rate.occurrences((T0 + timedelta(hours=3, minutes=10), T0 + timedelta(hours=4))) == [
        (T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=30))]


@pytest.mark.parametrize(
    ("ew", "field"),
    [
        ({"Window": {"Duration": 1, "DurationUnit": "HOUR"}}, "ExclusionWindows[0].StartTime"),
        ({"Window": {"Duration": 0, "DurationUnit": "HOUR"}, "StartTime": "2026-01-01T00:00:00Z"},
         "ExclusionWindows[0].Window.Duration"),
        ({"Window": {"Duration": 1, "DurationUnit": "HOUR"}, "RecurrenceRule": {"Expression": "cron(0 0 L * ? *)"}},
         "ExclusionWindows[0].RecurrenceRule.Expression"),
        ({"Window": {"Duration": 1, "DurationUnit": "HOUR"}, "RecurrenceRule": {"Expression": "every tuesday"}},
         "ExclusionWindows[0].RecurrenceRule.Expression"),
    ],
)
def test_unsupported_exclusion_windows_raise(ew: dict[str, object], field: str) -> None:
    with pytest.raises(SloDefinitionError) as info:
        SLO.from_row({"name": "a", "source": "application-signals",
                      "definition": json.dumps(_aws_slo(ExclusionWindows=[ew]))})
    assert info.value.field == field and info.value.slo == "api-latency"


def test_models_from_the_demo_slos_frame(demo_snapshot: object) -> None:
    snap = Snapshot.open(demo_snapshot)  # type: ignore[arg-type]
    slos = {s.name: s for s in slos_from_frame(snap.read("slos"))}
    assert len(slos) == 8
    lat = slos["CreateTicket-Latency-p99"]
    assert (lat.method, lat.period_s, lat.threshold, lat.comparison) == ("period", 60, 800.0, "LessThan")
    assert lat.burn_rate_windows_min == (5, 60)
    assert lat.metric("sli") == MetricRef("sli", "ApplicationSignals", "Latency",
                                          "Environment=prod,Operation=CreateTicket,Service=ticket-api", "p99", 60)
    avail = slos["CreateTicket-Availability"]
    assert avail.target == 0.999 and avail.interval == Interval("rolling", 7, "DAY")
    assert avail.metric("bad") is not None and avail.metric("bad").metric == "Fault"  # type: ignore[union-attr]
    assert avail.metric("total").statistic == "SampleCount"  # type: ignore[union-attr]
    fr = slos["FirstResponse-5m"]
    assert fr.metric("good").metric == "FirstResponseWithin5m"  # type: ignore[union-attr]
    # OpenSLO rows: operation and environment from the CloudWatch dimensions of the indicator
    o = slos["searcharticles-availability"]
    assert (o.service, o.operation, o.environment, o.sli_kind) == ("kb-search", "SearchArticles", "prod", "ratio")
    assert slos["createticket-latency-p99"].metric("sli").statistic == "p99"  # type: ignore[union-attr]


def test_slos_from_frame_names_the_bad_row() -> None:
    df = slos_from_python(name="ok", sli_kind="availability", method="request", target=0.99)
    broken = df.with_columns(name=pl.lit("broken"), target=pl.lit(1.5))
    with pytest.raises(SloDefinitionError) as info:
        slos_from_frame(pl.concat([df, broken]))
    assert (info.value.slo, info.value.field) == ("broken", "target")


def test_exclusion_window_requires_start_for_one_off() -> None:
    with pytest.raises(SloDefinitionError, match="StartTime"):
        ExclusionWindow(duration=1, unit="HOUR")


def test_budgeting_defaults_and_time_slice_fields() -> None:
    assert _slo().budgeting == "occurrences" and _slo().slice_target is None
    lat = _slo(method="period", sli_kind="latency", threshold=800, comparison="LessThan", period_s=60)
    assert (lat.budgeting, lat.slice_target) == ("timeslices", None)
    ts = _slo(method="period", sli_kind="ratio", period_s=300, slice_target=1)
    assert (ts.budgeting, ts.slice_target) == ("timeslices", 1.0)
    rt = _slo(method="period", sli_kind="ratio", period_s=300, budgeting="ratio_timeslices")
    assert (rt.budgeting, rt.slice_target) == ("ratio_timeslices", None)


def test_openslo_time_slices_reach_the_model() -> None:
    from slo_analysis.sources.openslo import slos_from_openslo

    text = (Path(__file__).parents[1] / "sources" / "data" / "openslo.yaml").read_text()
    slos = {s.name: s for s in slos_from_frame(slos_from_openslo(text))}
    lat = slos["create-ticket-latency"]
    assert (lat.method, lat.budgeting, lat.slice_target, lat.period_s) == ("period", "timeslices", 0.99, 60)
    ent = slos["first-response/enterprise"]
    assert (ent.sli_kind, ent.method, ent.budgeting, ent.slice_target, ent.period_s) == (
        "ratio", "period", "ratio_timeslices", None, 300)
    assert slos["create-ticket-availability"].budgeting == "occurrences"
