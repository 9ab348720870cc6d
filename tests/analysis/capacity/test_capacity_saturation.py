"""Saturation fits: recovery of known USL and M/M/c parameters, range warnings, the demo's surge."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta

import numpy as np
import pytest

from slo_analysis.analysis.capacity import (
    CapacityWarning,
    fit_mmc,
    fit_saturation,
    fit_usl,
    load_latency,
    mmc_latency,
    saturation_windows,
    usl_latency,
)
from slo_analysis.store import Snapshot


def test_usl_parameters_recovered_with_errors() -> None:
    x = np.linspace(1.0, 15.0, 60)
    rng = np.random.default_rng(5)
    y = 1000 * usl_latency(x, 5.0, 0.05, 0.02) * np.exp(rng.normal(0, 0.02, x.size))
    fit = fit_usl(x, y)
    for est, se, true in zip((fit.lam, fit.sigma, fit.kappa), fit.se, (5.0, 0.05, 0.02), strict=True):
        assert abs(est - true) < 4 * se + 1e-3
    n_star = np.sqrt(0.95 / 0.02)
    assert fit.max_throughput == pytest.approx(5 * n_star / (1 + 0.05 * (n_star - 1) + 0.02 * n_star * (n_star - 1)),
                                               rel=0.05)


def test_mmc_recovers_servers_and_capacity() -> None:
    x = np.linspace(0.5, 7.2, 50)
    y = 1000 * mmc_latency(x, 0.05, 2.0, 4)  # 4 servers at 2/s: capacity 8/s
    fit = fit_mmc(x, y)
    assert fit.servers == 4
    assert fit.max_throughput == pytest.approx(8.0, rel=0.01)
    assert fit.base_s == pytest.approx(0.05, rel=0.01)


def test_knee_of_mm1_is_half_utilisation() -> None:
    x = np.linspace(0.2, 9.0, 60)
    y = 1000 * mmc_latency(x, 0.1, 10.0, 1)  # M/M/1: 1/mu + Wq = 1 / (mu - x); elasticity 1 at x = mu / 2
    fit = fit_saturation(x, y)
    assert fit.mmc_knee_load == pytest.approx(5.0, rel=0.02)


def test_extrapolation_warns_and_flags() -> None:
    x = np.linspace(1.0, 10.0, 40)
    with pytest.warns(CapacityWarning, match="below the USL knee"):
        fit = fit_saturation(x, 1000 * usl_latency(x, 5.0, 0.05, 0.02))
    with pytest.warns(CapacityWarning, match="beyond the observed range"):
        pred = fit.predict([5.0, 14.0])
    assert pred["extrapolated"].to_list() == [False, True]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CapacityWarning)
        fit.predict([2.0, 9.0])  # inside the range: no warning


def test_data_below_the_knee_warns() -> None:
    x = np.linspace(1.0, 4.0, 40)  # the knee of this service is near 14/s
    with pytest.warns(CapacityWarning, match="below the USL knee|poorly determined"):
        fit = fit_saturation(x, 1000 * usl_latency(x, 5.0, 0.05, 0.02))
    assert fit.warnings


def test_demo_surge_is_where_saturation_shows(demo_snapshot, small_demo) -> None:
    truth = json.loads((small_demo / "scenario.json").read_text())
    t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    incident = (t(truth["incident"]["onset"]), t(truth["incident"]["recovery"]))
    surge = (t(truth["surge"]["start"]), t(truth["surge"]["end"]))
    ll = load_latency(Snapshot.open(demo_snapshot), instances=3, exclude=[incident])
    assert ll.filter((ll["timestamp"] >= incident[0]) & (ll["timestamp"] < incident[1])).is_empty()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)
        fit = fit_saturation(ll["load_per_instance"], ll["latency_avg_ms"], latency="latency_avg_ms")
    assert fit.observed_load[1] > fit.knee_load  # the data reach past the knee
    win = saturation_windows(ll, fit.knee_load)
    assert win.height >= 1
    top = win.sort("rows", descending=True).row(0, named=True)
    slack = timedelta(minutes=30)
    assert surge[0] - slack <= top["start"] and top["end"] <= surge[1] + slack
    # latency at the surge's load is well above the quiet-hours latency, below the 800 ms SLO
    quiet, busy = fit.predict([fit.observed_load[0], fit.observed_load[1]])["usl_ms"].to_list()
    assert busy > 1.2 * quiet and busy < 800
