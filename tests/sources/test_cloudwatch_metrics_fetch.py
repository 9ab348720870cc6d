"""GetMetricData planning and fetching: real HTTP against moto for plain stats, Stubber for the rest."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from hypothesis import example, given, settings
from hypothesis import strategies as st

from slo_analysis.sources import cloudwatch_metrics_fetch as cmf
from slo_analysis.sources.aws import AwsSettings, add_operation_observer, client, remove_operation_observer
from slo_analysis.sources.cloudwatch_metrics_fetch import (
    MAX_DATAPOINTS_PER_CALL,
    CloudWatchFetchError,
    choose_period,
    discover_metrics,
    merge_query_batches,
    metric_data_fetcher,
    minimum_calls,
    plan_requests,
    queries_for,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _queries(n: int, period: int, stats: tuple[str, ...] = ("Sum",)) -> list[dict[str, Any]]:
    per = -(-n // len(stats))
    return queries_for("NS", "M", [{"d": str(i)} for i in range(per)], list(stats), period)[:n]


def _math(n_pairs: int, period: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n_pairs):
        a, b = queries_for("NS", "Fault", [{"s": str(i)}], ["Sum"], period) + \
            queries_for("NS", "Requests", [{"s": str(i)}], ["Sum"], period)
        a["ReturnData"] = b["ReturnData"] = False
        out += [a, b, {"Id": f"rate{i}", "Expression": f"{a['Id']} / {b['Id']}", "ReturnData": True}]
    return out


def _check_plan(qs: list[dict[str, Any]], window: tuple[datetime, datetime]) -> list[dict[str, Any]]:
    plan = plan_requests(qs, window)
    seen: dict[str, list[tuple[datetime, datetime]]] = {}
    all_ids = {x["Id"]: x for x in qs}
    for r in plan:
        ids = {q["Id"] for q in r["MetricDataQueries"]}
        assert len(ids) == len(r["MetricDataQueries"]) <= 500
        span = (r["EndTime"] - r["StartTime"]).total_seconds()
        by_id = {x["Id"]: x for x in r["MetricDataQueries"]}
        dps = sum(-(-int(span) // cmf._query_period(q, by_id))
                  for q in r["MetricDataQueries"] if q.get("ReturnData", True))
        assert dps <= MAX_DATAPOINTS_PER_CALL
        for q in r["MetricDataQueries"]:  # an expression's inputs are in its call
            for ref in cmf._refs(q, all_ids):
                assert ref in ids
            seen.setdefault(q["Id"], []).append((r["StartTime"], r["EndTime"]))
    for q in qs:  # every query covers the window exactly once
        spans = sorted(seen[q["Id"]])
        assert spans[0][0] == window[0] and spans[-1][1] == window[1]
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    return plan


# ----------------------------------------------------------------------------- planning
@pytest.mark.parametrize("n", [1, 10, 499, 500, 501, 1200])
@pytest.mark.parametrize("span,period", [(timedelta(hours=1), 60), (timedelta(days=1), 60),
                                         (timedelta(days=14), 60), (timedelta(days=90), 300),
                                         (timedelta(days=90), 3600)])
def test_plan_uses_the_minimum_calls(n: int, span: timedelta, period: int) -> None:
    window = (T0, T0 + span)
    for qs in (_queries(n, period), _queries(n, period, ("p50", "p99", "tm99"))):
        assert len(_check_plan(qs, window)) == minimum_calls(qs, window)


def test_plan_known_values() -> None:
    day14 = (T0, T0 + timedelta(days=14))
    assert len(plan_requests(_queries(501, 60), (T0, T0 + timedelta(hours=1)))) == 2  # 500-query limit
    assert len(plan_requests(_queries(10, 60), day14)) == 2  # 10 x 20,160 = 201,600 = 2 x cap
    assert len(plan_requests(_queries(1200, 60), day14)) == 240  # 5 queries x 14 d per call


def test_plan_keeps_math_with_its_inputs() -> None:
    qs = _math(200, 60) + _queries(150, 60)  # 750 queries; 350 returned series
    window = (T0, T0 + timedelta(days=1))
    plan = _check_plan(qs, window)
    assert len(plan) == minimum_calls(qs, window)


def _shape(parts: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """Queries of a request shape: (kind, count, period) with kind plain (Sum), pct (p50, p99, tm99
    per dimension set), avg (Average) or math (a fault/request ratio naming two hidden queries)."""
    qs: list[dict[str, Any]] = []
    for j, (kind, n, period) in enumerate(parts):  # j keeps the parts' Ids apart
        dims = [{"x": f"{j}-{i}"} for i in range(n)]
        if kind == "math":
            for d in dims:
                a, b = (queries_for("NS", m, [d], ["Sum"], period)[0] for m in ("Fault", "Requests"))
                a["ReturnData"] = b["ReturnData"] = False
                qs += [a, b, {"Id": f"rate{j}_{d['x'].split('-')[1]}", "Expression": f"{a['Id']} / {b['Id']}"}]
        elif kind == "pct":
            qs += queries_for("NS", "Lat", dims, ["p50", "p99", "tm99"], period)
        else:
            qs += queries_for("NS", kind, dims, ["Sum" if kind == "plain" else "Average"], period)
    return qs


_KINDS = st.sampled_from(["plain", "avg", "pct", "math"])


@settings(max_examples=80, deadline=None)
@given(parts=st.lists(st.tuples(_KINDS, st.integers(1, 700)), min_size=1, max_size=4),
       period=st.sampled_from([60, 300, 3600]), minutes=st.integers(1, 60 * 24 * 95))
@example(parts=[("plain", 1264), ("math", 107), ("avg", 421)], period=3600, minutes=336 * 60)  # the audit's shape
@example(parts=[("plain", 1170), ("math", 236), ("pct", 178)], period=60, minutes=33642)  # needs a 5th group
@example(parts=[("plain", 11)], period=60, minutes=18327)  # the integrality edge
def test_plan_meets_the_minimum_on_one_period_grid(parts: list[tuple[str, int]], period: int, minutes: int) -> None:
    """Plain stats, percentiles and metric math of one period, any window: calls == minimum_calls."""
    qs = _shape([(kind, n, period) for kind, n in parts])
    window = (T0, T0 + timedelta(minutes=minutes))
    assert len(_check_plan(qs, window)) == minimum_calls(qs, window)


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.tuples(_KINDS, st.integers(1, 700), st.sampled_from([60, 300, 3600])), min_size=2,
                      max_size=4),
       minutes=st.integers(1, 60 * 24 * 95))
@example(parts=[("plain", 1264, 3600), ("math", 107, 3600), ("avg", 421, 3600)], minutes=336 * 60)
@example(parts=[("plain", 600, 60), ("math", 50, 300), ("avg", 200, 3600)], minutes=24 * 60)
def test_plan_with_mixed_periods_is_within_one_call_of_the_bound(parts: list[tuple[str, int, int]],
                                                                 minutes: int) -> None:
    """Periods on different grids: a group holding both is cut on the coarser grid, and the bound does
    not see that waste, so the plan may be one call over it (the exact minimum is not computed)."""
    qs = _shape(parts)
    window = (T0, T0 + timedelta(minutes=minutes))
    planned, bound = len(_check_plan(qs, window)), minimum_calls(qs, window)
    assert bound <= planned <= bound + 1


def test_plan_mixed_periods_examples_meet_the_minimum() -> None:
    for parts, minutes in [([("plain", 600, 60), ("math", 50, 300), ("avg", 200, 3600)], 24 * 60),
                           ([("plain", 1264, 3600), ("math", 107, 60), ("pct", 421, 300)], 14 * 24 * 60),
                           ([("plain", 500, 300), ("avg", 500, 3600)], 62 * 24 * 60)]:
        qs = _shape(parts)
        window = (T0, T0 + timedelta(minutes=minutes))
        assert len(_check_plan(qs, window)) == minimum_calls(qs, window), parts


def test_audit_shape_needs_six_calls() -> None:
    """1264 Sum + 107 ratios (2 hidden inputs each) + 421 Average, hourly, over 336 h: 1792 returned
    series of 336 points need 6 calls of 300 series (100,800 points); 2006 queries fit 6 calls."""
    qs = _shape([("plain", 1264, 3600), ("math", 107, 3600), ("avg", 421, 3600)])
    window = (T0, T0 + timedelta(hours=336))
    assert len(qs) == 2006 and minimum_calls(qs, window) == 6
    assert len(_check_plan(qs, window)) == 6


def test_integrality_edge_needs_three_calls_and_the_minimum_says_so() -> None:
    """11 queries of 18,327 points: 201,597 datapoints, under 2 x 100,800, yet 2 calls cannot hold them:
    two calls split the grid either by queries (at most 5 queries of 18,327 fit one call) or by time (at
    most 9,163 points of 11 queries fit one call, 2 x 9,163 < 18,327). minimum_calls counts that."""
    qs = _queries(11, 60)
    window = (T0, T0 + timedelta(minutes=18327))
    assert minimum_calls(qs, window) == 3
    assert len(_check_plan(qs, window)) == 3


def test_query_bound_counts_expressions_with_their_inputs() -> None:
    """500 ratios of 3 queries: 1500 queries, but a call holds 166 whole ratios, so 4 calls, not 3."""
    qs = _math(500, 60)
    window = (T0, T0 + timedelta(hours=1))
    assert minimum_calls(qs, window) == 4
    assert len(_check_plan(qs, window)) == 4


def test_unaligned_start_is_rounded_down_as_cloudwatch_rounds_it() -> None:
    """CloudWatch rounds a StartTime down (to the minute under 15 days, 5 minutes to 63 days, an hour
    beyond); a plan counting datapoints from the unrounded start would be one datapoint short per call
    and could spill into a second page. The plan starts where CloudWatch will."""
    qs = _queries(5, 60)
    start = T0 + timedelta(seconds=17)
    window = (start, start + timedelta(days=14))  # 20,160 minutes + 17 s: 20,161 points from T0
    plan = plan_requests(qs, window)
    assert plan[0]["StartTime"] == T0 and plan[-1]["EndTime"] == window[1]
    assert len(plan) == minimum_calls(qs, window) == 2  # 5 x 20,161 > 100,800
    for r in plan:  # every call starts on the minute
        assert r["StartTime"].second == 0
    old = plan_requests(_queries(2, 3600), (T0 + timedelta(minutes=32), T0 + timedelta(days=2)),
                        now=T0 + timedelta(days=100))
    assert old[0]["StartTime"] == T0  # 100 days old: rounded to the hour


def test_plan_rejects_bad_queries() -> None:
    window = (T0, T0 + timedelta(hours=1))
    q = _queries(1, 60)
    with pytest.raises(CloudWatchFetchError, match="duplicate"):
        plan_requests(q + q, window)
    with pytest.raises(CloudWatchFetchError, match="needs a Period"):
        plan_requests([{"Id": "e1", "Expression": "1"}], window)
    big = _queries(501, 60)
    for x in big:
        x["ReturnData"] = False
    with pytest.raises(CloudWatchFetchError, match="at most 500"):
        plan_requests(big + [{"Id": "e1", "Expression": "SUM([" + ",".join(x["Id"] for x in big) + "])"}], window)


def test_merged_batches_plan_in_fewer_calls_than_one_plan_each() -> None:
    """20 SLIs with clashing Ids (each a ratio of two hidden queries) and 300 service metrics, a day at
    60 s: one plan of the merged batch needs 5 calls (320 series x 1,440 points = 460,800 datapoints);
    a plan per batch needs 25 (5 for the service metrics, 1 per SLI)."""
    window = (T0, T0 + timedelta(days=1))
    slis = {f"slo{i}": [dict(q, Id=f"m{n}") if "MetricStat" in q else dict(q, Id="e1", Expression="m0 / m1")
                        for n, q in enumerate(_math(1, 60))] for i in range(20)}
    assert all(q["Id"] in ("m0", "m1", "e1") for b in slis.values() for q in b)
    merged = merge_query_batches({"svc": _queries(300, 60), **slis})
    assert len({q["Id"] for q in merged}) == len(merged) == 360
    assert next(q for q in merged if q["Id"] == "slo7_e1")["Expression"] == "slo7_m0 / slo7_m1"
    assert len(_check_plan(merged, window)) == minimum_calls(merged, window) == 5
    assert len(plan_requests(_queries(300, 60), window)) + sum(len(plan_requests(b, window))
                                                                for b in slis.values()) == 25
    with pytest.raises(CloudWatchFetchError, match="prefix 'Bad'"):
        merge_query_batches({"Bad": _queries(1, 60)})


def test_queries_for_ids_are_unique_and_stable() -> None:
    a = queries_for("NS", "M", [{"s": "a"}, {"s": "b"}], ["Sum", "p99"], 60)
    b = queries_for("NS", "M", [[{"Name": "s", "Value": "a"}], [{"Name": "s", "Value": "b"}]], ["Sum", "p99"], 60)
    assert [q["Id"] for q in a] == [q["Id"] for q in b]
    assert len({q["Id"] for q in a}) == 4 and all(q["Id"][0].islower() for q in a)


# ----------------------------------------------------------------------------- retention
@pytest.mark.parametrize("age,requested,granted", [
    (timedelta(hours=1), 10, 10), (timedelta(hours=1), 7, 10), (timedelta(hours=1), 45, 60),
    (timedelta(hours=4), 10, 60), (timedelta(days=14), 60, 60), (timedelta(days=16), 60, 300),
    (timedelta(days=16), 600, 600), (timedelta(days=64), 300, 3600), (timedelta(days=400), 60, 3600),
])
def test_choose_period(age: timedelta, requested: int, granted: int) -> None:
    period, warning = choose_period(requested, T0 - age, T0)
    assert period == granted
    if granted == requested:
        assert warning is None
    else:
        assert warning is not None and f"{requested}s" in warning and f"{granted}s" in warning


def test_choose_period_past_retention_warns() -> None:
    period, warning = choose_period(3600, T0 - timedelta(days=500), T0)
    assert period == 3600 and warning is not None and "455 days" in warning


# ----------------------------------------------------------------------------- moto (real HTTP)
def _put(cw: Any, namespace: str, start: datetime, minutes: int) -> dict[tuple[str, datetime], float]:
    """Fault{Service=a|b} datapoints each minute. The metric name is the namespace's last part: moto's
    GetMetricData ignores the namespace when a query has dimensions, so names must be unique too."""
    put: dict[tuple[str, datetime], float] = {}
    for svc in ("a", "b"):
        data = []
        for m in range(minutes):
            ts = start + timedelta(minutes=m)
            value = float(m * 10 + (1 if svc == "a" else 2))
            put[(svc, ts)] = value
            data.append({"MetricName": namespace.split("/")[1], "Dimensions": [{"Name": "Service", "Value": svc}],
                         "Timestamp": ts, "Value": value, "Unit": "Count"})
        cw.put_metric_data(Namespace=namespace, MetricData=data)
    return put


@pytest.fixture()
def moto_settings(moto_endpoint: str, fake_session: Any) -> AwsSettings:
    return AwsSettings(session=fake_session, region="eu-west-1", endpoint_url=moto_endpoint)


def _setup_client(settings: AwsSettings) -> Any:
    """A plain boto3 client for the tests' own writes: not the package's, so the least-privilege test
    (which records the package's calls) does not see PutMetricData."""
    assert settings.session is not None
    return settings.session.client("cloudwatch", region_name=settings.region, endpoint_url=settings.endpoint_url)


def test_moto_round_trip_and_resume(moto_settings: AwsSettings) -> None:
    ns = f"Test/{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=30)
    put = _put(_setup_client(moto_settings), ns, start, 30)
    found = discover_metrics(moto_settings, namespace=ns)
    assert sorted(d["Value"] for m in found for d in m["Dimensions"]) == ["a", "b"]
    qs = queries_for(ns, ns.split("/")[1], [m["Dimensions"] for m in found], ["Sum", "SampleCount"], 60)
    calls: list[str] = []

    def observe(service: str, op: str) -> None:
        calls.append(op)

    add_operation_observer(observe)
    try:
        units = list(metric_data_fetcher(moto_settings, qs, (start, now), now=now)(set()))
        first = len(calls)
        again = list(metric_data_fetcher(moto_settings, qs, (start, now), now=now)({units[0].unit}))
    finally:
        remove_operation_observer(observe)
    assert len(units) == 1 and first == 1 == minimum_calls(qs, (start, now))
    assert units[0].unit.endswith("-last") and again == [] and len(calls) == first  # not requested again
    df = units[0].frames["metrics"]
    sums = df.filter(df["stat"] == "Sum")
    got = {(d.split("=")[1], t): v for d, t, v in sums.select("dimensions", "timestamp", "value").iter_rows()}
    assert got == put
    counts = df.filter(df["stat"] == "SampleCount")
    assert counts.height == 60 and set(counts["value"]) == {1.0}
    assert set(df["namespace"]) == {ns} and set(df["period_s"]) == {60}


def test_moto_chunks_by_datapoint_cap(moto_settings: AwsSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmf, "MAX_DATAPOINTS_PER_CALL", 20)  # a small cap: 2 series x 30 min -> 3 calls
    ns = f"Test/{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=30)
    put = _put(_setup_client(moto_settings), ns, start, 30)
    qs = queries_for(ns, ns.split("/")[1], [{"Service": "a"}, {"Service": "b"}], ["Sum"], 60)
    calls: list[str] = []

    def observe(service: str, op: str) -> None:
        calls.append(op)

    add_operation_observer(observe)
    try:
        units = list(metric_data_fetcher(moto_settings, qs, (start, now), now=now)(set()))
    finally:
        remove_operation_observer(observe)
    assert len(units) == calls.count("GetMetricData") == 3
    rows = {(d.split("=")[1], t): v for u in units
            for d, t, v in u.frames["metrics"].select("dimensions", "timestamp", "value").iter_rows()}
    assert rows == put


# ----------------------------------------------------------------------------- Stubber
@pytest.fixture()
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Any:
    cw = client("cloudwatch", AwsSettings(region="eu-west-1"))
    monkeypatch.setattr(cmf, "client", lambda *a, **k: cw)
    monkeypatch.setattr(cmf, "_sleep", lambda s: None)
    with Stubber(cw) as stub:
        yield stub
        stub.assert_no_pending_responses()


def _result(qid: str, times: list[datetime], values: list[float], status: str = "Complete") -> dict[str, Any]:
    return {"Id": qid, "Label": qid, "Timestamps": times, "Values": values, "StatusCode": status}


def test_stub_percentiles_and_math(stubbed: Stubber) -> None:
    start, end = T0, T0 + timedelta(minutes=3)
    lat = queries_for("AWS/ApplicationSignals", "Latency", [{"Service": "ticket-api"}], ["p50", "p99", "tm99"], 60)
    qs = lat + _math(1, 60)
    ts = [start + timedelta(minutes=i) for i in range(3)]
    response = {"MetricDataResults": [_result(q["Id"], ts, [100.0 + i, 200.0 + i, 150.0 + i])
                                      for i, q in enumerate(lat)] + [_result("rate0", ts, [0.0, 0.5, 0.25])]}
    plan = plan_requests(qs, (start, end))
    assert len(plan) == 1
    stubbed.add_response("get_metric_data", response, plan[0])
    units = list(metric_data_fetcher(None, qs, (start, end), now=end)(set()))
    df = units[0].frames["metrics"]
    assert sorted(set(df["stat"])) == sorted(["p50", "p99", "tm99", f"{qs[3]['Id']} / {qs[4]['Id']}"])
    assert df.filter(df["metric"] == "rate0")["value"].to_list() == [0.0, 0.5, 0.25]
    assert df.filter(df["stat"] == "p99")["value"].to_list() == [101.0, 201.0, 151.0]


def test_stub_next_token_pages(stubbed: Stubber) -> None:
    start, end = T0, T0 + timedelta(minutes=4)
    qs = _queries(1, 60)
    qid = qs[0]["Id"]
    req = plan_requests(qs, (start, end))[0]
    t = [start + timedelta(minutes=i) for i in range(4)]
    stubbed.add_response("get_metric_data", {"MetricDataResults": [_result(qid, t[:2], [1.0, 2.0], "PartialData")],
                                             "NextToken": "tok"}, req)
    stubbed.add_response("get_metric_data", {"MetricDataResults": [_result(qid, t[2:], [3.0, 4.0])]},
                         dict(req, NextToken="tok"))
    units = list(metric_data_fetcher(None, qs, (start, end), now=end)(set()))
    assert [u.unit.rsplit("/", 1)[1] for u in units] == ["page-0000", "page-0001-last"]
    assert [v for u in units for v in u.frames["metrics"]["value"]] == [1.0, 2.0, 3.0, 4.0]


def test_stub_partial_data_is_rerequested_for_its_missing_range(stubbed: Stubber) -> None:
    start, end = T0, T0 + timedelta(minutes=4)
    qs = _math(1, 60)
    req = plan_requests(qs, (start, end))[0]
    t = [start + timedelta(minutes=i) for i in range(4)]
    stubbed.add_response("get_metric_data", {"MetricDataResults": [_result("rate0", t[:2], [0.1, 0.2], "PartialData")]},
                         req)
    retry = dict(req, StartTime=t[2])  # after the latest timestamp; the inputs come along
    stubbed.add_response("get_metric_data", {"MetricDataResults": [_result("rate0", t[2:], [0.3, 0.4])]}, retry)
    units = list(metric_data_fetcher(None, qs, (start, end), now=end)(set()))
    assert units[-1].unit.endswith("/partial-1/page-0000-last")
    assert [v for u in units for v in u.frames["metrics"]["value"]] == [0.1, 0.2, 0.3, 0.4]


def test_stub_partial_data_that_stays_partial_is_bounded_and_warned(stubbed: Stubber,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    start, end = T0, T0 + timedelta(minutes=4)
    qs = _queries(1, 60)
    qid = qs[0]["Id"]
    req = plan_requests(qs, (start, end))[0]
    for _ in range(cmf.MAX_PARTIAL_ATTEMPTS + 1):
        stubbed.add_response("get_metric_data", {"MetricDataResults": [_result(qid, [], [], "PartialData")]},
                             req)
    with caplog.at_level(logging.WARNING):
        units = list(metric_data_fetcher(None, qs, (start, end), now=end)(set()))
    assert len(units) == cmf.MAX_PARTIAL_ATTEMPTS + 1
    assert "still PartialData" in caplog.text


def test_stub_throttling_retried_then_succeeding(stubbed: Stubber) -> None:
    start, end = T0, T0 + timedelta(minutes=2)
    qs = _queries(1, 60)
    req = plan_requests(qs, (start, end))[0]
    stubbed.add_client_error("get_metric_data", "Throttling", "Rate exceeded", 400, expected_params=req)
    stubbed.add_client_error("get_metric_data", "ThrottlingException", "Rate exceeded", 400, expected_params=req)
    stubbed.add_response("get_metric_data", {"MetricDataResults": [_result(qs[0]["Id"], [start], [5.0])]}, req)
    units = list(metric_data_fetcher(None, qs, (start, end), now=end)(set()))
    assert units[0].frames["metrics"]["value"].to_list() == [5.0]


def test_stub_throttling_beyond_retries_is_a_clear_error(stubbed: Stubber) -> None:
    start, end = T0, T0 + timedelta(minutes=2)
    qs = _queries(1, 60)
    for _ in range(cmf.MAX_THROTTLE_RETRIES + 1):
        stubbed.add_client_error("get_metric_data", "Throttling", "Rate exceeded", 400)
    with pytest.raises(CloudWatchFetchError, match="still throttled"):
        list(metric_data_fetcher(None, qs, (start, end), now=end)(set()))


def test_stub_limit_exceeded_is_a_clear_error(stubbed: Stubber) -> None:
    start, end = T0, T0 + timedelta(minutes=2)
    qs = _queries(1, 60)
    stubbed.add_client_error("get_metric_data", "LimitExceededException", "Too many datapoints", 400)
    with pytest.raises(CloudWatchFetchError, match="LimitExceededException.*Too many datapoints"):
        list(metric_data_fetcher(None, qs, (start, end), now=end)(set()))


def test_fetcher_applies_retention(stubbed: Stubber, caplog: pytest.LogCaptureFixture) -> None:
    now = T0 + timedelta(days=20)
    qs = _queries(1, 60)
    with caplog.at_level(logging.WARNING):
        fetcher = metric_data_fetcher(None, qs, (T0, T0 + timedelta(hours=1)), now=now)
    assert "requested period 60s" in caplog.text and "granted 300s" in caplog.text
    stubbed.add_response("get_metric_data", {"MetricDataResults": []})
    units = list(fetcher(set()))
    assert units[0].request["MetricDataQueries"][0]["MetricStat"]["Period"] == 300
