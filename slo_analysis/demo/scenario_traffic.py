"""Simulate a benchmark scenario's requests: one row per front-door request with every hop's timing.

The demo's topology and traffic shape (daily and weekly seasonality, route shares, latency medians):
support-web -> ticket-api (CreateTicket -> routing-service AssignAgent -> agent_skills@aurora-prod and
DynamoDB; every ticket-api operation -> DynamoDB ``tickets``) or kb-search (-> kb-opensearch). Each
service's CPU utilisation follows its request rate; past half its capacity its own time grows as a
queue does (``0.5 / (1 - u)``), and close to saturation it sheds load with 503s.

Faults (see :mod:`slo_analysis.demo.scenario_spec`) act on the requests the culprit *version* serves,
from the onset on; dependency outages act on every caller of the dependency; a surge acts only through
the traffic it adds. Each hop carries a ``*_kind`` label (``slow``, ``error``, ``wait``, ``pool``,
``timeout``, ``shed``) so logs and traces can tell the same story.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> from slo_analysis.demo.scenario_spec import Scenario
>>> from slo_analysis.demo.scenario_plan import plan_changes
>>> s = Scenario("x", 5, "surge", None, None, datetime(2026, 11, 4, 12, tzinfo=UTC), timedelta(hours=2), (),
...              "ticket-api", "CreateTicket", surge_factor=2.5, days=2)
>>> t = simulate_traffic(s, plan_changes(s, np.random.default_rng(1)), seed=5)
>>> bool(t.load.filter(pl.col("service") == "ticket-api")["cpu"].max() > 85)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from slo_analysis.demo.ids import request_ids, trace_ids
from slo_analysis.demo.scenario_plan import Plan, assign, task_ids
from slo_analysis.demo.scenario_spec import Scenario
from slo_analysis.demo.story import MINUTE_MS, ROUTES, SERVICES
from slo_analysis.demo.traffic import cat, draw_arrivals

__all__ = ["Traffic", "simulate_traffic", "SQL_TIMEOUT_MS", "SEARCH_TIMEOUT_MS", "POOL_TIMEOUT_MS"]

SQL_TIMEOUT_MS = 3000.0  # routing-service's JDBC statement timeout
SEARCH_TIMEOUT_MS = 2000.0  # kb-search's OpenSearch client timeout
POOL_TIMEOUT_MS = 2000.0  # connection-pool checkout timeout
_DAILY_MEAN = 0.466  # mean of the daily profile below (weekday); turns an average rate into a peak
_CAPACITY = {"support-web": 0.22, "ticket-api": 0.38, "routing-service": 0.25, "kb-search": 0.30, "notify-worker": 0.2}
_SLOW_MS = {"support-web": 450.0, "ticket-api": 700.0, "kb-search": 450.0, "routing-service": 1000.0}
_TIERS = ["free", "pro", "enterprise"]
_AZS = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


@dataclass(frozen=True)
class Traffic:
    """Front-door requests with every hop (``fd``), notify-worker requests and per-minute load."""

    fd: pl.DataFrame
    notify: pl.DataFrame  # ts_ms, latency_ms, status, task_id, version, tier, az, ticket_id
    load: pl.DataFrame  # minute_ms, service, u, cpu, memory
    tasks: dict[str, list[list[str]]]


def _ln(rng: np.random.Generator, median: float | np.ndarray, sigma: float, n: int) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(n))


def _profile(plan: Plan, s: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute traffic relative to a weekday peak (seasonality x surge), and the surge alone."""
    m = np.arange(plan.minutes)
    hour = ((m + 0.5) / 60.0) % 24
    daily = 0.2 + 0.8 * np.exp(-(((hour - 13.5) / 4.5) ** 2))
    wd0 = datetime.fromtimestamp(plan.start_ms / 1000, tz=UTC).weekday()
    weekly = np.where((wd0 + m // 1440) % 7 >= 5, 0.5, 1.0)
    surge = np.ones(plan.minutes)
    if s.cause == "surge":
        mid = plan.start_ms + m * MINUTE_MS + MINUTE_MS // 2
        ramp = min(15 * MINUTE_MS, (plan.incident_end_ms - plan.onset_ms) / 4)
        up = np.clip(np.minimum(mid - plan.onset_ms, plan.incident_end_ms - mid) / ramp, 0.0, 1.0)
        surge = 1.0 + (s.surge_factor - 1.0) * up
    return daily * weekly * surge, surge


def _intensity(s: Scenario, plan: Plan, ts: np.ndarray) -> np.ndarray:
    """How strongly the fault acts at each time, in [0, 1] (version gating is the caller's)."""
    on, end = plan.onset_ms, plan.incident_end_ms
    if s.cause == "deployment":
        if s.fault == "exhaustion":  # the leak keeps growing until the rollback
            x = np.clip((ts - on) / (0.8 * (end - on)), 0.0, 1.0)
            i = 0.2 + 0.8 * x
        else:
            i = np.clip((ts - on) / (2 * MINUTE_MS), 0.0, 1.0)
        return np.where((ts >= on) & (ts < end), i, 0.0)
    if s.cause == "dependency":
        ramp = 3 * MINUTE_MS
        return np.clip(np.minimum(ts - on, end - ts) / ramp, 0.0, 1.0)
    return np.zeros(len(ts))


def _utilisation(s: Scenario, rel: np.ndarray, surge: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    caps = dict(_CAPACITY)
    if s.cause == "surge":
        peak = float(rel[surge > 1.0].max())
        caps[s.slo_service] = (0.89 + 0.08 * (min(s.magnitude, 1.3) - 0.7) / 0.6 - 0.05) / peak
        for k in caps:
            if k != s.slo_service:
                caps[k] = min(caps[k], 0.6 / peak)
    return {k: np.clip(0.05 + c * rel + rng.normal(0, 0.012, rel.size), 0.01, 0.99) for k, c in caps.items()}


def _queue(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Own-time multiplier of requests at utilisation ``u`` (a queue's wait, exponentially spread)."""
    f = np.minimum(12.0, np.maximum(1.0, 0.5 / (1.0 - np.minimum(u, 0.96))))
    return 1.0 + (f - 1.0) * rng.exponential(1.0, u.size)


def simulate_traffic(s: Scenario, plan: Plan, seed: int) -> Traffic:  # noqa: C901, PLR0915 - one story, told in order
    """Draw every request of the scenario. Same ``(s, plan, seed)``, same frames."""
    r_count, r_attr, r_lat, r_fault, r_ids, r_task = np.random.default_rng(seed).spawn(6)
    rel, surge = _profile(plan, s)
    shares = np.array([r[3] for r in ROUTES])
    lam = s.front_door_rps / _DAILY_MEAN * 60.0 * rel[:, None] * shares[None, :]
    ts, minute, route = draw_arrivals(r_count, lam, plan.start_ms)
    n = ts.size
    util = _utilisation(s, rel, surge, r_count)
    tasks = task_ids(plan, r_task)
    inten = _intensity(s, plan, ts)
    mag = s.magnitude

    is_create, is_kb = route == 0, route == 3
    is_ta = ~is_kb
    ops = np.array([r[2] for r in ROUTES])
    tier_c = r_attr.choice(3, n, p=[0.55, 0.3, 0.15])
    az_c = r_attr.integers(0, 3, n)
    client_err = r_attr.random(n) < np.select([route == 0, route == 1, route == 2], [0.008, 0.015, 0.005], 0.003)
    base_fault = r_attr.random(n) < 0.0002

    # who serves each hop, and whether that is the culprit version
    sw_gen, sw_task, sw_ver = assign(plan, tasks, "support-web", ts, r_task)
    ds_gen = np.zeros(n, dtype=np.int64)
    ds_task = pl.Series([""] * n, dtype=pl.String)
    ds_ver = ds_task
    parts = []
    for svc, sel in (("ticket-api", np.flatnonzero(is_ta)), ("kb-search", np.flatnonzero(is_kb))):
        g, tk, vr = assign(plan, tasks, svc, ts[sel] + 2, r_task)
        ds_gen[sel] = g
        parts.append(pl.DataFrame({"pos": sel, "task": tk, "ver": vr}))
    tv = pl.concat(parts).sort("pos")
    ds_task, ds_ver = tv["task"], tv["ver"]
    rt_gen, rt_task, rt_ver = assign(plan, tasks, "routing-service", ts + 40, r_task)

    cul = next(iter(plan.of_role("culprit")), None)
    cul_gen = -1
    if cul is not None:
        cul_gen = [d for d, _v in plan.generations(cul.service)].index(cul)
    version_factor: dict[str, float] = {}
    for svc in SERVICES:  # benign releases shift a service's own time a little, either way
        for d, v in plan.generations(svc):
            if d is not None and d.role in ("decoy", "routine"):
                version_factor[f"{svc}/{v}"] = float(np.exp(r_lat.normal(0.015, 0.035)))

    def vf(svc: str, versions: pl.Series) -> np.ndarray:
        keys = pl.lit(svc + "/") + pl.lit(versions)
        factor = keys.replace_strict(version_factor, default=1.0, return_dtype=pl.Float64)
        return pl.select(factor).to_series().to_numpy()

    # baseline timings (the demo's medians), queueing with each service's utilisation
    ds_svc_u = np.where(is_kb, util["kb-search"][minute], util["ticket-api"][minute])
    sw_own = _ln(r_lat, 6, 0.4, n) * _queue(util["support-web"][minute], r_lat) * vf("support-web", sw_ver)
    ds_own = np.select([route == 0, route == 1, route == 2],
                       [_ln(r_lat, 110, 0.38, n), _ln(r_lat, 28, 0.4, n), _ln(r_lat, 75, 0.4, n)],
                       _ln(r_lat, 35, 0.45, n))
    ds_own = ds_own * _queue(ds_svc_u, r_lat) * np.where(is_kb, vf("kb-search", ds_ver), vf("ticket-api", ds_ver))
    ddb = np.where(is_kb, np.nan, _ln(r_lat, 9, 0.3, n))
    os_ms = np.where(is_kb, _ln(r_lat, 25, 0.45, n), np.nan)
    r_own = _ln(r_lat, 14, 0.3, n) * _queue(util["routing-service"][minute], r_lat) * vf("routing-service", rt_ver)
    sql = _ln(r_lat, 22, 0.35, n)
    r_ddb = _ln(r_lat, 9, 0.3, n)
    kinds = {h: np.full(n, "", dtype=object) for h in ("sw", "ds", "rt")}
    wait = np.zeros(n)

    # the culprit version's fault, on the hop it lives in
    u1, u2, u3 = r_fault.random(n), r_fault.random(n), r_fault.random(n)
    sw_fail = np.zeros(n, bool)
    ds_fail = np.zeros(n, bool)
    ds_fail_status = np.zeros(n, dtype=np.int64)
    rt_fail = np.zeros(n, bool)
    if s.cause == "deployment" and cul is not None:
        c = cul.service
        fault = s.fault
        routes = [r[0] for r in ROUTES]
        slo_route = routes.index(s.slo_operation) if c == "support-web" and fault != "exhaustion" else -1
        target = {
            "support-web": (sw_gen == cul_gen) & ((route == slo_route) | (slo_route < 0)),
            "ticket-api": is_ta & (ds_gen == cul_gen) & ((ops[route] == s.slo_operation) | (fault == "exhaustion")),
            "kb-search": is_kb & (ds_gen == cul_gen),
            "routing-service": is_create & (rt_gen == cul_gen),
        }[c]
        it = np.where(target, inten, 0.0)
        hop = {"support-web": "sw", "routing-service": "rt"}.get(c, "ds")
        if fault == "latency":
            hit = u1 < min(0.95, 0.6 * mag) * it
            slow = _ln(r_lat, _SLOW_MS[c] * mag, 0.55, n)
            if c == "support-web":
                sw_own = np.where(hit, sw_own + slow, sw_own)
            elif c == "ticket-api":
                ds_own = np.where(hit, ds_own + slow, ds_own)
            elif c == "kb-search":
                os_ms = np.where(hit, os_ms + slow, os_ms)
            else:
                sql = np.where(hit, slow, sql)
            kinds[hop] = np.where(hit, "slow", kinds[hop])
        elif fault == "errors":
            hit = u1 < 0.07 * mag * it
            kinds[hop] = np.where(hit, "error", kinds[hop])
            {"sw": sw_fail, "ds": ds_fail, "rt": rt_fail}[hop][:] = hit
            ds_fail_status = np.where(hit & (hop == "ds"), 500, ds_fail_status)
        else:  # exhaustion: waits for a pooled connection, then pool timeouts
            waits = (u1 < 0.3 + 0.7 * it) & (it > 0)
            wait = np.where(waits, _ln(r_lat, 25 + 900 * it**2 * mag, 0.6, n), 0.0)
            pool = (u2 < 0.15 * it**2 * mag) & (it > 0)
            wait = np.where(pool, POOL_TIMEOUT_MS, wait)
            if c == "support-web":
                sw_own = sw_own + wait
            elif c == "routing-service":
                r_own = r_own + wait
            else:
                ds_own = ds_own + wait
            kinds[hop] = np.where(pool, "pool", np.where(wait > 200, "wait", kinds[hop]))
            {"sw": sw_fail, "ds": ds_fail, "rt": rt_fail}[hop][:] = pool
            ds_fail_status = np.where(pool & (hop == "ds"), 503, ds_fail_status)

    # a pool timeout at support-web fails before the downstream call; load shedding at a saturated service
    ds_called = ~(sw_fail & (kinds["sw"] == "pool"))
    shed = ds_called & ~ds_fail & (u3 < np.clip((ds_svc_u - 0.92) * 2.0, 0.0, 0.08))
    kinds["ds"] = np.where(shed, "shed", kinds["ds"])
    ds_fail_status = np.where(shed, 503, ds_fail_status)
    ds_fail = ds_fail | shed

    # dependency outages: every caller, no version change
    ddb_thr = np.zeros(n, dtype=np.int64)
    rdb_thr = np.zeros(n, dtype=np.int64)
    p_thr = 0.0005 + (0.4 * mag * inten if s.dependency == "dynamodb" else 0.0)
    for arr, lat in ((ddb_thr, ddb), (rdb_thr, r_ddb)):
        tries = np.zeros(n, dtype=np.int64)
        for _attempt in range(3):  # the SDK retries a throttled call up to twice more
            more = (r_fault.random(n) < p_thr) & (tries == _attempt)
            tries = tries + more
        arr[:] = tries
        lat += np.where(tries > 0, tries * _ln(r_lat, 45, 0.5, n), 0.0)
    ddb_called = is_ta & ds_called & ~ds_fail
    ddb_thr[:] = np.where(ddb_called, ddb_thr, 0)
    ddb_exh = ddb_called & (ddb_thr >= 3)
    if s.dependency == "kb-opensearch":
        hit = is_kb & (u1 < 0.7 * inten)
        os_ms = np.where(hit, os_ms * _ln(r_lat, 14 * mag, 0.6, n), os_ms)
    if s.dependency == "aurora-prod":
        hit = u1 < 0.8 * inten
        sql = np.where(hit, sql * _ln(r_lat, 38 * mag, 0.6, n), sql)
    os_timeout = is_kb & (os_ms >= SEARCH_TIMEOUT_MS)
    os_ms = np.where(os_timeout, SEARCH_TIMEOUT_MS + _ln(r_lat, 3, 0.3, n), os_ms)

    # routing-service AssignAgent
    calls_routing = is_create & ~client_err & ~base_fault & ~ds_fail & ds_called & ~ddb_exh
    rt_fail = rt_fail & calls_routing
    sql_timeout = calls_routing & ~rt_fail & (sql >= SQL_TIMEOUT_MS)
    sql = np.where(sql_timeout, SQL_TIMEOUT_MS + _ln(r_lat, 4, 0.3, n), sql)
    kinds["rt"] = np.where(sql_timeout, "timeout", np.where(calls_routing, kinds["rt"], ""))
    rdb_called = calls_routing & ~rt_fail & ~sql_timeout
    rdb_thr = np.where(rdb_called, rdb_thr, 0)
    rdb_exh = rdb_called & (rdb_thr >= 3)
    rt_err = rt_fail | sql_timeout | rdb_exh
    rt_pool = rt_fail & (kinds["rt"] == "pool")
    assign_ms = np.select([rt_fail & ~rt_pool, rt_pool, sql_timeout], [r_own * 0.5, r_own, r_own + sql],
                          r_own + sql + r_ddb)
    rt_status = np.where(rt_pool, 503, np.where(rt_err, 500, 200))

    # ticket-api / kb-search
    os_called = is_kb & ds_called & ~ds_fail
    os_timeout = os_timeout & os_called
    ds_lat = ds_own + np.where(ddb_called, ddb, 0.0) + np.where(os_called, os_ms, 0.0)
    ds_lat = ds_lat + np.where(calls_routing, assign_ms + 2.0, 0.0)
    ds_lat = np.where(client_err & ~ds_fail, ds_own * 0.3 + np.where(ddb_called, ddb, 0.0), ds_lat)
    ds_lat = np.where(ds_fail, np.where(kinds["ds"] == "pool", ds_own, ds_own * np.where(shed, 0.1, 0.4)), ds_lat)
    ok_status = np.where(is_create, 201, 200)
    ds_status = np.where(client_err, np.select([route == 0, route == 1, route == 2], [400, 404, 409], 400), ok_status)
    ds_status = np.where(base_fault, np.where(is_kb, 500, 503), ds_status)
    ds_status = np.where(ddb_exh, 500, ds_status)
    ds_status = np.where(os_timeout & ~client_err, 504, ds_status)
    ds_status = np.where(calls_routing & rt_err, np.where(sql_timeout, 504, 502), ds_status)
    ds_status = np.where(ds_fail, ds_fail_status, ds_status)
    kinds["ds"] = np.where(os_timeout & (kinds["ds"] == ""), "timeout", kinds["ds"])

    # support-web
    sw_lat = np.where(ds_called, sw_own + ds_lat + 1.0, sw_own)
    sw_status = np.where(sw_fail, np.where(kinds["sw"] == "pool", 503, 500), ds_status)

    ticket_no = np.cumsum(is_create) + 100000
    ticket_id = pl.select(pl.when(pl.lit(pl.Series(is_create))).then(pl.format("T-{}", pl.lit(pl.Series(ticket_no))))
                          ).to_series()
    rt_ts = ts + 2 + np.round(ds_own + np.nan_to_num(ddb)).astype(np.int64) + 1
    fd = pl.DataFrame({
        "rid": np.arange(n), "ts_ms": ts, "minute": minute, "route": cat([r[0] for r in ROUTES], route),
        "route_i": route, "ds_service": cat(["ticket-api", "kb-search"], is_kb.astype(np.int64)),
        "operation": cat(ops, route), "tier": cat(_TIERS, tier_c), "az": cat(_AZS, az_c),
        "ticket_id": ticket_id, "trace_id": trace_ids(r_ids, ts),
        "sw_task": sw_task, "sw_ver": sw_ver, "sw_lat": sw_lat, "sw_status": sw_status,
        "sw_kind": kinds["sw"].astype(str),
        "ds_task": ds_task, "ds_ver": ds_ver, "ds_lat": ds_lat, "ds_own": ds_own, "ds_status": ds_status,
        "ds_kind": kinds["ds"].astype(str),
        "ddb_ms": ddb, "ddb_op": cat(["PutItem", "GetItem", "UpdateItem", ""], route), "ddb_thr": ddb_thr,
        "ddb_exh": ddb_exh, "os_ms": os_ms, "os_timeout": os_timeout, "ds_called": ds_called,
        "ddb_called": ddb_called, "os_called": os_called, "rdb_called": rdb_called,
        "calls_routing": calls_routing, "rt_ts": rt_ts, "rt_task": rt_task, "rt_ver": rt_ver, "rt_lat": assign_ms,
        "rt_status": rt_status, "rt_kind": kinds["rt"].astype(str), "sql_ms": sql, "sql_timeout": sql_timeout,
        "rdb_ms": r_ddb, "rdb_thr": rdb_thr, "rdb_exh": rdb_exh, "wait_ms": wait,
        "sw_rid": request_ids(r_ids, n), "ds_rid": request_ids(r_ids, n), "rt_rid": request_ids(r_ids, n),
    }).with_columns(pl.col("ddb_ms", "os_ms").fill_nan(None))

    # notify-worker: one confirmation per created ticket
    made = np.flatnonzero(is_create & ds_called & (ds_status == 201))
    nts = ts[made] + np.round(sw_lat[made]).astype(np.int64) + r_attr.integers(800, 2500, made.size)
    _g, n_task, n_ver = assign(plan, tasks, "notify-worker", nts, r_task)
    nfault = r_attr.random(made.size) < 0.0003
    notify = pl.DataFrame({
        "ts_ms": nts, "latency_ms": _ln(r_lat, 180, 0.4, made.size), "status": np.where(nfault, 500, 200),
        "task_id": n_task, "version": n_ver, "tier": cat(_TIERS, tier_c[made]),
        "az": cat(_AZS, r_attr.integers(0, 3, made.size)),
        "ticket_id": ticket_id.gather(made), "request_id": request_ids(r_ids, made.size),
    }).filter(pl.col("ts_ms") < plan.end_ms)
    return Traffic(fd=fd, notify=notify, load=_load(s, plan, util, r_attr), tasks=tasks)


def _load(s: Scenario, plan: Plan, util: dict[str, np.ndarray], rng: np.random.Generator) -> pl.DataFrame:
    """Per-minute CPU and memory per service: utilisation, deployment warm-ups, and the culprit's leak."""
    minutes = plan.start_ms + np.arange(plan.minutes) * MINUTE_MS
    mid = minutes + MINUTE_MS // 2
    cul = next(iter(plan.of_role("culprit")), None)
    rb = next(iter(plan.of_role("rollback")), None)
    rows = []
    for svc in SERVICES:
        cpu = 100.0 * util[svc] + rng.normal(0, 1.0, minutes.size)
        mem = 38.0 + 6.0 * np.sin(np.arange(minutes.size) / 1440.0 * 2 * np.pi) + rng.normal(0, 0.6, minutes.size)
        for d, _v in plan.generations(svc):
            if d is None:
                continue
            age = mid - d.started_ms
            cpu += np.where((age >= 0) & (age < 4 * MINUTE_MS), 12.0, 0.0)  # JIT warm-up of new tasks
            mem -= np.where(age >= 0, 7.0 * np.exp(-age / (45 * MINUTE_MS)), 0.0)  # fresh heaps
        if s.fault == "exhaustion" and cul is not None and rb is not None and cul.service == svc:
            span = max(1, rb.finished_ms - cul.finished_ms)
            x = np.clip((mid - cul.finished_ms) / span, 0.0, 1.0)
            live = (mid >= cul.started_ms) & (mid < rb.finished_ms)
            leak = np.where(live, 52.0 * min(s.magnitude, 1.1) * x**1.3, 0.0)
            mem += leak
            cpu += leak * 0.45  # garbage collection under memory pressure
        rows.append(pl.DataFrame({"minute_ms": minutes, "service": svc, "u": util[svc],
                                  "cpu": np.round(np.clip(cpu, 1.0, 100.0), 2),
                                  "memory": np.round(np.clip(mem, 5.0, 99.5), 2)}))
    return pl.concat(rows)
