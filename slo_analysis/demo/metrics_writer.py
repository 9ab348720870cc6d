"""CloudWatch metrics of the demo as GetMetricData request files and paginated response pages.

Every series is aggregated from the simulated requests, so ``SampleCount`` of a minute equals the
number of request-log records in that minute. Minutes without requests have no datapoint, as in
CloudWatch.

Examples
--------
>>> from slo_analysis.demo.metrics_writer import MAX_QUERIES, MAX_DATAPOINTS
>>> MAX_QUERIES, MAX_DATAPOINTS
(500, 100800)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from slo_analysis.demo.output import write_json
from slo_analysis.demo.story import CLUSTER, ENVIRONMENT, LOAD_BALANCER, MINUTE_MS, SERVICES, TABLE, Story
from slo_analysis.demo.traffic import Simulation

__all__ = ["MAX_QUERIES", "MAX_DATAPOINTS", "Query", "build_queries", "write_metrics"]

logger = logging.getLogger(__name__)

MAX_QUERIES = 500  # GetMetricData queries per call
MAX_DATAPOINTS = 100_800  # datapoints per response page
_LATENCY_STATS = ("p50", "p90", "p99", "Average", "SampleCount")


@dataclass
class Query:
    """One MetricDataQuery and the datapoints its answer holds."""

    namespace: str
    metric: str
    dims: tuple[tuple[str, str], ...]
    stat: str
    period: int
    unit: str | None
    label: str
    ts: np.ndarray  # epoch ms, ascending
    values: np.ndarray
    id: str = ""

    def request(self) -> dict[str, object]:
        stat: dict[str, object] = {
            "Metric": {
                "Namespace": self.namespace,
                "MetricName": self.metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in self.dims],
            },
            "Period": self.period,
            "Stat": self.stat,
        }
        if self.unit:
            stat["Unit"] = self.unit
        return {"Id": self.id, "Label": self.label, "MetricStat": stat, "ReturnData": True}


def _bucket(df: pl.DataFrame, period_s: int) -> pl.DataFrame:
    return df.with_columns(t=(pl.col("ts_ms") // (period_s * 1000)) * (period_s * 1000))


def _latency_queries(req: pl.DataFrame, keys: list[str], period: int) -> list[Query]:
    agg = (
        _bucket(req, period)
        .group_by([*keys, "t"])
        .agg(
            p50=pl.col("latency_ms").quantile(0.5, "linear"),
            p90=pl.col("latency_ms").quantile(0.9, "linear"),
            p99=pl.col("latency_ms").quantile(0.99, "linear"),
            Average=pl.col("latency_ms").mean(),
            SampleCount=pl.len().cast(pl.Float64),
            Fault=pl.col("fault").sum().cast(pl.Float64),
            Error=pl.col("error").sum().cast(pl.Float64),
        )
        .sort([*keys, "t"])
    )
    out: list[Query] = []
    for key, g in agg.group_by(keys, maintain_order=True):
        service = str(key[0])
        dims = [("Environment", ENVIRONMENT), ("Service", service)]
        name = service
        if len(keys) == 2:
            dims.append(("Operation", str(key[1])))
            name = f"{service} {key[1]}"
        t = g["t"].to_numpy()
        for stat in _LATENCY_STATS:
            unit = None if stat == "SampleCount" else "Milliseconds"
            out.append(
                Query(
                    "ApplicationSignals",
                    "Latency",
                    tuple(dims),
                    stat,
                    period,
                    unit,
                    f"{name} Latency {stat}",
                    t,
                    g[stat].round(3).to_numpy(),
                )
            )
        for metric in ("Fault", "Error"):
            out.append(
                Query(
                    "ApplicationSignals",
                    metric,
                    tuple(dims),
                    "Sum",
                    period,
                    None,
                    f"{name} {metric}",
                    t,
                    g[metric].to_numpy(),
                )
            )
    return out


def _infra_queries(sim: Simulation, story: Story, rng: np.random.Generator, scale: float) -> list[Query]:
    req = _bucket(sim.requests, 60)
    minutes = sim.load["minute_ms"].to_numpy()
    out: list[Query] = []
    per_min = req.group_by(["service", "t"]).agg(n=pl.len())
    for s in SERVICES:
        counts = np.zeros(minutes.size)
        g = per_min.filter(pl.col("service") == s)
        counts[((g["t"].to_numpy() - story.start_ms) // MINUTE_MS)] = g["n"].to_numpy()
        if s == "ticket-api":
            cpu = sim.load["ticket_api_cpu"].to_numpy()
        else:
            cpu = np.clip(4.0 + 14.0 * counts / 60.0 / scale + rng.normal(0, 1.0, minutes.size), 1.0, 99.0)
        bad = sim.load["bad"].to_numpy()
        mem = 38.0 + 6.0 * np.sin(np.arange(minutes.size) / 1440.0 * 2 * np.pi) + rng.normal(0, 0.6, minutes.size)
        if s == "routing-service":
            mem = mem + 14.0 * bad  # connections parked on the slow agent_skills query
        dims = (("ClusterName", CLUSTER), ("ServiceName", s))
        out.append(
            Query(
                "AWS/ECS",
                "CPUUtilization",
                dims,
                "Average",
                60,
                "Percent",
                f"ECS {s} CPUUtilization",
                minutes,
                np.round(cpu, 2),
            )
        )
        out.append(
            Query(
                "AWS/ECS",
                "MemoryUtilization",
                dims,
                "Average",
                60,
                "Percent",
                f"ECS {s} MemoryUtilization",
                minutes,
                np.round(mem, 2),
            )
        )
    sw = (
        req.filter(pl.col("service") == "support-web")
        .group_by("t")
        .agg(
            n=pl.len().cast(pl.Float64),
            avg=(pl.col("latency_ms").mean() / 1000).round(4),
            p99=(pl.col("latency_ms").quantile(0.99, "linear") / 1000).round(4),
            f=pl.col("fault").sum().cast(pl.Float64),
        )
        .sort("t")
    )
    lb = (("LoadBalancer", LOAD_BALANCER),)
    t = sw["t"].to_numpy()
    out.append(
        Query("AWS/ApplicationELB", "RequestCount", lb, "Sum", 60, "Count", "ALB RequestCount", t, sw["n"].to_numpy())
    )
    out.append(
        Query(
            "AWS/ApplicationELB",
            "TargetResponseTime",
            lb,
            "Average",
            60,
            "Seconds",
            "ALB TargetResponseTime Average",
            t,
            sw["avg"].to_numpy(),
        )
    )
    out.append(
        Query(
            "AWS/ApplicationELB",
            "TargetResponseTime",
            lb,
            "p99",
            60,
            "Seconds",
            "ALB TargetResponseTime p99",
            t,
            sw["p99"].to_numpy(),
        )
    )
    f5 = sw.filter(pl.col("f") > 0)  # the ALB publishes 5XX counts only for minutes that had some
    out.append(
        Query(
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            lb,
            "Sum",
            60,
            "Count",
            "ALB HTTPCode_Target_5XX_Count",
            f5["t"].to_numpy(),
            f5["f"].to_numpy(),
        )
    )
    ddb = req.filter(pl.col("ddb_ms").is_not_null())
    for op in ("GetItem", "PutItem", "UpdateItem"):
        g = (
            ddb.filter(pl.col("ddb_op") == op)
            .group_by("t")
            .agg(lat=pl.col("ddb_ms").mean().round(3), thr=pl.col("throttled").sum().cast(pl.Float64))
            .sort("t")
        )
        dims = (("Operation", op), ("TableName", TABLE))
        out.append(
            Query(
                "AWS/DynamoDB",
                "SuccessfulRequestLatency",
                dims,
                "Average",
                60,
                "Milliseconds",
                f"DynamoDB {TABLE} {op} SuccessfulRequestLatency",
                g["t"].to_numpy(),
                g["lat"].to_numpy(),
            )
        )
        th = g.filter(pl.col("thr") > 0)
        out.append(
            Query(
                "AWS/DynamoDB",
                "ThrottledRequests",
                dims,
                "Sum",
                60,
                "Count",
                f"DynamoDB {TABLE} {op} ThrottledRequests",
                th["t"].to_numpy(),
                th["thr"].to_numpy(),
            )
        )
    tk = (
        sim.tickets.with_columns(ts_ms=pl.col("created_ms"))
        .pipe(_bucket, 60)
        .group_by("t")
        .agg(n=pl.len().cast(pl.Float64), good=pl.col("within_5m").sum().cast(pl.Float64))
        .sort("t")
    )
    env = (("Environment", ENVIRONMENT),)
    out.append(
        Query(
            "SupportDesk",
            "TicketsCreated",
            env,
            "Sum",
            60,
            "Count",
            "SupportDesk TicketsCreated",
            tk["t"].to_numpy(),
            tk["n"].to_numpy(),
        )
    )
    out.append(
        Query(
            "SupportDesk",
            "FirstResponseWithin5m",
            env,
            "Sum",
            60,
            "Count",
            "SupportDesk FirstResponseWithin5m",
            tk["t"].to_numpy(),
            tk["good"].to_numpy(),
        )
    )
    return out


def build_queries(sim: Simulation, story: Story, rng: np.random.Generator, scale: float) -> list[list[Query]]:
    """The demo's GetMetricData requests: per-operation and infrastructure at 60 s, per-service at 300 s."""
    req = sim.requests
    minute = _latency_queries(req, ["service", "operation"], 60) + _infra_queries(sim, story, rng, scale)
    service = _latency_queries(req, ["service"], 300)
    requests: list[list[Query]] = []
    n = 0
    for group in (minute, service):
        for i in range(0, len(group), MAX_QUERIES):
            chunk = group[i : i + MAX_QUERIES]
            for q in chunk:
                n += 1
                q.id = f"m{n:04d}"
            requests.append(chunk)
    return requests


def _iso(ts: np.ndarray) -> list[str]:
    return pl.Series(ts).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_list()


def write_metrics(out: Path, requests: list[list[Query]], story: Story) -> list[Path]:
    """Write each request beside its response pages (at most ``MAX_DATAPOINTS`` datapoints a page)."""
    folder = out / "metrics"
    written: list[Path] = []
    for r, queries in enumerate(requests, start=1):
        stem = f"get-metric-data-{r:04d}"
        written.append(
            write_json(
                folder / f"{stem}.queries.json",
                {
                    "MetricDataQueries": [q.request() for q in queries],
                    "StartTime": f"{_iso(np.array([story.start_ms]))[0]}",
                    "EndTime": f"{_iso(np.array([story.end_ms]))[0]}",
                    "ScanBy": "TimestampAscending",
                },
            )
        )
        pages: list[list[dict[str, object]]] = [[]]
        room = MAX_DATAPOINTS
        for q in queries:
            pos = 0
            while True:
                take = min(room, q.ts.size - pos)
                last = pos + take >= q.ts.size
                if take > 0 or (last and pos == 0):
                    pages[-1].append(
                        {
                            "Id": q.id,
                            "Label": q.label,
                            "Timestamps": _iso(q.ts[pos : pos + take]),
                            "Values": [float(v) for v in q.values[pos : pos + take]],
                            "StatusCode": "Complete" if last else "PartialData",
                        }
                    )
                pos += take
                room -= take
                if last:
                    break
                pages.append([])
                room = MAX_DATAPOINTS
        for p, results in enumerate(pages, start=1):
            doc: dict[str, object] = {"MetricDataResults": results, "Messages": []}
            if p < len(pages):
                doc["NextToken"] = f"{stem}-page{p + 1:02d}"
            name = f"{stem}.json.gz" if len(pages) == 1 else f"{stem}-page{p:02d}.json.gz"
            written.append(write_json(folder / name, doc))
        logger.debug("%s: %d queries, %d page(s)", stem, len(queries), len(pages))
    return written
