"""Evaluate every SLO of a snapshot: SLI, budget as a time series, breach, incident and at-risk windows.

This is the glue a review starts from: :func:`evaluate_slo` runs the pure core on one SLO over a
window, :func:`evaluate_slos` does it for all SLOs of a snapshot, and :func:`status_table` gives the
one-line-per-SLO summary (attainment, budget remaining, status, worst status, windows) that
``slo-analysis demo`` prints.

Examples
--------
On the demo (``demo_snapshot()`` is the path of a small generated demo snapshot):

>>> import polars as pl
>>> import slo_analysis as sa
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> table = status_table(evaluate_slos(snap))
>>> sorted(table.filter(pl.col("worst_status") == "BREACHED")["slo"])
['CreateTicket-Latency-p99', 'FirstResponse-5m', 'createticket-latency-p99', 'firstresponse-5m']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from slo_analysis.analysis.slo_status import FrameSource, sli_for_slo
from slo_analysis.core.budget import BREACHED, INSUFFICIENT_DATA, OK, WARNING, calendar_budget, rolling_budget
from slo_analysis.core.model import SLO, interval_bounds, interval_length, slos_from_frame
from slo_analysis.core.sli import SliSeries, align_window
from slo_analysis.core.windows import at_risk_periods, breach_windows, incident_windows, mask_windows

__all__ = ["SloEvaluation", "evaluate_slo", "evaluate_slos", "status_table", "snapshot_window"]

_SEVERITY = {INSUFFICIENT_DATA: 0, OK: 1, WARNING: 2, BREACHED: 3}


@dataclass(frozen=True)
class SloEvaluation:
    """One SLO evaluated over a window."""

    slo: SLO
    window: tuple[datetime, datetime]
    sli: SliSeries
    budget: pl.DataFrame  # core.budget frame: status at every step (early steps see a truncated interval)
    breaches: pl.DataFrame  # core.windows.breach_windows, over steps with a full interval behind them
    incidents: pl.DataFrame  # core.windows.incident_windows
    at_risk: pl.DataFrame  # windows (start, end, ...) where the budget would run out within the horizon
    warm_from: datetime  # first step with a full interval of data behind it (rolling intervals)


def snapshot_window(frames: FrameSource) -> tuple[datetime, datetime]:
    """The half-open window of a snapshot (its manifest window), as datetimes."""
    window = getattr(frames, "window", None)
    if not window or window[0] is None or window[1] is None:
        raise ValueError("pass an explicit window: this frame source has none")
    return window[0], window[1]


def evaluate_slo(frames: FrameSource, slo: SLO, window: tuple[datetime, datetime], *, period_s: int = 60,
                 at_risk_lookback_s: float = 7200.0, at_risk_horizon_s: float = 86400.0) -> SloEvaluation:
    """SLI, budget time series, breach / incident / at-risk windows of ``slo`` over ``window``.

    The budget follows the SLO's interval: rolling (look back the interval length from every step)
    or calendar (reset at each calendar boundary). Incident windows use the Workbook's page conditions.
    At-risk steps burn faster than the SLO allows and would exhaust the remaining budget within
    ``at_risk_horizon_s`` (24 h) at the burn rate of the last ``at_risk_lookback_s`` (2 h: long enough
    that a few late tickets in a quiet hour do not flag, short enough to catch a two-hour surge).
    """
    step = slo.period_s if slo.method == "period" and slo.period_s else period_s
    start, end = align_window(window, step)
    sli = sli_for_slo(frames, slo, (start, end), period_s=period_s)
    if slo.interval.kind == "calendar" and slo.interval.start is not None:
        budget = calendar_budget(sli, slo.target, slo.interval.start, slo.interval.duration, slo.interval.unit,
                                 warning_threshold=slo.warning_threshold)
    else:
        budget = rolling_budget(sli, slo.target, interval_length(slo).total_seconds(),
                                warning_threshold=slo.warning_threshold)
    # Breach and at-risk windows need a full interval behind each step: early in the data a truncated
    # rolling interval holds a sliver of budget that any blip would "exhaust" or "breach".
    warm_from = start if slo.interval.kind == "calendar" else start + interval_length(slo)
    full = budget.filter(pl.col("timestamp") >= warm_from)
    risk = at_risk_periods(sli, slo.target, full, lookback_s=at_risk_lookback_s, horizon_s=at_risk_horizon_s)
    steps = budget["timestamp"]
    risk_windows = mask_windows(steps, steps.is_in(risk["timestamp"].implode()), sli.period_s, merge_gap_s=900.0)
    return SloEvaluation(
        slo=slo,
        window=(start, end),
        sli=sli,
        budget=budget,
        breaches=breach_windows(full, sli.period_s),
        incidents=incident_windows(sli, slo.target),
        at_risk=risk_windows,
        warm_from=warm_from,
    )


def evaluate_slos(frames: FrameSource, slos: list[SLO] | None = None,
                  window: tuple[datetime, datetime] | None = None, *, period_s: int = 60) -> list[SloEvaluation]:
    """Evaluate ``slos`` (default: every SLO in the ``slos`` frame) over ``window`` (default: the snapshot's)."""
    if slos is None:
        slos = slos_from_frame(_collect(frames, "slos"))
    if window is None:
        window = snapshot_window(frames)
    return [evaluate_slo(frames, slo, window, period_s=period_s) for slo in slos]


def _collect(frames: FrameSource, name: str) -> pl.DataFrame:
    if isinstance(frames, dict):
        return frames[name].lazy().collect()
    return frames.scan(name).collect()  # type: ignore[union-attr]


def _first(df: pl.DataFrame, col: str) -> datetime | None:
    return df[col][0] if df.height else None


def status_table(evaluations: list[SloEvaluation]) -> pl.DataFrame:
    """One row per SLO: attainment, budget remaining and status at the window's end, worst status seen
    once a full interval of data is behind (``warm_from``), and the breach, incident and at-risk windows
    (count, first start, first end).

    ``interval_covered`` is the share of the SLO's interval at the window's end that the data covers:
    below 1 the end status is judged on part of the interval (a 3-day snapshot of a 7-day SLO), so
    readers should not take it for the status Application Signals shows.
    """
    rows = []
    for ev in evaluations:
        last = ev.budget.tail(1)
        lo, hi = interval_bounds(ev.slo, ev.window[1])
        covered = (hi - max(lo, ev.window[0])) / (hi - lo) if hi > lo else 1.0
        seen = ev.budget.filter(pl.col("timestamp") >= ev.warm_from)["status"].unique().to_list()
        worst = max(seen, key=lambda s: _SEVERITY.get(s, 0), default=None)
        rows.append({
            "slo": ev.slo.name,
            "source": ev.slo.source,
            "method": ev.slo.method,
            "target": ev.slo.target,
            "interval": f"{ev.slo.interval.kind} {ev.slo.interval.duration} {ev.slo.interval.unit}",
            "attainment": last["attainment"][0] if last.height else None,
            "budget_remaining": last["remaining_fraction"][0] if last.height else None,
            "status": last["status"][0] if last.height else INSUFFICIENT_DATA,
            "worst_status": worst,
            "interval_covered": min(max(covered, 0.0), 1.0),
            "breaches": ev.breaches.height,
            "first_breach_start": _first(ev.breaches, "start"),
            "first_breach_end": _first(ev.breaches, "end"),
            "incidents": ev.incidents.height,
            "first_incident_start": _first(ev.incidents, "start"),
            "first_incident_end": _first(ev.incidents, "end"),
            "at_risk_windows": ev.at_risk.height,
        })
    return pl.DataFrame(rows, schema_overrides={c: pl.Datetime("ms", "UTC") for c in (
        "first_breach_start", "first_breach_end", "first_incident_start", "first_incident_end")})


