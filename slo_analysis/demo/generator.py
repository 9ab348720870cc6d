"""Generate the demo incident folder: the one entry point that runs every writer in order.

Examples
--------
>>> import tempfile
>>> from slo_analysis.demo import generate
>>> out = generate(tempfile.mkdtemp(), days=2, scale=0.05)
>>> (out / "scenario.json").exists()
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from slo_analysis.demo.alarms_writer import write_alarms
from slo_analysis.demo.changes_writer import write_changes
from slo_analysis.demo.log_events import build_events
from slo_analysis.demo.logs_writer import write_logs
from slo_analysis.demo.metrics_writer import build_queries, write_metrics
from slo_analysis.demo.output import write_json
from slo_analysis.demo.slos import evaluate_slos, write_slos
from slo_analysis.demo.story import SERVICES, Change, Story, build_story, iso_ms
from slo_analysis.demo.traces_writer import write_traces
from slo_analysis.demo.traffic import simulate

__all__ = ["generate"]

logger = logging.getLogger(__name__)


def _change(c: Change) -> dict[str, Any]:
    return {
        "id": c.id,
        "service": c.service,
        "kind": c.kind,
        "started": iso_ms(c.started_ms),
        "finished": iso_ms(c.finished_ms),
        "status": c.status,
        "version_from": c.version_from,
        "version_to": c.version_to,
        "actor": c.actor,
        "description": c.description,
    }


def _scenario(
    story: Story,
    seed: int,
    days: int,
    scale: float,
    start: str,
    slos: list[dict[str, Any]],
    alarms: list[dict[str, Any]],
    malformed: list[dict[str, Any]],
    counts: dict[str, Any],
) -> dict[str, Any]:
    incident_alarms = [
        a
        for a in alarms
        if a["new_state"] == "ALARM"
        and story.onset_ms <= _ms(a["time"]) < story.recovery_ms + 3_600_000
        and "cpu" not in a["alarm"]
    ]
    detection = min((a["time"] for a in incident_alarms), default=None)
    return {
        "seed": seed,
        "days": days,
        "scale": scale,
        "start": start,
        "window": {"start": iso_ms(story.start_ms), "end": iso_ms(story.end_ms)},
        "environment": "prod",
        "region": "eu-west-1",
        "account": "123456789012",
        "services": list(SERVICES),
        "surge": {
            "start": iso_ms(story.surge_start_ms),
            "end": iso_ms(story.surge_end_ms),
            "peak_factor": story.surge_peak_factor,
            "deployment": None,
            "note": "traffic surge with no change: latency rises toward but not over 800 ms",
        },
        "decoy_deployment": _change(story.decoy),
        "culprit_deployment": {**_change(story.culprit), "traffic_shifted": iso_ms(story.onset_ms)},
        "rollback": _change(story.rollback),
        "feature_flag_change": _change(story.feature_flag),
        "incident": {
            "onset": iso_ms(story.onset_ms),
            "detection": detection,
            "rollback_started": iso_ms(story.rollback.started_ms),
            "rollback_finished": iso_ms(story.rollback.finished_ms),
            "recovery": iso_ms(story.recovery_ms),
            "root_cause": "routing-service v2.4.0 agent_skills query (language fallback) is slow: AssignAgent "
            "self-time, CreateTicket p99 and timeouts rise; tickets park in the overflow queue",
        },
        "alarm_state_changes": alarms,
        "slos": slos,
        "breached_slos": [s["name"] for s in slos if s["breached"]],
        "malformed_lines": malformed,
        "counts": counts,
    }


def _ms(iso: str) -> int:
    return int(pl.Series([iso]).str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", time_zone="UTC").dt.epoch("ms")[0])


def generate(
    out_dir: str | Path,
    seed: int = 7,
    days: int = 14,
    scale: float = 1.0,
    start: str = "2026-11-02",
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the demo incident to ``out_dir`` in the layout of ``docs/demo-layout.md``.

    Parameters
    ----------
    out_dir
        Folder to write (created if missing). Files of an earlier run are overwritten.
    seed
        Seed of every random draw; the same arguments give byte-identical files.
    days
        Length of the window in days (at least 2); the story's events are placed inside it.
    scale
        Multiplier of the traffic (1.0 is about 0.6 front-door requests per second on average).
    start
        First day of the window, ``YYYY-MM-DD`` (UTC midnight).
    progress
        Called with a short description before each step (for a progress bar).

    Returns
    -------
    Path
        ``out_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def step(text: str) -> None:
        logger.info("demo: %s (%.1f s)", text, time.perf_counter() - t0)
        if progress is not None:
            progress(text)

    story = build_story(start, days)
    r_metrics, r_logs, r_traces = np.random.default_rng([seed, 1]).spawn(3)
    step("simulating requests and tickets")
    sim = simulate(story, seed, scale)
    step("writing metrics")
    write_metrics(out, build_queries(sim, story, r_metrics, scale), story)
    step("building log events")
    events = build_events(sim, story, r_logs)
    step("writing logs")
    _, malformed = write_logs(out, events, story, r_logs)
    step("writing traces")
    _, n_traces = write_traces(out, sim, story, scale, r_traces)
    step("writing SLOs, alarms and deployments")
    write_slos(out, story)
    _, alarms = write_alarms(out, sim, story)
    write_changes(out, sim, story)
    step("writing scenario.json")
    per_service = dict(sim.requests.group_by("service").len().sort("service").iter_rows())
    counts = {
        "requests": {s: int(per_service.get(s, 0)) for s in SERVICES},
        "tickets": sim.tickets.height,
        "traces": n_traces,
        "log_events": events.height + len(malformed),
    }
    write_json(
        out / "scenario.json",
        _scenario(story, seed, days, scale, start, evaluate_slos(sim, story), alarms, malformed, counts),
    )
    step("done")
    return out
