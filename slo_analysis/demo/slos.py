"""The demo's four SLOs: Application Signals GetServiceLevelObjective documents, the same SLOs as
OpenSLO ``openslo/v1`` YAML, and their attainment computed from the simulated truth.

Period-based policy for the truth: every 60 s period of the interval counts; a period without
requests is good (there was nothing slow to serve).

Examples
--------
>>> from slo_analysis.demo.slos import SLOS
>>> [s.name for s in SLOS][:2]
['CreateTicket-Availability', 'CreateTicket-Latency-p99']
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from slo_analysis.demo.output import write_bytes, write_json
from slo_analysis.demo.story import ACCOUNT, ENVIRONMENT, MINUTE_MS, REGION, Story, iso_s
from slo_analysis.demo.traffic import Simulation

__all__ = ["SloSpec", "SLOS", "write_slos", "evaluate_slos", "latency_minutes"]


@dataclass(frozen=True)
class SloSpec:
    name: str
    service: str
    operation: str | None
    kind: str  # availability | latency | first_response
    goal: float  # percent
    interval_days: int
    description: str


SLOS: tuple[SloSpec, ...] = (
    SloSpec(
        "CreateTicket-Availability",
        "ticket-api",
        "CreateTicket",
        "availability",
        99.9,
        7,
        "99.9 % of CreateTicket requests succeed (no 5xx) over a rolling 7 days",
    ),
    SloSpec(
        "CreateTicket-Latency-p99",
        "ticket-api",
        "CreateTicket",
        "latency",
        99.0,
        1,
        "p99 CreateTicket latency below 800 ms in 99 % of 1-minute periods over a rolling day",
    ),
    SloSpec(
        "FirstResponse-5m",
        "support-desk",
        None,
        "first_response",
        95.0,
        1,
        "95 % of tickets get a first agent response within 5 minutes over a rolling day",
    ),
    SloSpec(
        "SearchArticles-Availability",
        "kb-search",
        "SearchArticles",
        "availability",
        99.5,
        7,
        "99.5 % of SearchArticles requests succeed over a rolling 7 days",
    ),
)



def _fraction(percent: float) -> float:
    """A percentage as the fraction a person would write (99.9 -> 0.999, not 0.9990000000000001)."""
    return float(Decimal(str(percent)) / 100)

def _metric(
    ns: str, name: str, dims: list[tuple[str, str]], stat: str, qid: str, unit: str | None = None
) -> dict[str, Any]:
    ms: dict[str, Any] = {
        "Metric": {"Namespace": ns, "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims]},
        "Period": 60,
        "Stat": stat,
    }
    if unit:
        ms["Unit"] = unit
    return {"Id": qid, "MetricStat": ms, "ReturnData": True}


def _app_signals(spec: SloSpec, story: Story) -> dict[str, Any]:
    created = iso_s(story.start_ms - 40 * 86_400_000)
    key = {"Type": "Service", "Name": spec.service, "Environment": ENVIRONMENT}
    dims = [("Environment", ENVIRONMENT), ("Service", spec.service), ("Operation", spec.operation or "")]
    slo: dict[str, Any] = {
        "Arn": f"arn:aws:application-signals:{REGION}:{ACCOUNT}:slo/{spec.name}",
        "Name": spec.name,
        "Description": spec.description,
        "CreatedTime": created,
        "LastUpdatedTime": created,
        "Goal": {
            "Interval": {"RollingInterval": {"DurationUnit": "DAY", "Duration": spec.interval_days}},
            "AttainmentGoal": spec.goal,
            "WarningThreshold": 50.0,
        },
        "BurnRateConfigurations": [{"LookBackWindowMinutes": 5}, {"LookBackWindowMinutes": 60}],
    }
    if spec.kind == "latency":
        slo["EvaluationType"] = "PeriodBased"
        slo["MetricSourceType"] = "ServiceOperation"
        slo["Sli"] = {
            "SliMetric": {
                "KeyAttributes": key,
                "OperationName": spec.operation,
                "MetricType": "LATENCY",
                "MetricDataQueries": [_metric("ApplicationSignals", "Latency", dims, "p99", "m1", "Milliseconds")],
            },
            "MetricThreshold": 800.0,
            "ComparisonOperator": "LessThan",
        }
    elif spec.kind == "availability":
        slo["EvaluationType"] = "RequestBased"
        slo["MetricSourceType"] = "ServiceOperation"
        slo["RequestBasedSli"] = {
            "RequestBasedSliMetric": {
                "KeyAttributes": key,
                "OperationName": spec.operation,
                "MetricType": "AVAILABILITY",
                "TotalRequestCountMetric": [_metric("ApplicationSignals", "Latency", dims, "SampleCount", "total")],
                "MonitoredRequestCountMetric": {
                    "BadCountMetric": [_metric("ApplicationSignals", "Fault", dims, "Sum", "bad")]
                },
            }
        }
    else:
        env = [("Environment", ENVIRONMENT)]
        slo["EvaluationType"] = "RequestBased"
        slo["MetricSourceType"] = "CloudWatchMetric"
        slo["RequestBasedSli"] = {
            "RequestBasedSliMetric": {
                "TotalRequestCountMetric": [_metric("SupportDesk", "TicketsCreated", env, "Sum", "total")],
                "MonitoredRequestCountMetric": {
                    "GoodCountMetric": [_metric("SupportDesk", "FirstResponseWithin5m", env, "Sum", "good")]
                },
            }
        }
    return {"Slo": slo}


def _openslo(spec: SloSpec) -> list[dict[str, Any]]:
    window = [{"duration": f"{spec.interval_days}d", "isRolling": True}]
    meta = {"name": spec.name.lower(), "displayName": spec.name}
    sli: dict[str, Any]
    if spec.kind == "latency":
        sli = {
            "thresholdMetric": {
                "metricSource": {
                    "type": "CloudWatch",
                    "spec": {
                        "region": REGION,
                        "namespace": "ApplicationSignals",
                        "metricName": "Latency",
                        "stat": "p99",
                        "dimensions": [
                            {"name": "Environment", "value": ENVIRONMENT},
                            {"name": "Service", "value": spec.service},
                            {"name": "Operation", "value": spec.operation},
                        ],
                    },
                }
            }
        }
        objective = {
            "displayName": "p99 under 800 ms",
            "op": "lt",
            "value": 800,
            "target": _fraction(spec.goal),
            "timeSliceTarget": 0.99,
            "timeSliceWindow": "1m",
        }
        method = "Timeslices"
    elif spec.kind == "availability":

        def q(metric: str, stat: str) -> dict[str, Any]:
            return {
                "metricSource": {
                    "type": "CloudWatch",
                    "spec": {
                        "region": REGION,
                        "namespace": "ApplicationSignals",
                        "metricName": metric,
                        "stat": stat,
                        "dimensions": [
                            {"name": "Environment", "value": ENVIRONMENT},
                            {"name": "Service", "value": spec.service},
                            {"name": "Operation", "value": spec.operation},
                        ],
                    },
                }
            }

        sli = {"ratioMetric": {"counter": True, "bad": q("Fault", "Sum"), "total": q("Latency", "SampleCount")}}
        objective = {"displayName": "no 5xx", "target": _fraction(spec.goal)}
        method = "Occurrences"
    else:

        def c(metric: str) -> dict[str, Any]:
            return {
                "metricSource": {
                    "type": "CloudWatch",
                    "spec": {
                        "region": REGION,
                        "namespace": "SupportDesk",
                        "metricName": metric,
                        "stat": "Sum",
                        "dimensions": [{"name": "Environment", "value": ENVIRONMENT}],
                    },
                }
            }

        sli = {"ratioMetric": {"counter": True, "good": c("FirstResponseWithin5m"), "total": c("TicketsCreated")}}
        objective = {"displayName": "first response within 5 minutes", "target": _fraction(spec.goal)}
        method = "Occurrences"
    return [
        {"apiVersion": "openslo/v1", "kind": "SLI", "metadata": {**meta, "name": f"{meta['name']}-sli"}, "spec": sli},
        {
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": meta,
            "spec": {
                "description": spec.description,
                "service": spec.service,
                "indicatorRef": f"{meta['name']}-sli",
                "timeWindow": window,
                "budgetingMethod": method,
                "objectives": [objective],
                "alertPolicies": [f"{meta['name']}-fast-burn"],
            },
        },
        {
            "apiVersion": "openslo/v1",
            "kind": "AlertPolicy",
            "metadata": {"name": f"{meta['name']}-fast-burn"},
            "spec": {
                "description": "page on a fast error-budget burn",
                "alertWhenBreaching": True,
                "conditions": [
                    {
                        "kind": "AlertCondition",
                        "metadata": {"name": f"{meta['name']}-burn-14x"},
                        "spec": {
                            "severity": "page",
                            "condition": {
                                "kind": "burnrate",
                                "op": "gte",
                                "threshold": 14.4,
                                "lookbackWindow": "1h",
                                "alertAfter": "5m",
                            },
                        },
                    }
                ],
                "notificationTargets": [{"targetRef": "sre-oncall"}],
            },
        },
    ]


def write_slos(out: Path, story: Story) -> list[Path]:
    """One GetServiceLevelObjective file per SLO and ``openslo.yaml`` with the same SLOs."""
    written = [write_json(out / "slos" / f"{s.name}.json", _app_signals(s, story)) for s in SLOS]
    docs: list[dict[str, Any]] = []
    services = sorted({s.service for s in SLOS})
    docs += [
        {
            "apiVersion": "openslo/v1",
            "kind": "Service",
            "metadata": {"name": s},
            "spec": {"description": f"{s} in {ENVIRONMENT}"},
        }
        for s in services
    ]
    for s in SLOS:
        docs += _openslo(s)
    text = yaml.safe_dump_all(docs, sort_keys=True, default_flow_style=False)
    written.append(write_bytes(out / "slos" / "openslo.yaml", text.encode()))
    return written


def latency_minutes(sim: Simulation) -> pl.DataFrame:
    """Per-minute p99 of ticket-api CreateTicket (the period SLI): columns t, p99, n."""
    return (
        sim.requests.filter((pl.col("service") == "ticket-api") & (pl.col("operation") == "CreateTicket"))
        .with_columns(t=(pl.col("ts_ms") // MINUTE_MS) * MINUTE_MS)
        .group_by("t")
        .agg(p99=pl.col("latency_ms").quantile(0.99, "linear"), n=pl.len())
        .sort("t")
    )


def _attainment(spec: SloSpec, sim: Simulation, story: Story, end_ms: int) -> dict[str, Any]:
    start = max(story.start_ms, end_ms - spec.interval_days * 86_400_000)
    if spec.kind == "latency":
        lm = latency_minutes(sim).filter((pl.col("t") >= start) & (pl.col("t") < end_ms))
        total = (end_ms - start) // MINUTE_MS
        bad = int((lm["p99"] >= 800).sum())
    elif spec.kind == "availability":
        r = sim.requests.filter(
            (pl.col("service") == spec.service)
            & (pl.col("operation") == spec.operation)
            & (pl.col("ts_ms") >= start)
            & (pl.col("ts_ms") < end_ms)
        )
        total, bad = r.height, int(r["fault"].sum())
    else:
        t = sim.tickets.filter((pl.col("created_ms") >= start) & (pl.col("created_ms") < end_ms))
        total, bad = t.height, int((~t["within_5m"]).sum())
    frac = bad / total if total else 0.0
    return {
        "window_start": iso_s(start),
        "window_end": iso_s(end_ms),
        "total": int(total),
        "bad": bad,
        "bad_fraction": round(frac, 6),
        "attainment_percent": round(100 * (1 - frac), 4),
        "breached": 100 * (1 - frac) < spec.goal,
    }


def evaluate_slos(sim: Simulation, story: Story) -> list[dict[str, Any]]:
    """Each SLO's attainment over its rolling interval ending 30 minutes after recovery and at the
    end of the surge, from the simulated requests and tickets."""
    after = ((story.recovery_ms // MINUTE_MS) + 30) * MINUTE_MS
    out = []
    for s in SLOS:
        at_inc = _attainment(s, sim, story, min(after, story.end_ms))
        at_surge = _attainment(s, sim, story, story.surge_end_ms)
        out.append(
            {
                "name": s.name,
                "service": s.service,
                "operation": s.operation,
                "kind": s.kind,
                "goal_percent": s.goal,
                "interval": f"rolling {s.interval_days} DAY",
                "period_policy": "60 s periods; periods without requests are good" if s.kind == "latency" else None,
                "breached": at_inc["breached"],
                "after_incident": at_inc,
                "after_surge": at_surge,
            }
        )
    return out
