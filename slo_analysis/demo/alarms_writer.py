"""CloudWatch alarms of the demo: DescribeAlarms definitions and the DescribeAlarmHistory state
changes, found by evaluating each alarm over the simulated datapoints (M of N, missing = not breaching).

Assumption (not verifiable offline): the SLO burn-rate alarm watches ``BurnRate`` in namespace
``AWS/ApplicationSignals`` with dimensions ``SloName`` and ``BurnRateWindowMinutes``.

Examples
--------
>>> from slo_analysis.demo.alarms_writer import evaluate
>>> import numpy as np
>>> evaluate(np.array([60_000, 120_000, 180_000]), np.array([1.0, 9.0, 9.0]), 5.0, 2, 2, 0)
[(180000, 'ALARM', [9.0, 9.0])]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from slo_analysis.demo.output import write_json
from slo_analysis.demo.slos import latency_minutes
from slo_analysis.demo.story import ACCOUNT, CLUSTER, ENVIRONMENT, MINUTE_MS, REGION, Story, iso_ms
from slo_analysis.demo.traffic import Simulation

__all__ = ["AlarmSpec", "evaluate", "alarm_specs", "write_alarms"]

_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:sre-oncall-page"
_LAG_MS = 47_000  # CloudWatch evaluates a period a little after it closes


@dataclass
class AlarmSpec:
    name: str
    description: str
    namespace: str
    metric: str
    dims: list[tuple[str, str]]
    stat: str
    period: int
    threshold: float
    n: int
    m: int
    unit: str | None
    t_end: np.ndarray  # end of each datapoint's period, epoch ms
    values: np.ndarray


def evaluate(
    t_end: np.ndarray, values: np.ndarray, threshold: float, n: int, m: int, lag_ms: int
) -> list[tuple[int, str, list[float]]]:
    """State changes of a ``GreaterThanThreshold`` alarm needing ``m`` of the last ``n`` datapoints
    breaching; returns (time, new state, recent datapoints). Starts in OK."""
    breach = (values > threshold).astype(int)
    csum = np.concatenate([[0], np.cumsum(breach)])
    idx = np.arange(1, breach.size + 1)
    in_window = csum[idx] - csum[np.maximum(idx - n, 0)]
    state, out = "OK", []
    for i, k in enumerate(in_window):
        new = "ALARM" if k >= m else "OK"
        if new != state:
            recent = [round(float(v), 3) for v in values[max(0, i - n + 1) : i + 1]]
            out.append((int(t_end[i]) + lag_ms, new, recent))
            state = new
    return out


def alarm_specs(sim: Simulation, story: Story) -> list[AlarmSpec]:
    ct = sim.requests.filter((pl.col("service") == "ticket-api") & (pl.col("operation") == "CreateTicket"))
    p5 = (
        ct.with_columns(t=(pl.col("ts_ms") // 300_000) * 300_000)
        .group_by("t")
        .agg(p99=pl.col("latency_ms").quantile(0.99, "linear"))
        .sort("t")
    )
    grid = story.start_ms + np.arange(story.minutes) * MINUTE_MS
    lm = latency_minutes(sim)
    bad = np.zeros(grid.size)
    bad[(lm["t"].to_numpy() - story.start_ms) // MINUTE_MS] = lm["p99"].to_numpy() >= 800
    window = 60
    roll = np.convolve(bad, np.ones(window))[: grid.size]
    burn = roll / window / 0.01
    op_dims = [("Environment", ENVIRONMENT), ("Service", "ticket-api"), ("Operation", "CreateTicket")]
    return [
        AlarmSpec(
            "ticket-api-CreateTicket-p99-latency",
            "CreateTicket p99 latency above the 800 ms SLO threshold",
            "ApplicationSignals",
            "Latency",
            op_dims,
            "p99",
            300,
            800.0,
            3,
            3,
            "Milliseconds",
            p5["t"].to_numpy() + 300_000,
            p5["p99"].to_numpy(),
        ),
        AlarmSpec(
            "slo-CreateTicket-Latency-p99-fast-burn",
            "CreateTicket-Latency-p99 burning budget at 14.4x (1 h)",
            "AWS/ApplicationSignals",
            "BurnRate",
            [("BurnRateWindowMinutes", "60"), ("SloName", "CreateTicket-Latency-p99")],
            "Average",
            60,
            14.4,
            3,
            3,
            None,
            grid + MINUTE_MS,
            np.round(burn, 3),
        ),
        AlarmSpec(
            "ticket-api-cpu-high",
            "ticket-api CPU above 70 % for 3 minutes",
            "AWS/ECS",
            "CPUUtilization",
            [("ClusterName", CLUSTER), ("ServiceName", "ticket-api")],
            "Average",
            60,
            70.0,
            3,
            3,
            "Percent",
            grid + MINUTE_MS,
            sim.load["ticket_api_cpu"].to_numpy(),
        ),
    ]


def _reason(spec: AlarmSpec, state: str, recent: list[float]) -> str:
    word = "greater" if state == "ALARM" else "not greater"
    k = spec.m if state == "ALARM" else 1
    return (
        f"Threshold Crossed: {k} out of the last {spec.n} datapoints were {word} than the threshold "
        f"({spec.threshold}). The most recent datapoints which crossed the threshold: {recent}."
    )


def _reason_data(spec: AlarmSpec, t: int, recent: list[float]) -> dict[str, Any]:
    stat_key = "extendedStatistic" if spec.stat.startswith("p") else "statistic"
    return {
        "version": "1.0",
        "queryDate": iso_ms(t).replace("Z", "+0000"),
        "startDate": iso_ms(t - _LAG_MS - spec.period * 1000 * len(recent)).replace("Z", "+0000"),
        stat_key: spec.stat,
        "period": spec.period,
        "recentDatapoints": recent,
        "threshold": spec.threshold,
    }


def write_alarms(out: Path, sim: Simulation, story: Story) -> tuple[list[Path], list[dict[str, Any]]]:
    """Write describe-alarms.json and describe-alarm-history.json; return the state changes for the truth."""
    history: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for spec in alarm_specs(sim, story):
        trans = [
            x for x in evaluate(spec.t_end, spec.values, spec.threshold, spec.n, spec.m, _LAG_MS) if x[0] < story.end_ms
        ]
        state, reason, data, updated = (
            "OK",
            "Threshold Crossed: no datapoints were greater than the threshold",
            None,
            story.start_ms - 86_400_000,
        )
        for t, new, recent in trans:
            new_reason = _reason(spec, new, recent)
            new_data = _reason_data(spec, t, recent)
            old_state: dict[str, Any] = {"stateValue": state, "stateReason": reason}
            if data is not None:
                old_state["stateReasonData"] = data
            hd = {
                "version": "1.0",
                "oldState": old_state,
                "newState": {"stateValue": new, "stateReason": new_reason, "stateReasonData": new_data},
            }
            history.append(
                {
                    "AlarmName": spec.name,
                    "AlarmType": "MetricAlarm",
                    "Timestamp": iso_ms(t),
                    "HistoryItemType": "StateUpdate",
                    "HistorySummary": f"Alarm updated from {state} to {new}",
                    "HistoryData": json.dumps(hd, sort_keys=True),
                }
            )
            changes.append({"alarm": spec.name, "time": iso_ms(t), "old_state": state, "new_state": new})
            state, reason, data, updated = new, new_reason, new_data, t
        alarm: dict[str, Any] = {
            "AlarmName": spec.name,
            "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{spec.name}",
            "AlarmDescription": spec.description,
            "ActionsEnabled": True,
            "OKActions": [_TOPIC],
            "AlarmActions": [_TOPIC],
            "InsufficientDataActions": [],
            "AlarmConfigurationUpdatedTimestamp": iso_ms(story.start_ms - 30 * 86_400_000),
            "StateValue": state,
            "StateReason": reason,
            "StateUpdatedTimestamp": iso_ms(updated),
            "StateTransitionedTimestamp": iso_ms(updated),
            "MetricName": spec.metric,
            "Namespace": spec.namespace,
            "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dims],
            "Period": spec.period,
            "EvaluationPeriods": spec.n,
            "DatapointsToAlarm": spec.m,
            "Threshold": spec.threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        }
        if data is not None:
            alarm["StateReasonData"] = json.dumps(data, sort_keys=True)
        if spec.stat.startswith("p"):
            alarm["ExtendedStatistic"] = spec.stat
        else:
            alarm["Statistic"] = spec.stat
        if spec.unit:
            alarm["Unit"] = spec.unit
        alarms.append(alarm)
    history.sort(key=lambda h: (h["Timestamp"], h["AlarmName"]), reverse=True)
    written = [
        write_json(out / "alarms" / "describe-alarms.json", {"MetricAlarms": alarms, "CompositeAlarms": []}),
        write_json(out / "alarms" / "describe-alarm-history.json", {"AlarmHistoryItems": history}),
    ]
    return written, sorted(changes, key=lambda c: (c["time"], c["alarm"]))
