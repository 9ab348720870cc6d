from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from slo_analysis.exceptions import TruncatedInputError
from slo_analysis.sources import application_signals as aps
from slo_analysis.sources.detect import UNKNOWN, sniff

DATA = Path(__file__).parent / "data"
LATENCY = json.loads((DATA / "slo-create-ticket-latency.json").read_text())


def test_json_that_is_not_one_document_is_unknown_with_the_reason() -> None:
    lines = sniff("lines.json", b'{"a":1}\n{"b":2}\n')
    assert lines.kind == UNKNOWN
    assert lines.reason == "not one JSON document (line 2): invalid JSON: Extra data (column 1)"
    junk = sniff("junk.json", b'{"a": 1} trailing')
    assert junk.kind == UNKNOWN and "Extra data" in junk.reason
    binary = sniff("b.json", b'{"a": "\xff"}')
    assert binary.kind == UNKNOWN and "not UTF-8" in binary.reason


def test_cut_off_json_and_gzip_still_raise() -> None:
    with pytest.raises(TruncatedInputError, match="cut.json"):
        sniff("cut.json", b'{"a": [1, 2')
    with pytest.raises(TruncatedInputError, match="cut.json.gz"):
        sniff("cut.json.gz", gzip.compress(json.dumps(LATENCY).encode())[:-30])


def test_application_signals_slo_without_goal_is_still_an_slo() -> None:
    doc = json.loads(json.dumps(LATENCY))
    del doc["Slo"]["Goal"]
    assert sniff("slo.json", json.dumps(doc).encode()).kind == "slo-application-signals"
    only_arn = {"Slo": {"Arn": "arn:aws:application-signals:eu-west-1:123456789012:slo/x"}}
    assert aps.looks_like_application_signals_slo(only_arn)
    assert aps.looks_like_application_signals_slo({"Slos": [doc["Slo"], LATENCY["Slo"]]})
    # the loose test applies under "Slo"/"Slos" only: a bare object needs the full shape
    assert not aps.looks_like_application_signals_slo(doc["Slo"])
    assert not aps.looks_like_application_signals_slo({"Slo": "x"})
    assert not aps.looks_like_application_signals_slo({"Slos": [{"Goal": {}}]})
