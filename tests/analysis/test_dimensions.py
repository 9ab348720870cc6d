"""Dimension lift (BubbleUp / Lumos style) on hand-made frames and on the demo incident."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from scipy.stats import fisher_exact

from slo_analysis.analysis.dimensions import DimensionError, attribute_keys, dimension_lift
from slo_analysis.frames import KEY_VALUES
from slo_analysis.store import Snapshot

T0 = datetime(2026, 11, 11, 14, tzinfo=UTC)
INC = (T0, T0 + timedelta(hours=1))
BASE = (T0 - timedelta(days=1), T0 - timedelta(days=1) + timedelta(hours=1))
SLOW = pl.col("latency_ms") > 800


def _requests(rows: list[tuple[datetime, str, int, float, dict[str, str], str | None]]) -> pl.DataFrame:
    """rows: (timestamp, service, status, latency_ms, attributes, trace_id)."""
    return pl.DataFrame(
        {
            "timestamp": [r[0] for r in rows],
            "service": [r[1] for r in rows],
            "operation": ["Op"] * len(rows),
            "status_code": [r[2] for r in rows],
            "latency_ms": [r[3] for r in rows],
            "fault": [r[2] >= 500 for r in rows],
            "error": [400 <= r[2] < 500 for r in rows],
            "request_id": [f"r{i}" for i in range(len(rows))],
            "trace_id": [r[5] for r in rows],
            "attributes": [[{"key": k, "value": v} for k, v in r[4].items()] for r in rows],
        },
        schema_overrides={"timestamp": pl.Datetime("ms", "UTC"), "status_code": pl.Int32, "attributes": KEY_VALUES},
    )


def _synthetic() -> pl.DataFrame:
    """Incident: 60 requests on v2 (20 fail), 40 on v1 (2 fail); baseline: 100 on v1 (1 fails). Tier even."""
    rows = []
    for i in range(100):
        v2 = i < 60
        fail = (v2 and i % 3 == 0) or (not v2 and i in (70, 80))
        rows.append((INC[0] + timedelta(seconds=30 * i), "api", 503 if fail else 200, 50.0,
                     {"version": "v2" if v2 else "v1", "tier": "pro" if i % 2 else "free"}, f"t{i}"))
    for i in range(100):
        rows.append((BASE[0] + timedelta(seconds=30 * i), "api", 503 if i == 5 else 200, 50.0,
                     {"version": "v1", "tier": "pro" if i % 2 else "free"}, None))
    return _requests(rows)


def test_lift_and_fisher_by_hand() -> None:
    out = dimension_lift(_synthetic(), INC, BASE, min_count=1)
    v2 = out.filter((pl.col("dimension") == "version") & (pl.col("value") == "v2")).row(0, named=True)
    # 22 bad incident requests, 20 of them on v2; 60 of 100 incident requests on v2
    assert (v2["bad_count"], v2["total_count"]) == (20, 60)
    assert v2["bad_share"] == pytest.approx(20 / 22)
    assert v2["population_share"] == pytest.approx(0.6)
    assert v2["lift"] == pytest.approx((20 / 22) / 0.6)
    assert v2["bad_rate"] == pytest.approx(1 / 3)
    assert v2["baseline_bad_rate"] is None and v2["baseline_count"] == 0
    assert v2["p_value"] == pytest.approx(fisher_exact([[20, 40], [2, 38]], alternative="greater")[1])
    assert v2["significant"]
    v1 = out.filter((pl.col("dimension") == "version") & (pl.col("value") == "v1")).row(0, named=True)
    assert v1["baseline_bad_rate"] == pytest.approx(0.01)
    assert not v1["significant"]
    assert out.filter(pl.col("dimension") == "tier")["significant"].any() is False
    assert out.columns == ["dimension", "value", "bad_count", "total_count", "bad_share", "population_share",
                           "bad_rate", "baseline_count", "baseline_share", "baseline_bad_rate", "lift", "p_value",
                           "significant"]
    assert out.row(0, named=True)["value"] in ("v2", "5xx")  # significant rows first, by lift
    assert out["significant"].to_list() == sorted(out["significant"].to_list(), reverse=True)


def test_baseline_reference_and_status_class() -> None:
    out = dimension_lift(_synthetic(), INC, BASE, min_count=1, reference="baseline")
    v2 = out.filter(pl.col("value") == "v2").row(0, named=True)
    assert math.isinf(v2["lift"]) and v2["population_share"] == 0.0
    # bad incident requests (22) against baseline requests (100): v2 on 20 of the former, 0 of the latter
    assert v2["p_value"] == pytest.approx(fisher_exact([[20, 0], [2, 100]], alternative="greater")[1])
    five = out.filter((pl.col("dimension") == "status_class") & (pl.col("value") == "5xx")).row(0, named=True)
    assert five["bad_count"] == 22 and five["bad_rate"] == 1.0


def test_bad_expression_dimensions_and_min_count() -> None:
    df = _synthetic().with_columns(latency_ms=pl.when(pl.col("fault")).then(1200.0).otherwise(50.0))
    out = dimension_lift(df, INC, BASE, bad=SLOW, dimensions=["version"], min_count=41)
    assert out["dimension"].unique().to_list() == ["version"]
    assert out["value"].to_list() == ["v2"]  # v1 has 40 incident requests < 41
    assert out["bad_count"].to_list() == [20]


def test_trace_attributes() -> None:
    rows = []
    for i in range(40):
        slow = i < 20
        t = INC[0] + timedelta(seconds=60 * i)
        rows.append((t, "front", 200, 1500.0 if slow else 40.0, {"tier": "pro"}, f"t{i}"))
        rows.append((t, "back", 200, 30.0, {"version": "2" if slow else "1"}, f"t{i}"))
        tb = BASE[0] + timedelta(seconds=60 * i)
        rows.append((tb, "front", 200, 40.0, {"tier": "pro"}, f"b{i}"))
        rows.append((tb, "back", 200, 30.0, {"version": "1"}, f"b{i}"))
    df = _requests(rows)
    out = dimension_lift(df, INC, BASE, bad=SLOW, service="front", trace_attributes=True, min_count=1)
    top = out.row(0, named=True)
    assert (top["dimension"], top["value"], top["lift"]) == ("back.version", "2", pytest.approx(2.0))
    assert top["significant"]
    assert "back.version" not in dimension_lift(df, INC, BASE, bad=SLOW, service="front", min_count=1)["dimension"]


def test_errors_name_the_problem() -> None:
    df = _synthetic()
    with pytest.raises(DimensionError, match="overlaps"):
        dimension_lift(df, INC, (INC[0] - timedelta(minutes=5), INC[0] + timedelta(minutes=5)))
    with pytest.raises(DimensionError, match="'colour'"):
        dimension_lift(df, INC, BASE, dimensions=["colour"])
    with pytest.raises(DimensionError, match="'attributes'"):
        dimension_lift(df.drop("attributes"), INC, BASE)
    with pytest.raises(DimensionError, match="empty"):
        dimension_lift(df, (T0, T0), BASE)
    with pytest.raises(DimensionError, match="reference"):
        dimension_lift(df, INC, BASE, reference="before")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the demo incident
@pytest.fixture(scope="module")
def demo(demo_snapshot: Path, small_demo: Path) -> tuple[pl.LazyFrame, tuple[datetime, datetime],
                                                         tuple[datetime, datetime]]:
    inc = json.loads((small_demo / "scenario.json").read_text())["incident"]
    iso = [datetime.fromisoformat(inc[k].replace("Z", "+00:00")) for k in ("onset", "recovery")]
    incident = (iso[0], iso[1])
    return (Snapshot.open(demo_snapshot).scan("requests"), incident,
            (incident[0] - timedelta(days=1), incident[1] - timedelta(days=1)))


def _not_significant(out: pl.DataFrame, *names: str) -> bool:
    rows = out.filter(pl.col("dimension").str.split(".").list.last().is_in(names))
    return rows.height > 0 and not rows["significant"].any()


def test_demo_create_ticket_latency_points_at_routing_version(demo: tuple) -> None:
    requests, incident, baseline = demo
    out = dimension_lift(requests, incident, baseline, bad=SLOW, operation="CreateTicket",
                         reference="baseline", trace_attributes=True)
    top = out.row(0, named=True)
    assert (top["dimension"], top["value"]) == ("routing-service.version", "2.4.0")
    assert top["significant"] and math.isinf(top["lift"]) and top["bad_share"] > 0.9
    assert _not_significant(out, "customer_tier", "az")


def test_demo_routing_rows(demo: tuple) -> None:
    requests, incident, baseline = demo
    out = dimension_lift(requests, incident, baseline, bad=SLOW, service="routing-service", reference="baseline")
    assert out.select("dimension", "value").row(0) == ("version", "2.4.0")
    assert out.row(0, named=True)["significant"]
    assert _not_significant(out, "customer_tier", "az")
    # within the incident window alone almost every request runs 2.4.0: the BubbleUp lift stays near 1,
    # and tiers and AZs are still not significant
    within = dimension_lift(requests, incident, baseline, bad=SLOW, service="routing-service")
    v = within.filter((pl.col("dimension") == "version") & (pl.col("value") == "2.4.0")).row(0, named=True)
    assert v["population_share"] > 0.85 and v["lift"] < 1.2
    assert v["bad_rate"] > 0.5 and v["baseline_count"] == 0
    assert _not_significant(within, "customer_tier", "az")


def test_attribute_keys(demo: tuple) -> None:
    assert {"customer_tier", "region", "az", "version", "route"} <= set(attribute_keys(demo[0]))
