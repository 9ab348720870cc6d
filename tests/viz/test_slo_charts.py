"""SLO charts on the demo snapshot: windows shaded where the evaluation put them, deployments where they
happened (checked against scenario.json), the display zone shifting wall-clock x values, palette colours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
import pytest
from chart_checks import ALLOWED, as_utc, colours, parse_utc

from slo_analysis.analysis.slo_evaluation import SloEvaluation, evaluate_slo, snapshot_window
from slo_analysis.core.alerts import alert_episodes, custom_policy, workbook_policy
from slo_analysis.core.budget import window_label
from slo_analysis.core.model import slos_from_frame
from slo_analysis.exceptions import FrameValidationError
from slo_analysis.store import Snapshot
from slo_analysis.viz import PALETTE, STATUS_COLOURS, budget_burndown, burn_rate_chart, sli_timeline
from slo_analysis.viz.overlays import add_deployments, add_windows, bucket_seconds, thin
from slo_analysis.viz.theme import new_figure


@pytest.fixture(scope="module")
def snap(demo_snapshot: Path) -> Snapshot:
    return Snapshot.open(demo_snapshot)


@pytest.fixture(scope="module")
def latency_eval(snap: Snapshot) -> SloEvaluation:
    slo = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Latency-p99")
    return evaluate_slo(snap, slo, snapshot_window(snap))


@pytest.fixture(scope="module")
def truth(small_demo: Path) -> dict[str, Any]:
    return json.loads((small_demo / "scenario.json").read_text())


def shapes(fig: go.Figure, name: str) -> list[Any]:
    return [s for s in fig.layout.shapes if s.name == name]


def test_sli_timeline_traces_and_windows(latency_eval: SloEvaluation, snap: Snapshot) -> None:
    ev = latency_eval
    assert ev.breaches.height >= 1 and ev.incidents.height >= 1  # the demo incident breaches this SLO
    fig = sli_timeline(ev, deployments=snap.read("deployments"))
    names = [t.name for t in fig.data]
    assert names[:3] == ["Attainment (rolling 1d)", "Target 99 %", "SLI per 5 min"]
    assert "Deployments" in names
    breach = shapes(fig, "Breach")
    assert [(as_utc(s.x0), as_utc(s.x1)) for s in breach] == list(ev.breaches.select("start", "end").iter_rows())
    incident = shapes(fig, "Incident (page burn rate)")
    assert [(as_utc(s.x0), as_utc(s.x1)) for s in incident] == list(ev.incidents.select("start", "end").iter_rows())
    # one legend entry per kind of window, in different colours
    assert [s.showlegend for s in breach] == [True] + [False] * (len(breach) - 1)
    assert breach[0].fillcolor != incident[0].fillcolor
    assert {s.yref for s in breach} == {"y domain"} and {s.yref for s in incident} == {"y2 domain"}
    # the target line sits at the goal, and the y range shows the worst attainment
    target = next(t for t in fig.data if t.name.startswith("Target"))
    assert set(target.y) == {ev.slo.target}
    assert fig.layout.yaxis.range[0] < float(ev.budget["attainment"].min())
    fig.to_json()
    assert colours(fig) <= ALLOWED


def test_sli_timeline_thins_but_keeps_every_event(latency_eval: SloEvaluation) -> None:
    fig = sli_timeline(latency_eval, max_points=100)
    sli = next(t for t in fig.data if t.name.startswith("SLI per"))
    assert len(sli.x) <= 100
    total = sum(row[0] for row in sli.customdata)
    frame = latency_eval.sli.frame
    assert total == pytest.approx(float(frame["good"].sum() + frame["bad"].sum()))
    att = fig.data[0]
    assert min(att.y) == pytest.approx(float(latency_eval.budget["attainment"].min()))  # worst value survives


def test_deployment_markers_at_deployment_times(latency_eval: SloEvaluation, snap: Snapshot,
                                                truth: dict[str, Any]) -> None:
    deps = snap.read("deployments")
    fig = sli_timeline(latency_eval, deployments=deps)
    marker = next(t for t in fig.data if t.name == "Deployments")
    xs = [as_utc(x) for x in marker.x]
    start, end = latency_eval.window
    inside = deps.filter((pl.col("started_at") >= start) & (pl.col("started_at") < end))
    assert sorted(xs) == sorted(inside["started_at"].to_list())
    culprit = truth["culprit_deployment"]
    hits = [k for k, text in enumerate(marker.hovertext) if f"<b>{culprit['id']}</b>" in text]
    assert hits and all(xs[k] == parse_utc(culprit["started"]) for k in hits)
    assert all("routing-service" in marker.hovertext[k] and "actor: " in marker.hovertext[k] for k in hits)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted(as_utc(s.x0) for s in lines) == sorted(xs)
    # deployments before the window (the demo's initial ECS rollouts) are left out
    assert deps.filter(pl.col("started_at") < start).height > 0 and len(xs) == inside.height


def test_display_timezone_shifts_wall_clock(latency_eval: SloEvaluation) -> None:
    utc = sli_timeline(latency_eval, tz="UTC")
    ny = sli_timeline(latency_eval, tz="America/New_York")
    a, b = utc.data[0].x[0], ny.data[0].x[0]
    assert as_utc(a) == as_utc(b)  # the same instant ...
    assert a.replace(tzinfo=None) - b.replace(tzinfo=None) == timedelta(hours=5)  # ... five hours apart on the wall
    assert '"x0":"' + ny.layout.shapes[0].x0.isoformat() in ny.to_json().replace(" ", "")
    assert "America/New_York" in ny.layout.xaxis2.title.text


def test_budget_burndown_colours_by_status(latency_eval: SloEvaluation) -> None:
    fig = budget_burndown(latency_eval)
    by_name = {t.name: t for t in fig.data}
    breached = by_name["Budget remaining: BREACHED"]
    ok = by_name["Budget remaining: OK"]
    assert breached.line.color == STATUS_COLOURS["BREACHED"] and ok.line.color == STATUS_COLOURS["OK"]
    assert min(v for v in breached.y if v is not None) < 0
    assert max(v for v in ok.y if v is not None) == pytest.approx(1.0)
    warn = next(t for t in fig.data if t.name.startswith("WARNING below"))
    assert set(warn.y) == {latency_eval.slo.warning_threshold}
    zero = next(t for t in fig.data if t.name.startswith("Budget exhausted"))
    assert set(zero.y) == {0.0}
    assert colours(fig) <= ALLOWED


def test_burn_rate_chart_windows_thresholds_and_alerts(latency_eval: SloEvaluation) -> None:
    ev = latency_eval
    policy = workbook_policy()
    alerts = alert_episodes(ev.sli, ev.slo.target, policy)
    assert alerts.height >= 1
    fig = burn_rate_chart(ev.sli, ev.slo.target, policy, alerts=alerts, tz="Asia/Tokyo")
    windows = sorted({w for r in policy.rules for w in r.windows_s})
    lines = [t for t in fig.data if t.name.startswith("burn rate")]
    assert [t.name for t in lines] == [f"burn rate {window_label(w)}" for w in windows]
    for rule in policy.rules:
        line = next(t for t in fig.data if t.name.startswith(rule.name + ":"))
        assert set(line.y) == {rule.factor}
    fired = sorted(as_utc(s.x0) for s in fig.layout.shapes if s.name and "alert firing" in s.name)
    assert fired == sorted(alerts["fired_at"].to_list())
    # log axis: zero burn drawn at the floor, the hover keeps the real value
    assert fig.layout.yaxis.type == "log"
    five = lines[0]
    assert min(v for v in five.y if v == v) == pytest.approx(0.01)
    assert min(v for v in five.customdata if v == v) == 0.0
    assert colours(fig) <= ALLOWED


def test_burn_rate_chart_linear_without_alerts() -> None:
    ts = pl.datetime_range(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 2, tzinfo=UTC), "1m",
                           eager=True, closed="left", time_unit="ms")
    sli = pl.DataFrame({"timestamp": ts, "good": [99.0] * 120, "bad": [1.0] * 120})
    policy = custom_policy("fast", [("r", "page", (600, 60), 5.0)])
    fig = burn_rate_chart(sli, 0.99, policy, period_s=60, log_y=False)
    assert fig.layout.yaxis.type is None
    one = next(t for t in fig.data if t.name == "burn rate 1m")
    assert [round(v, 9) for v in one.y] == [1.0] * 120  # 1 % bad at a 99 % goal burns at exactly 1x
    assert not [s for s in fig.layout.shapes if s.name]


def test_add_windows_open_end_and_clip() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    w = pl.DataFrame({"start": [t, t + timedelta(hours=5)], "end": [t + timedelta(hours=1), None]},
                     schema_overrides={"end": pl.Datetime("ms", "UTC")})
    fig = add_windows(new_figure(), w, name="x", colour=PALETTE["orange"], end_default=t + timedelta(hours=6),
                      clip=(t + timedelta(minutes=30), t + timedelta(hours=8)))
    assert [(as_utc(s.x0), as_utc(s.x1)) for s in fig.layout.shapes] == [
        (t + timedelta(minutes=30), t + timedelta(hours=1)), (t + timedelta(hours=5), t + timedelta(hours=6))]
    with pytest.raises(FrameValidationError, match="'end'"):
        add_windows(new_figure(), w.drop("end"), name="x", colour=PALETTE["orange"])
    with pytest.raises(FrameValidationError, match="started_at"):
        add_deployments(new_figure(), pl.DataFrame({"id": ["a"], "service": ["s"]}))


def test_thin_and_bucket_choice() -> None:
    assert bucket_seconds(14 * 86400, 60, 1500) == 900
    assert bucket_seconds(600, 60, 1500) == 60
    ts = pl.datetime_range(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC), "1m",
                           eager=True, closed="left", time_unit="ms")
    f = pl.DataFrame({"timestamp": ts, "v": list(range(60))})
    out = thin(f, 900, [pl.col("v").max(), pl.col("v").sum().alias("s")])
    assert out["v"].to_list() == [14, 29, 44, 59] and out["s"].sum() == sum(range(60))


def test_zoom_opens_on_the_incident_in_display_time(latency_eval: SloEvaluation) -> None:
    inc = latency_eval.incidents.row(0, named=True)
    zoom = (inc["start"] - timedelta(hours=1), inc["end"] + timedelta(hours=1))
    fig = sli_timeline(latency_eval, zoom=zoom, tz="Europe/Berlin")
    lo, hi = fig.layout.xaxis.range
    assert (as_utc(lo), as_utc(hi)) == zoom and lo.utcoffset() == timedelta(hours=1)
    assert len(fig.data[0].x) > 2 * 24  # the whole window is still there, one zoom-out away
    burn = burn_rate_chart(latency_eval.sli, latency_eval.slo.target, workbook_policy(), zoom=zoom)
    assert tuple(as_utc(x) for x in burn.layout.xaxis.range) == zoom


def test_zoom_thins_for_the_zoomed_range(latency_eval: SloEvaluation) -> None:
    start, end = latency_eval.window
    whole = sli_timeline(latency_eval, max_points=100)
    zoomed = sli_timeline(latency_eval, max_points=100, zoom=(start, start + timedelta(hours=2)))
    n_whole, n_zoomed = len(whole.data[2].x), len(zoomed.data[2].x)
    assert n_whole <= 100 < n_zoomed <= 800  # finer buckets, capped at 8x max_points over the window
