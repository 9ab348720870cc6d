"""Application Signals fetchers against botocore's Stubber (moto does not implement Application Signals).

Every stubbed response is validated by the Stubber against the ``application-signals`` service model,
and every request is compared with what the test expects. Clients come from the package's own
``slo_analysis.sources.aws.client`` (so the least-privilege recorder sees them); only the Stubber is
added.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from slo_analysis.core.model import slos_from_frame
from slo_analysis.sources import application_signals_fetch as asf
from slo_analysis.sources import aws
from slo_analysis.sources.aws import AwsSettings, Fetched

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(hours=3))
KEYS = {"Type": "Service", "Name": "ticket-api", "Environment": "prod"}
ARN = "arn:aws:application-signals:eu-west-1:123456789012:slo/{}"


def _latency_slo(name: str) -> dict[str, Any]:
    return {"Arn": ARN.format(name), "Name": name, "CreatedTime": T0, "LastUpdatedTime": T0,
            "Goal": {"AttainmentGoal": 99.0, "WarningThreshold": 30.0,
                     "Interval": {"RollingInterval": {"DurationUnit": "DAY", "Duration": 7}}},
            "Sli": {"SliMetric": {"KeyAttributes": KEYS, "OperationName": "POST /tickets", "MetricType": "LATENCY",
                                  "MetricDataQueries": [{"Id": "m1", "ReturnData": True, "MetricStat": {
                                      "Metric": {"Namespace": "ApplicationSignals", "MetricName": "Latency",
                                                 "Dimensions": [{"Name": "Service", "Value": "ticket-api"}]},
                                      "Period": 60, "Stat": "p99"}}]},
                    "MetricThreshold": 800.0, "ComparisonOperator": "LessThan"}}


def _availability_slo(name: str) -> dict[str, Any]:
    def q(metric: str, stat: str) -> list[dict[str, Any]]:
        return [{"Id": "m1", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "ApplicationSignals", "MetricName": metric}, "Period": 60, "Stat": stat}}]
    return {"Arn": ARN.format(name), "Name": name, "CreatedTime": T0, "LastUpdatedTime": T0,
            "Goal": {"AttainmentGoal": 99.9}, "EvaluationType": "RequestBased",
            "RequestBasedSli": {"RequestBasedSliMetric": {
                "KeyAttributes": KEYS, "OperationName": "POST /tickets", "MetricType": "AVAILABILITY",
                "TotalRequestCountMetric": q("Latency", "SampleCount"),
                "MonitoredRequestCountMetric": {"BadCountMetric": q("Fault", "Sum")}}}}


class Stubbed:
    """The package's own client for one service with a Stubber attached; counts the calls made."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, service: str, session: Any) -> None:
        self.client = aws.client(service, AwsSettings(session=session, region="eu-west-1"))
        self.stub = Stubber(self.client)
        self.calls: list[str] = []
        self._observer = lambda svc, op: self.calls.append(op) if svc == service else None
        monkeypatch.setattr(module, "client", lambda svc, settings=None: self.client)

    def __enter__(self) -> Stubbed:
        aws.add_operation_observer(self._observer)
        self.stub.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stub.deactivate()
        aws.remove_operation_observer(self._observer)


@pytest.fixture()
def signals(monkeypatch: pytest.MonkeyPatch, fake_session: Any) -> Iterator[Stubbed]:
    with Stubbed(monkeypatch, asf, "application-signals", fake_session) as s:
        yield s
        s.stub.assert_no_pending_responses()


def _no_exclusions(stub: Stubber, slo_id: str) -> None:
    """Queue the (empty) ListServiceLevelObjectiveExclusionWindows that follows each Get."""
    stub.add_response("list_service_level_objective_exclusion_windows", {"ExclusionWindows": []},
                      {"Id": slo_id, "MaxResults": asf.MAX_EXCLUSION_WINDOWS_PER_PAGE})


def _run(fetcher: Any, done: set[str] | None = None) -> list[Fetched]:
    return list(fetcher(set() if done is None else done))


def test_list_services_follows_every_page(signals: Stubbed) -> None:
    summary: dict[str, Any] = {"KeyAttributes": KEYS, "MetricReferences": [
        {"Namespace": "ApplicationSignals", "MetricType": "LATENCY", "MetricName": "Latency"}]}
    other = {**summary, "KeyAttributes": {**KEYS, "Name": "kb-search"}}
    base = {"StartTime": WINDOW[0], "EndTime": WINDOW[1], "MaxResults": 100}
    signals.stub.add_response("list_services", {"StartTime": WINDOW[0], "EndTime": WINDOW[1],
                                                "ServiceSummaries": [summary], "NextToken": "t1"}, base)
    signals.stub.add_response("list_services", {"StartTime": WINDOW[0], "EndTime": WINDOW[1],
                                                "ServiceSummaries": [other]}, {**base, "NextToken": "t1"})
    services = asf.list_services(None, WINDOW)
    assert [s["KeyAttributes"]["Name"] for s in services] == ["ticket-api", "kb-search"]
    assert signals.calls == ["ListServices", "ListServices"]


def test_list_service_operations(signals: Stubbed) -> None:
    signals.stub.add_response("list_service_operations", {
        "StartTime": WINDOW[0], "EndTime": WINDOW[1], "ServiceOperations": [{"Name": "POST /tickets",
                                                                              "MetricReferences": []}]},
        {"StartTime": WINDOW[0], "EndTime": WINDOW[1], "KeyAttributes": KEYS, "MaxResults": 100})
    assert [o["Name"] for o in asf.list_service_operations(None, KEYS, WINDOW)] == ["POST /tickets"]


def _queue_listing(stub: Stubber, *, gets: bool) -> None:
    """Two list pages, each followed (when ``gets``) by the GetServiceLevelObjective of its SLO."""
    req = {"KeyAttributes": KEYS, "MaxResults": 50}
    stub.add_response("list_service_level_objectives", {"SloSummaries": [
        {"Arn": ARN.format("create-ticket-p99"), "Name": "create-ticket-p99"}], "NextToken": "n1"}, req)
    if gets:
        stub.add_response("get_service_level_objective", {"Slo": _latency_slo("create-ticket-p99")},
                          {"Id": ARN.format("create-ticket-p99")})
        _no_exclusions(stub, ARN.format("create-ticket-p99"))
    stub.add_response("list_service_level_objectives", {"SloSummaries": [
        {"Arn": ARN.format("create-ticket-availability"), "Name": "create-ticket-availability"}]},
        {**req, "NextToken": "n1"})
    if gets:
        stub.add_response("get_service_level_objective", {"Slo": _availability_slo("create-ticket-availability")},
                          {"Id": ARN.format("create-ticket-availability")})
        _no_exclusions(stub, ARN.format("create-ticket-availability"))


def test_slo_fetcher_lists_every_page_then_gets_each_slo(signals: Stubbed) -> None:
    _queue_listing(signals.stub, gets=True)
    units = _run(asf.slo_fetcher(None, key_attributes=KEYS))
    assert [u.kind for u in units] == ["slo-list", "slo-application-signals", "slo-list", "slo-application-signals"]
    assert units[0].unit.endswith("/page-0000") and units[2].unit.endswith("/page-0001")
    assert units[2].request["NextToken"] == "n1"
    assert not units[0].frames  # a listing is kept raw only
    p99 = units[1].frames["slos"].row(0, named=True)
    assert (p99["name"], p99["sli_kind"], p99["method"], p99["threshold"], p99["target"], p99["period_s"]) == \
        ("create-ticket-p99", "latency", "period", 800.0, 0.99, 60)
    avail = units[3].frames["slos"].row(0, named=True)
    assert (avail["sli_kind"], avail["method"], avail["target"]) == ("availability", "request", 0.999)


def test_slo_fetcher_resume_calls_only_unfinished_units(signals: Stubbed) -> None:
    # The first run's units, as a snapshot would hold them.
    _queue_listing(signals.stub, gets=True)
    first = {u.unit: u for u in _run(asf.slo_fetcher(None, key_attributes=KEYS))}
    signals.calls.clear()
    missing = f"application-signals/slo/{ARN.format('create-ticket-availability')}"
    done = set(first) - {missing}
    # With the stored responses at hand, only the unfinished GetServiceLevelObjective is called.
    signals.stub.add_response("get_service_level_objective",
                              {"Slo": _availability_slo("create-ticket-availability")},
                              {"Id": ARN.format("create-ticket-availability")})
    _no_exclusions(signals.stub, ARN.format("create-ticket-availability"))
    again = _run(asf.slo_fetcher(None, key_attributes=KEYS,
                                 stored=lambda unit: aws.to_jsonable(first[unit].response)), done)
    assert [u.unit for u in again] == [missing]
    assert signals.calls == ["GetServiceLevelObjective", "ListServiceLevelObjectiveExclusionWindows"]
    # Without them, the finished list pages are read again for their tokens, never yielded; all done: no Get.
    signals.calls.clear()
    _queue_listing(signals.stub, gets=False)
    assert _run(asf.slo_fetcher(None, key_attributes=KEYS), set(first)) == []
    assert signals.calls == ["ListServiceLevelObjectives"] * 2


def test_slo_fetcher_by_name_skips_done(signals: Stubbed) -> None:
    signals.stub.add_response("get_service_level_objective", {"Slo": _latency_slo("b")}, {"Id": "b"})
    _no_exclusions(signals.stub, ARN.format("b"))  # listed by the ARN the definition gives
    units = _run(asf.slo_fetcher(None, names_or_arns=["a", "b", "b"]), {"application-signals/slo/a"})
    assert [u.unit for u in units] == ["application-signals/slo/b"]
    assert signals.calls == ["GetServiceLevelObjective", "ListServiceLevelObjectiveExclusionWindows"]


def test_exclusion_windows_are_merged_into_the_definition_every_page(signals: Stubbed) -> None:
    arn = ARN.format("p99")
    maintenance = {"Window": {"DurationUnit": "HOUR", "Duration": 2}, "StartTime": T0 + timedelta(hours=1),
                   "Reason": "maintenance"}
    nightly = {"Window": {"DurationUnit": "MINUTE", "Duration": 30}, "StartTime": T0,
               "RecurrenceRule": {"Expression": "cron(0 2 * * ? *)"}, "Reason": "nightly batch"}
    signals.stub.add_response("get_service_level_objective", {"Slo": _latency_slo("p99")}, {"Id": "p99"})
    base = {"Id": arn, "MaxResults": 10}
    signals.stub.add_response("list_service_level_objective_exclusion_windows",
                              {"ExclusionWindows": [maintenance], "NextToken": "w2"}, base)
    signals.stub.add_response("list_service_level_objective_exclusion_windows",
                              {"ExclusionWindows": [nightly]}, {**base, "NextToken": "w2"})
    (unit,) = _run(asf.slo_fetcher(None, names_or_arns=["p99"]))
    assert signals.calls == ["GetServiceLevelObjective"] + ["ListServiceLevelObjectiveExclusionWindows"] * 2
    assert unit.request == {"Id": "p99"} and unit.kind == "slo-application-signals"
    # The stored response holds them where the SLO model reads them, items as AWS returned them.
    assert unit.response["Slo"]["ExclusionWindows"] == [maintenance, nightly]
    (slo,) = slos_from_frame(unit.frames["slos"])
    assert [(w.duration, w.unit, w.start, w.recurrence, w.reason) for w in slo.exclusion_windows] == [
        (2, "HOUR", T0 + timedelta(hours=1), None, "maintenance"),
        (30, "MINUTE", T0, "cron(0 2 * * ? *)", "nightly batch")]
    # The excluded hours really leave the SLI: the one-off window covers [T0+1h, T0+3h).
    assert slo.exclusion_windows[0].occurrences(WINDOW) == [(T0 + timedelta(hours=1), T0 + timedelta(hours=3))]


def test_exclusion_windows_can_be_left_out(signals: Stubbed) -> None:
    signals.stub.add_response("get_service_level_objective", {"Slo": _latency_slo("p99")}, {"Id": "p99"})
    (unit,) = _run(asf.slo_fetcher(None, names_or_arns=["p99"], exclusion_windows=False))
    assert signals.calls == ["GetServiceLevelObjective"] and "ExclusionWindows" not in unit.response["Slo"]


def _report(ids: list[str], t: datetime) -> dict[str, Any]:
    return {"Timestamp": t, "Errors": [], "Reports": [
        {"Arn": ARN.format(i), "Name": i, "BudgetStatus": "OK", "Attainment": 99.95, "EvaluationType": "PeriodBased",
         "TotalBudgetSeconds": 6048, "BudgetSecondsRemaining": 5000} for i in ids]}


def test_budget_reports_one_call_per_timestamp_and_batch_of_50(signals: Stubbed) -> None:
    ids = [f"slo-{k:02d}" for k in range(60)]
    times = [T0 + timedelta(hours=h) for h in range(3)]  # [T0, T0+3h) hourly
    for batch in (ids[:50], ids[50:]):
        for t in times:
            signals.stub.add_response("batch_get_service_level_objective_budget_report", _report(batch, t),
                                      {"Timestamp": t, "SloIds": batch})
    units = _run(asf.budget_report_fetcher(None, ids, WINDOW, step_s=3600))
    assert len(units) == 6 == len(signals.calls)  # ceil(60 / 50) x 3 timestamps: the minimum
    assert all(u.kind == "slo-budget-report" and not u.frames for u in units)
    assert max(len(u.request["SloIds"]) for u in units) == asf.MAX_SLO_IDS_PER_BUDGET_REPORT
    assert len({u.unit for u in units}) == 6
    # Resume: only the units not done are called.
    signals.calls.clear()
    done = {u.unit for u in units[:5]}
    signals.stub.add_response("batch_get_service_level_objective_budget_report", _report(ids[50:], times[2]),
                              {"Timestamp": times[2], "SloIds": ids[50:]})
    again = _run(asf.budget_report_fetcher(None, ids, WINDOW, step_s=3600), done)
    assert [u.unit for u in again] == [units[5].unit] and len(signals.calls) == 1


def test_budget_report_bounds() -> None:
    with pytest.raises(asf.SloAnalysisError, match="larger step"):
        asf.budget_report_fetcher(None, ["a"], (T0, T0 + timedelta(days=400)), step_s=60)
    with pytest.raises(asf.SloAnalysisError, match="after start"):
        asf.budget_report_fetcher(None, ["a"], (T0, T0))


def test_sli_metric_queries_of_both_kinds() -> None:
    period = asf.sli_metric_queries({"Slo": _latency_slo("p99")})
    assert [(q.role, q.queries[0]["MetricStat"]["Stat"]) for q in period] == [("sli", "p99")]
    request = asf.sli_metric_queries(aws.to_jsonable(_availability_slo("avail")))
    assert [(q.role, q.queries[0]["MetricStat"]["Metric"]["MetricName"]) for q in request] == \
        [("total", "Latency"), ("bad", "Fault")]
    assert request[0].slo == ARN.format("avail")


def test_sli_metric_queries_from_the_slos_frame_definition(signals: Stubbed) -> None:
    signals.stub.add_response("get_service_level_objective", {"Slo": _latency_slo("p99")}, {"Id": "p99"})
    _no_exclusions(signals.stub, ARN.format("p99"))
    (unit,) = _run(asf.slo_fetcher(None, names_or_arns=["p99"]))
    definition = unit.frames["slos"]["definition"][0]
    assert asf.sli_metric_queries(definition)[0].queries == aws.to_jsonable(
        _latency_slo("p99")["Sli"]["SliMetric"]["MetricDataQueries"])
