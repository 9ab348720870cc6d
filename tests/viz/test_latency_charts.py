"""Latency charts on the demo snapshot: percentile lines carry the metrics frame's values, the heatmap
counts every request once in log-spaced bins, selections that match nothing fail with a named error."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from chart_checks import ALLOWED, as_utc, colours

from slo_analysis.exceptions import FrameValidationError
from slo_analysis.store import Snapshot
from slo_analysis.viz import ChartDataError, latency_heatmap, latency_percentiles


@pytest.fixture(scope="module")
def snap(demo_snapshot: Path) -> Snapshot:
    return Snapshot.open(demo_snapshot)


def test_percentile_lines_carry_the_metric_values(snap: Snapshot) -> None:
    fig = latency_percentiles(snap.scan("metrics"), service="ticket-api", operation="CreateTicket",
                              threshold_ms=800, deployments=snap.read("deployments"), tz="Europe/Berlin")
    assert [t.name for t in fig.data] == ["p99", "p90", "p50", "SLO threshold 800 ms", "Deployments"]
    assert [t.legendrank for t in fig.data[:3]] == [102, 101, 100]  # the legend still reads p50, p90, p99
    want = (snap.scan("metrics").filter(
        (pl.col("metric") == "Latency") & (pl.col("stat") == "p99") & (pl.col("period_s") == 60)
        & (pl.col("dimensions") == "Environment=prod,Operation=CreateTicket,Service=ticket-api"))
        .sort("timestamp").collect())
    p99 = fig.data[0]
    assert list(p99.y) == want["value"].to_list()
    assert [as_utc(x) for x in p99.x] == want["timestamp"].to_list()
    assert p99.x[0].utcoffset() == timedelta(hours=1)  # November in Berlin: CET
    assert set(fig.data[3].y) == {800}
    assert "ms" in p99.hovertemplate
    fig.to_json()
    assert colours(fig) <= ALLOWED


def test_service_level_series_and_log_axis(snap: Snapshot) -> None:
    fig = latency_percentiles(snap.scan("metrics"), service="ticket-api", operation=None, stats=("p50", "p99"),
                              log_y=True)
    assert [t.name for t in fig.data] == ["p99", "p50"]
    assert fig.layout.yaxis.type == "log"
    assert "5-minute" in fig.layout.title.text  # the service-level series is published per 5 minutes


def test_percentiles_errors_name_the_selection(snap: Snapshot) -> None:
    with pytest.raises(ChartDataError, match="nope-service"):
        latency_percentiles(snap.scan("metrics"), service="nope-service", operation="CreateTicket")
    with pytest.raises(FrameValidationError, match="'stat'"):
        latency_percentiles(pl.DataFrame({"timestamp": [1]}).drop("timestamp").with_columns(
            timestamp=pl.lit(None), namespace=pl.lit("x"), metric=pl.lit("Latency"), dimensions=pl.lit("")),
            service="a", operation="b")
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    two_envs = pl.DataFrame({
        "timestamp": [ts, ts], "namespace": ["ApplicationSignals"] * 2, "metric": ["Latency"] * 2,
        "dimensions": ["Environment=prod,Operation=Op,Service=s", "Environment=dev,Operation=Op,Service=s"],
        "stat": ["p99", "p99"], "period_s": [60, 60], "unit": ["Milliseconds"] * 2, "value": [1.0, 2.0]})
    with pytest.raises(ChartDataError, match="environment="):
        latency_percentiles(two_envs, service="s", operation="Op")
    fig = latency_percentiles(two_envs, service="s", operation="Op", environment="dev", stats=("p99",))
    assert list(fig.data[0].y) == [2.0]


def test_heatmap_counts_every_request_in_log_bins(snap: Snapshot) -> None:
    fig = latency_heatmap(snap.scan("requests"), service="routing-service", operation="AssignAgent",
                          bucket="15m", bins_per_decade=10, threshold_ms=800, tz="Asia/Kolkata")
    heat = fig.data[0]
    assert heat.type == "heatmap"
    n = (snap.scan("requests").filter((pl.col("service") == "routing-service")
                                      & (pl.col("operation") == "AssignAgent") & (pl.col("latency_ms") > 0))
         .select(pl.len()).collect().item())
    counts = np.array(heat.customdata, dtype=float)
    assert int(np.nansum(counts)) == n
    z = np.array(heat.z, dtype=float)
    assert np.allclose(z[~np.isnan(z)], np.log10(counts[~np.isnan(counts)]))  # colour = log10(count)
    ratios = np.array(heat.y[1:]) / np.array(heat.y[:-1])
    assert np.allclose(ratios, 10 ** 0.1)  # log-spaced bins, 10 per decade
    steps = {b - a for a, b in zip(heat.x[:-1], heat.x[1:], strict=False)}
    assert steps == {timedelta(minutes=15)}
    assert heat.x[0].utcoffset() == timedelta(hours=5, minutes=30)
    assert fig.layout.yaxis.type == "log"
    # the slow tail of the incident (AssignAgent seconds-long) reaches the top bins
    assert heat.y[-1] > 800 and fig.data[1].y[0] == 800
    fig.to_json()
    assert colours(fig) <= ALLOWED


def test_heatmap_no_rows_is_an_error(snap: Snapshot) -> None:
    with pytest.raises(ChartDataError, match="ticket-api Nope"):
        latency_heatmap(snap.scan("requests"), service="ticket-api", operation="Nope")


def test_heatmap_synthetic_bins() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    lat = [10.0, 10.0, 100.0, 1000.0, 1000.0, 1000.0]
    req = pl.DataFrame({"timestamp": [t, t, t + timedelta(minutes=1), t + timedelta(minutes=20),
                                      t + timedelta(minutes=21), t + timedelta(minutes=22)],
                        "service": ["s"] * 6, "operation": ["o"] * 6, "latency_ms": lat},
                       schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    fig = latency_heatmap(req, service="s", operation="o", bucket="10m", bins_per_decade=1)
    heat = fig.data[0]
    counts = np.nan_to_num(np.array(heat.customdata, dtype=float))
    # columns: 00:00, 00:10 (empty), 00:20; rows: [10, 100), [100, 1000), [1000, 10000)
    assert counts.tolist() == [[2, 0, 0], [1, 0, 0], [0, 0, 3]]
    assert [math.log10(y) for y in heat.y] == pytest.approx([1.5, 2.5, 3.5])
