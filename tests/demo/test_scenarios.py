"""Tests of the benchmark scenario simulator: the suite's variety, determinism, canonical frames, and
that every kind of incident really moves its SLO's indicator (and leaves the traces a reviewer expects)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from slo_analysis import frames
from slo_analysis.core.model import slos_from_frame
from slo_analysis.demo.scenario_spec import DEPENDENCIES
from slo_analysis.demo.scenarios import (
    Decoy,
    Scenario,
    ScenarioData,
    ScenarioError,
    scenario_suite,
    simulate_scenario,
)
from slo_analysis.demo.story import VERSIONS

SUITE = scenario_suite()
# one scenario per kind of incident the tests below need (suite indices are stable: the suite is seeded)
PICK = {
    "latency": next(s for s in SUITE if s.fault == "latency" and s.culprit_service == "routing-service"),
    "errors": next(s for s in SUITE if s.fault == "errors" and s.cause == "deployment"),
    "exhaustion": next(s for s in SUITE if s.fault == "exhaustion"),
    "surge": next(s for s in SUITE if s.cause == "surge" and s.slo_service == "ticket-api"),
    "dynamodb": next(s for s in SUITE if s.dependency == "dynamodb"),
}
PATH = {"ticket-api": {"support-web", "ticket-api", "routing-service"}, "kb-search": {"support-web", "kb-search"},
        "support-web": {"support-web", "ticket-api"}}


@pytest.fixture(scope="module")
def sims() -> dict[str, ScenarioData]:
    return {k: simulate_scenario(s) for k, s in PICK.items()}


def _between(df: pl.DataFrame, col: str, a: datetime, b: datetime) -> pl.DataFrame:
    return df.filter((pl.col(col) >= a) & (pl.col(col) < b))


def _sli(d: ScenarioData, a: datetime, b: datetime) -> float:
    """The SLO's bad fraction in [a, b): bad 1-minute p99 periods, slow requests or faults."""
    slo = slos_from_frame(d.frames["slos"])[0]
    r = _between(d.frames["requests"], "timestamp", a, b).filter(
        (pl.col("service") == slo.service) & (pl.col("operation") == slo.operation))
    assert r.height > 20, "too few requests to judge the SLI"
    if slo.sli_kind == "availability":
        return float(r["fault"].mean())  # type: ignore[arg-type]
    assert slo.threshold is not None
    if slo.method == "request":
        return float((r["latency_ms"] >= slo.threshold).mean())  # type: ignore[arg-type]
    p99 = r.group_by_dynamic("timestamp", every="1m").agg(p99=pl.col("latency_ms").quantile(0.99, "linear"))
    return float((p99["p99"] >= slo.threshold).mean())  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------- the suite
def test_suite_is_deterministic_and_seeded() -> None:
    assert scenario_suite() == SUITE
    assert scenario_suite(seed=8) != SUITE
    assert len({s.name for s in SUITE}) == len(SUITE) == 24
    assert len(scenario_suite(n=6)) == 6


def test_suite_covers_causes_culprits_faults_and_decoys() -> None:
    deploy = [s for s in SUITE if s.cause == "deployment"]
    other = [s for s in SUITE if s.cause != "deployment"]
    assert len(deploy) >= 16
    assert sum(s.cause == "surge" for s in SUITE) >= 3 and sum(s.cause == "dependency" for s in SUITE) >= 3
    assert {s.culprit_service for s in deploy} == {"ticket-api", "routing-service", "kb-search", "support-web"}
    assert {s.fault for s in deploy} == {"latency", "errors", "exhaustion"}
    assert {(s.culprit_service, s.fault) for s in deploy} >= {(c, f) for c in ("ticket-api", "routing-service")
                                                              for f in ("latency", "errors", "exhaustion")}
    assert {len(s.decoys) for s in deploy} == {0, 1, 2, 3}
    assert all(len(s.decoys) <= 2 for s in other) and any(s.decoys for s in other)
    assert {s.dependency for s in SUITE if s.cause == "dependency"} == set(DEPENDENCIES)
    # a decoy shortly after the onset on the request path, and one shortly before it off the path
    assert any(timedelta(0) < d.offset <= timedelta(minutes=15) and d.service in PATH[s.slo_service]
               for s in deploy for d in s.decoys)
    assert any(-timedelta(minutes=30) <= d.offset < timedelta(0) and d.service not in PATH[s.slo_service]
               for s in deploy for d in s.decoys)
    # the no-deployment cases have decoys close to the onset too
    assert any(abs(d.offset) <= timedelta(minutes=30) for s in other for d in s.decoys)
    gaps = {s.deploy_gap for s in deploy}
    assert len(gaps) > 8 and all(timedelta(0) <= g <= timedelta(minutes=20) for g in gaps)


def test_scenario_rejects_inconsistent_fields() -> None:
    s = PICK["latency"]
    with pytest.raises(ScenarioError, match="'fault'"):
        replace(s, fault="meltdown")
    with pytest.raises(ScenarioError, match="'slo_operation'"):
        replace(s, slo_operation="SearchArticles")
    with pytest.raises(ScenarioError, match=r"decoys\[0\]\.offset"):
        replace(s, decoys=(Decoy(s.culprit_service or "", timedelta(minutes=-30)),))
    with pytest.raises(ScenarioError, match="'onset'"):
        replace(s, onset=s.onset.replace(tzinfo=None))


# ------------------------------------------------------------------------------------------ the frames
def test_same_scenario_gives_identical_frames() -> None:
    s = Scenario("small", 99, "deployment", "kb-search", "errors", datetime(2026, 11, 4, 13, 20, tzinfo=UTC),
                 timedelta(minutes=30), (Decoy("ticket-api", timedelta(minutes=4)),), "kb-search", "SearchArticles",
                 days=2, front_door_rps=0.1, deploy_gap=timedelta(minutes=3))
    a, b = simulate_scenario(s), simulate_scenario(s)
    assert a.truth == b.truth
    for name, df in a.frames.items():
        assert df.equals(b.frames[name]), name
    other = simulate_scenario(replace(s, seed=100))
    assert not other.frames["requests"].equals(a.frames["requests"])


def test_frames_are_canonical_and_the_slo_loads(sims: dict[str, ScenarioData]) -> None:
    for d in sims.values():
        for name, df in d.frames.items():
            frames.validate(df, name)
            assert df.height > 0, name
        (slo,) = slos_from_frame(d.frames["slos"])
        assert (slo.service, slo.operation) == (d.scenario.slo_service, d.scenario.slo_operation)
        assert slo.name == d.truth["slo_name"]
        lo, hi = d.scenario.window_start, d.scenario.window_end
        for name, col in (("requests", "timestamp"), ("logs", "timestamp"), ("metrics", "timestamp"),
                          ("spans", "start")):
            ts = d.frames[name][col]
            assert ts.min() >= lo and ts.max() < hi, name  # type: ignore[operator]
    # a few thousand traces with subsegments for every downstream call
    spans = sims["latency"].frames["spans"]
    assert 500 < spans["trace_id"].n_unique() < 5000
    assert {"DynamoDB", "agent_skills@aurora-prod", "kb-opensearch", "routing-service"} <= set(spans["name"])
    assert spans.filter(pl.col("name") == "agent_skills@aurora-prod")["sql_query"].null_count() == 0
    attrs = sims["latency"].frames["requests"]["attributes"][0]
    assert {a["key"] for a in attrs} == {"customer_tier", "region", "az", "version", "route"}
    metrics = sims["latency"].frames["metrics"]
    for ns, metric, stat in (("ApplicationSignals", "Latency", "p99"), ("ApplicationSignals", "Latency", "p50"),
                             ("ApplicationSignals", "Fault", "Sum"), ("AWS/ECS", "MemoryUtilization", "Average"),
                             ("AWS/ApplicationELB", "RequestCount", "Sum"),
                             ("AWS/DynamoDB", "SuccessfulRequestLatency", "Average")):
        assert metrics.filter((pl.col("namespace") == ns) & (pl.col("metric") == metric)
                              & (pl.col("stat") == stat)).height > 0, (ns, metric, stat)
    assert "Environment=prod,Operation=CreateTicket,Service=ticket-api" in set(metrics["dimensions"])


def test_faulted_traces_are_kept(sims: dict[str, ScenarioData]) -> None:
    d = sims["errors"]
    faulted = d.frames["requests"].filter((pl.col("service") == "support-web") & pl.col("fault"))
    assert 0 < faulted.height <= 1500
    kept = set(d.frames["spans"]["trace_id"])
    assert set(faulted["trace_id"]) <= kept


def test_culprit_deployment_timeline(sims: dict[str, ScenarioData]) -> None:
    for key in ("latency", "errors", "exhaustion"):
        d = sims[key]
        deps = d.frames["deployments"]
        cul = deps.filter(pl.col("id") == d.truth["culprit_deployment_id"]).row(0, named=True)
        rb = deps.filter(pl.col("id") == d.truth["rollback_deployment_id"]).row(0, named=True)
        assert cul["service"] == rb["service"] == d.truth["culprit_service"]
        gap = d.truth["onset"] - cul["finished_at"]
        assert timedelta(0) <= gap <= timedelta(minutes=20, seconds=1)
        assert cul["finished_at"] - cul["started_at"] >= timedelta(minutes=4)
        assert abs(rb["finished_at"] - d.truth["end"]) < timedelta(seconds=1)
        assert (rb["version_from"], rb["version_to"]) == (cul["version_to"], cul["version_from"])
        assert set(deps["source"]) <= {"codedeploy", "ecs"} and deps["actor"].null_count() == 0
        assert len(d.truth["decoy_deployment_ids"]) == len(d.scenario.decoys)
        # the culprit version served requests only around the incident
        cv = d.frames["requests"].filter(
            (pl.col("service") == cul["service"])
            & pl.col("attributes").list.contains({"key": "version", "value": cul["version_to"]}))
        assert cv.height > 0
        assert cv["timestamp"].min() >= cul["started_at"] and cv["timestamp"].max() < rb["finished_at"]  # type: ignore[operator]


# ------------------------------------------------------------------------------------------ the story
@pytest.mark.parametrize("key", list(PICK))
def test_the_incident_moves_its_sli(sims: dict[str, ScenarioData], key: str) -> None:
    d = sims[key]
    on, end = d.truth["onset"], d.truth["end"]
    before = _sli(d, on - timedelta(hours=3), on)
    during = _sli(d, on, end)
    slo = slos_from_frame(d.frames["slos"])[0]
    budget = 1 - slo.target
    assert before <= max(budget * 2, 0.02), (key, before)
    assert during >= 5 * budget and during > 3 * before + 0.01, (key, before, during)
    after = _sli(d, end + timedelta(minutes=5), end + timedelta(hours=2))
    assert after < during / 3, (key, after, during)


def test_the_culprit_version_logs_new_templates(sims: dict[str, ScenarioData]) -> None:
    expect = {"latency": "slow query on agent_skills", "errors": "unhandled exception",
              "exhaustion": "connection pool exhausted"}
    for key, text in expect.items():
        d = sims[key]
        svc = d.truth["culprit_service"]
        new = d.frames["deployments"].filter(pl.col("id") == d.truth["culprit_deployment_id"])["version_to"][0]
        lines = d.frames["logs"].filter((pl.col("log_group") == f"/ecs/prod/{svc}")
                                        & pl.col("message").str.contains(text, literal=True))
        assert lines.height > 0, key
        assert lines["message"].str.contains(f'"version":"{new}"', literal=True).all(), key
        assert lines["timestamp"].min() >= d.truth["onset"], key  # type: ignore[operator]


def test_exhaustion_climbs_memory_and_cpu(sims: dict[str, ScenarioData]) -> None:
    d = sims["exhaustion"]
    svc, on, end = d.truth["culprit_service"], d.truth["onset"], d.truth["end"]
    m = d.frames["metrics"].filter((pl.col("namespace") == "AWS/ECS")
                                   & (pl.col("dimensions") == f"ClusterName=prod,ServiceName={svc}"))
    mem = m.filter(pl.col("metric") == "MemoryUtilization")
    cpu = m.filter(pl.col("metric") == "CPUUtilization")
    late = end - timedelta(minutes=10)
    assert _between(mem, "timestamp", late, end)["value"].mean() > _between(
        mem, "timestamp", on - timedelta(hours=2), on - timedelta(minutes=30))["value"].mean() + 25  # type: ignore[operator]
    assert _between(cpu, "timestamp", late, end)["value"].mean() > _between(
        cpu, "timestamp", on - timedelta(hours=2), on - timedelta(minutes=30))["value"].mean() + 8  # type: ignore[operator]
    # latency grows through the incident
    r = d.frames["requests"].filter(pl.col("service") == svc)
    first = _between(r, "timestamp", on, on + (end - on) / 4)["latency_ms"].mean()
    last = _between(r, "timestamp", end - (end - on) / 4, end)["latency_ms"].mean()
    assert last > 1.5 * first  # type: ignore[operator]


def test_surge_raises_traffic_and_saturates_cpu_without_a_change(sims: dict[str, ScenarioData]) -> None:
    d = sims["surge"]
    on, end, svc = d.truth["onset"], d.truth["end"], d.truth["slo_service"]
    assert d.truth["culprit_deployment_id"] is None and d.truth["culprit_service"] is None
    m = d.frames["metrics"]
    alb = m.filter(pl.col("metric") == "RequestCount")
    peak = on + (end - on) / 2
    window = (peak - timedelta(minutes=15), peak + timedelta(minutes=15))
    now = _between(alb, "timestamp", *window)["value"].sum()
    day_before = _between(alb, "timestamp", window[0] - timedelta(days=1), window[1] - timedelta(days=1))["value"].sum()
    assert now > 1.8 * day_before
    cpu = m.filter((pl.col("metric") == "CPUUtilization") & (pl.col("dimensions").str.ends_with(f"={svc}")))
    assert _between(cpu, "timestamp", *window)["value"].max() > 85  # type: ignore[operator]
    versions = (d.frames["requests"].filter(pl.col("service") == svc)
                .pipe(_between, "timestamp", on - timedelta(hours=1), end)
                .select(pl.col("attributes").list.eval(pl.element().filter(pl.element().struct.field("key")
                                                                           == "version").struct.field("value"))
                        .list.first())).to_series()
    assert versions.n_unique() == 1


def test_no_deployment_cases_have_no_culprit_like_change(sims: dict[str, ScenarioData]) -> None:
    for key in ("surge", "dynamodb"):
        d = sims[key]
        on = d.truth["onset"]
        deps = d.frames["deployments"]
        assert d.truth["culprit_deployment_id"] is None and d.truth["rollback_deployment_id"] is None
        assert not deps["description"].str.starts_with("rollback").any()
        path = PATH[d.truth["slo_service"]]
        near = deps.filter(pl.col("service").is_in(list(path))
                           & (pl.col("finished_at") >= on - timedelta(minutes=20)) & (pl.col("finished_at") <= on))
        assert near.height == 0, near


def test_dependency_outage_is_logged_by_the_unchanged_caller(sims: dict[str, ScenarioData]) -> None:
    d = sims["dynamodb"]
    on, end = d.truth["onset"], d.truth["end"]
    m = d.frames["metrics"].filter(pl.col("metric") == "ThrottledRequests")
    assert _between(m, "timestamp", on, end)["value"].sum() > 20 * max(
        1.0, _between(m, "timestamp", on - timedelta(hours=3), on)["value"].sum())
    logs = _between(d.frames["logs"], "timestamp", on, end).filter(
        pl.col("message").str.contains("ProvisionedThroughputExceededException", literal=True))
    assert "/ecs/prod/ticket-api" in set(logs["log_group"])
    ta = logs.filter(pl.col("log_group") == "/ecs/prod/ticket-api")
    assert ta["message"].str.contains(f'"version":"{VERSIONS["ticket-api"]}"', literal=True).all()
    spans = _between(d.frames["spans"], "start", on, end).filter(pl.col("name") == "DynamoDB")
    assert spans["throttle"].sum() > 0
