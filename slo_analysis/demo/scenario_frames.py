"""Canonical frames of a simulated scenario: requests, spans, metrics, deployments and the SLO.

Everything is derived from :class:`slo_analysis.demo.scenario_traffic.Traffic`, so requests, traces
and metrics agree. Dimension conventions are the demo's (ApplicationSignals ``Environment``,
``Service``, ``Operation``; ``AWS/ECS`` ``ClusterName``, ``ServiceName``; ``AWS/DynamoDB``
``Operation``, ``TableName``; ``AWS/ApplicationELB`` ``LoadBalancer``). The SLO row is built the way
the Application Signals source imports a ``GetServiceLevelObjective`` document.

Examples
--------
>>> slo_name("support-web", "GET /tickets/{id}", "latency")
'support-web-GET-tickets-id-Latency'
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl

from slo_analysis import frames
from slo_analysis.demo.ids import hex_strings
from slo_analysis.demo.scenario_plan import Plan
from slo_analysis.demo.scenario_spec import Scenario
from slo_analysis.demo.scenario_traffic import Traffic
from slo_analysis.demo.story import ACCOUNT, CLUSTER, ENVIRONMENT, LOAD_BALANCER, MINUTE_MS, REGION, TABLE, iso_s
from slo_analysis.demo.traces_writer import QUERY_V231, QUERY_V240
from slo_analysis.sources.application_signals import slos_from_application_signals

__all__ = ["THRESHOLDS_MS", "slo_name", "slo_kind", "hops", "requests_frame", "spans_frame", "metrics_frame",
           "deployments_frame", "slos_frame"]

#: latency SLO thresholds per operation (ms): well above normal p99, well below a fault's
THRESHOLDS_MS: dict[str, float] = {
    "CreateTicket": 800.0, "GetTicket": 300.0, "ReplyToTicket": 500.0, "SearchArticles": 400.0,
    "GET /tickets/{id}": 400.0, "POST /tickets": 900.0, "POST /tickets/{id}/replies": 600.0, "GET /kb/search": 450.0,
    "AssignAgent": 600.0,
}
_PATHS = {"POST /tickets": "/tickets", "GET /tickets/{id}": "/tickets/T-{}", "POST /tickets/{id}/replies":
          "/tickets/T-{}/replies", "GET /kb/search": "/kb/search?q=reset+password"}
_TS = pl.Datetime("ms", "UTC")


def slo_kind(s: Scenario) -> str:
    """``availability`` when the scenario's symptom is errors, else ``latency``."""
    return "availability" if s.fault == "errors" else "latency"


def slo_name(service: str, operation: str, kind: str) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "-", operation if service in ("ticket-api", "kb-search") else
                  f"{service} {operation}").strip("-")
    return f"{base}-{'Availability' if kind == 'availability' else 'Latency'}"


def _attrs(*pairs: tuple[str, pl.Expr]) -> pl.Expr:
    """A ``{key, value}`` list per row (``concat_arr``: ``concat_list`` of structs is slow in polars 2.x)."""
    return (pl.concat_arr([pl.struct(key=pl.lit(k, dtype=pl.String), value=v.cast(pl.String)) for k, v in pairs])
            .arr.to_list().cast(frames.KEY_VALUES))


def hops(t: Traffic) -> pl.DataFrame:
    """One row per served request at one service (internal: with task, ticket and hop kind)."""
    fd = t.fd
    common = ["trace_id", "tier", "az", "route", "ticket_id", "rid"]
    sw = fd.select(pl.col("ts_ms"), *common, service=pl.lit("support-web"), operation=pl.col("route"),
                   latency_ms=pl.col("sw_lat"), status=pl.col("sw_status"), request_id=pl.col("sw_rid"),
                   task_id=pl.col("sw_task"), version=pl.col("sw_ver"), kind=pl.col("sw_kind"))
    ds = fd.filter(pl.col("ds_called")).select(
        pl.col("ts_ms") + 2, *common, service=pl.col("ds_service"), operation=pl.col("operation"),
        latency_ms=pl.col("ds_lat"), status=pl.col("ds_status"), request_id=pl.col("ds_rid"),
        task_id=pl.col("ds_task"), version=pl.col("ds_ver"), kind=pl.col("ds_kind"))
    rt = fd.filter(pl.col("calls_routing")).select(
        ts_ms=pl.col("rt_ts"), service=pl.lit("routing-service"), operation=pl.lit("AssignAgent"),
        latency_ms=pl.col("rt_lat"), status=pl.col("rt_status"), request_id=pl.col("rt_rid"), task_id=pl.col("rt_task"),
        version=pl.col("rt_ver"), kind=pl.col("rt_kind"), trace_id=pl.col("trace_id"), tier=pl.col("tier"),
        az=pl.col("az"), route=pl.lit("POST /assignments"), ticket_id=pl.col("ticket_id"), rid=pl.col("rid"))
    nw = t.notify.select(
        "ts_ms", service=pl.lit("notify-worker"), operation=pl.lit("SendNotification"), latency_ms="latency_ms",
        status="status", request_id="request_id", task_id="task_id", version="version", kind=pl.lit(""),
        trace_id=pl.lit(None, pl.String), tier="tier", az="az", route=pl.lit("sqs://notifications"),
        ticket_id="ticket_id", rid=pl.lit(-1, pl.Int64))
    return (pl.concat([sw, ds, rt, nw], how="diagonal_relaxed")
            .with_columns(pl.col("latency_ms").round(1), pl.col("status").cast(pl.Int32))
            .sort(["ts_ms", "service", "rid"], maintain_order=True))


def requests_frame(h: pl.DataFrame, end_ms: int) -> pl.DataFrame:
    out = h.filter(pl.col("ts_ms") < end_ms).select(
        timestamp=pl.col("ts_ms").cast(_TS), service="service", operation="operation", status_code="status",
        latency_ms="latency_ms", fault=pl.col("status") >= 500,
        error=(pl.col("status") >= 400) & (pl.col("status") < 500),
        request_id="request_id", trace_id="trace_id",
        attributes=_attrs(("customer_tier", pl.col("tier")), ("region", pl.lit(REGION)), ("az", pl.col("az")),
                          ("version", pl.col("version")), ("route", pl.col("route"))))
    return frames.validate(out, "requests")


def _sample(fd: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Traces kept: faulted ones (at most 1500), the slowest per route, and a ~2 % sample."""
    faulted = fd.filter(pl.col("sw_status") >= 500)
    if faulted.height > 1500:
        faulted = faulted.gather(np.sort(rng.choice(faulted.height, 1500, replace=False)))
    slowest = fd.sort(["sw_lat", "rid"], descending=True).group_by("route", maintain_order=True).head(40)
    pick = fd.filter(pl.Series(rng.random(fd.height) < min(1.0, 1500 / max(1, fd.height))))
    keep = pl.concat([faulted["rid"], slowest["rid"], pick["rid"]]).unique()
    return fd.filter(pl.col("rid").is_in(keep.implode())).sort("rid")


_CAUSES = {
    ("support-web", "error"): "TypeError: Cannot read properties of undefined (reading 'slaPolicy')",
    ("ticket-api", "error"): "java.lang.IllegalStateException: attachment list is immutable",
    ("kb-search", "error"): "java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 3",
    ("routing-service", "error"): "java.lang.NullPointerException: Cannot invoke \"Agent.skills()\" on null",
}


def _cause(service: str | pl.Expr, kind: pl.Expr) -> pl.Expr:
    expr: Any = pl.when(kind == "pool").then(pl.lit("SQLTransientConnectionException: connection is not available, "
                                               "request timed out after 2000 ms"))
    expr = expr.when(kind == "shed").then(pl.lit("RejectedExecutionException: load shedding, queue full"))
    expr = expr.when(kind == "timeout").then(pl.lit("SocketTimeoutException: Read timed out"))
    for (svc, _k), text in _CAUSES.items():
        cond = (service == svc) if isinstance(service, pl.Expr) else pl.lit(service == svc)
        expr = expr.when(cond & (kind == "error")).then(pl.lit(text))
    return expr.otherwise(pl.lit(None, pl.String))


def spans_frame(t: Traffic, s: Scenario, plan: Plan, rng: np.random.Generator) -> pl.DataFrame:  # noqa: PLR0915
    """Sampled X-Ray traces: segments per service and subsegments for every downstream call."""
    x = _sample(t.fd, rng)
    n = x.height
    ids = {k: hex_strings(rng, n, 8) for k in ("sw", "call", "ds", "dep", "rcall", "rt", "sql", "rdb")}
    x = x.with_columns(**{f"id_{k}": v for k, v in ids.items()})
    cul = next(iter(plan.of_role("culprit")), None)
    v240 = cul.version_to if cul is not None and cul.service == "routing-service" else "-"
    path = pl.col("route").replace_strict(_PATHS).str.replace("{}", pl.col("rid").cast(pl.String), literal=True)

    def span(df: pl.DataFrame, **cols: Any) -> pl.DataFrame:
        base: dict[str, Any] = {"parent_id": None, "origin": None, "namespace": None, "http_method": None,
                                "http_url": None, "http_status": None, "throttle": False, "aws_operation": None,
                                "sql_query": None, "cause": None, "annotations": pl.lit([], frames.KEY_VALUES)}
        base.update(cols)
        exprs = {k: (v if isinstance(v, pl.Expr) else pl.lit(v)) for k, v in base.items()}
        st, du = exprs.pop("start_ms"), exprs.pop("dur")
        status = exprs["http_status"].cast(pl.Int32)
        exprs.setdefault("fault", status >= 500)
        exprs.setdefault("error", (status >= 400) & (status < 500))
        return df.select(trace_id="trace_id", **exprs, start=st.cast(pl.Int64).cast(_TS),
                         end=(st + du).round(0).cast(pl.Int64).cast(_TS), duration_ms=du.round(1),
                         in_progress=pl.lit(False)).with_columns(
            pl.col("http_status").cast(pl.Int32), pl.col("fault").fill_null(False), pl.col("error").fill_null(False))

    method = pl.col("route").str.split(" ").list.first()
    ts = pl.col("ts_ms")
    ds_called = x.filter(pl.col("ds_called"))
    parts = [
        span(x, span_id=pl.col("id_sw"), service="support-web", name="support-web", kind="segment",
             origin="AWS::ECS::Container", start_ms=ts, dur=pl.col("sw_lat"), http_method=method,
             http_url=pl.lit("https://support.example.com") + path, http_status=pl.col("sw_status"),
             cause=_cause("support-web", pl.col("sw_kind")),
             annotations=_attrs(("customer_tier", pl.col("tier")), ("version", pl.col("sw_ver")))),
        span(ds_called, span_id=pl.col("id_call"), parent_id=pl.col("id_sw"), service="support-web",
             name=pl.col("ds_service"), kind="subsegment", namespace="remote", start_ms=ts + 1,
             dur=pl.col("ds_lat") + 1, http_method=method, http_status=pl.col("ds_status"),
             http_url=pl.lit("http://") + pl.col("ds_service") + pl.lit(".prod.local:8080") + path),
        span(ds_called, span_id=pl.col("id_ds"), parent_id=pl.col("id_call"), service=pl.col("ds_service"),
             name=pl.col("ds_service"), kind="segment", origin="AWS::ECS::Container", start_ms=ts + 2,
             dur=pl.col("ds_lat"), http_method=method, http_status=pl.col("ds_status"),
             http_url=pl.lit("http://") + pl.col("ds_service") + pl.lit(".prod.local:8080") + path,
             cause=_cause(pl.col("ds_service"), pl.col("ds_kind")),
             annotations=_attrs(("operation", pl.col("operation")), ("version", pl.col("ds_ver")))),
    ]
    ddb = x.filter(pl.col("ddb_called"))
    parts.append(span(ddb, span_id=pl.col("id_dep"), parent_id=pl.col("id_ds"), service="ticket-api", name="DynamoDB",
                      kind="subsegment", namespace="aws", start_ms=ts + 2 + pl.col("ds_own") * 0.5,
                      dur=pl.col("ddb_ms"), http_status=pl.when(pl.col("ddb_exh")).then(400).otherwise(200),
                      throttle=pl.col("ddb_thr") > 0, aws_operation=pl.col("ddb_op"),
                      cause=pl.when(pl.col("ddb_exh")).then(pl.lit(
                          "ProvisionedThroughputExceededException: The level of configured provisioned throughput "
                          f"for the table was exceeded (table {TABLE})"))))
    osr = x.filter(pl.col("os_called"))
    parts.append(span(osr, span_id=pl.col("id_dep"), parent_id=pl.col("id_ds"), service="kb-search",
                      name="kb-opensearch", kind="subsegment", namespace="remote",
                      start_ms=ts + 2 + pl.col("ds_own") * 0.5, dur=pl.col("os_ms"), http_method="POST",
                      http_url="https://kb-opensearch.prod.local/articles/_search",
                      http_status=pl.when(pl.col("os_timeout")).then(None).otherwise(200), fault=pl.col("os_timeout"),
                      cause=pl.when(pl.col("os_timeout")).then(pl.lit("SocketTimeoutException: timeout calling "
                                                                      "kb-opensearch after 2000 ms"))))
    rt = x.filter(pl.col("calls_routing"))
    rt_start = pl.col("rt_ts")
    parts += [
        span(rt, span_id=pl.col("id_rcall"), parent_id=pl.col("id_ds"), service="ticket-api", name="routing-service",
             kind="subsegment", namespace="remote", start_ms=rt_start - 1, dur=pl.col("rt_lat") + 2,
             http_method="POST", http_url="http://routing-service.prod.local:8080/assignments",
             http_status=pl.col("rt_status")),
        span(rt, span_id=pl.col("id_rt"), parent_id=pl.col("id_rcall"), service="routing-service",
             name="routing-service", kind="segment", origin="AWS::ECS::Container", start_ms=rt_start,
             dur=pl.col("rt_lat"), http_method="POST", http_url="http://routing-service.prod.local:8080/assignments",
             http_status=pl.col("rt_status"), cause=_cause("routing-service", pl.col("rt_kind")),
             annotations=_attrs(("operation", pl.lit("AssignAgent")), ("ticket_id", pl.col("ticket_id")),
                                ("version", pl.col("rt_ver")))),
    ]
    sql = rt.filter(~pl.col("rt_kind").is_in(["error", "pool"]))
    parts.append(span(sql, span_id=pl.col("id_sql"), parent_id=pl.col("id_rt"), service="routing-service",
                      name="agent_skills@aurora-prod", kind="subsegment", namespace="remote",
                      start_ms=rt_start + 5, dur=pl.col("sql_ms"), fault=pl.col("sql_timeout"),
                      sql_query=pl.when(pl.col("rt_ver") == v240).then(pl.lit(QUERY_V240))
                      .otherwise(pl.lit(QUERY_V231)),
                      cause=pl.when(pl.col("sql_timeout")).then(pl.lit(
                          "org.postgresql.util.PSQLException: ERROR: canceling statement due to statement timeout"))))
    rdb = x.filter(pl.col("rdb_called"))
    parts.append(span(rdb, span_id=pl.col("id_rdb"), parent_id=pl.col("id_rt"), service="routing-service",
                      name="DynamoDB", kind="subsegment", namespace="aws", start_ms=rt_start + 5 + pl.col("sql_ms"),
                      dur=pl.col("rdb_ms"), http_status=pl.when(pl.col("rdb_exh")).then(400).otherwise(200),
                      throttle=pl.col("rdb_thr") > 0, aws_operation="UpdateItem"))
    out = pl.concat([p.select(frames.schema("spans").columns.keys()) for p in parts], how="vertical_relaxed")
    out = out.filter(pl.col("start") < pl.lit(plan.end_ms).cast(_TS)).sort(["start", "trace_id", "span_id"])
    return frames.conform(out, "spans")


def _metric(df: pl.DataFrame, namespace: str, metric: str, dims: pl.Expr, stat: str, unit: str | None,
            value: pl.Expr, period_s: int = 60) -> pl.DataFrame:
    return df.select(timestamp=pl.col("t").cast(_TS), namespace=pl.lit(namespace), metric=pl.lit(metric),
                     dimensions=dims, stat=pl.lit(stat), period_s=pl.lit(period_s, pl.Int64),
                     unit=pl.lit(unit, pl.String), value=value.cast(pl.Float64))


def _quantiles(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per group: linear p50/p90/p99 of latency (from one sort, in numpy), mean, count, faults, errors."""
    codes = [pl.col(k).cast(pl.Categorical).to_physical().alias(f"_{k}") if df.schema[k] == pl.String else
             pl.col(k).alias(f"_{k}") for k in keys]  # sorting integer codes is much cheaper than strings
    d = df.select(*keys, *codes, "latency_ms", "status").sort([*(f"_{k}" for k in keys), "latency_ms"])
    agg = d.group_by(keys, maintain_order=True).agg(
        Average=pl.col("latency_ms").mean(), SampleCount=pl.len(), Fault=(pl.col("status") >= 500).sum(),
        Error=((pl.col("status") >= 400) & (pl.col("status") < 500)).sum())
    x = d["latency_ms"].to_numpy()
    n = agg["SampleCount"].to_numpy().astype(np.int64)
    off = np.concatenate([[0], np.cumsum(n)[:-1]])
    cols = {}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        pos = q * (n - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        cols[name] = x[off + lo] + (pos - lo) * (x[off + hi] - x[off + lo])
    return agg.with_columns(**cols)


def metrics_frame(h: pl.DataFrame, t: Traffic, plan: Plan) -> pl.DataFrame:
    """ApplicationSignals (60 s per operation, 300 s per service), ECS, DynamoDB and ALB datapoints."""
    h = h.filter(pl.col("ts_ms") < plan.end_ms)
    out = []
    for keys, period in ((["service", "operation"], 60), (["service"], 300)):
        agg = _quantiles(h.with_columns(t=(pl.col("ts_ms") // (period * 1000)) * (period * 1000)), [*keys, "t"])
        dims = pl.format("Environment={},Service={}", pl.lit(ENVIRONMENT), pl.col("service"))
        if len(keys) == 2:
            dims = pl.format("Environment={},Operation={},Service={}", pl.lit(ENVIRONMENT), pl.col("operation"),
                             pl.col("service"))
        for stat in ("p50", "p90", "p99", "Average", "SampleCount"):
            unit = None if stat == "SampleCount" else "Milliseconds"
            out.append(_metric(agg, "ApplicationSignals", "Latency", dims, stat, unit, pl.col(stat).round(3), period))
        for name in ("Fault", "Error"):
            out.append(_metric(agg, "ApplicationSignals", name, dims, "Sum", None, pl.col(name), period))
    load = t.load.rename({"minute_ms": "t"})
    ecs = pl.format("ClusterName={},ServiceName={}", pl.lit(CLUSTER), pl.col("service"))
    out.append(_metric(load, "AWS/ECS", "CPUUtilization", ecs, "Average", "Percent", pl.col("cpu")))
    out.append(_metric(load, "AWS/ECS", "MemoryUtilization", ecs, "Average", "Percent", pl.col("memory")))
    fd = t.fd
    calls = pl.concat([
        fd.filter(pl.col("ddb_called")).select(t=pl.col("ts_ms"), op="ddb_op", ms="ddb_ms", thr="ddb_thr"),
        fd.filter(pl.col("rdb_called")).select(t=pl.col("rt_ts"), op=pl.lit("UpdateItem"), ms="rdb_ms", thr="rdb_thr"),
    ]).filter(pl.col("t") < plan.end_ms).with_columns(t=(pl.col("t") // MINUTE_MS) * MINUTE_MS)
    dd = calls.group_by("op", "t", maintain_order=True).agg(lat=pl.col("ms").mean().round(3), thr=pl.col("thr").sum())
    ddims = pl.format("Operation={},TableName={}", pl.col("op"), pl.lit(TABLE))
    out.append(_metric(dd, "AWS/DynamoDB", "SuccessfulRequestLatency", ddims, "Average", "Milliseconds", pl.col("lat")))
    out.append(_metric(dd.filter(pl.col("thr") > 0), "AWS/DynamoDB", "ThrottledRequests", ddims, "Sum", "Count",
                       pl.col("thr")))
    sw = (h.filter(pl.col("service") == "support-web").with_columns(t=(pl.col("ts_ms") // MINUTE_MS) * MINUTE_MS)
          .group_by("t", maintain_order=True).agg(n=pl.len(), avg=(pl.col("latency_ms").mean() / 1000).round(4),
                             p99=(pl.col("latency_ms").quantile(0.99, "linear") / 1000).round(4),
                             f=(pl.col("status") >= 500).sum()))
    lb = pl.lit(f"LoadBalancer={LOAD_BALANCER}")
    out.append(_metric(sw, "AWS/ApplicationELB", "RequestCount", lb, "Sum", "Count", pl.col("n")))
    out.append(_metric(sw, "AWS/ApplicationELB", "TargetResponseTime", lb, "Average", "Seconds", pl.col("avg")))
    out.append(_metric(sw, "AWS/ApplicationELB", "TargetResponseTime", lb, "p99", "Seconds", pl.col("p99")))
    out.append(_metric(sw.filter(pl.col("f") > 0), "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, "Sum",
                       "Count", pl.col("f")))
    return frames.validate(pl.concat(out), "metrics")


def deployments_frame(plan: Plan) -> pl.DataFrame:
    rows = [{"id": d.id, "service": d.service, "started_at": d.started_ms, "finished_at": d.finished_ms,
             "status": "succeeded", "version_from": d.version_from, "version_to": d.version_to, "source": d.source,
             "actor": d.actor, "description": d.description} for d in plan.deploys]
    df = pl.DataFrame(rows, schema={**frames.schema("deployments").columns, "started_at": pl.Int64,
                                    "finished_at": pl.Int64})
    return frames.conform(df.with_columns(pl.col("started_at", "finished_at").cast(_TS)), "deployments")


def _query(qid: str, metric: str, op: str, service: str, stat: str, unit: str | None = None) -> dict[str, Any]:
    dims = [{"Name": "Environment", "Value": ENVIRONMENT}, {"Name": "Service", "Value": service},
            {"Name": "Operation", "Value": op}]
    ms: dict[str, Any] = {"Metric": {"Namespace": "ApplicationSignals", "MetricName": metric, "Dimensions": dims},
                          "Period": 60, "Stat": stat}
    if unit:
        ms["Unit"] = unit
    return {"Id": qid, "MetricStat": ms, "ReturnData": True}


def slos_frame(s: Scenario, plan: Plan) -> pl.DataFrame:
    """The scenario's one SLO as an Application Signals ``Slo`` imported into the ``slos`` frame."""
    kind = slo_kind(s)
    svc, op = s.slo_service, s.slo_operation
    name = slo_name(svc, op, kind)
    created = iso_s(plan.start_ms - 40 * 86_400_000)
    key = {"Type": "Service", "Name": svc, "Environment": ENVIRONMENT}
    slo: dict[str, Any] = {
        "Arn": f"arn:aws:application-signals:{REGION}:{ACCOUNT}:slo/{name}", "Name": name,
        "CreatedTime": created, "LastUpdatedTime": created,
        "BurnRateConfigurations": [{"LookBackWindowMinutes": 5}, {"LookBackWindowMinutes": 60}],
    }
    threshold = THRESHOLDS_MS[op]
    if kind == "availability":
        goal = 99.5 if svc == "kb-search" else 99.9
        slo["Description"] = f"{goal} % of {op} requests succeed (no 5xx) over a rolling 7 days"
        slo["Goal"] = {"Interval": {"RollingInterval": {"DurationUnit": "DAY", "Duration": 7}},
                       "AttainmentGoal": goal, "WarningThreshold": 50.0}
        slo["EvaluationType"] = "RequestBased"
        slo["RequestBasedSli"] = {"RequestBasedSliMetric": {
            "KeyAttributes": key, "OperationName": op, "MetricType": "AVAILABILITY",
            "TotalRequestCountMetric": [_query("total", "Latency", op, svc, "SampleCount")],
            "MonitoredRequestCountMetric": {"BadCountMetric": [_query("bad", "Fault", op, svc, "Sum")]}}}
    elif s.latency_method == "request":
        slo["Description"] = f"99 % of {op} requests answer in under {threshold:.0f} ms over a rolling day"
        slo["Goal"] = {"Interval": {"RollingInterval": {"DurationUnit": "DAY", "Duration": 1}},
                       "AttainmentGoal": 99.0, "WarningThreshold": 50.0}
        slo["EvaluationType"] = "RequestBased"
        slo["RequestBasedSli"] = {"RequestBasedSliMetric": {
            "KeyAttributes": key, "OperationName": op, "MetricType": "LATENCY",
            "TotalRequestCountMetric": [_query("total", "Latency", op, svc, "SampleCount")],
            "MonitoredRequestCountMetric": {}}, "MetricThreshold": threshold, "ComparisonOperator": "LessThan"}
    else:
        slo["Description"] = f"p99 {op} latency below {threshold:.0f} ms in 99 % of 1-minute periods over a rolling day"
        slo["Goal"] = {"Interval": {"RollingInterval": {"DurationUnit": "DAY", "Duration": 1}},
                       "AttainmentGoal": 99.0, "WarningThreshold": 50.0}
        slo["EvaluationType"] = "PeriodBased"
        slo["Sli"] = {"SliMetric": {"KeyAttributes": key, "OperationName": op, "MetricType": "LATENCY",
                                    "MetricDataQueries": [_query("m1", "Latency", op, svc, "p99", "Milliseconds")]},
                      "MetricThreshold": threshold, "ComparisonOperator": "LessThan"}
    return slos_from_application_signals({"Slo": slo}, file=f"<scenario {s.name}>")
