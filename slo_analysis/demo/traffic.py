"""Simulate every served request and every support ticket of the demo, vectorised with numpy.

One front-door request (support-web) fans out to ticket-api or kb-search; CreateTicket calls
routing-service AssignAgent synchronously; notify-worker sends notifications asynchronously. Every
metric, log line and trace the demo writes is derived from the frames returned here, so they agree.

Examples
--------
>>> from slo_analysis.demo.story import build_story
>>> from slo_analysis.demo.traffic import simulate
>>> sim = simulate(build_story("2026-11-02", 2), seed=7, scale=0.2)
>>> sorted(sim.requests["service"].unique().to_list())[:2]
['kb-search', 'notify-worker']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from slo_analysis.demo.ids import hex_strings, request_ids, trace_ids
from slo_analysis.demo.story import MINUTE_MS, ROUTES, SERVICES, VERSIONS, Story

__all__ = ["Simulation", "simulate", "draw_arrivals", "assign_tasks", "cat", "PEAK_RPS", "TIMEOUT_MS",
           "FIRST_RESPONSE_MS"]

PEAK_RPS = 1.4  # front-door requests per second at a weekday's busiest hour, scale 1
TIMEOUT_MS = 3000.0  # routing-service's JDBC query timeout on agent_skills
FIRST_RESPONSE_MS = 5 * MINUTE_MS
_TIERS = np.array(["free", "pro", "enterprise"])
_AZS = np.array(["eu-west-1a", "eu-west-1b", "eu-west-1c"])
_QUEUES = np.array(["billing", "technical", "account"])
_CHANNELS = np.array(["web", "email", "chat"])


@dataclass(frozen=True)
class Simulation:
    """The simulated truth: served requests, tickets, per-minute load and the ECS tasks."""

    requests: pl.DataFrame  # one row per served request at one service
    tickets: pl.DataFrame  # one row per created ticket, with its lifecycle times
    load: pl.DataFrame  # one row per minute: minute_ms, ticket_api_cpu, bad (incident intensity), surge
    tasks: pl.DataFrame  # service, task_id, version, from_ms, to_ms


def _ln(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))


def _profile(story: Story) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute traffic multiplier (daily and weekly seasonality times the surge) and the surge alone."""
    m = np.arange(story.minutes)
    mid = story.start_ms + m * MINUTE_MS + MINUTE_MS // 2
    hour = ((m + 0.5) / 60.0) % 24
    daily = 0.2 + 0.8 * np.exp(-(((hour - 13.5) / 4.5) ** 2))
    wd0 = datetime.fromtimestamp(story.start_ms / 1000, tz=UTC).weekday()
    weekday = (wd0 + m // 1440) % 7
    weekly = np.where(weekday >= 5, 0.5, 1.0)
    surge = np.array([story.surge_factor(float(t)) for t in mid[::15]]).repeat(15)[: len(m)]
    return daily * weekly * surge, surge


def _bad(story: Story, ts: np.ndarray) -> np.ndarray:
    """Incident intensity in [0, 1]: full from onset to rollback end, then draining to recovery."""
    rb_end = story.rollback.finished_ms
    drain = np.clip((story.recovery_ms - ts) / max(1, story.recovery_ms - rb_end), 0.0, 1.0)
    return np.where(ts < story.onset_ms, 0.0, np.where(ts < rb_end, 1.0, drain))


def _tasks(story: Story, rng: np.random.Generator) -> pl.DataFrame:
    """ECS task generations: (service, task_id, version, from_ms, to_ms), two or three tasks each."""
    rows: list[tuple[str, str, str, int, int]] = []
    far = story.end_ms + 86_400_000

    def gen(service: str, version: str, a: int, b: int, n: int) -> list[str]:
        ids = hex_strings(rng, n, 16).to_list()
        rows.extend((service, t, version, a, b) for t in ids)
        return ids

    for s in SERVICES:
        n = 3 if s in ("support-web", "ticket-api") else 2
        if s == "routing-service":
            blue = gen(s, VERSIONS[s], story.start_ms, story.onset_ms, n)
            gen(s, story.culprit.version_to, story.onset_ms, story.rollback.finished_ms, n)
            # blue/green: the original task set kept running and takes traffic back after the rollback
            rows.extend((s, t, VERSIONS[s], story.rollback.finished_ms, far) for t in blue)
        elif s == "kb-search":
            gen(s, VERSIONS[s], story.start_ms, story.decoy.finished_ms, n)
            gen(s, story.decoy.version_to, story.decoy.finished_ms, far, n)
        else:
            gen(s, VERSIONS[s], story.start_ms, far, n)
    return pl.DataFrame(rows, schema=["service", "task_id", "version", "from_ms", "to_ms"], orient="row")


def cat(names: object, codes: np.ndarray) -> pl.Series:
    """Strings by code: ``names[codes]`` built in polars (numpy string arrays are slow to convert)."""
    return pl.Series(list(np.asarray(names).tolist()), dtype=pl.String).gather(np.asarray(codes, dtype=np.int64))


def assign_tasks(
    tasks: pl.DataFrame, service: str, ts: np.ndarray, rng: np.random.Generator
) -> tuple[pl.Series, pl.Series]:
    """Pick a task (and so a version and log stream) of ``service`` running at each time."""
    t = tasks.with_row_index("i").filter(pl.col("service") == service)
    starts = np.unique(t["from_ms"].to_numpy())
    gen = np.searchsorted(starts, ts, side="right") - 1
    row = np.zeros(len(ts), dtype=np.int64)
    for g, a in enumerate(starts):
        sel = gen == g
        members = t.filter(pl.col("from_ms") == a)["i"].to_numpy()
        row[sel] = members[rng.integers(0, members.size, int(sel.sum()))]
    return cat(tasks["task_id"].to_list(), row), cat(tasks["version"].to_list(), row)


def _series(name: str, v: object) -> pl.Series:
    if isinstance(v, pl.Series):
        return v.alias(name)
    a = np.asarray(v)
    if a.dtype == object:
        return pl.Series(name, a.tolist(), dtype=pl.String)
    if a.dtype.kind == "U":
        names, codes = np.unique(a, return_inverse=True)
        return cat(names, codes).alias(name)
    return pl.Series(name, a)


def _frame(cols: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame([_series(k, v) for k, v in cols.items()])


def draw_arrivals(rng: np.random.Generator, lam: np.ndarray,
                  start_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson arrivals for a (minute, route) matrix of expected counts ``lam``, each at a uniform instant of
    its minute: ``(ts_ms, minute, route)`` in time order."""
    flat = rng.poisson(lam).ravel()
    cell = np.repeat(np.arange(flat.size), flat)
    minute, route = cell // lam.shape[1], cell % lam.shape[1]
    ts = start_ms + minute * MINUTE_MS + rng.integers(0, MINUTE_MS, cell.size)
    order = np.argsort(ts, kind="stable")
    return ts[order], minute[order], route[order]


def simulate(story: Story, seed: int, scale: float) -> Simulation:
    """Draw the demo's requests and tickets. Same ``(story, seed, scale)``, same frames."""
    r_count, r_attr, r_lat, r_tix, r_ids, r_task = np.random.default_rng(seed).spawn(6)
    prof, surge = _profile(story)
    shares = np.array([r[3] for r in ROUTES])
    lam = PEAK_RPS * 60.0 * scale * prof[:, None] * shares[None, :]
    ts, minute, route = draw_arrivals(r_count, lam, story.start_ms)
    n = ts.size

    # ticket-api load: CPU follows its request rate; latency climbs once CPU passes 45 %
    # from the expected rate, not the Poisson draw, so CPU (and its alarm) reads the same at any scale
    ta_rps = lam[:, :3].sum(axis=1) / 60.0 / scale
    cpu = np.clip(5.0 + 24.0 * ta_rps + r_count.normal(0, 1.2, story.minutes), 2.0, 99.0)
    mult_m = 1.0 + 3.5 * np.clip(cpu / 100.0 - 0.45, 0.0, None) ** 1.2
    mult = mult_m[minute]
    bad = _bad(story, ts)

    tier_c = r_attr.choice(3, n, p=[0.55, 0.3, 0.15])
    az_c = r_attr.integers(0, 3, n)
    tier, az = cat(_TIERS, tier_c), cat(_AZS, az_c)
    u_fault = r_attr.random(n)
    u_err = r_attr.random(n)
    is_create, is_get, is_reply, is_kb = (route == 0), (route == 1), (route == 2), (route == 3)
    err_rate = np.select([is_create, is_get, is_reply], [0.008, 0.015, 0.005], 0.003)
    client_err = u_err < err_rate
    base_fault = u_fault < 0.0002

    # downstream (ticket-api / kb-search) own time and its DynamoDB call
    own = np.select(
        [is_create, is_get, is_reply],
        [_ln(r_lat, 110, 0.38, n), _ln(r_lat, 28, 0.4, n), _ln(r_lat, 75, 0.4, n)],
        _ln(r_lat, 60, 0.45, n),
    )
    own = np.where(is_kb, own, own * mult)
    ddb = np.where(is_kb, np.nan, _ln(r_lat, 9, 0.3, n) * (1 + 0.5 * (mult - 1)))
    ddb_op = cat(["PutItem", "GetItem", "UpdateItem", ""], route)
    throttled = (~is_kb) & (cpu[minute] > 68) & (r_lat.random(n) < 0.01)
    ddb = np.where(throttled, ddb + 25.0, ddb)  # the SDK retried once after a throttle

    # routing-service AssignAgent, for CreateTicket requests that passed validation
    calls_routing = is_create & ~client_err & ~base_fault
    slow = calls_routing & (r_lat.random(n) < bad)
    sql = np.where(slow, _ln(r_lat, 1100, 0.55, n), _ln(r_lat, 22, 0.35, n))
    timeout = slow & (sql >= TIMEOUT_MS)
    sql = np.where(timeout, TIMEOUT_MS + _ln(r_lat, 4, 0.3, n), sql)
    r_own = _ln(r_lat, 14, 0.3, n)
    r_ddb = _ln(r_lat, 9, 0.3, n)
    assign = np.where(timeout, r_own + sql, r_own + sql + r_ddb)

    ds_lat = own + np.nan_to_num(ddb) + np.where(calls_routing, assign + 2.0, 0.0)
    ds_lat = np.where(client_err, own * 0.3, ds_lat)
    # outside the incident the create path has a soft ceiling (timeouts upstream of 700 ms are rare)
    over = is_create & ~slow & (ds_lat > 700)
    squeezed = 700 + 80 * (1 - np.exp(-(ds_lat - 700) / 80))
    own = np.where(over, own - (ds_lat - squeezed), own)
    ds_lat = np.where(over, squeezed, ds_lat)

    ok_status = np.select([is_create, is_kb], [201, 200], 200)
    err_status = np.select([is_create, is_get, is_reply], [400, 404, 409], 400)
    ds_status = np.where(client_err, err_status, ok_status)
    ds_status = np.where(base_fault, np.where(is_kb, 500, 503), ds_status)
    ds_status = np.where(timeout, 504, ds_status)
    sw_lat = ds_lat + _ln(r_lat, 6, 0.4, n) * np.sqrt(mult)

    fd_trace = trace_ids(r_ids, ts)
    rid = np.arange(n)
    route_names = np.array([r[0] for r in ROUTES])
    ops = np.array([r[2] for r in ROUTES])
    ds_service = cat(["ticket-api", "kb-search"], is_kb.astype(np.int64))
    ticket_no = np.cumsum(is_create) + 100000  # a ticket number is reserved per create attempt
    ticket_id = pl.select(
        pl.when(pl.lit(pl.Series(is_create)))
        .then(pl.format("T-{}", pl.lit(pl.Series(ticket_no))))
        .otherwise(pl.lit(""))
    ).to_series()

    frames = []
    tasks = _tasks(story, r_task)
    sw_task, sw_ver = assign_tasks(tasks, "support-web", ts, r_task)
    frames.append(
        _frame(
            {
                "ts_ms": ts,
                "service": cat(["support-web"], np.zeros(n)),
                "operation": cat(route_names, route),
                "route": cat(route_names, route),
                "latency_ms": sw_lat,
                "status": ds_status,
                "request_id": request_ids(r_ids, n),
                "trace_id": fd_trace,
                "tier": tier,
                "az": az,
                "task_id": sw_task,
                "version": sw_ver,
                "rid": rid,
                "ticket_id": ticket_id,
                "sql_ms": np.full(n, np.nan),
                "ddb_ms": np.full(n, np.nan),
                "ddb_op": cat([""], np.zeros(n)),
                "throttled": np.zeros(n, bool),
                "slow": slow,
                "timeout": timeout,
            }
        )
    )
    ds_ts = ts + 2
    parts = []
    for code, svc in enumerate(("ticket-api", "kb-search")):
        sel = np.flatnonzero(is_kb == bool(code))
        tk, vr = assign_tasks(tasks, svc, ds_ts[sel], r_task)
        parts.append(pl.DataFrame({"pos": sel, "task": tk, "ver": vr}))
    tv = pl.concat(parts).sort("pos")
    ta_task, ta_ver = tv["task"], tv["ver"]
    frames.append(
        _frame(
            {
                "ts_ms": ds_ts,
                "service": ds_service,
                "operation": cat(ops, route),
                "route": cat(route_names, route),
                "latency_ms": ds_lat,
                "status": ds_status,
                "request_id": request_ids(r_ids, n),
                "trace_id": fd_trace,
                "tier": tier,
                "az": az,
                "task_id": ta_task,
                "version": ta_ver,
                "rid": rid,
                "ticket_id": ticket_id,
                "sql_ms": np.full(n, np.nan),
                "ddb_ms": ddb,
                "ddb_op": ddb_op,
                "throttled": throttled,
                "slow": slow,
                "timeout": timeout,
            }
        )
    )
    k = np.flatnonzero(calls_routing)
    rt_ts = ds_ts[k] + np.round(own[k] + ddb[k]).astype(np.int64) + 1
    rt_task, rt_ver = assign_tasks(tasks, "routing-service", rt_ts, r_task)
    frames.append(
        _frame(
            {
                "ts_ms": rt_ts,
                "service": cat(["routing-service"], np.zeros(k.size)),
                "operation": cat(["AssignAgent"], np.zeros(k.size)),
                "route": cat(["POST /assignments"], np.zeros(k.size)),
                "latency_ms": assign[k],
                "status": np.where(timeout[k], 500, 200),
                "request_id": request_ids(r_ids, k.size),
                "trace_id": fd_trace.gather(k),
                "tier": tier.gather(k),
                "az": az.gather(k),
                "task_id": rt_task,
                "version": rt_ver,
                "rid": rid[k],
                "ticket_id": ticket_id.gather(k),
                "sql_ms": sql[k],
                "ddb_ms": np.where(timeout[k], np.nan, r_ddb[k]),
                "ddb_op": cat(["UpdateItem", ""], timeout[k]),
                "throttled": np.zeros(k.size, bool),
                "slow": slow[k],
                "timeout": timeout[k],
            }
        )
    )

    # tickets: created by a successful CreateTicket; assignment waits for the overflow sweeper when
    # v2.4.0's agent_skills query is slow (it gives up on skill matching under lock contention)
    c = np.flatnonzero(is_create & (ds_status == 201))
    nt = c.size
    created = ts[c] + np.round(sw_lat[c]).astype(np.int64)
    overflow = slow[c] & (r_tix.random(nt) < 0.9)
    assigned = np.where(
        overflow, created + r_tix.integers(3 * MINUTE_MS, 9 * MINUTE_MS, nt), created + r_tix.integers(200, 1500, nt)
    )
    load_f = 1.0 + 0.5 * (surge[np.clip((created - story.start_ms) // MINUTE_MS, 0, story.minutes - 1)] - 1.0)
    first = assigned + np.round(_ln(r_tix, 75_000, 0.6, nt) * load_f).astype(np.int64)
    resolved = first + np.round(_ln(r_tix, 40 * MINUTE_MS, 0.8, nt)).astype(np.int64)
    tickets = _frame(
        {
            "ticket_id": ticket_id.gather(c),
            "created_ms": created,
            "assigned_ms": assigned,
            "first_response_ms": first,
            "resolved_ms": resolved,
            "agent_id": np.char.add("agent-", (r_tix.integers(1, 61, nt) + 100).astype(str)),
            "queue": np.where(overflow, "overflow", _QUEUES[r_tix.integers(0, 3, nt)]),
            "tier": tier.gather(c),
            "channel": _CHANNELS[r_tix.choice(3, nt, p=[0.6, 0.3, 0.1])],
            "trace_id": fd_trace.gather(c),
        }
    ).with_columns(within_5m=(pl.col("first_response_ms") - pl.col("created_ms")) <= FIRST_RESPONSE_MS)

    # notify-worker: a confirmation when a ticket is created and a notice on the first agent response
    nts = np.concatenate([created + r_tix.integers(800, 2500, nt), first + r_tix.integers(500, 2000, nt)])
    nidx = np.concatenate([np.arange(nt), np.arange(nt)])
    keep = nts < story.end_ms
    nts, nidx = nts[keep], nidx[keep]
    nn = nts.size
    nfault = r_tix.random(nn) < 0.0003
    n_task, n_ver = assign_tasks(tasks, "notify-worker", nts, r_task)
    frames.append(
        _frame(
            {
                "ts_ms": nts,
                "service": cat(["notify-worker"], np.zeros(nn)),
                "operation": cat(["SendNotification"], np.zeros(nn)),
                "route": cat(["sqs://notifications"], np.zeros(nn)),
                "latency_ms": _ln(r_tix, 180, 0.4, nn),
                "status": np.where(nfault, 500, 200),
                "request_id": request_ids(r_ids, nn),
                "trace_id": pl.Series(np.full(nn, None, dtype=object), dtype=pl.String),
                "tier": tier.gather(c[nidx]),
                "az": cat(_AZS, r_tix.integers(0, 3, nn)),
                "task_id": n_task,
                "version": n_ver,
                "rid": np.full(nn, -1),
                "ticket_id": ticket_id.gather(c[nidx]),
                "sql_ms": np.full(nn, np.nan),
                "ddb_ms": np.full(nn, np.nan),
                "ddb_op": cat([""], np.zeros(nn)),
                "throttled": np.zeros(nn, bool),
                "slow": np.zeros(nn, bool),
                "timeout": np.zeros(nn, bool),
            }
        )
    )

    requests = (
        pl.concat(frames, how="vertical_relaxed")
        .filter(pl.col("ts_ms") < story.end_ms)
        .with_columns(
            pl.col("latency_ms").round(1),
            pl.col("status").cast(pl.Int32),
            ticket_id=pl.when(pl.col("ticket_id") != "").then(pl.col("ticket_id")),
            fault=pl.col("status") >= 500,
            error=(pl.col("status") >= 400) & (pl.col("status") < 500),
            sql_ms=pl.col("sql_ms").fill_nan(None).round(1),
            ddb_ms=pl.col("ddb_ms").fill_nan(None).round(1),
        )
        .sort(["ts_ms", "service", "rid"], maintain_order=True)
    )
    minutes = story.start_ms + np.arange(story.minutes) * MINUTE_MS
    load = pl.DataFrame(
        {
            "minute_ms": minutes,
            "ticket_api_cpu": np.round(cpu, 2),
            "bad": _bad(story, minutes + MINUTE_MS // 2),
            "surge": surge,
        }
    )
    return Simulation(requests=requests, tickets=tickets, load=load, tasks=tasks)
