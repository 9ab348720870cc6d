"""Series for capacity planning, pulled out of a snapshot's canonical frames.

- :func:`demand_series`: a rate to forecast (ELB ``RequestCount`` by default), summed per bucket;
- :func:`ticket_arrivals`: the support queue's arrivals (``SupportDesk`` ``TicketsCreated``) per bucket;
- :func:`load_latency`: load per instance (requests/s) against an operation's latency (mean, p50, p99),
  the input of the saturation fit, with incident windows excluded;
- :func:`instances_from_logs`: the instance count of an ECS service, counted as distinct awslogs streams
  (one stream per task) per hour, for accounts without a task-count metric;
- :func:`burst_factor`: how far the busiest minute of an hour exceeds that hour's mean rate.

Every function takes a :data:`~slo_analysis.analysis.slo_status.FrameSource` (a snapshot, or a mapping of
frames) and returns polars frames with ``timestamp`` as ``Datetime("ms", "UTC")`` (bucket starts).

Examples
--------
>>> import slo_analysis as sa
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> demand_series(snap).columns
['timestamp', 'value']
>>> instances_from_logs(snap, "/ecs/prod/ticket-api")
3
>>> ll = load_latency(snap, instances=3)
>>> ll.columns[:4]
['timestamp', 'requests', 'load_rps', 'load_per_instance']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import polars as pl

from slo_analysis.analysis.capacity.errors import CapacityError
from slo_analysis.analysis.slo_status import FrameSource
from slo_analysis.frames import UTC_MS

__all__ = [
    "Window",
    "metric_series",
    "demand_series",
    "ticket_arrivals",
    "load_latency",
    "instances_from_logs",
    "burst_factor",
    "drop_windows",
    "every_seconds",
]

log = logging.getLogger(__name__)

Window = tuple[datetime, datetime]
"""A half-open ``[start, end)`` window."""


def _frame(frames: FrameSource, name: str) -> pl.LazyFrame:
    if isinstance(frames, dict):
        if name not in frames:
            raise CapacityError(f"no {name!r} frame among {sorted(frames)}")
        return frames[name].lazy()
    return frames.scan(name)  # type: ignore[union-attr]


def every_seconds(every: str) -> int:
    """Seconds in a polars duration string such as ``"5m"`` or ``"1h"``.

    >>> every_seconds("5m"), every_seconds("1h"), every_seconds("1d")
    (300, 3600, 86400)
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return int(every[:-1]) * units[every[-1]]
    except (KeyError, ValueError):
        raise CapacityError(f"bucket {every!r}: expected <int><s|m|h|d>, e.g. '5m' or '1h'") from None


def _dims_have(pairs: Sequence[str]) -> pl.Expr:
    parts = pl.col("dimensions").str.split(",")
    expr = pl.lit(True)
    for p in pairs:
        expr = expr & parts.list.contains(p)
    return expr


def drop_windows(df: pl.DataFrame, exclude: Sequence[Window], *, column: str = "timestamp") -> pl.DataFrame:
    """Rows of ``df`` whose ``column`` lies in none of the half-open windows of ``exclude``."""
    keep = pl.lit(True)
    for a, b in exclude:
        keep = keep & ~((pl.col(column) >= pl.lit(a).cast(UTC_MS)) & (pl.col(column) < pl.lit(b).cast(UTC_MS)))
    return df.filter(keep)


def metric_series(frames: FrameSource, namespace: str, metric: str, *, stat: str = "Sum",
                  dimensions: Sequence[str] = (), every: str = "1h", agg: str = "sum") -> pl.DataFrame:
    """One metric, all series matching every ``k=v`` in ``dimensions``, aggregated per ``every`` bucket.

    Returns ``timestamp`` (bucket start), ``value`` sorted by time; ``agg`` is ``"sum"`` or ``"mean"``.
    Raises :class:`CapacityError` naming the metric when no datapoint matches.
    """
    lf = _frame(frames, "metrics").filter(
        (pl.col("namespace") == namespace) & (pl.col("metric") == metric) & (pl.col("stat") == stat)
        & _dims_have(dimensions)
    )
    value = pl.col("value").sum() if agg == "sum" else pl.col("value").mean()
    out = (lf.select("timestamp", "value").sort("timestamp")
           .group_by_dynamic("timestamp", every=every).agg(value.alias("value")).collect())
    if out.is_empty():
        raise CapacityError(f"metrics frame: no {namespace} {metric} ({stat}) datapoints with dimensions "
                            f"{list(dimensions)}")
    return out.with_columns(pl.col("value").cast(pl.Float64))


def demand_series(frames: FrameSource, *, namespace: str = "AWS/ApplicationELB", metric: str = "RequestCount",
                  dimensions: Sequence[str] = (), every: str = "1h") -> pl.DataFrame:
    """Requests per ``every`` bucket (default: the load balancers' ``RequestCount``, summed).

    Buckets with no datapoint inside the observed span are filled with 0 only if the metric is a count
    that CloudWatch omits when zero; here they are left out, and the forecaster fills gaps by interpolation.
    """
    return metric_series(frames, namespace, metric, stat="Sum", dimensions=dimensions, every=every)


def ticket_arrivals(frames: FrameSource, *, every: str = "1h", environment: str = "prod") -> pl.DataFrame:
    """Support tickets created per ``every`` bucket (``SupportDesk`` ``TicketsCreated``): ``timestamp, value``."""
    return metric_series(frames, "SupportDesk", "TicketsCreated", dimensions=[f"Environment={environment}"],
                         every=every)


def load_latency(frames: FrameSource, *, instances: int, service: str = "ticket-api",
                 operation: str = "CreateTicket", environment: str = "prod", every: str = "5m",
                 exclude: Sequence[Window] = ()) -> pl.DataFrame:
    """Load per instance against latency, per ``every`` bucket, from Application Signals metrics.

    Load is the service's request count over all its operations (``Latency`` ``SampleCount`` of each
    ``Environment, Service, Operation`` series), as requests per second, divided by ``instances``: every
    instance serves every operation. Latency is that of ``operation``: the bucket's ``Average``, ``p50``
    and ``p99`` are the per-minute values averaged with the minute's sample count as weight (a percentile
    of a bucket cannot be rebuilt from per-minute percentiles; the weighted mean is close when minutes are
    alike, and documented as an approximation). Buckets inside ``exclude`` (incident windows: a slow
    dependency is not saturation) are dropped. ECS ``CPUUtilization`` of the service is joined when present.

    Returns ``timestamp, requests, load_rps, load_per_instance, latency_avg_ms, latency_p50_ms,
    latency_p99_ms, cpu_pct`` (``cpu_pct`` null without the metric), sorted by time.
    """
    if instances < 1:
        raise CapacityError(f"instances={instances}: need at least one instance")
    seconds = every_seconds(every)
    base = _frame(frames, "metrics").filter(
        (pl.col("namespace") == "ApplicationSignals") & (pl.col("metric") == "Latency")
        & _dims_have([f"Environment={environment}", f"Service={service}"])
        & pl.col("dimensions").str.contains("Operation=", literal=True)
    ).select("timestamp", "dimensions", "stat", "value").collect()
    if base.is_empty():
        raise CapacityError(f"metrics frame: no ApplicationSignals Latency for Service={service}, "
                            f"Environment={environment}")
    load = (base.filter(pl.col("stat") == "SampleCount").sort("timestamp")
            .group_by_dynamic("timestamp", every=every).agg(pl.col("value").sum().alias("requests")))
    op = base.filter(pl.col("dimensions").str.split(",").list.contains(f"Operation={operation}"))
    if op.is_empty():
        raise CapacityError(f"metrics frame: no Latency for Operation={operation} of Service={service}")
    wide = op.pivot(on="stat", index="timestamp", values="value", aggregate_function="mean")
    for s in ("SampleCount", "Average", "p50", "p99"):
        if s not in wide.columns:
            raise CapacityError(f"metrics frame: Latency of {service} {operation} lacks the {s!r} statistic")
    w = pl.col("SampleCount")

    def wmean(c: str) -> pl.Expr:
        return ((pl.col(c) * w).sum() / w.filter(pl.col(c).is_not_null()).sum()).alias(c)

    lat = (wide.sort("timestamp").group_by_dynamic("timestamp", every=every)
           .agg(wmean("Average"), wmean("p50"), wmean("p99"))
           .rename({"Average": "latency_avg_ms", "p50": "latency_p50_ms", "p99": "latency_p99_ms"}))
    out = load.join(lat, on="timestamp", how="inner").with_columns(
        (pl.col("requests") / seconds).alias("load_rps"),
        (pl.col("requests") / seconds / instances).alias("load_per_instance"),
    )
    cpu = (_frame(frames, "metrics").filter(
        (pl.col("namespace") == "AWS/ECS") & (pl.col("metric") == "CPUUtilization")
        & _dims_have([f"ServiceName={service}"])).select("timestamp", "value").sort("timestamp")
        .group_by_dynamic("timestamp", every=every).agg(pl.col("value").mean().alias("cpu_pct")).collect())
    out = out.join(cpu, on="timestamp", how="left") if not cpu.is_empty() else out.with_columns(
        pl.lit(None, pl.Float64).alias("cpu_pct"))
    out = drop_windows(out, exclude).drop_nulls(["latency_avg_ms", "latency_p50_ms", "latency_p99_ms"])
    cols = ["timestamp", "requests", "load_rps", "load_per_instance", "latency_avg_ms", "latency_p50_ms",
            "latency_p99_ms", "cpu_pct"]
    return out.select(cols).filter(pl.col("requests") > 0).sort("timestamp")


def instances_from_logs(frames: FrameSource, log_group: str, *, every: str = "1h") -> int:
    """Typical instance count of an ECS service: the median over ``every`` buckets of distinct log streams.

    The awslogs driver writes one stream per task, so the distinct streams writing in an hour count the
    tasks running then (tasks replaced within the hour count twice: the median keeps that from mattering).
    Raises :class:`CapacityError` naming the log group when it has no events.
    """
    per = (_frame(frames, "logs").filter(pl.col("log_group") == log_group).select("timestamp", "log_stream")
           .sort("timestamp").group_by_dynamic("timestamp", every=every)
           .agg(pl.col("log_stream").n_unique().alias("n")).collect())
    if per.is_empty():
        raise CapacityError(f"logs frame: no events in log group {log_group!r}")
    median = per["n"].cast(pl.Float64).median()
    return max(1, round(float(median))) if isinstance(median, float) else 1


def burst_factor(series: pl.DataFrame, *, every: str = "1h", quantile: float = 0.95) -> float:
    """The ``quantile`` over buckets of (busiest row's value / the bucket's mean value).

    ``series`` is a fine-grained ``timestamp, value`` frame (say 1-minute counts); a forecast of hourly
    totals times this factor gives the busiest minute's rate, the one a latency SLO feels.

    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> ts = pl.datetime_range(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, 59, tzinfo=UTC), "1m",
    ...                        eager=True, time_unit="ms")
    >>> round(burst_factor(pl.DataFrame({"timestamp": ts, "value": [1.0] * 59 + [2.0] + [1.0] * 60})), 2)
    1.92
    """
    per = (series.sort("timestamp").group_by_dynamic("timestamp", every=every)
           .agg((pl.col("value").max() / pl.col("value").mean()).alias("ratio")).drop_nulls())
    if per.is_empty():
        raise CapacityError("burst_factor: the series has no rows")
    return float(per["ratio"].quantile(quantile, interpolation="linear") or 1.0)
