from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_analysis.exceptions import InputError, MissingKeyError, SloAnalysisError
from slo_analysis.sources import openslo

DATA = Path(__file__).parent / "data"
TEXT = (DATA / "openslo.yaml").read_text()


def test_openslo_documents():
    df = openslo.slos_from_openslo(TEXT, file="openslo.yaml")
    rows = {r["name"]: r for r in df.to_dicts()}
    assert list(rows) == ["create-ticket-latency", "create-ticket-availability", "first-response/enterprise",
                          "first-response/standard"]
    lat = rows["create-ticket-latency"]
    assert (lat["service"], lat["operation"], lat["environment"], lat["sli_kind"], lat["method"]) == (
        "ticket-api", "POST /tickets", "prod", "threshold", "period")
    assert (lat["threshold"], lat["comparison"], lat["target"], lat["period_s"]) == (800.0, "LessThan", 0.99, 60)
    assert (lat["interval_kind"], lat["interval_duration"], lat["interval_unit"]) == ("calendar", 1, "MONTH")
    assert lat["calendar_start"] == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # midnight in Paris (CET)
    assert lat["metric"].startswith("CloudWatch: p99(ApplicationSignals Latency")
    assert json.loads(lat["definition"])["spec"]["indicator"]["metadata"]["name"] == "create-ticket-p99"

    av = rows["create-ticket-availability"]
    assert av["target"] == 0.999  # targetPercent 99.9 (golden)
    assert (av["sli_kind"], av["method"], av["period_s"], av["interval_kind"], av["interval_duration"],
            av["interval_unit"], av["warning_threshold"]) == ("ratio", "request", None, "rolling", 30, "DAY", 0.5)
    assert av["metric"] == ("bad=CloudWatch: Sum(ApplicationSignals Fault); "
                            "total=CloudWatch: SampleCount(ApplicationSignals Latency)")
    ent, std = rows["first-response/enterprise"], rows["first-response/standard"]
    assert (ent["target"], ent["period_s"], std["target"], std["period_s"]) == (0.95, 300, 0.9, 300)
    assert (ent["method"], ent["interval_duration"], ent["interval_unit"]) == ("period", 28, "DAY")


def _docs():
    return list(yaml.safe_load_all(TEXT))


def _dump(docs):
    return yaml.safe_dump_all(docs, sort_keys=False)


def test_missing_target_names_file_document_and_field():
    docs = _docs()
    del docs[2]["spec"]["objectives"][0]["target"]
    with pytest.raises(MissingKeyError) as err:
        openslo.slos_from_openslo(_dump(docs), file="openslo.yaml")
    assert err.value.key == "spec.objectives[0].target"
    assert str(err.value) == ("openslo.yaml: missing required key 'spec.objectives[0].target' in document 3 "
                              "(SLO create-ticket-latency) (or targetPercent)")


@pytest.mark.parametrize("edit, match", [
    (lambda d: d[3]["spec"].update(budgetingMethod="Weekly"), "budgetingMethod 'Weekly'"),
    (lambda d: d[3]["spec"]["objectives"][0].update(target=0.5), "cannot both be set"),
    (lambda d: d[2]["spec"].update(indicatorRef="nope"), "no SLI document"),
    (lambda d: d[2]["spec"]["timeWindow"][0]["calendar"].update(timeZone="Mars/Olympus"), "unknown time zone"),
    (lambda d: d[0].update(apiVersion="openslo/v2alpha"), "is not openslo/v1"),
    (lambda d: d[4]["spec"]["objectives"][0].update(timeSliceWindow="soon"), "timeSliceWindow"),
    (lambda d: d[3]["spec"]["objectives"][0].update(targetPercent=100), r"target must be in \(0, 1\)"),
    (lambda d: d[2]["spec"]["objectives"][0].update(timeSliceTarget=0), r"timeSliceTarget must be in \(0, 1\]"),
    (lambda d: d[2]["spec"]["objectives"][0].update(timeSliceTarget=1.5), r"timeSliceTarget must be in \(0, 1\]"),
    (lambda d: d[4]["spec"]["objectives"][0].update(timeSliceTarget=0.9), "only used by Timeslices"),
    (lambda d: d[2]["spec"].update(budgetingMethod="RatioTimeslices"), "needs a ratioMetric"),
])
def test_validation_errors(edit, match):
    docs = _docs()
    edit(docs)
    with pytest.raises(InputError, match=match) as err:
        openslo.slos_from_openslo(_dump(docs), file="openslo.yaml")
    assert str(err.value).startswith("openslo.yaml: ")


def test_invalid_yaml_names_line():
    with pytest.raises(InputError) as err:
        openslo.slos_from_openslo("apiVersion: openslo/v1\nkind: [SLO\n", file="o.yaml")
    assert err.value.line is not None and "o.yaml" in str(err.value)


def test_predicate():
    assert openslo.looks_like_openslo(TEXT)
    assert not openslo.looks_like_openslo("id,service,started_at\n")
    assert not openslo.looks_like_openslo("apiVersion: n9/v1alpha\nkind: SLO\n")


def test_slos_from_python():
    df = openslo.slos_from_python(name="kb-availability", service="kb-search", sli_kind="availability",
                                  method="request", target=0.995, interval="30d")
    row = df.row(0, named=True)
    assert (row["target"], row["interval_duration"], row["interval_unit"], row["source"]) == (
        0.995, 30, "DAY", "python")
    per = openslo.slos_from_python(name="p99", sli_kind="latency", method="period", target=0.99, period_s=60,
                                   threshold=800, comparison="LessThan", interval=(1, "MONTH"),
                                   calendar_start=datetime(2026, 11, 1))
    assert per["calendar_start"][0] == datetime(2026, 11, 1, tzinfo=UTC)
    assert per["interval_kind"][0] == "calendar"


@pytest.mark.parametrize("kwargs, field", [
    ({"target": 99.9}, "target"),
    ({"method": "requests"}, "method"),
    ({"method": "period", "period_s": 30}, "period_s"),
    ({"method": "period", "period_s": 1200}, "period_s"),
    ({"sli_kind": "speed"}, "sli_kind"),
    ({"interval": "28 days"}, "interval"),
    ({"comparison": "<"}, "comparison"),
])
def test_slos_from_python_validation(kwargs, field):
    args = {"name": "x", "sli_kind": "availability", "method": "request", "target": 0.999, **kwargs}
    with pytest.raises(InputError) as err:
        openslo.slos_from_python(**args)
    assert err.value.key == field and field in str(err.value)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_corruption_raises_only_package_errors(data):
    import copy

    from corrupt import corrupted

    docs = data.draw(corrupted(_docs()))
    text = yaml.safe_dump_all(copy.deepcopy(docs)) if isinstance(docs, list) else ""
    cut = data.draw(st.integers(0, len(text)))
    for candidate in (text, text[:cut]):
        with contextlib.suppress(SloAnalysisError):
            openslo.slos_from_openslo(candidate, file="x.yaml")


def test_timeslices_need_a_slice_target():
    docs = _docs()
    del docs[2]["spec"]["objectives"][0]["timeSliceTarget"]
    with pytest.raises(MissingKeyError) as err:
        openslo.slos_from_openslo(_dump(docs), file="openslo.yaml")
    assert err.value.key == "spec.objectives[0].timeSliceTarget"
    assert "document 3 (SLO create-ticket-latency)" in str(err.value)


# -- time slices evaluated end to end -----------------------------------------------------------
def _support_slo(name: str, budgeting: str, objectives: list[dict]) -> dict:
    def source(metric: str) -> dict:
        return {"metricSource": {"type": "CloudWatch", "spec": {
            "namespace": "SupportDesk", "metricName": metric, "stat": "Sum",
            "dimensions": [{"name": "Environment", "value": "prod"}]}}}

    return {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": name}, "spec": {
        "service": "support",
        "indicator": {"metadata": {"name": f"{name}-sli"},
                      "spec": {"ratioMetric": {"counter": False, "good": source("Answered"),
                                               "total": source("Created")}}},
        "timeWindow": [{"duration": "1d", "isRolling": True}], "budgetingMethod": budgeting,
        "objectives": objectives}}


def _support_metrics() -> pl.DataFrame:
    # per minute over 20 minutes (four 5-minute slices): tickets created and answered in time
    # slice 0: 9 of 10 (0.9); slice 1: 2 of 4 (0.5); slice 2: no tickets; slice 3: 5 of 5 (1.0)
    created = [2, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    answered = [2, 2, 2, 2, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [(t0 + timedelta(minutes=i), "SupportDesk", m, "Environment=prod", "Sum", 60, float(v))
            for i in range(20) for m, v in (("Created", created[i]), ("Answered", answered[i])) if v]
    return pl.DataFrame(rows, schema={"timestamp": pl.Datetime("ms", "UTC"), "namespace": pl.String,
                                      "metric": pl.String, "dimensions": pl.String, "stat": pl.String,
                                      "period_s": pl.Int64, "value": pl.Float64}, orient="row")


def test_timeslices_and_ratio_timeslices_evaluate_on_ratio_metrics():
    from slo_analysis.analysis.slo_status import sli_for_slo
    from slo_analysis.core.model import slos_from_frame

    docs = [_support_slo("tickets", "Timeslices", [
                {"displayName": "strict", "target": 0.9, "timeSliceTarget": 0.9, "timeSliceWindow": "5m"},
                {"displayName": "relaxed", "target": 0.9, "timeSliceTarget": 0.5, "timeSliceWindow": 5}]),
            _support_slo("tickets-avg", "RatioTimeslices", [{"target": 0.9, "timeSliceWindow": "5m"}])]
    slos = {s.name: s for s in slos_from_frame(openslo.slos_from_openslo(_dump(docs)))}
    assert {n: (s.budgeting, s.slice_target) for n, s in slos.items()} == {
        "tickets/strict": ("timeslices", 0.9), "tickets/relaxed": ("timeslices", 0.5),
        "tickets-avg": ("ratio_timeslices", None)}
    frames = {"metrics": _support_metrics()}
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    window = (t0, t0 + timedelta(minutes=20))

    strict = sli_for_slo(frames, slos["tickets/strict"], window)
    assert (strict.method, strict.period_s) == ("period", 300)
    # 0.9 >= 0.9 is good, 0.5 is not, the empty slice is good (missing="good"), 1.0 is good
    assert strict.frame["good"].to_list() == [1.0, 0.0, 1.0, 1.0]
    assert strict.frame["bad"].to_list() == [0.0, 1.0, 0.0, 0.0]
    assert sli_for_slo(frames, slos["tickets/relaxed"], window).frame["bad"].sum() == 0.0

    avg = sli_for_slo(frames, slos["tickets-avg"], window)
    assert avg.frame["good"].to_list() == [0.9, 0.5, 1.0, 1.0]
    assert avg.frame["bad"].to_list() == [pytest.approx(0.1), 0.5, 0.0, 0.0]
    # attainment = mean slice ratio: 3.4 / 4 = 0.85 (occurrences: 16 / 19); without the empty slice 2.4 / 3
    assert avg.frame["good"].sum() / 4 == pytest.approx(0.85)
    excl = sli_for_slo(frames, slos["tickets-avg"], window, missing="exclude")
    assert excl.frame["good"].sum() / (excl.frame["good"].sum() + excl.frame["bad"].sum()) == pytest.approx(0.8)


def test_first_response_fixture_without_metric_names_says_what_is_missing():
    from slo_analysis.analysis.slo_status import sli_for_slo
    from slo_analysis.core.model import slos_from_frame
    from slo_analysis.core.sli import SliError

    slo = next(s for s in slos_from_frame(openslo.slos_from_openslo(TEXT)) if s.name == "first-response/enterprise")
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(SliError, match="total metric and a good or bad metric"):
        sli_for_slo({"metrics": _support_metrics()}, slo, (t0, t0 + timedelta(minutes=20)))


# -- alert policies ------------------------------------------------------------------------------
BURN_14X = {"apiVersion": "openslo/v1", "kind": "AlertCondition", "metadata": {"name": "burn-14x"},
            "spec": {"severity": "page", "condition": {"kind": "burnrate", "op": "gt", "threshold": 14.4,
                                                       "lookbackWindow": "1h", "alertAfter": "5m"}}}


def _with_condition():
    import copy

    docs = _docs()
    docs[3]["spec"]["alertPolicies"] = [{"alertPolicyRef": "fast-burn"}, {
        "kind": "AlertPolicy", "metadata": {"name": "slow-burn"},
        "spec": {"conditions": [{"kind": "AlertCondition", "metadata": {"name": "burn-6x"},
                                 "spec": {"severity": "ticket",
                                          "condition": {"op": "gte", "threshold": 6, "lookbackWindow": "6h"}}}]}}]
    return [*docs, copy.deepcopy(BURN_14X)]


def test_alert_policies_by_ref_and_inline():
    from slo_analysis.core.alerts import AlertRule, custom_policy

    policies = openslo.alert_policies_from_openslo(_dump(_with_condition()), file="openslo.yaml")
    assert [(p["name"], p["slos"], p["alert_when_breaching"]) for p in policies] == [
        ("fast-burn", ["create-ticket-availability"], True), ("slow-burn", ["create-ticket-availability"], True)]
    fast, slow = (custom_policy(p["name"], p["rules"]) for p in policies)
    assert fast.rules == (AlertRule("burn-14x", "page", (3600.0,), 14.4, for_s=300.0, op="gt"),)
    assert slow.rules == (AlertRule("burn-6x", "ticket", (21600.0,), 6.0, for_s=0.0, op="gte"),)
    # the SLO rows are unchanged by the alert documents
    assert openslo.slos_from_openslo(_dump(_with_condition())).height == 4


def _cond(docs):
    return docs[-1]["spec"]["condition"]


@pytest.mark.parametrize("edit, key, match", [
    (lambda d: d.pop(), "spec.conditions[0].conditionRef", "'burn-14x': no AlertCondition document"),
    (lambda d: _cond(d).update(op="lte"), "spec.condition.op", "lt / lte cannot be backtested"),
    (lambda d: _cond(d).update(kind="threshold"), "spec.condition.kind", "only burnrate"),
    (lambda d: _cond(d).update(lookbackWindow="an hour"), "spec.condition.lookbackWindow", "not a duration"),
    (lambda d: _cond(d).update(lookbackWindow="0m"), "spec.condition.lookbackWindow", "must be positive"),
    (lambda d: _cond(d).update(alertAfter=5), "spec.condition.alertAfter", "not a duration"),
    (lambda d: _cond(d).update(threshold=-1), "spec.condition.threshold", ">= 0"),
    (lambda d: _cond(d).pop("threshold"), "spec.condition.threshold", "missing required key"),
    (lambda d: d[-1]["spec"].pop("severity"), "spec.severity", "missing required key"),
    (lambda d: d[3]["spec"]["alertPolicies"].append("nope"), "spec.alertPolicies[2]", "no AlertPolicy document"),
    (lambda d: d[3]["spec"]["alertPolicies"][1]["spec"]["conditions"][0]["spec"]["condition"].update(op="lt"),
     "spec.alertPolicies[1].spec.conditions[0].spec.condition.op", "cannot be backtested"),
    (lambda d: d[5]["spec"].update(conditions=[]), "spec.conditions", "non-empty list"),
])
def test_alert_policy_errors_name_document_and_field(edit, key, match):
    docs = _with_condition()
    edit(docs)
    with pytest.raises(InputError, match=match) as err:
        openslo.alert_policies_from_openslo(_dump(docs), file="openslo.yaml")
    assert err.value.key == key
    assert str(err.value).startswith("openslo.yaml: ") and " document " in str(err.value)


def test_openslo_policy_backtests():
    from slo_analysis.core.alerts import backtest, custom_policy
    from slo_analysis.core.model import SLO, Interval

    (p, _) = openslo.alert_policies_from_openslo(_dump(_with_condition()))
    policy = custom_policy(p["name"], p["rules"])
    # a full outage from minute 60 to 70 after a clean hour, 1000 requests a minute
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    ts = pl.datetime_range(t0, t0 + timedelta(minutes=179), "1m", eager=True, time_unit="ms")
    bad = [1000.0 if 60 <= i < 70 else 0.0 for i in range(180)]
    sli = pl.DataFrame({"timestamp": ts, "good": [1000.0 - b for b in bad], "bad": bad})
    slo = SLO(name="a", sli_kind="availability", method="request", target=0.999,
              interval=Interval("rolling", 7, "DAY"))
    r = backtest(sli, slo, policy, pl.DataFrame({"start": [ts[60]], "end": [ts[70]]}), period_s=60)
    # burn 1000 > 14.4 from the first outage minute; alertAfter 5m: fires 5 minutes after that minute ends
    assert r.incidents["delay_s"].to_list() == [360.0]
    # six minutes at burn 1000 against a 7-day budget: 1000 x 360 s / 604800 s
    assert r.incidents["budget_consumed_before_detection"][0] == pytest.approx(1000 * 360 / (7 * 86400))
