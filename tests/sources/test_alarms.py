from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from corrupt import corrupted
from hypothesis import given, settings

from slo_analysis.exceptions import InputError, MissingKeyError, SloAnalysisError
from slo_analysis.sources import alarms


def _load(aws_fixtures, name):
    return json.loads((aws_fixtures / "cli-examples" / "cloudwatch" / name).read_text())


def test_describe_alarms_fixture(aws_fixtures):
    df = alarms.alarm_definitions_from_describe_alarms(_load(aws_fixtures, "describe-alarms.output1.json"),
                                                       file="describe-alarms.json")
    assert df.to_dicts() == [{
        "alarm_name": "myalarm", "alarm_type": "MetricAlarm",
        "watches": "AWS/EC2/CPUUtilization{InstanceId=i-0c986c72}", "namespace": "AWS/EC2",
        "metric": "CPUUtilization", "dimensions": "InstanceId=i-0c986c72", "statistic": "Average",
        "period_s": 300, "threshold": 70.0, "comparison": "GreaterThanThreshold", "evaluation_periods": 2,
        "datapoints_to_alarm": None, "actions_enabled": True, "description": "CPU usage exceeds 70 percent"}]


def test_describe_alarms_for_metric_fixture(aws_fixtures):
    df = alarms.alarm_definitions_from_describe_alarms(
        _load(aws_fixtures, "describe-alarms-for-metric.output1.json"))
    assert df["alarm_name"].to_list() == ["myHighCpuAlarm2", "myHighCpuAlarm"]
    assert df["evaluation_periods"].to_list() == [10, 2]
    assert df["comparison"].to_list() == ["GreaterThanOrEqualToThreshold", "GreaterThanThreshold"]
    assert df["actions_enabled"].to_list() == [True, False]


def test_slo_math_and_composite_alarms():
    doc = {
        "MetricAlarms": [
            {"AlarmName": "burn-1h", "Namespace": "AWS/ApplicationSignals", "MetricName": "BurnRate",
             "Statistic": "Maximum", "Period": 60, "Threshold": 14.4,
             "ComparisonOperator": "GreaterThanThreshold",
             "Dimensions": [{"Name": "SloName", "Value": "create-ticket-availability"},
                            {"Name": "BurnRateWindowMinutes", "Value": "60"}]},
            {"AlarmName": "fault-rate", "Threshold": 0.01, "ComparisonOperator": "GreaterThanThreshold",
             "Metrics": [
                 {"Id": "e1", "Expression": "f/n", "ReturnData": True},
                 {"Id": "f", "ReturnData": False, "MetricStat": {"Metric": {
                     "Namespace": "ApplicationSignals", "MetricName": "Fault",
                     "Dimensions": [{"Name": "Service", "Value": "ticket-api"}]}, "Period": 60, "Stat": "Sum"}},
                 {"Id": "n", "ReturnData": False, "MetricStat": {"Metric": {
                     "Namespace": "ApplicationSignals", "MetricName": "Latency",
                     "Dimensions": [{"Name": "Service", "Value": "ticket-api"}]}, "Period": 60,
                     "Stat": "SampleCount"}}]},
            {"AlarmName": "burn-math", "Metrics": [
                {"Id": "e1", "Expression": "MAX([b1])", "ReturnData": True},
                {"Id": "b1", "ReturnData": False, "MetricStat": {"Metric": {
                    "Namespace": "AWS/ApplicationSignals", "MetricName": "BurnRate",
                    "Dimensions": [{"Name": "SloName", "Value": "kb-availability"}]}, "Period": 60,
                    "Stat": "Maximum"}}]},
        ],
        "CompositeAlarms": [{"AlarmName": "page-ticket-api",
                             "AlarmRule": "ALARM(burn-1h) AND ALARM(fault-rate)", "ActionsEnabled": True}],
    }
    df = alarms.alarm_definitions_from_describe_alarms(doc)
    w = dict(zip(df["alarm_name"], df["watches"], strict=True))
    assert w == {
        "burn-1h": "slo:create-ticket-availability",
        "fault-rate": "f/n [f=ApplicationSignals/Fault{Service=ticket-api}:Sum, "
                      "n=ApplicationSignals/Latency{Service=ticket-api}:SampleCount]",
        "burn-math": "slo:kb-availability",
        "page-ticket-api": "ALARM(burn-1h) AND ALARM(fault-rate)",
    }
    assert df.filter(df["alarm_name"] == "page-ticket-api")["alarm_type"].item() == "CompositeAlarm"
    assert df.filter(df["alarm_name"] == "fault-rate")["namespace"].item() == "MetricMath"


def test_history_fixture_with_definitions(aws_fixtures):
    defs = alarms.alarm_definitions_from_describe_alarms(_load(aws_fixtures, "describe-alarms.output1.json"))
    df = alarms.alarms_from_history(_load(aws_fixtures, "describe-alarm-history.output1.json"),
                                    file="history.json", definitions=defs)
    assert df.to_dicts() == [
        {"timestamp": datetime(2014, 4, 9, 18, 59, 5, 805000, tzinfo=UTC), "alarm_name": "myalarm",
         "alarm_type": "MetricAlarm", "old_state": "OK", "new_state": "ALARM", "reason": "testing purposes",
         "watches": "AWS/EC2/CPUUtilization{InstanceId=i-0c986c72}"},
        {"timestamp": datetime(2014, 4, 9, 18, 59, 6, 442000, tzinfo=UTC), "alarm_name": "myalarm",
         "alarm_type": "MetricAlarm", "old_state": "ALARM", "new_state": "OK",
         "reason": "Threshold Crossed: 2 datapoints were not greater than the threshold (70.0). "
                   "The most recent datapoints: [38.958, 40.292].",
         "watches": "AWS/EC2/CPUUtilization{InstanceId=i-0c986c72}"},
    ]


def test_history_without_definitions_skips_other_item_types():
    doc = {"AlarmHistoryItems": [
        {"AlarmName": "burn-1h", "AlarmType": "MetricAlarm", "Timestamp": "2026-11-03T10:12:00.000Z",
         "HistoryItemType": "Action", "HistorySummary": "Successfully executed action", "HistoryData": "{}"},
        {"AlarmName": "burn-1h", "AlarmType": "MetricAlarm", "Timestamp": "2026-11-03T10:11:00.000Z",
         "HistoryItemType": "StateUpdate",
         "HistoryData": json.dumps({"version": "1.0", "oldState": {"stateValue": "OK"},
                                    "newState": {"stateValue": "ALARM", "stateReason": "burn 15x"}})},
        {"AlarmName": "burn-1h", "Timestamp": "2026-11-01T00:00:00Z", "HistoryItemType": "ConfigurationUpdate",
         "HistoryData": "{}"},
    ]}
    df = alarms.alarms_from_history(doc)
    assert df.select("timestamp", "alarm_type", "old_state", "new_state", "reason", "watches").rows() == [
        (datetime(2026, 11, 3, 10, 11, tzinfo=UTC), "MetricAlarm", "OK", "ALARM", "burn 15x", None)]


def test_errors_name_file_and_key():
    with pytest.raises(MissingKeyError) as err:
        alarms.alarms_from_history({"AlarmHistoryItems": [{"HistoryItemType": "StateUpdate"}]}, file="h.json")
    assert err.value.key == "AlarmName" and "h.json" in str(err.value)
    with pytest.raises(InputError, match="HistoryData is not JSON"):
        alarms.alarms_from_history({"AlarmHistoryItems": [{"HistoryItemType": "StateUpdate", "AlarmName": "a",
                                                           "Timestamp": "2026-11-01T00:00:00Z",
                                                           "HistoryData": "{oops"}]}, file="h.json")
    with pytest.raises(MissingKeyError, match="MetricAlarms"):
        alarms.alarm_definitions_from_describe_alarms({"NextToken": "x"}, file="d.json")


def test_predicates(aws_fixtures):
    assert alarms.looks_like_describe_alarms(_load(aws_fixtures, "describe-alarms.output1.json"))
    assert alarms.looks_like_alarm_history(_load(aws_fixtures, "describe-alarm-history.output1.json"))
    assert not alarms.looks_like_alarm_history(_load(aws_fixtures, "describe-alarms.output1.json"))
    assert not alarms.looks_like_describe_alarms([])


DEFS = {"MetricAlarms": [{"AlarmName": "a", "Namespace": "N", "MetricName": "M", "Period": 60, "Threshold": 1,
                          "EvaluationPeriods": 2, "ActionsEnabled": True,
                          "Dimensions": [{"Name": "SloName", "Value": "s"}]},
                         {"AlarmName": "b", "Metrics": [{"Id": "e", "Expression": "m*2", "ReturnData": True},
                                                        {"Id": "m", "MetricStat": {"Metric": {
                                                            "Namespace": "N", "MetricName": "M"}, "Period": 60,
                                                            "Stat": "Sum"}, "ReturnData": False}]}],
        "CompositeAlarms": [{"AlarmName": "c", "AlarmRule": "ALARM(a)"}]}
HISTORY = {"AlarmHistoryItems": [{"AlarmName": "a", "Timestamp": "2026-11-03T10:11:00Z",
                                  "HistoryItemType": "StateUpdate", "AlarmType": "MetricAlarm",
                                  "HistoryData": json.dumps({"oldState": {"stateValue": "OK"},
                                                             "newState": {"stateValue": "ALARM",
                                                                          "stateReason": "r"}})}]}


@settings(max_examples=150, deadline=None)
@given(doc=corrupted(DEFS))
def test_definitions_corruption_raises_only_package_errors(doc):
    with contextlib.suppress(SloAnalysisError):
        alarms.alarm_definitions_from_describe_alarms(doc, file="x")


@settings(max_examples=150, deadline=None)
@given(doc=corrupted(HISTORY))
def test_history_corruption_raises_only_package_errors(doc):
    with contextlib.suppress(SloAnalysisError):
        alarms.alarms_from_history(doc, file="x")


def test_an_empty_metrics_list_is_a_plain_metric_alarm() -> None:
    doc = {"MetricAlarms": [{"AlarmName": "a", "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                             "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}], "Statistic": "Average",
                             "Period": 60, "Threshold": 70.0, "ComparisonOperator": "GreaterThanThreshold",
                             "EvaluationPeriods": 2, "Metrics": []}]}
    row = alarms.alarm_definitions_from_describe_alarms(doc, file="x.json").row(0, named=True)
    assert row["watches"] == "AWS/EC2/CPUUtilization{InstanceId=i-1}" and row["statistic"] == "Average"
