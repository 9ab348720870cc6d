from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

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
