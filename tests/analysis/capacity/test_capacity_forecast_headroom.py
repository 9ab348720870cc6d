"""Forecast accuracy and intervals on synthetic and demo series; headroom, run-out date, what-if, figures."""

from __future__ import annotations

import json
import math
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

from slo_analysis.analysis.capacity import (
    CapacityError,
    CapacityWarning,
    backtest,
    demand_series,
    fit_saturation,
    forecast_demand,
    headroom,
    headroom_timeline,
    instances_from_logs,
    load_latency,
    staffing_table,
    usl_latency,
    what_if,
)
from slo_analysis.store import Snapshot
from slo_analysis.viz.capacity import forecast_figure, headroom_figure, saturation_figure, staffing_figure


def seasonal(days: int, growth_per_30d: float = 0.0, noise: float = 0.05, seed: int = 2) -> pl.DataFrame:
    ts = pl.datetime_range(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)
                           + timedelta(hours=24 * days - 1), "1h", eager=True, time_unit="ms")
    h = np.arange(ts.len())
    weekend = ((h // 24) % 7 >= 5)
    y = (1000 * (1 + 0.6 * np.sin(2 * np.pi * (h - 6) / 24)) * np.where(weekend, 0.5, 1.0)
         * np.power(1 + growth_per_30d, h / 720) * np.exp(np.random.default_rng(seed).normal(0, noise, h.size)))
    return pl.DataFrame({"timestamp": ts, "value": y})


def test_backtest_on_known_seasonality_has_calibrated_intervals() -> None:
    bt = backtest(seasonal(35), holdout=timedelta(days=7))
    assert bt.n == 168
    assert bt.mape < 0.08
    assert 0.7 <= bt.coverage80 <= 0.95 and bt.coverage95 >= 0.88
    assert bt.model.weekly == "dow"


def test_short_history_uses_weekend_shift_and_flat_trend() -> None:
    fc = forecast_demand(seasonal(10, growth_per_30d=0.3), timedelta(days=7))
    assert fc.weekly == "weekend" and fc.growth_per_30d == 0.0
    assert any("not extrapolated" in n for n in fc.notes)
    weekend = fc.forecast.filter(pl.col("timestamp").dt.weekday() >= 6)["mean"].mean()
    weekday = fc.forecast.filter(pl.col("timestamp").dt.weekday() < 6)["mean"].mean()
    assert 0.4 < weekend / weekday < 0.65  # type: ignore[operator]


def test_long_history_estimates_growth() -> None:
    fc = forecast_demand(seasonal(63, growth_per_30d=0.2, noise=0.02), timedelta(days=30))
    assert fc.growth_per_30d == pytest.approx(0.2, abs=0.05)
    what = forecast_demand(seasonal(63, growth_per_30d=0.2, noise=0.02), timedelta(days=30), growth_per_30d=0.0)
    assert what.forecast["mean"].tail(24).mean() < fc.forecast["mean"].tail(24).mean()  # type: ignore[operator]


def test_forecast_rejects_too_short_history() -> None:
    with pytest.raises(CapacityError, match="two days"):
        forecast_demand(seasonal(1), timedelta(days=1))


@pytest.fixture(scope="module")
def demo_capacity(demo_snapshot, small_demo):  # type: ignore[no-untyped-def]
    truth = json.loads((small_demo / "scenario.json").read_text())
    t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    incident = (t(truth["incident"]["onset"]), t(truth["incident"]["recovery"]))
    snap = Snapshot.open(demo_snapshot)
    n = instances_from_logs(snap, "/ecs/prod/ticket-api")
    ll = load_latency(snap, instances=n, exclude=[incident])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)
        fit = fit_saturation(ll["load_per_instance"], ll["latency_p99_ms"], latency="latency_p99_ms")
    demand = ll.select("timestamp", pl.col("requests").alias("value"))
    return snap, n, ll, fit, demand, incident


def test_demo_headroom_is_dated_and_sized(demo_capacity) -> None:  # type: ignore[no-untyped-def]
    snap, n, ll, fit, demand, incident = demo_capacity
    assert n == 3  # the demo runs three ticket-api tasks (one awslogs stream each)
    fc = forecast_demand(demand, timedelta(days=90), exclude=[incident], growth_per_30d=0.10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)
        hr = headroom(fc, fit, instances=n, threshold_ms=800.0)
    assert hr.runout_date is not None and hr.runout_date_hi95 is not None
    assert hr.runout_date_hi95 <= hr.runout_date
    assert hr.instances_needed >= 1
    # the instance count is the smallest that keeps the upper-bound peak at or below the safe load
    assert hr.peak_rps_hi95 / hr.instances_needed <= hr.safe_load_per_instance
    if hr.instances_needed > 1:
        assert hr.peak_rps_hi95 / (hr.instances_needed - 1) > hr.safe_load_per_instance
    # the safe load is where the predicted p99 meets 800 ms (or the utilisation cap, whichever is lower)
    at_safe = float(fit.usl.latency_ms(np.array([hr.safe_load_per_instance]))[0])
    assert at_safe <= 800.0 + 1e-6
    # at the run-out date the grown peak reaches the safe load of the current instances
    months = (hr.runout_date - hr.peak_at).total_seconds() / (30 * 86400)
    assert hr.peak_rps * 1.1**months == pytest.approx(hr.safe_load_per_instance * n, rel=1e-6)
    tl = headroom_timeline(fc, fit, instances=n, threshold_ms=800.0, days=400)
    assert set(tl["source"].unique()) == {"forecast", "trend"}
    assert tl["headroom"].head(1).item() > tl["headroom"].tail(1).item()
    assert isinstance(headroom_figure(tl, hr, tz="Europe/Berlin"), go.Figure)


def test_what_if_more_instances_more_headroom(demo_capacity) -> None:  # type: ignore[no-untyped-def]
    _, n, _, fit, demand, incident = demo_capacity
    fc = forecast_demand(demand, timedelta(days=30), exclude=[incident])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)
        grid = what_if(fc, fit, threshold_ms=800.0, growth_rates=[0.0, 0.1, 0.3], instance_counts=[n, 2 * n])
    assert grid.height == 6
    no_growth = grid.filter(pl.col("growth_per_30d") == 0.0)
    assert no_growth["runout_date"].null_count() == no_growth.height or no_growth["meets_slo"].all()
    g = grid.filter(pl.col("growth_per_30d") == 0.3).sort("instances")
    d = g["runout_date"].to_list()
    assert d[0] is not None and (d[1] is None or d[1] > d[0])
    assert g["load_per_instance_hi95"][0] == pytest.approx(2 * g["load_per_instance_hi95"][1])


def test_figures_build(demo_capacity) -> None:  # type: ignore[no-untyped-def]
    snap, _, ll, fit, _, _ = demo_capacity
    fc = forecast_demand(demand_series(snap), timedelta(days=2))
    fig = forecast_figure(fc, tz="America/New_York", show_fit=True)
    assert fig.data[-1].name == "forecast" and len(fig.data[-1].x) == 48
    assert str(fig.data[-1].x[0].tzinfo) == "America/New_York"
    sat = saturation_figure(ll["load_per_instance"], ll["latency_p99_ms"], fit, threshold_ms=800.0)
    names = [t.name for t in sat.data]
    assert {"observed", "USL", f"M/M/{fit.mmc.servers}"} <= set(names)
    assert any(s.y0 == 800.0 for s in sat.layout.shapes)
    st = staffing_figure(staffing_table(0.05, 240.0, 300.0, range(10, 20)), target=0.95)
    assert any(getattr(s, "x0", None) == min(a for a in range(13, 20) if
               staffing_table(0.05, 240.0, 300.0, [a])["service_level"][0] >= 0.95) for s in st.layout.shapes)


def test_usl_beyond_peak_is_unsustainable() -> None:
    lat = usl_latency(np.array([1.0, 16.0, 17.0]), 5.0, 0.05, 0.02)
    assert math.isfinite(lat[1]) and math.isinf(lat[2])
