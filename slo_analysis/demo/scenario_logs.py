"""The log events of a simulated scenario, as the canonical ``logs`` frame (CloudWatch Logs, one group per service).

Every served request writes one JSON line (the demo's fields). Faults write their own templates from
the task that suffered them: a slow code path ``slow query on <table>``, an exception ``unhandled
exception in <handler>``, a leak ``connection pool exhausted`` and ``heap usage high``, callers
``upstream timeout calling <service>``; a dependency outage ``ProvisionedThroughputExceededException``
or ``timeout calling <dependency>`` from the calling service's unchanged version; a saturated service
``request queue saturated`` and ``load shedding``. Every new task logs a start-up banner, and benign
releases add new templates of their own (a deprecated configuration key), so "new template after a
deployment" is not on its own proof of guilt.

Examples
--------
>>> sorted(TABLES)[:2]
['kb-search', 'routing-service']
"""

from __future__ import annotations

import numpy as np
import polars as pl

from slo_analysis import frames
from slo_analysis.demo.log_events import iso_expr
from slo_analysis.demo.scenario_plan import Plan
from slo_analysis.demo.scenario_spec import Scenario
from slo_analysis.demo.scenario_traffic import Traffic
from slo_analysis.demo.story import ENVIRONMENT, REGION, SERVICES

__all__ = ["TABLES", "HANDLERS", "logs_frame"]

#: the table a service's slow code path queries
TABLES = {"support-web": "sessions", "ticket-api": "ticket_events", "kb-search": "articles",
          "routing-service": "agent_skills"}
#: the handler that throws in an ``errors`` fault, and what it throws
HANDLERS = {"support-web": ("TicketView.render", "TypeError"),
            "ticket-api": ("TicketController.handle", "IllegalStateException"),
            "kb-search": ("SnippetHighlighter.highlight", "ArrayIndexOutOfBoundsException"),
            "routing-service": ("AgentMatcher.rank", "NullPointerException")}
_APPS = {"support-web": "support-web", "ticket-api": "TicketApiApplication",
         "routing-service": "RoutingServiceApplication", "kb-search": "KbSearchApplication",
         "notify-worker": "NotifyWorker"}
_DEPRECATED = ("http.client.legacy-timeouts", "cache.ttl-seconds", "metrics.enable-jmx", "feature.v1-api")


def _json(df: pl.DataFrame, ts: pl.Expr, level: str, fields: dict[str, pl.Expr], msg: str | pl.Expr,
          service: pl.Expr | None = None, task: pl.Expr | None = None) -> pl.DataFrame:
    svc = pl.col("service") if service is None else service
    body = pl.struct(iso_expr("_t").alias("ts"), pl.lit(level).alias("level"), svc.alias("service"),
                     *(v.alias(k) for k, v in fields.items()),
                     (msg if isinstance(msg, pl.Expr) else pl.lit(msg)).alias("msg"))
    return df.with_columns(_t=ts).select(service=svc, task_id=pl.col("task_id") if task is None else task,
                                         ts_ms=pl.col("_t"), message=body.struct.json_encode())


def _request_lines(h: pl.DataFrame) -> pl.DataFrame:
    level = pl.when(pl.col("status") >= 500).then(pl.lit("ERROR")).when(pl.col("status") >= 400).then(
        pl.lit("WARN")).otherwise(pl.lit("INFO"))
    r = h.with_columns(_t=pl.col("ts_ms"), ticket_id=pl.when(pl.col("operation").is_in(["CreateTicket", "AssignAgent"]))
                       .then(pl.col("ticket_id")))
    body = pl.struct(ts=iso_expr("_t"), level=level, service="service", operation="operation", route="route",
                     request_id="request_id", trace_id="trace_id", status="status", latency_ms="latency_ms",
                     ticket_id="ticket_id", customer_tier="tier", region=pl.lit(REGION), az="az", version="version",
                     msg=pl.when(pl.col("status") >= 500).then(pl.lit("request failed")).otherwise(
                         pl.lit("request completed")))
    return r.select("service", "task_id", "ts_ms",
                    message=body.struct.json_encode().str.replace(',"ticket_id":null', "", literal=True))


def _fault_lines(s: Scenario, h: pl.DataFrame, fd: pl.DataFrame) -> list[pl.DataFrame]:
    out: list[pl.DataFrame] = []
    done = pl.col("ts_ms") + pl.col("latency_ms").cast(pl.Int64)
    for svc, (handler, exc) in HANDLERS.items():
        me = h.filter(pl.col("service") == svc)
        k = pl.col("kind")
        out.append(_json(me.filter(k == "slow"), done, "WARN",
                         {"table": pl.lit(TABLES[svc]), "query_ms": pl.col("latency_ms"),
                          "trace_id": pl.col("trace_id"), "version": pl.col("version")},
                         f"slow query on {TABLES[svc]}"))
        out.append(_json(me.filter(k == "error"), done, "ERROR",
                         {"exception": pl.lit(exc), "trace_id": pl.col("trace_id"), "version": pl.col("version")},
                         f"unhandled exception in {handler}"))
        out.append(_json(me.filter(k == "wait"), done, "WARN",
                         {"pool": pl.lit("HikariPool-1"), "active": pl.lit(10),
                          "waiting": (pl.col("latency_ms") / 40).cast(pl.Int64) + 1, "version": pl.col("version")},
                         "connection pool exhausted"))
        out.append(_json(me.filter(k == "pool"), done, "ERROR",
                         {"pool": pl.lit("HikariPool-1"), "timeout_ms": pl.lit(2000), "trace_id": pl.col("trace_id"),
                          "version": pl.col("version")}, "connection pool exhausted: no connection available"))
        out.append(_json(me.filter(k == "shed"), pl.col("ts_ms"), "ERROR",
                         {"in_flight": (pl.col("rid") % 40 + 200), "version": pl.col("version")},
                         "load shedding: request rejected"))
    # routing-service's database calls (a slow culprit query, or a slow aurora-prod)
    rt = fd.filter(pl.col("calls_routing")).with_columns(task_id="rt_task", service=pl.lit("routing-service"))
    rt_done = pl.col("rt_ts") + pl.col("rt_lat").cast(pl.Int64)
    if s.dependency == "aurora-prod":  # the culprit's own slow hops are logged by kind above
        out.append(_json(rt.filter((pl.col("sql_ms") > 1000) & ~pl.col("sql_timeout")), rt_done, "WARN",
                         {"table": pl.lit("agent_skills"), "query_ms": pl.col("sql_ms").round(1),
                          "trace_id": pl.col("trace_id"), "version": pl.col("rt_ver")}, "slow query on agent_skills"))
        timeout_msg = "timeout calling aurora-prod after 3000 ms"
    else:
        timeout_msg = "upstream timeout: query on agent_skills exceeded 3000 ms"
    out.append(_json(rt.filter(pl.col("sql_timeout")), rt_done, "ERROR",
                     {"dependency": pl.lit("aurora-prod"), "trace_id": pl.col("trace_id"), "version": pl.col("rt_ver")},
                     timeout_msg))
    ta = fd.filter(pl.col("calls_routing") & (pl.col("rt_status") >= 500)).with_columns(
        task_id="ds_task", service=pl.lit("ticket-api"))
    out.append(_json(ta, pl.col("ts_ms") + pl.col("ds_lat").cast(pl.Int64), "ERROR",
                     {"status": pl.col("rt_status"), "trace_id": pl.col("trace_id"), "version": pl.col("ds_ver")},
                     pl.when(pl.col("sql_timeout")).then(pl.lit("upstream timeout calling routing-service"))
                     .otherwise(pl.lit("upstream error from routing-service"))))
    sw = fd.filter(pl.col("ds_status") == 504).with_columns(task_id="sw_task", service=pl.lit("support-web"))
    out.append(_json(sw, pl.col("ts_ms") + pl.col("sw_lat").cast(pl.Int64), "ERROR",
                     {"upstream": pl.col("ds_service"), "trace_id": pl.col("trace_id"), "version": pl.col("sw_ver")},
                     pl.format("upstream timeout calling {}", pl.col("ds_service"))))
    # kb-search -> kb-opensearch
    kb = fd.filter(pl.col("os_called")).with_columns(task_id="ds_task", service=pl.lit("kb-search"))
    kb_done = pl.col("ts_ms") + pl.col("ds_lat").cast(pl.Int64)
    if s.dependency == "kb-opensearch":
        out.append(_json(kb.filter((pl.col("os_ms") > 500) & ~pl.col("os_timeout")), kb_done, "WARN",
                         {"dependency": pl.lit("kb-opensearch"), "took_ms": pl.col("os_ms").round(1),
                          "version": pl.col("ds_ver")}, "slow response from kb-opensearch"))
    out.append(_json(kb.filter(pl.col("os_timeout")), kb_done, "ERROR",
                     {"dependency": pl.lit("kb-opensearch"), "trace_id": pl.col("trace_id"),
                      "version": pl.col("ds_ver")}, "timeout calling kb-opensearch after 2000 ms"))
    # DynamoDB throttling, from whichever service was throttled
    for svc, thr, exh, task, ver, t in (
            ("ticket-api", "ddb_thr", "ddb_exh", "ds_task", "ds_ver", pl.col("ts_ms") + 5),
            ("routing-service", "rdb_thr", "rdb_exh", "rt_task", "rt_ver", pl.col("rt_ts") + 9)):
        d = fd.filter(pl.col(thr) > 0).with_columns(task_id=task, service=pl.lit(svc))
        out.append(_json(d, t, "WARN", {"table": pl.lit("tickets"), "attempts": pl.col(thr), "version": pl.col(ver)},
                         "ProvisionedThroughputExceededException on table tickets, retrying"))
        out.append(_json(d.filter(pl.col(exh)), t + 200, "ERROR",
                         {"table": pl.lit("tickets"), "trace_id": pl.col("trace_id"), "version": pl.col(ver)},
                         "ProvisionedThroughputExceededException: retries exhausted on table tickets"))
    return out


def _task_lines(s: Scenario, plan: Plan, t: Traffic, rng: np.random.Generator) -> list[pl.DataFrame]:
    """Start-up banners, release notes of benign versions, periodic heap and queue warnings per task."""
    rows: list[tuple[str, str, int, str]] = []
    load = t.load
    out: list[pl.DataFrame] = []
    for svc in SERVICES:
        gens = plan.generations(svc)
        mem = load.filter(pl.col("service") == svc)
        for k, (d, ver) in enumerate(gens):
            a = plan.start_ms if d is None else d.started_ms
            b = plan.end_ms if k + 1 == len(gens) else gens[k + 1][0].finished_ms  # type: ignore[union-attr]
            for task in t.tasks[svc][k]:
                if d is not None:
                    rows.append((svc, task, a + 2_000, f"Starting {_APPS[svc]} v{ver} using Java 21.0.4 with PID 1"))
                    rows.append((svc, task, a + 9_400,
                                 f"Started {_APPS[svc]} in 7.4 seconds (process running for 8.1)"))
                    if d.role in ("decoy", "routine"):
                        key = _DEPRECATED[int(rng.integers(0, len(_DEPRECATED)))]
                        rows.append((svc, task, a + 9_900, f'{{"level":"WARN","service":"{svc}","version":"{ver}",'
                                                           f'"key":"{key}","msg":"configuration key is deprecated; '
                                                           f'using the default"}}'))
                hot = mem.filter((pl.col("minute_ms") >= a) & (pl.col("minute_ms") < b))
                heap = hot.filter(pl.col("memory") > 80).with_columns(task_id=pl.lit(task))
                out.append(_json(heap, pl.col("minute_ms") + 30_000, "WARN",
                                 {"heap_pct": pl.col("memory").round(0).cast(pl.Int64), "version": pl.lit(ver)},
                                 "heap usage high"))
                busy = hot.filter(pl.col("u") > 0.85).with_columns(task_id=pl.lit(task))
                out.append(_json(busy, pl.col("minute_ms") + 45_000, "WARN",
                                 {"in_flight": (pl.col("u") * 200).round(0).cast(pl.Int64), "version": pl.lit(ver)},
                                 "request queue saturated"))
    out.append(pl.DataFrame(rows, schema=["service", "task_id", "ts_ms", "message"], orient="row"))
    return out


def logs_frame(s: Scenario, plan: Plan, t: Traffic, h: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Every log event in ``[start, end)``: ``timestamp, log_group, log_stream, message``."""
    parts = [_request_lines(h), *_fault_lines(s, h, t.fd), *_task_lines(s, plan, t, rng)]
    ev = pl.concat([p.select("service", "task_id", pl.col("ts_ms").cast(pl.Int64), "message") for p in parts])
    out = (ev.filter((pl.col("ts_ms") >= plan.start_ms) & (pl.col("ts_ms") < plan.end_ms))
           .select(timestamp=pl.col("ts_ms").cast(pl.Datetime("ms", "UTC")),
                   log_group=pl.format("/ecs/{}/{}", pl.lit(ENVIRONMENT), pl.col("service")),
                   log_stream=pl.format("ecs/{}/{}", pl.col("service"), pl.col("task_id")), message="message")
           .sort(["log_group", "log_stream", "timestamp"], maintain_order=True))
    return frames.validate(out, "logs")

