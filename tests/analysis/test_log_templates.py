"""Log template mining (drain3), counts, new/surging templates and redaction."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from slo_analysis.analysis.log_templates import (
    MASKS,
    TemplateMining,
    mine_templates,
    redact,
    template_changes,
    template_counts,
    template_miner,
)
from slo_analysis.exceptions import SloAnalysisError
from slo_analysis.store import Snapshot

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _logs(messages: list[str], group: str = "/ecs/prod/api", step_s: int = 1) -> pl.DataFrame:
    n = len(messages)
    return pl.DataFrame(
        {"timestamp": [T0 + timedelta(seconds=i * step_s) for i in range(n)], "log_group": [group] * n,
         "log_stream": ["s"] * n, "message": messages},
        schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})


def _iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def demo_mining(demo_snapshot: Path) -> TemplateMining:
    return mine_templates(Snapshot.open(demo_snapshot).scan("logs"))


@pytest.fixture(scope="module")
def demo_logs(demo_snapshot: Path) -> pl.DataFrame:
    return Snapshot.open(demo_snapshot).read("logs")


@pytest.fixture(scope="module")
def scenario(small_demo: Path) -> dict:
    return json.loads((small_demo / "scenario.json").read_text())


# ----------------------------------------------------------------------------- masking and mining
def test_masks_turn_variable_parts_into_one_template() -> None:
    lines = [
        f"user {u}@example.com from {ip} at {ts} trace {tr} req {rq} obj 0x{h:x} took {ms} ms"
        for u, ip, ts, tr, rq, h, ms in [
            ("ann", "10.0.0.1", "2026-11-02T10:00:00.123Z", "1-6ae7d284-0c2826cd7d9caadb39918a1b",
             "f9b77db2-d38f-3997-16e6-cd0daa8c76ba", 255, 12),
            ("bob", "fe80::1ff:fe23:4567:890a", "2026-11-03 11:22:33", "1-6ae7d287-54d47f92f5029ca8afea0884",
             "167f0ccc-1968-29f5-2166-c808c5d97ff1", 4096, 3.5),
        ]
    ]
    m = mine_templates(_logs(lines))
    assert m.templates.height == 1
    assert m.templates["template"][0] == (
        "user <EMAIL> from <IP> at <TIMESTAMP> trace <TRACE_ID> req <UUID> obj <HEX> took <NUM> ms")
    assert m.distinct_messages == 1  # masked in polars before drain3: one distinct text


def test_miner_masks_like_polars() -> None:
    text = "ERROR 0xdeadbeef at 2026-11-02T10:00:00Z from 192.168.1.20 id 5f029ca8afea0884 n=42 v2.4.0"
    expr = pl.lit(text)
    for pattern, name in MASKS:  # the same patterns in polars' Rust regex ...
        expr = expr.str.replace_all(pattern, f"<{name}>")
    mined = template_miner().add_log_message(text)["template_mined"]  # ... and in drain3's Python re
    assert pl.select(expr).item() == mined
    assert mined == "ERROR <HEX> at <TIMESTAMP> from <IP> id <HEX> n=<NUM> <VERSION>"
    assert mine_templates(_logs([text])).templates["template"][0] == mined


def test_json_human_part_service_and_fallback() -> None:
    msgs = [
        '{"level": "info", "service": "billing", "msg": "invoice 17 sent", "id": "a"}',
        '{"level": "INFO", "msg": "invoice 18 sent"}',  # no service: from the log group
        '{"level": "warning", "message": "quota \\"gold\\" at 93 percent"}',
        "WARN disk almost full on /dev/sda1\n  at line 2",
        '{"event": "no human text"}',
        "",
    ]
    m = mine_templates(_logs(msgs, group="/ecs/prod/ledger/"))
    t = m.templates.select("template", "service", "level", "count").rows()
    assert ("INFO invoice <NUM> sent", "billing", "INFO", 1) in t
    assert ("INFO invoice <NUM> sent", "ledger", "INFO", 1) in t
    assert ('WARN quota "gold" at <NUM> percent', "ledger", "WARN", 1) in t
    assert ("WARN disk almost full on /dev/sda1", "ledger", "WARN", 1) in t
    assert m.unparsed == 2
    assert m.events.height == len(msgs)
    assert m.events["template_id"].null_count() == 2
    assert m.events["service"].cast(pl.String).to_list()[-2:] == ["ledger", "ledger"]
    assert m.events.columns == ["timestamp", "service", "template_id"]


def test_short_messages_that_differ_by_a_word_stay_apart() -> None:
    msgs = ['{"level":"INFO","msg":"ticket created"}', '{"level":"INFO","msg":"ticket resolved"}'] * 3
    assert mine_templates(_logs(msgs)).templates.height == 2
    assert mine_templates(_logs(msgs), sim_th=0.4).templates.height == 1  # drain3's default would merge them


def test_missing_column_is_named() -> None:
    with pytest.raises(SloAnalysisError, match="'message'"):
        mine_templates(pl.DataFrame({"timestamp": [T0], "log_group": ["g"]}))


def test_demo_collapses_and_maps_every_line(demo_mining: TemplateMining, demo_logs: pl.DataFrame) -> None:
    m = demo_mining
    assert m.events.height == demo_logs.height
    assert m.events["template_id"].null_count() == m.unparsed
    assert m.unparsed < 10  # only the demo's torn/garbage lines
    assert m.distinct_messages < 60 < 1000 < demo_logs.height  # request and lifecycle records collapse
    assert int(m.templates["count"].sum()) == demo_logs.height - m.unparsed
    # every request record of a service is one template, counted exactly
    msg = pl.col("message")
    completed = demo_logs.filter(msg.str.contains('"msg":"request completed"', literal=True)
                                 & msg.str.contains('"level":"INFO"', literal=True)
                                 & msg.str.contains('"service":"ticket-api"', literal=True)).height
    row = m.templates.filter((pl.col("template") == "INFO request completed") & (pl.col("service") == "ticket-api"))
    assert row["count"].to_list() == [completed]
    lifecycle = {"INFO ticket created", "INFO agent assigned", "INFO first agent response sent",
                 "INFO ticket resolved"}
    assert lifecycle <= set(m.templates["template"])
    assert m.templates["template_id"].to_list() == list(range(m.templates.height))


def test_examples_are_redacted_raw_lines(demo_mining: TemplateMining) -> None:
    ex = demo_mining.templates.filter(pl.col("template") == "WARN slow query on agent_skills")["example"][0]
    assert json.loads(ex)["msg"] == "slow query on agent_skills"
    assert all(redact(e) == e for e in demo_mining.templates["example"])


def test_template_counts(demo_mining: TemplateMining) -> None:
    c = template_counts(demo_mining, "1h")
    assert c.columns == ["timestamp", "template_id", "count"]
    assert int(c["count"].sum()) == demo_mining.events.height - demo_mining.unparsed
    assert (c["timestamp"].dt.minute() == 0).all()
    dense = template_counts(demo_mining, "6h", fill_zeros=True)
    n_buckets = dense["timestamp"].n_unique()
    assert dense.height == n_buckets * demo_mining.templates.height
    assert int(dense["count"].sum()) == int(c["count"].sum())
    assert (dense["count"] == 0).any()


def test_incident_templates_are_new_and_significant(demo_mining: TemplateMining, scenario: dict) -> None:
    inc = scenario["incident"]
    incident = (_iso(inc["onset"]), _iso(inc["recovery"]))
    baseline = (incident[0] - timedelta(days=1), incident[1] - timedelta(days=1))
    ch = template_changes(demo_mining, incident, baseline)
    assert ch.columns == ["template_id", "template", "service", "level", "baseline_count", "incident_count",
                          "baseline_rate_per_h", "incident_rate_per_h", "ratio", "is_new", "p_value",
                          "significant", "example"]
    slow = ch.filter(pl.col("template") == "WARN slow query on agent_skills")
    assert slow.select("service", "is_new", "significant").row(0) == ("routing-service", True, True)
    assert math.isinf(slow["ratio"][0])
    timeouts = ch.filter(pl.col("template").str.contains("Timeout after <NUM> ms querying agent_skills"))
    assert timeouts.select("is_new", "significant").row(0) == (True, True)
    # the routine traffic is not flagged
    routine = ch.filter(pl.col("template").is_in(["INFO request completed", "INFO ticket created"]))
    assert not routine["significant"].any()
    # sorted: significant first, p-values ascending among them
    sig = ch["significant"].to_list()
    assert sig == sorted(sig, reverse=True)
    p = ch.filter("significant")["p_value"].to_list()
    assert p == sorted(p)
    # rates are counts over the window length
    hours = (incident[1] - incident[0]).total_seconds() / 3600
    assert slow["incident_rate_per_h"][0] == pytest.approx(slow["incident_count"][0] / hours)


def test_changes_service_filter_and_quiet_period(demo_mining: TemplateMining, scenario: dict) -> None:
    onset = _iso(scenario["incident"]["onset"])
    ch = template_changes(demo_mining, (onset, onset + timedelta(hours=1)),
                          (onset - timedelta(days=1), onset - timedelta(days=1) + timedelta(hours=1)),
                          service="ticket-api")
    assert set(ch["service"]) == {"ticket-api"}
    # two quiet hours a day apart, before the incident: nothing new is significant
    quiet = template_changes(demo_mining, (onset - timedelta(hours=6), onset - timedelta(hours=5)),
                             (onset - timedelta(hours=30), onset - timedelta(hours=29)))
    assert not quiet.filter("is_new")["significant"].any()
    with pytest.raises(SloAnalysisError, match="empty"):
        template_changes(demo_mining, (onset, onset), (onset - timedelta(hours=1), onset))


def test_binomial_rate_test_by_hand() -> None:
    # 10 lines in one hour of incident, 10 lines over 10 hours of baseline: p = P(X >= 10 | n=20, p0=1/11)
    ts = [T0 + timedelta(minutes=5 * i) for i in range(10)] + [T0 - timedelta(hours=10) + timedelta(hours=i)
                                                              for i in range(10)]
    df = pl.DataFrame({"timestamp": ts, "log_group": ["/g/x"] * 20, "message": ["ERROR boom 1"] * 20},
                      schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    ch = template_changes(mine_templates(df), (T0, T0 + timedelta(hours=1)), (T0 - timedelta(hours=10), T0))
    from scipy.stats import binom
    assert ch["p_value"][0] == pytest.approx(float(binom.sf(9, 20, 1 / 11)))
    assert ch["ratio"][0] == pytest.approx(10.0)
    assert ch.select("baseline_count", "incident_count", "is_new", "significant").row(0) == (10, 10, False, True)


# ----------------------------------------------------------------------------- redaction
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mail ann.lee+x@corp.example.com now", "mail <EMAIL> now"),
        ("from 203.0.113.7:443", "from <IP>:443"),
        ("peer 2001:db8::8a2e:370:7334 up", "peer <IP> up"),
        ("peer ::1 up", "peer <IP> up"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_abc", "Authorization: Bearer <TOKEN>"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key <TOKEN> used"),
        ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end", "secret <TOKEN> end"),
        ("password=hunter2 user=bob", "password=<TOKEN> user=bob"),
        ('{"api_key": "abc123", "x": 1}', '{"api_key": "<TOKEN>", "x": 1}'),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token <TOKEN>"),
    ],
)
def test_redact(raw: str, expected: str) -> None:
    assert redact(raw) == expected


def test_redact_keeps_ids_and_times() -> None:
    keep = ("request f9b77db2-d38f-3997-16e6-cd0daa8c76ba trace 1-6ae7d287-54d47f92f5029ca8afea0884 "
            "at 12:34:56 sha 5f029ca8afea08845f029ca8afea08845f029ca8 version 2.4.0")
    assert redact(keep) == keep
