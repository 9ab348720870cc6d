"""Build every CloudWatch Logs event of the demo as one polars frame (service, task, time, message).

Request records and ticket lifecycle events are JSON messages; stack traces, pool statistics and
start-up banners are plain text, some of them multi-line. Message building is vectorised (polars
``struct.json_encode`` and ``format``); only the few hundred error events use Python strings.

Examples
--------
>>> from slo_analysis.demo.log_events import STACK_TEMPLATE
>>> STACK_TEMPLATE.splitlines()[0].startswith("ERROR [")
True
"""

from __future__ import annotations

import numpy as np
import polars as pl

from slo_analysis.demo.story import MINUTE_MS, REGION, SERVICES, Story
from slo_analysis.demo.traffic import Simulation, assign_tasks

__all__ = ["STACK_TEMPLATE", "build_events", "iso_expr"]

STACK_TEMPLATE = (
    "ERROR [http-nio-8080-exec-{thread}] c.s.routing.AgentMatcher - Timeout after 3000 ms querying "
    "agent_skills for ticket {ticket}\n"
    "org.postgresql.util.PSQLException: ERROR: canceling statement due to statement timeout\n"
    "\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2725)\n"
    "\tat org.postgresql.jdbc.PgPreparedStatement.executeQuery(PgPreparedStatement.java:134)\n"
    "\tat com.zaxxer.hikari.pool.HikariProxyPreparedStatement.executeQuery(HikariProxyPreparedStatement.java)\n"
    "\tat com.supportdesk.routing.AgentSkillsRepository.findCandidates(AgentSkillsRepository.java:88)\n"
    "\tat com.supportdesk.routing.AgentMatcher.assign(AgentMatcher.java:142)\n"
    "\tat com.supportdesk.routing.api.AssignmentController.assignAgent(AssignmentController.java:57)\n"
    "\t... 48 common frames omitted"
)


def iso_expr(col: str) -> pl.Expr:
    """``2026-11-02T00:00:00.123Z`` from an epoch-millisecond column."""
    return pl.col(col).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def _requests(sim: Simulation) -> pl.DataFrame:
    r = sim.requests.with_columns(
        ts=iso_expr("ts_ms"),
        level=pl.when(pl.col("fault"))
        .then(pl.lit("ERROR"))
        .when(pl.col("error"))
        .then(pl.lit("WARN"))
        .otherwise(pl.lit("INFO")),
        region=pl.lit(REGION),
        msg=pl.when(pl.col("fault")).then(pl.lit("request failed")).otherwise(pl.lit("request completed")),
    ).rename({"status": "status_", "tier": "customer_tier"})
    fields = ["ts", "level", "service", "operation", "route", "request_id", "trace_id"]
    tail = ["customer_tier", "region", "az", "version", "msg"]
    # ticket_id only on the create path: encode once, then drop the null member (cheaper than two encodings)
    r = r.with_columns(
        ticket_id=pl.when(pl.col("operation").is_in(["CreateTicket", "AssignAgent"])).then(pl.col("ticket_id"))
    )
    record = pl.struct([*fields, pl.col("status_").alias("status"), "latency_ms", "ticket_id", *tail])
    return r.select(
        "service",
        "task_id",
        "ts_ms",
        pl.lit(0).alias("seq"),
        record.struct.json_encode().str.replace(',"ticket_id":null', "", literal=True).alias("message"),
    )


def _lifecycle(sim: Simulation, story: Story, rng: np.random.Generator) -> pl.DataFrame:
    t = sim.tickets
    parts = []
    specs = [
        (
            "ticket_created",
            "ticket-api",
            "created_ms",
            ["ticket_id", "customer_tier", "channel", "trace_id"],
            "ticket created",
        ),
        (
            "agent_assigned",
            "routing-service",
            "assigned_ms",
            ["ticket_id", "agent_id", "queue", "customer_tier"],
            "agent assigned",
        ),
        (
            "first_response",
            "ticket-api",
            "first_response_ms",
            ["ticket_id", "agent_id", "queue", "customer_tier", "channel"],
            "first agent response sent",
        ),
        (
            "resolved",
            "ticket-api",
            "resolved_ms",
            ["ticket_id", "agent_id", "queue", "customer_tier"],
            "ticket resolved",
        ),
    ]
    for k, (event, service, col, extra, text) in enumerate(specs, start=1):
        e = t.filter(pl.col(col) < story.end_ms).rename({"tier": "customer_tier"})
        task, _ = assign_tasks(sim.tasks, service, e[col].to_numpy(), rng)
        e = e.with_columns(
            ts=iso_expr(col),
            level=pl.lit("INFO"),
            service=pl.lit(service),
            event=pl.lit(event),
            msg=pl.lit(text),
            task_id=task,
        )
        if event == "agent_assigned":
            e = e.with_columns(wait_ms=pl.col("assigned_ms") - pl.col("created_ms"))
            extra = [*extra, "wait_ms"]
        if event == "first_response":
            e = e.with_columns(response_ms=pl.col("first_response_ms") - pl.col("created_ms"))
            extra = [*extra, "response_ms"]
        parts.append(
            e.select(
                "service",
                "task_id",
                pl.col(col).alias("ts_ms"),
                pl.lit(k).alias("seq"),
                pl.struct(["ts", "level", "service", "event", *extra, "msg"]).struct.json_encode().alias("message"),
            )
        )
    return pl.concat(parts)


def _errors(sim: Simulation, rng: np.random.Generator) -> pl.DataFrame:
    r = sim.requests
    rt = r.filter((pl.col("service") == "routing-service") & pl.col("timeout"))
    thread = rng.integers(1, 200, rt.height)
    stack = [STACK_TEMPLATE.format(thread=th, ticket=tk) for th, tk in zip(thread, rt["ticket_id"], strict=True)]
    out = [
        rt.select(
            "service",
            "task_id",
            (pl.col("ts_ms") + pl.col("latency_ms").cast(pl.Int64)).alias("ts_ms"),
            pl.lit(5).alias("seq"),
            pl.Series("message", stack, dtype=pl.String),
        )
    ]
    slow = r.filter(
        (pl.col("service") == "routing-service") & pl.col("slow") & ~pl.col("timeout") & (pl.col("sql_ms") > 1000)
    )
    out.append(
        slow.with_columns(
            ts=iso_expr("ts_ms"),
            level=pl.lit("WARN"),
            query_ms=pl.col("sql_ms"),
            table=pl.lit("agent_skills"),
            msg=pl.lit("slow query on agent_skills"),
        ).select(
            "service",
            "task_id",
            (pl.col("ts_ms") + pl.col("latency_ms").cast(pl.Int64)).alias("ts_ms"),
            pl.lit(6).alias("seq"),
            pl.struct(["ts", "level", "service", "table", "query_ms", "ticket_id", "trace_id", "version", "msg"])
            .struct.json_encode()
            .alias("message"),
        )
    )
    ta = r.filter((pl.col("service") == "ticket-api") & pl.col("timeout"))
    out.append(
        ta.select(
            "service",
            "task_id",
            (pl.col("ts_ms") + pl.col("latency_ms").cast(pl.Int64)).alias("ts_ms"),
            pl.lit(7).alias("seq"),
            pl.format(
                "ERROR [worker-{}] CreateTicket failed: routing-service AssignAgent did not answer "
                "within 3000 ms (ticket {}, trace {})",
                pl.col("rid") % 64,
                pl.col("ticket_id"),
                pl.col("trace_id"),
            ).alias("message"),
        )
    )
    return pl.concat(out)


def _plain(sim: Simulation, story: Story, rng: np.random.Generator) -> pl.DataFrame:
    rows: list[tuple[str, str, int, int, str]] = []
    tasks = sim.tasks.sort(["service", "from_ms", "task_id"])
    banner = {"routing-service": "RoutingServiceApplication", "ticket-api": "TicketApiApplication"}
    for s, task, ver, a, _b in tasks.iter_rows():
        if a <= story.start_ms or a >= story.end_ms:
            continue
        if s == "routing-service" and ver != story.culprit.version_to:
            continue  # blue tasks of a blue/green deployment were never restarted
        app = banner.get(s, s)
        rows.append((s, task, a - 41_000, 8, f"Starting {app} v{ver} using Java 21.0.4 with PID 1"))
        rows.append((s, task, a - 33_588, 9, f"Started {app} in 7.412 seconds (process running for 8.1)"))
    frame = pl.DataFrame(rows, schema=["service", "task_id", "ts_ms", "seq", "message"], orient="row")
    # HikariCP pool statistics every 5 minutes on each routing-service task: the pool saturates in the incident
    rt = tasks.filter(pl.col("service") == "routing-service")
    ticks = np.arange(story.start_ms + 17_000, story.end_ms, 5 * MINUTE_MS)
    bad = sim.load["bad"].to_numpy()
    stats = []
    for s, task, _ver, a, b in rt.iter_rows():
        tt = ticks[(ticks >= a) & (ticks < b)]
        if tt.size == 0:
            continue
        bd = bad[(tt - story.start_ms) // MINUTE_MS]
        active = np.where(bd > 0.5, 10, rng.integers(0, 4, tt.size))
        waiting = np.where(bd > 0.5, rng.integers(12, 60, tt.size), 0)
        stats.append(
            pl.DataFrame(
                {
                    "service": s,
                    "task_id": task,
                    "ts_ms": tt,
                    "seq": 10,
                    "message": [
                        f"HikariPool-1 - Pool stats (total=10, active={x}, idle={10 - x}, waiting={w})"
                        for x, w in zip(active, waiting, strict=True)
                    ],
                }
            )
        )
    return pl.concat([frame, *stats], how="vertical_relaxed")


def build_events(sim: Simulation, story: Story, rng: np.random.Generator) -> pl.DataFrame:
    """All log events, sorted by service, task, time: columns service, task_id, ts_ms, seq, message."""
    ev = pl.concat(
        [
            _requests(sim),
            _lifecycle(sim, story, rng),
            _errors(sim, rng),
            _plain(sim, story, rng),
        ],
        how="vertical_relaxed",
    )
    order = {s: i for i, s in enumerate(SERVICES)}
    return (
        ev.filter(pl.col("ts_ms") < story.end_ms)
        .with_columns(pl.col("seq").cast(pl.Int32), svc=pl.col("service").replace_strict(order))
        .sort(["svc", "task_id", "ts_ms", "seq"], maintain_order=True)
        .drop("svc")
    )
