"""Tests for analysis.metric_sweep."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import slo_analysis as sa
from slo_analysis.analysis.metric_sweep import SWEEP_COLUMNS, sweep_metrics
from slo_analysis.exceptions import FrameValidationError

T0 = datetime(2026, 1, 5, tzinfo=UTC)
SHIFT_AT = 9 * 1440 + 22 * 60
DAYS = 10  # the past-week deviation record must come from the seasonal baseline (from day 2 on)


def synthetic(shifts: dict[str, float], *, stat: str = "Average", seed: int = 0) -> pl.DataFrame:
    """1-minute series over ten days with a daily cycle; ``shifts`` adds a level shift at day 9, 22:00."""
    rng = np.random.default_rng(seed)
    n = DAYS * 1440
    minute = np.arange(n)
    ts = pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", eager=True, time_unit="ms")
    frames = []
    for i, name in enumerate(["a", "b", "c", "d", "e", "f"]):
        v = 100 + 30 * np.sin(2 * np.pi * minute / 1440 + i) + rng.normal(0, 3, n)
        v[SHIFT_AT:] += shifts.get(name, 0.0)
        frames.append(pl.DataFrame({"timestamp": ts, "value": v}).with_columns(
            namespace=pl.lit("App"), metric=pl.lit("Latency"), dimensions=pl.lit(f"Service={name}"),
            stat=pl.lit(stat), period_s=pl.lit(60, pl.Int64), unit=pl.lit("Milliseconds")))
    return pl.concat(frames).select("timestamp", "namespace", "metric", "dimensions", "stat", "period_s", "unit",
                                    "value")


INCIDENT = (T0 + timedelta(minutes=SHIFT_AT), T0 + timedelta(minutes=SHIFT_AT + 60))


def test_columns_and_injected_shifts_rank_first_with_direction_and_onset() -> None:
    sweep = sweep_metrics(synthetic({"c": 60.0, "e": -45.0}).lazy(), INCIDENT)
    assert sweep.columns == SWEEP_COLUMNS
    assert sweep["rank"].to_list() == list(range(1, 7))
    top = sweep.head(2)
    assert set(top["dimensions"]) == {"Service=c", "Service=e"}
    assert dict(zip(top["dimensions"], top["direction"], strict=True)) == {"Service=c": "up", "Service=e": "down"}
    assert top["first_anomalous_at"].to_list() == [INCIDENT[0], INCIDENT[0]]
    assert sweep.head(1)["dimensions"][0] == "Service=c"  # the bigger move ranks first
    rest = sweep.tail(4)
    assert rest["departure"].abs().max() < 3  # type: ignore[operator]
    c = sweep.filter(pl.col("dimensions") == "Service=c").row(0, named=True)
    assert c["incident_value"] - c["baseline_value"] == pytest.approx(60.0, abs=8.0)
    assert c["departure"] > 10


def test_earlier_mover_ranks_first_among_comparable_moves() -> None:
    frame = synthetic({"b": 50.0, "d": 50.0})
    # d starts moving 30 minutes before the incident (inside the lead), b at the incident start
    early = (pl.col("dimensions") == "Service=d") & pl.col("timestamp").is_between(
        INCIDENT[0] - timedelta(minutes=30), INCIDENT[0], closed="left")
    frame = frame.with_columns(pl.when(early).then(pl.col("value") + 50.0).otherwise(pl.col("value")).alias("value"))
    sweep = sweep_metrics(frame, INCIDENT)
    assert sweep["dimensions"].head(2).to_list() == ["Service=d", "Service=b"]
    assert sweep["first_anomalous_at"][0] == INCIDENT[0] - timedelta(minutes=30)


def test_missing_count_datapoints_are_zeros() -> None:
    frame = synthetic({}, stat="Sum").with_columns(pl.col("value") * 0.0)
    # errors only during the incident, on one series; CloudWatch stores nothing when nothing was counted
    sparse = frame.filter(pl.col("dimensions") != "Service=a")
    errors = pl.DataFrame({"timestamp": [INCIDENT[0] + timedelta(minutes=m) for m in range(0, 60, 2)]}).with_columns(
        pl.col("timestamp").cast(pl.Datetime("ms", "UTC")), namespace=pl.lit("App"), metric=pl.lit("Latency"),
        dimensions=pl.lit("Service=a"), stat=pl.lit("Sum"), period_s=pl.lit(60, pl.Int64), unit=pl.lit("Count"),
        value=pl.lit(4.0))
    sweep = sweep_metrics(pl.concat([sparse, errors.select(sparse.columns)]), INCIDENT)
    a = sweep.row(0, named=True)
    assert a["dimensions"] == "Service=a" and a["direction"] == "up"
    assert a["incident_value"] == pytest.approx(2.0)  # 30 of 60 minutes at 4, the others zero
    assert a["baseline_value"] == pytest.approx(0.0)


def test_empty_window_and_bad_input() -> None:
    frame = synthetic({})
    out = sweep_metrics(frame, (T0 + timedelta(days=30), T0 + timedelta(days=31)))
    assert out.height == 0 and out.columns == SWEEP_COLUMNS
    with pytest.raises(FrameValidationError, match="'stat'"):
        sweep_metrics(frame.drop("stat"), INCIDENT)
    with pytest.raises(ValueError, match="empty incident window"):
        sweep_metrics(frame, (INCIDENT[1], INCIDENT[0]))


def test_demo_routing_and_create_ticket_latency_lead_the_sweep(demo_snapshot: Path, small_demo: Path) -> None:
    truth = json.loads((small_demo / "scenario.json").read_text())["incident"]
    onset = datetime.fromisoformat(truth["onset"].replace("Z", "+00:00"))
    recovery = datetime.fromisoformat(truth["recovery"].replace("Z", "+00:00"))
    snap = sa.store.Snapshot.open(demo_snapshot)
    sweep = sweep_metrics(snap.scan("metrics"), (onset, recovery))
    top10 = sweep.head(10)
    # what moved most: latency of routing-service (the culprit) and of its callers, all up
    assert set(top10["metric"]) == {"Latency"}
    assert set(top10["direction"]) == {"up"}
    assert "routing-service" in top10["dimensions"][0]
    assert top10.filter(pl.col("dimensions").str.contains("routing-service")).height >= 5
    # when: most of them crossed within a 5-minute step of the onset (the 5-minute service series
    # report the step that holds it); on this 3-day demo a short history lets a few series cross early
    near = top10.filter((pl.col("first_anomalous_at") >= onset - timedelta(minutes=5))
                        & (pl.col("first_anomalous_at") <= onset + timedelta(minutes=5)))
    assert near.height >= 6
    create = sweep.filter((pl.col("dimensions") == "Environment=prod,Operation=CreateTicket,Service=ticket-api")
                          & (pl.col("stat") == "p99")).row(0, named=True)
    assert create["rank"] <= 20
    assert onset - timedelta(minutes=5) <= create["first_anomalous_at"] <= onset + timedelta(minutes=5)
    assert create["incident_value"] > 800 > create["baseline_value"]
