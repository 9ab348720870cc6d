"""Alarm fetchers: DescribeAlarms against moto (real HTTP); DescribeAlarmHistory with Stubber (moto 5
has no DescribeAlarmHistory)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from slo_analysis.sources import alarms_fetch
from slo_analysis.sources.alarms_fetch import alarm_definitions_fetcher, alarm_history_fetcher
from slo_analysis.sources.aws import AwsSettings, add_operation_observer, client, remove_operation_observer

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_definitions_from_moto_and_resume(moto_endpoint: str, fake_session: Any) -> None:
    settings = AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    # set-up writes through a plain boto3 client, so the least-privilege test does not record them
    cw: Any = fake_session.client("cloudwatch", region_name="eu-west-1", endpoint_url=moto_endpoint)
    cw.put_metric_alarm(AlarmName=prefix + "faults", Namespace="AWS/ApplicationSignals", MetricName="Fault",
                        Dimensions=[{"Name": "Service", "Value": "ticket-api"}], Statistic="Sum", Period=60,
                        EvaluationPeriods=3, Threshold=5.0, ComparisonOperator="GreaterThanThreshold")
    calls: list[str] = []

    def observe(service: str, op: str) -> None:
        calls.append(op)

    add_operation_observer(observe)
    try:
        units = list(alarm_definitions_fetcher(settings, prefix=prefix)(set()))
        again = list(alarm_definitions_fetcher(settings, prefix=prefix)({units[-1].unit}))
    finally:
        remove_operation_observer(observe)
    assert calls == ["DescribeAlarms"] and again == []
    assert units[0].request["AlarmTypes"] == ["MetricAlarm", "CompositeAlarm"]
    df = units[0].frames["alarm_definitions"].sort("alarm_name")
    assert df["alarm_name"].to_list() == [prefix + "faults"]  # moto has no PutCompositeAlarm: see below
    assert df["watches"].to_list() == ["AWS/ApplicationSignals/Fault{Service=ticket-api}"]
    assert df.filter(df["alarm_type"] == "MetricAlarm")["threshold"].to_list() == [5.0]


def test_names_and_prefix_are_exclusive() -> None:
    from slo_analysis.sources.cloudwatch_metrics_fetch import CloudWatchFetchError

    with pytest.raises(CloudWatchFetchError, match="not both"):
        alarm_definitions_fetcher(None, alarm_names=["a"], prefix="b")


def _item(name: str, ts: datetime, old: str, new: str) -> dict[str, Any]:
    data = {"version": "1.0", "oldState": {"stateValue": old}, "newState": {"stateValue": new,
                                                                            "stateReason": f"{old}->{new}"}}
    return {"AlarmName": name, "AlarmType": "MetricAlarm", "Timestamp": ts, "HistoryItemType": "StateUpdate",
            "HistorySummary": f"Alarm updated from {old} to {new}", "HistoryData": json.dumps(data)}


@pytest.fixture()
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Any:
    cw = client("cloudwatch", AwsSettings(region="eu-west-1"))
    monkeypatch.setattr(alarms_fetch, "client", lambda *a, **k: cw)
    with Stubber(cw) as stub:
        yield stub
        stub.assert_no_pending_responses()


def test_history_pages_with_definitions(stubbed: Stubber) -> None:
    window = (T0, T0 + timedelta(hours=6))
    req = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "HistoryItemType": "StateUpdate", "StartDate": T0,
           "EndDate": window[1], "ScanBy": "TimestampAscending", "MaxRecords": 100, "AlarmName": "faults"}
    stubbed.add_response("describe_alarm_history", {"AlarmHistoryItems": [
        _item("faults", T0 + timedelta(hours=1), "OK", "ALARM")], "NextToken": "t1"}, req)
    stubbed.add_response("describe_alarm_history", {"AlarmHistoryItems": [
        _item("faults", T0 + timedelta(hours=2), "ALARM", "OK")]}, dict(req, NextToken="t1"))
    import polars as pl

    from slo_analysis.sources.alarms import alarm_definitions_from_describe_alarms

    defs = alarm_definitions_from_describe_alarms({"MetricAlarms": [{
        "AlarmName": "faults", "Namespace": "NS", "MetricName": "Fault", "Statistic": "Sum"}]})
    units = list(alarm_history_fetcher(None, window, alarm_names=["faults"], definitions=lambda: defs)(set()))
    assert [u.unit.rsplit("/", 1)[1] for u in units] == ["page-0000", "page-0001-last"]
    df = pl.concat([u.frames["alarms"] for u in units])
    assert df["new_state"].to_list() == ["ALARM", "OK"]
    assert df["timestamp"].to_list() == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert set(df["watches"]) == {"NS/Fault"}


def test_history_resume_rereads_only_unfinished_listing(stubbed: Stubber) -> None:
    window = (T0, T0 + timedelta(hours=6))
    stubbed.add_response("describe_alarm_history", {"AlarmHistoryItems": [
        _item("b", T0 + timedelta(hours=1), "OK", "ALARM")]})
    fetch = alarm_history_fetcher(None, window, alarm_names=["a", "b"])
    done_a = {"cloudwatch/DescribeAlarmHistory/alarm-a/2026-03-01T00:00:00Z_2026-03-01T06:00:00Z/page-0000-last"}
    units = list(fetch(done_a))  # only b's listing is called
    assert len(units) == 1 and units[0].request["AlarmName"] == "b"


def test_definitions_composite_and_names_batches(stubbed: Stubber) -> None:
    names = [f"a{i:03d}" for i in range(150)]  # two DescribeAlarms calls: 100 names at most per call
    base = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "MaxRecords": 100}
    stubbed.add_response("describe_alarms", {"MetricAlarms": [], "CompositeAlarms": [
        {"AlarmName": "a000", "AlarmRule": 'ALARM("x") OR ALARM("y")'}]}, dict(base, AlarmNames=names[:100]))
    stubbed.add_response("describe_alarms", {"MetricAlarms": [], "CompositeAlarms": []},
                         dict(base, AlarmNames=names[100:]))
    units = list(alarm_definitions_fetcher(None, alarm_names=names)(set()))
    assert len(units) == 2
    df = units[0].frames["alarm_definitions"]
    assert df.select("alarm_type", "watches").row(0) == ("CompositeAlarm", 'ALARM("x") OR ALARM("y")')
