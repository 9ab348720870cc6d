from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from corrupt import corrupted
from hypothesis import given, settings

from slo_analysis.exceptions import MissingKeyError, SloAnalysisError
from slo_analysis.sources import application_signals as aps

DATA = Path(__file__).parent / "data"
LATENCY = json.loads((DATA / "slo-create-ticket-latency.json").read_text())
AVAILABILITY = json.loads((DATA / "slo-create-ticket-availability.json").read_text())


def test_period_based_latency_slo():
    row = aps.slos_from_application_signals(LATENCY, file="slo.json").row(0, named=True)
    definition = row.pop("definition")
    assert row == {
        "name": "create-ticket-latency", "service": "ticket-api", "operation": "POST /tickets",
        "environment": "prod", "sli_kind": "latency", "method": "period",
        "metric": "ApplicationSignals/Latency{Environment=prod,Operation=POST /tickets,Service=ticket-api}",
        "statistic": "p99", "threshold": 800.0, "comparison": "LessThan", "target": 0.99,
        "warning_threshold": 0.3, "interval_kind": "calendar", "interval_duration": 1, "interval_unit": "MONTH",
        "calendar_start": datetime(2026, 11, 1, tzinfo=UTC), "period_s": 60, "source": "application-signals"}
    assert json.loads(definition) == LATENCY["Slo"]
    assert definition == json.dumps(LATENCY["Slo"], sort_keys=True, separators=(",", ":"))


def test_request_based_availability_slo_golden_target():
    row = aps.slos_from_application_signals(AVAILABILITY["Slo"]).row(0, named=True)
    assert row["target"] == 0.999  # 99.9 % -> 0.999 exactly (golden)
    assert (row["sli_kind"], row["method"], row["period_s"], row["warning_threshold"]) == (
        "availability", "request", None, 0.5)  # WarningThreshold absent: documented default 50 %
    assert (row["interval_kind"], row["interval_duration"], row["interval_unit"]) == ("rolling", 30, "DAY")
    assert row["metric"] == ("bad=ApplicationSignals/Fault{Environment=prod,Operation=POST /tickets,"
                             "Service=ticket-api}; total=ApplicationSignals/Latency{Environment=prod,"
                             "Operation=POST /tickets,Service=ticket-api}")


def test_list_forms_custom_kinds_and_boto3_datetimes():
    custom = {"Name": "cpu", "CreatedTime": datetime(2024, 12, 27, 2, 46, 9, tzinfo=UTC),
              "Goal": {"AttainmentGoal": 99.0, "WarningThreshold": 50.0},
              "Sli": {"SliMetric": {"MetricDataQueries": [{"Id": "m1", "MetricStat": {"Metric": {
                  "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                  "Dimensions": [{"Name": "InstanceId", "Value": "i-0e5"}]}, "Period": 60, "Stat": "Average"},
                  "ReturnData": True}]}, "MetricThreshold": 200.0, "ComparisonOperator": "LessThanOrEqualTo"},
              "EvaluationType": "PeriodBased"}
    ratio = {"Name": "alb", "Goal": {}, "RequestBasedSli": {"RequestBasedSliMetric": {
        "TotalRequestCountMetric": [{"Id": "t", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB",
                                                                          "MetricName": "RequestCount"},
                                                               "Period": 60, "Stat": "Sum"}}],
        "MonitoredRequestCountMetric": {"GoodCountMetric": [{"Id": "g", "Expression": "t - e"}]}}}}
    df = aps.slos_from_application_signals({"Slos": [custom, ratio]})
    assert df.select("name", "sli_kind", "method", "metric", "target", "interval_duration").rows() == [
        ("cpu", "threshold", "period", "AWS/EC2/CPUUtilization{InstanceId=i-0e5}", 0.99, 7),
        ("alb", "ratio", "request", "good=math:t - e; total=AWS/ApplicationELB/RequestCount", 0.99, 7)]
    assert json.loads(df["definition"][0])["CreatedTime"] == "2024-12-27T02:46:09+00:00"
    assert aps.slos_from_application_signals([custom]).height == 1


def test_missing_key_names_file_and_key():
    bad = json.loads(json.dumps(LATENCY))
    del bad["Slo"]["Sli"]["SliMetric"]["MetricDataQueries"]
    with pytest.raises(MissingKeyError) as err:
        aps.slos_from_application_signals(bad, file="slos/create-ticket-latency.json")
    assert err.value.key == "MetricDataQueries"
    assert "slos/create-ticket-latency.json" in str(err.value) and "create-ticket-latency" in str(err.value)


def test_predicate():
    assert aps.looks_like_application_signals_slo(LATENCY)
    assert aps.looks_like_application_signals_slo(AVAILABILITY["Slo"])
    assert aps.looks_like_application_signals_slo({"Slos": [LATENCY["Slo"]]})
    assert not aps.looks_like_application_signals_slo({"SloSummaries": []})
    assert not aps.looks_like_application_signals_slo({"MetricAlarms": []})


@settings(max_examples=200, deadline=None)
@given(doc=corrupted({"Slos": [LATENCY["Slo"], AVAILABILITY["Slo"]]}))
def test_corruption_raises_only_package_errors(doc):
    with contextlib.suppress(SloAnalysisError):
        aps.slos_from_application_signals(doc, file="x")
