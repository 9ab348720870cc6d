from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from corrupt import corrupted
from hypothesis import HealthCheck, given, settings

from slo_analysis import frames
from slo_analysis.exceptions import InputError, MissingKeyError, SloAnalysisError
from slo_analysis.sources import cloudwatch_metrics as cm

# The requests behind the AWS CLI documentation examples whose outputs are in the fixtures.
IOPS_QUERIES = {
    "MetricDataQueries": [
        {"Id": "m3", "Expression": "(m1+m2)/300", "Label": "Avg Total IOPS"},
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/EC2", "MetricName": "EBSReadOps",
                                               "Dimensions": [{"Name": "InstanceId", "Value": "i-1234567890abcdef0"}]},
                                    "Period": 300, "Stat": "Sum", "Unit": "Count"}, "ReturnData": False},
        {"Id": "m2", "MetricStat": {"Metric": {"Namespace": "AWS/EC2", "MetricName": "EBSWriteOps",
                                               "Dimensions": [{"Name": "InstanceId", "Value": "i-1234567890abcdef0"}]},
                                    "Period": 300, "Stat": "Sum", "Unit": "Count"}, "ReturnData": False},
    ],
    "StartTime": "2024-09-29T22:10:00Z", "EndTime": "2024-09-29T22:15:00Z",
}
BILLING_QUERIES = [
    {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/Billing", "MetricName": "EstimatedCharges",
                                           "Dimensions": [{"Name": "Currency", "Value": "USD"}]},
                                "Period": 86400, "Stat": "Maximum"}},
]


def _load(aws_fixtures, name):
    return json.loads((aws_fixtures / "cli-examples" / "cloudwatch" / name).read_text())


def test_get_metric_data_expression_fixture(aws_fixtures):
    df = cm.metrics_from_get_metric_data(_load(aws_fixtures, "get-metric-data.output1.json"), IOPS_QUERIES,
                                         file="get-metric-data.output1.json")
    frames.validate(df, "metrics")
    assert df.to_dicts() == [{
        "timestamp": datetime(2024, 9, 29, 22, 10, tzinfo=UTC), "namespace": "MetricMath", "metric": "m3",
        "dimensions": "", "stat": "(m1+m2)/300", "period_s": 300, "unit": None, "value": 96.85}]


def test_get_metric_data_metricstat_fixture(aws_fixtures):
    df = cm.metrics_from_get_metric_data(_load(aws_fixtures, "get-metric-data.output2.json"), BILLING_QUERIES)
    row = df.row(0, named=True)
    assert row["timestamp"] == datetime(2024, 9, 26, 12, tzinfo=UTC)
    assert (row["namespace"], row["metric"], row["dimensions"], row["stat"], row["period_s"], row["value"]) == (
        "AWS/Billing", "EstimatedCharges", "Currency=USD", "Maximum", 86400, 542.38)


def test_identity_never_from_label():
    resp = {"MetricDataResults": [{"Id": "m1", "Label": "AWS/EC2 CPUUtilization", "Timestamps": [],
                                   "Values": [], "StatusCode": "Complete"}]}
    with pytest.raises(MissingKeyError) as err:
        cm.metrics_from_get_metric_data(resp, BILLING_QUERIES[:0], file="r.json")
    assert err.value.key == "m1" and "r.json" in str(err.value)


def test_pages_partial_data_ms_precision_and_boto3_datetimes():
    q = [{"Id": "lat", "MetricStat": {"Metric": {"Namespace": "ApplicationSignals", "MetricName": "Latency",
                                                 "Dimensions": [{"Name": "Service", "Value": "ticket-api"},
                                                                {"Name": "Environment", "Value": "prod"}]},
                                      "Period": 60, "Stat": "p99", "Unit": "Milliseconds"}}]
    page1 = {"MetricDataResults": [{"Id": "lat", "Label": "x", "StatusCode": "PartialData",
                                    "Timestamps": ["2026-11-02T00:00:00.123456Z"], "Values": [812.5]}],
             "NextToken": "t"}
    page2 = {"MetricDataResults": [{"Id": "lat", "Label": "x", "StatusCode": "Complete",
                                    "Timestamps": [datetime(2026, 11, 2, 0, 1, tzinfo=UTC)], "Values": [790]}]}
    df = cm.metrics_from_get_metric_data([page1, page2], {"MetricDataQueries": q})
    assert df["timestamp"].to_list() == [datetime(2026, 11, 2, 0, 0, 0, 123000, tzinfo=UTC),
                                         datetime(2026, 11, 2, 0, 1, tzinfo=UTC)]
    assert df["dimensions"].unique().to_list() == ["Environment=prod,Service=ticket-api"]
    assert df["unit"].to_list() == ["Milliseconds"] * 2 and df["value"].to_list() == [812.5, 790.0]


def test_expression_period_from_spacing_and_from_query():
    ts = ["2026-11-02T00:00:00Z", "2026-11-02T00:05:00Z"]
    resp = {"MetricDataResults": [{"Id": "e1", "Timestamps": ts, "Values": [1, 2]}]}
    assert cm.metrics_from_get_metric_data(resp, [{"Id": "e1", "Expression": "SEARCH('x', 'Sum')"}])[
        "period_s"].to_list() == [300, 300]
    assert cm.metrics_from_get_metric_data(resp, [{"Id": "e1", "Expression": "x", "Period": 60}])[
        "period_s"].to_list() == [60, 60]
    one = {"MetricDataResults": [{"Id": "e1", "Timestamps": ts[:1], "Values": [1]}]}
    with pytest.raises(InputError, match="e1"):
        cm.metrics_from_get_metric_data(one, [{"Id": "e1", "Expression": "SEARCH('x', 'Sum')"}])


def test_length_mismatch_and_bad_timestamp():
    q = BILLING_QUERIES
    with pytest.raises(InputError, match="2 Timestamps but 1 Values"):
        cm.metrics_from_get_metric_data({"MetricDataResults": [
            {"Id": "m1", "Timestamps": ["2026-11-02T00:00:00Z", "2026-11-02T00:01:00Z"], "Values": [1]}]}, q,
            file="f.json")
    with pytest.raises(InputError, match="unparseable timestamp") as err:
        cm.metrics_from_get_metric_data({"MetricDataResults": [
            {"Id": "m1", "Timestamps": ["yesterday"], "Values": [1]}]}, q, file="f.json")
    assert "f.json" in str(err.value)


def test_missing_key_names_file_and_key():
    with pytest.raises(MissingKeyError) as err:
        cm.metrics_from_get_metric_data({"Messages": []}, BILLING_QUERIES, file="page.json")
    assert err.value.key == "MetricDataResults" and str(err.value).startswith("page.json:")


def test_get_metric_statistics_fixture(aws_fixtures):
    df = cm.metrics_from_get_metric_statistics(_load(aws_fixtures, "get-metric-statistics.output1.json"),
                                               namespace="AWS/EC2", dimensions={"InstanceId": "i-abcdef"},
                                               period_s=3600)
    assert df.height == 23 and df["timestamp"].is_sorted()
    first = df.row(0, named=True)
    assert first["timestamp"] == datetime(2014, 4, 8, 23, 18, tzinfo=UTC)
    assert (first["metric"], first["stat"], first["unit"], first["value"]) == (
        "CPUUtilization", "Maximum", "Percent", 46.88)
    assert df.filter(df["timestamp"] == datetime(2014, 4, 9, 3, 18, tzinfo=UTC))["value"].item() == 76.84


def test_extended_statistics():
    resp = {"Label": "Latency", "Datapoints": [{"Timestamp": "2026-11-02T00:00:00Z", "SampleCount": 10.0,
                                                "ExtendedStatistics": {"p99": 812.0}, "Unit": "Milliseconds"}]}
    df = cm.metrics_from_get_metric_statistics(resp, namespace="ApplicationSignals", dimensions="Service=a",
                                               period_s=60)
    assert sorted(zip(df["stat"], df["value"], strict=True)) == [("SampleCount", 10.0), ("p99", 812.0)]


def test_predicates(aws_fixtures):
    assert cm.looks_like_get_metric_data(_load(aws_fixtures, "get-metric-data.output1.json"))
    assert not cm.looks_like_get_metric_data(_load(aws_fixtures, "get-metric-statistics.output1.json"))
    assert cm.looks_like_get_metric_statistics(_load(aws_fixtures, "get-metric-statistics.output1.json"))
    assert cm.looks_like_metric_data_queries(IOPS_QUERIES) and cm.looks_like_metric_data_queries(BILLING_QUERIES)
    assert not cm.looks_like_metric_data_queries(_load(aws_fixtures, "get-metric-data.output1.json"))
    assert cm.query_ids(IOPS_QUERIES) == {"m1", "m2", "m3"}
    assert cm.query_ids(_load(aws_fixtures, "get-metric-data.output1.json")) <= cm.query_ids(IOPS_QUERIES)
    assert cm.query_ids("nonsense") == set()


SAMPLE = {"MetricDataResults": [{"Id": "m1", "Label": "x", "StatusCode": "Complete",
                                 "Timestamps": ["2026-11-02T00:00:00Z", "2026-11-02T00:01:00Z"],
                                 "Values": [1.5, 2.5]}], "Messages": []}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(doc=corrupted(SAMPLE), queries=corrupted({"MetricDataQueries": BILLING_QUERIES + IOPS_QUERIES[
    "MetricDataQueries"]}, max_edits=1))
def test_corruption_raises_only_package_errors(doc, queries):
    with contextlib.suppress(SloAnalysisError):
        cm.metrics_from_get_metric_data(doc, queries, file="x.json")


@settings(max_examples=100, deadline=None)
@given(doc=corrupted({"Label": "CPU", "Datapoints": [{"Timestamp": "2014-04-09T11:18:00Z", "Maximum": 1.0,
                                                     "Unit": "Percent", "ExtendedStatistics": {"p9": 2.0}}]}))
def test_statistics_corruption_raises_only_package_errors(doc):
    with contextlib.suppress(SloAnalysisError):
        cm.metrics_from_get_metric_statistics(doc, namespace="n", dimensions=None, period_s=60, file="x")
