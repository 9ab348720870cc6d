"""Live CloudWatch metrics: ListMetrics discovery and GetMetricData in the fewest calls the limits allow.

Fetchers follow ``docs/live-sources.md``: clients only from :func:`slo_analysis.sources.aws.client`,
one :class:`~slo_analysis.sources.aws.Fetched` unit per (call, page), ``done`` units skipped without
calling AWS, every loop bounded, frames parsed by
:func:`~slo_analysis.sources.cloudwatch_metrics.metrics_from_get_metric_data` (the import path's
loader), with the request's ``MetricDataQueries`` beside each response.

AWS operations called
---------------------
- ``ListMetrics`` (:func:`discover_metrics`; paginated, at most :data:`MAX_PAGES` pages).
- ``GetMetricData`` (:func:`metric_data_fetcher`; planned by :func:`plan_requests`, NextToken pages
  followed, ``PartialData`` results re-requested for their missing range).

The batching rule
-----------------
A GetMetricData call takes at most :data:`MAX_QUERIES_PER_CALL` (500) queries, hidden inputs
(``ReturnData: false``) included, and returns at most :data:`MAX_DATAPOINTS_PER_CALL` (100,800)
datapoints a page; only returned datapoints count (``MaxDatapoints``, "the maximum number of data
points the request should return before paginating"), so an expression's hidden inputs do not. One
call has one ``StartTime``/``EndTime`` for all its queries, and an expression needs the queries it
names in the same call: an expression with its inputs (transitively) is an *atom*. A call from a
StartTime on a query's period grid over ``L`` seconds returns ``ceil(L / period)`` datapoints per
returned query.

CloudWatch rounds a StartTime down (a minute for data under 15 days old, 5 minutes to 63 days, an hour
beyond; 5/10/20/30 s periods to their own grid). A call whose StartTime it rounds returns an extra
datapoint per query, which can push a full call onto a second page. So the plan starts at ``start``
rounded down that way, and every chunk boundary is on every member's period grid and on that rounding
grid: no call gains a datapoint, none pages.

:func:`minimum_calls` is the largest of three lower bounds (proofs in its docstring): the query bound
(500 queries, whole atoms, per call at every instant), the datapoint bound ``ceil(D / 100800)``, and
for each kind of atom (and each set of kinds returning the same series on the same grid) the exact
fewest calls of that kind alone, which catches what the sums miss: 11 series of 18,327 points make
201,597 datapoints, under 2 x 100,800, yet need 3 calls. The third bound holds for *group plans*, where
each atom keeps one set of companions for the whole window and their group's window is cut into equal
chunks; :func:`plan_requests` makes only such plans.

:func:`plan_requests` packs atoms into groups (at most 500 queries; chunks as long as the cap allows on
the group's grid) aiming at that bound: a greedy that fills each group in proportion to what is left, as
full in datapoints or queries per call as it can while the bound of what is left still fits the target,
then exact per-kind plans. On shapes of one period grid of a minute or more (any mix of stats,
percentiles and metric math, any window) the plan meets the bound, so the bound is the minimum: checked
with hypothesis and by ``bench/bench_calls.py`` (1 of 300 random 1-second shapes was one over). When
periods on different grids share the request, a group holding both is cut on the coarser grid; the bound
does not see that waste, and on about 5 % of random such shapes the plan is one call over it (the exact
minimum there is not computed). Planning 10,000 queries takes about 0.3 s.

Retention
---------
CloudWatch keeps sub-minute data 3 hours, 1-minute data 15 days, 5-minute data 63 days and 1-hour data
455 days; a query of older data must use a period that is a multiple of 60, 300 or 3600 s, or it
returns nothing. :func:`choose_period` grants the finest period retention still holds and says so when
that is coarser than the one asked for; :func:`metric_data_fetcher` applies it to every query.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from slo_analysis.exceptions import AwsSourceError
from slo_analysis.sources.aws import AwsSettings, Fetched, Fetcher, Window, check_window, client, digest, iso_z
from slo_analysis.sources.cloudwatch_metrics import metrics_from_get_metric_data

__all__ = [
    "MAX_QUERIES_PER_CALL",
    "MAX_DATAPOINTS_PER_CALL",
    "MAX_PAGES",
    "MAX_PARTIAL_ATTEMPTS",
    "MAX_THROTTLE_RETRIES",
    "RETENTION",
    "CloudWatchFetchError",
    "call_cloudwatch",
    "discover_metrics",
    "queries_for",
    "choose_period",
    "plan_requests",
    "minimum_calls",
    "merge_query_batches",
    "metric_data_fetcher",
]

log = logging.getLogger(__name__)


MAX_QUERIES_PER_CALL = 500  # GetMetricData: "as many as 500 MetricDataQuery structures"
MAX_DATAPOINTS_PER_CALL = 100_800  # GetMetricData: "a total of as many as 100,800 data points"
MAX_PAGES = 1000  # NextToken pages of one call (ListMetrics: 500 metrics a page)
MAX_PARTIAL_ATTEMPTS = 3  # re-requests of PartialData results per call
MAX_THROTTLE_RETRIES = 3  # retries after botocore's own bounded retries gave up on throttling
THROTTLE_BACKOFF_S = 2.0  # first pause; doubles per retry
#: (age up to, finest period in seconds that retention still holds for data of that age)
RETENTION: tuple[tuple[timedelta, int], ...] = (
    (timedelta(hours=3), 1),
    (timedelta(days=15), 60),
    (timedelta(days=63), 300),
    (timedelta(days=455), 3600),
)
_SUB_MINUTE = (1, 5, 10, 20, 30)
_ID_TOKEN = re.compile(r"[a-z][A-Za-z0-9_]*")
_THROTTLING = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
_LIMITS = {"LimitExceeded", "LimitExceededException"}
_LAST = "-last"
_sleep = time.sleep  # tests replace it


class CloudWatchFetchError(AwsSourceError):
    """A CloudWatch call cannot be completed (a limit exceeded, throttled beyond the retries, too many
    pages) or a query set cannot be planned; the message names the call and what to change."""


# ----------------------------------------------------------------------------- helpers


def call_cloudwatch(fn: Callable[..., Any], request: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``fn(**request)``; throttling that outlived botocore's retries is retried a bounded number of
    times after a longer pause, a limit error becomes a :class:`CloudWatchFetchError` naming ``what``."""
    for attempt in range(MAX_THROTTLE_RETRIES + 1):
        try:
            response: dict[str, Any] = fn(**request)
            return response
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            if code in _THROTTLING:
                if attempt < MAX_THROTTLE_RETRIES:
                    pause = THROTTLE_BACKOFF_S * 2 ** attempt
                    log.warning("%s: throttled (%s); retry %d of %d in %.0f s", what, code, attempt + 1,
                                MAX_THROTTLE_RETRIES, pause)
                    _sleep(pause)
                    continue
                raise CloudWatchFetchError(
                    f"{what}: still throttled ({code}) after the client's retries and {MAX_THROTTLE_RETRIES} "
                    "more; run again later (finished units are kept) or raise AwsSettings.max_attempts") from exc
            if code in _LIMITS:
                raise CloudWatchFetchError(
                    f"{what}: AWS refused the call with {code} ({message or 'a limit was exceeded'}); "
                    "fewer queries or a shorter window per call, or a quota increase, is needed") from exc
            raise
    raise AssertionError("unreachable")  # pragma: no cover


# ----------------------------------------------------------------------------- discovery
def discover_metrics(settings: AwsSettings | None, *, namespace: str, metric_name: str | None = None,
                     dimensions: Mapping[str, str | None] | None = None,
                     recently_active: str | None = None) -> list[dict[str, Any]]:
    """List the metrics of a namespace (``ListMetrics``, all pages).

    Parameters
    ----------
    settings
        Where and how to call AWS.
    namespace
        The metric namespace (exact match), e.g. ``"AWS/ApplicationELB"``.
    metric_name
        Only metrics of this name.
    dimensions
        Dimension filters: ``{name: value}``; a ``None`` value matches any value of that dimension.
    recently_active
        ``"PT3H"``: only metrics that received data in the past three hours.

    Returns
    -------
    list of dict
        CloudWatch ``Metric`` objects (``Namespace``, ``MetricName``, ``Dimensions``), in the order
        AWS listed them.

    Raises
    ------
    CloudWatchFetchError
        More than :data:`MAX_PAGES` pages (narrow the filters), or a limit error.
    """
    request: dict[str, Any] = {"Namespace": namespace}
    if metric_name:
        request["MetricName"] = metric_name
    if dimensions:
        request["Dimensions"] = [{"Name": k} if v is None else {"Name": k, "Value": v}
                                 for k, v in dimensions.items()]
    if recently_active:
        request["RecentlyActive"] = recently_active
    cw: Any = client("cloudwatch", settings)
    metrics: list[dict[str, Any]] = []
    token: str | None = None
    for _page in range(MAX_PAGES):
        req = dict(request, NextToken=token) if token else request
        response = call_cloudwatch(cw.list_metrics, req, f"ListMetrics {namespace}")
        metrics.extend(response.get("Metrics", []))
        token = response.get("NextToken")
        if not token:
            return metrics
    raise CloudWatchFetchError(f"ListMetrics {namespace}: more than {MAX_PAGES} pages; narrow the filters")


def queries_for(namespace: str, metric: str, dimensions_list: Sequence[Mapping[str, str] | Sequence[Mapping[str, str]]],
                stats: Sequence[str], period_s: int, *, unit: str | None = None) -> list[dict[str, Any]]:
    """MetricStat queries, one per (dimension set, statistic), with unique deterministic Ids.

    Parameters
    ----------
    namespace, metric
        The metric.
    dimensions_list
        Dimension sets: each ``{name: value}`` or CloudWatch's ``[{"Name": ..., "Value": ...}]``
        (e.g. the ``Dimensions`` of :func:`discover_metrics` results). ``[{}]`` for no dimensions.
    stats
        Statistics: ``Sum``, ``Average``, ``SampleCount``, ``Minimum``, ``Maximum``, or extended ones
        (``p50``, ``p99``, ``tm99``, ``TC(0:500)`` ...).
    period_s
        The period in seconds.
    unit
        Optional unit filter.

    Returns
    -------
    list of dict
        ``MetricDataQuery`` objects. Each Id is ``"m"`` and a digest of the query's identity, so the
        same metric, dimensions, statistic and period always get the same Id and different ones never
        share it.

    Examples
    --------
    >>> q = queries_for("AWS/Lambda", "Duration", [{"FunctionName": "f"}], ["p99"], 60)
    >>> q[0]["MetricStat"]["Stat"], q[0]["Id"][0]
    ('p99', 'm')
    """
    out: list[dict[str, Any]] = []
    for dims in dimensions_list:
        if isinstance(dims, Mapping):
            pairs = [{"Name": k, "Value": v} for k, v in sorted(dims.items())]
        else:
            pairs = sorted(({"Name": d["Name"], "Value": d["Value"]} for d in dims),
                           key=lambda d: (d["Name"], d["Value"]))
        for stat in stats:
            metric_doc: dict[str, Any] = {"Namespace": namespace, "MetricName": metric}
            if pairs:
                metric_doc["Dimensions"] = pairs
            ms: dict[str, Any] = {"Metric": metric_doc, "Period": int(period_s), "Stat": stat}
            if unit:
                ms["Unit"] = unit
            out.append({"Id": "m" + hashlib.sha256(json.dumps(ms, sort_keys=True).encode()).hexdigest()[:16],
                        "MetricStat": ms, "ReturnData": True})
    return out


# ----------------------------------------------------------------------------- retention
def choose_period(requested_period_s: int, start: datetime, now: datetime) -> tuple[int, str | None]:
    """The finest period CloudWatch still holds for data starting at ``start``, seen at ``now``.

    Parameters
    ----------
    requested_period_s
        The period asked for, in seconds (>= 1).
    start
        The oldest time wanted (timezone-aware).
    now
        The time of the request (timezone-aware).

    Returns
    -------
    (period_s, warning)
        ``period_s`` is ``requested_period_s`` when retention holds it, else the next multiple of the
        finest period kept at that age (60 s after 3 hours, 300 s after 15 days, 3600 s after 63
        days); below one minute, only 1, 5, 10, 20 and 30 s exist. ``warning`` names the requested and
        the granted period and why, or is None when nothing changed. Data older than 455 days is
        gone: the period is a multiple of 3600 and the warning says so.

    Examples
    --------
    >>> from datetime import datetime, timedelta, UTC
    >>> now = datetime(2026, 1, 30, tzinfo=UTC)
    >>> choose_period(60, now - timedelta(days=20), now)[0]
    300
    >>> choose_period(60, now - timedelta(days=2), now)
    (60, None)
    """
    if requested_period_s < 1:
        raise CloudWatchFetchError(f"period {requested_period_s}s: a period is at least 1 second")
    age = now - start
    finest = RETENTION[-1][1]
    for limit, period in RETENTION:
        if age <= limit:
            finest = period
            break
    requested = int(requested_period_s)
    if finest == 1 and requested < 60:
        granted = next(p for p in _SUB_MINUTE if p >= requested) if requested <= 30 else 60
    else:
        base = max(finest, 60)
        granted = -(-requested // base) * base
    gone = age > RETENTION[-1][0]
    if granted == requested and not gone:
        return granted, None
    days = age.total_seconds() / 86400
    age_text = f"{days:.1f} days" if days >= 1 else f"{age.total_seconds() / 3600:.1f} hours"
    if gone:
        return granted, (f"data from {iso_z(start)} is {age_text} old: CloudWatch keeps metrics 455 days, so "
                         f"nothing older exists; period {granted}s (requested {requested}s)")
    return granted, (f"requested period {requested}s is finer than CloudWatch keeps for data {age_text} old "
                     f"(from {iso_z(start)}): granted {granted}s")


# ----------------------------------------------------------------------------- planning
def _query_period(q: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]],
                  seen: frozenset[str] = frozenset()) -> int:
    qid = q["Id"]
    if "MetricStat" in q:
        return int(q["MetricStat"]["Period"])
    if q.get("Period") is not None:
        return int(q["Period"])
    refs = [r for r in _refs(q, by_id) if r not in seen]
    periods = [_query_period(by_id[r], by_id, seen | {qid}) for r in refs]
    if not periods:
        raise CloudWatchFetchError(f"query {qid!r}: an expression that names no other query needs a Period")
    return max(periods)


def _refs(q: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> list[str]:
    expr = q.get("Expression")
    if not isinstance(expr, str):
        return []
    return sorted({t for t in _ID_TOKEN.findall(expr) if t in by_id and t != q["Id"]})


def _returns(q: Mapping[str, Any]) -> bool:
    return q.get("ReturnData", True) is not False


class _Atom:
    """Queries that must share a call: an expression and every query it names (transitively)."""

    __slots__ = ("queries", "periods", "returned", "order")

    def __init__(self, queries: list[dict[str, Any]], by_id: Mapping[str, Mapping[str, Any]], order: int) -> None:
        self.queries = queries
        self.order = order  # the request position of its first query: plans keep request order
        self.periods = [_query_period(q, by_id) for q in queries]
        self.returned = [p for q, p in zip(queries, self.periods, strict=True) if _returns(q)]


def _atoms(queries: Sequence[Mapping[str, Any]]) -> list[_Atom]:
    by_id: dict[str, dict[str, Any]] = {}
    for q in queries:
        qid = q.get("Id")
        if not isinstance(qid, str) or not qid:
            raise CloudWatchFetchError(f"query {q!r}: every MetricDataQuery needs an Id")
        if qid in by_id:
            raise CloudWatchFetchError(f"duplicate query Id {qid!r}: Ids must be unique")
        if "MetricStat" not in q and "Expression" not in q:
            raise CloudWatchFetchError(f"query {qid!r}: a query has MetricStat or Expression")
        by_id[qid] = dict(q)
    parent = {qid: qid for qid in by_id}

    def find(x: str) -> str:
        for _ in range(len(parent)):  # bounded path walk
            if parent[x] == x:
                return x
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for qid, q in by_id.items():
        for r in _refs(q, by_id):
            parent[find(r)] = find(qid)
    members: dict[str, list[dict[str, Any]]] = {}
    for qid, q in by_id.items():  # request order kept inside an atom
        members.setdefault(find(qid), []).append(q)
    position = {qid: n for n, qid in enumerate(by_id)}
    atoms = [_Atom(m, by_id, position[m[0]["Id"]]) for m in members.values()]
    for a in atoms:
        if len(a.queries) > MAX_QUERIES_PER_CALL:
            raise CloudWatchFetchError(
                f"expression {a.queries[-1]['Id']!r} needs {len(a.queries)} queries in one call; GetMetricData "
                f"takes at most {MAX_QUERIES_PER_CALL}")
    return atoms


def _rounding_s(start: datetime, now: datetime | None) -> int:
    """The seconds CloudWatch rounds a StartTime down to at ``start``'s age (GetMetricData StartTime:
    a whole minute under 15 days, 5 minutes to 63 days, an hour beyond); a minute without ``now``."""
    if now is None or now - start < timedelta(days=15):
        return 60
    return 300 if now - start < timedelta(days=63) else 3600


class _Type:
    """Atoms alike for planning: same query count, same returned periods, same period grid."""

    __slots__ = ("atoms", "q", "returned", "align", "whole")

    def __init__(self, atoms: list[_Atom], rounding_s: int, total_s: int) -> None:
        first = atoms[0]
        self.atoms = atoms
        self.q = len(first.queries)
        self.returned = first.returned
        # a chunk starts on every member's grid and where CloudWatch does not round it further (it
        # rounds 5/10/20/30 s periods to their own grid, everything else to ``rounding_s``)
        sub_minute = all(p in _SUB_MINUTE[1:] for p in first.periods)
        self.align = math.lcm(*first.periods, *(() if sub_minute else (rounding_s,)))
        self.whole = sum(-(-total_s // p) for p in first.returned)  # datapoints over the whole window


def _types(atoms: Sequence[_Atom], rounding_s: int, total_s: int) -> list[_Type]:
    alike: dict[tuple[Any, ...], list[_Atom]] = {}
    for a in atoms:
        alike.setdefault((len(a.queries), tuple(sorted(a.returned)), tuple(sorted(set(a.periods)))), []).append(a)
    return [_Type(v, rounding_s, total_s) for v in alike.values()]


def _chunk(types: Sequence[_Type], counts: Sequence[int], total_s: int) -> tuple[int, int] | None:
    """``(chunk_s, calls)`` of a group of ``counts[i]`` atoms of ``types[i]``: the whole window when
    its datapoints fit one call, else the longest chunk on the group's grid (the lcm of its types'
    grids) under the cap, cut from the start; None when not even one grid step fits."""
    present = [i for i, n in enumerate(counts) if n]
    if sum(counts[i] * types[i].whole for i in present) <= MAX_DATAPOINTS_PER_CALL:
        return total_s, 1
    align = math.lcm(*(types[i].align for i in present))
    per_align = sum(counts[i] * sum(align // p for p in types[i].returned) for i in present)
    steps = MAX_DATAPOINTS_PER_CALL // per_align
    if not steps:
        return None
    return steps * align, -(-total_s // (steps * align))


def _query_bound(types: Sequence[_Type], counts: Sequence[int]) -> int:
    """Calls covering any one instant of the window: together they hold every atom, and a call holds
    500 queries, so at most ``500 // s`` atoms of ``s`` queries or more."""
    live = [(t, n) for t, n in zip(types, counts, strict=True) if n]
    bound = -(-sum(t.q * n for t, n in live) // MAX_QUERIES_PER_CALL)
    for size in {t.q for t, _ in live if t.q > 1}:
        big = sum(n for t, n in live if t.q >= size)
        bound = max(bound, -(-big // (MAX_QUERIES_PER_CALL // size)))
    return bound


def _lower_bound(types: Sequence[_Type], counts: Sequence[int]) -> int:
    """Calls every plan of these atoms needs: the query bound (:func:`_query_bound`) and the
    datapoint bound (every returned datapoint comes back from some call)."""
    points = sum(t.whole * n for t, n in zip(types, counts, strict=True))
    return max(_query_bound(types, counts), -(-points // MAX_DATAPOINTS_PER_CALL))


def _items(t: _Type, total_s: int, most: int) -> list[tuple[int, int]]:
    """``(atoms, calls)`` for each call count a group of ``t`` can have, with the most atoms (up to
    ``most``) that count affords: groups of ``m`` atoms cost ``calls(m)``, nondecreasing in ``m``."""
    items: list[tuple[int, int]] = []
    for m in range(1, most + 1):  # bounded: 500 queries
        chunk = _chunk([t], [m], total_s)
        if chunk is None:
            break
        if items and items[-1][1] == chunk[1]:
            items[-1] = (m, chunk[1])
        else:
            items.append((m, chunk[1]))
    if not items:
        raise CloudWatchFetchError(
            f"query {t.atoms[0].queries[-1]['Id']!r}: one grid step of its datapoints alone exceeds "
            f"{MAX_DATAPOINTS_PER_CALL} per call")
    return items


def _cover(items: Sequence[tuple[int, int]], n: int, lower: int) -> tuple[int, list[int]]:
    """The fewest calls of groups (``items``) holding ``n`` atoms, and the group sizes: an unbounded
    covering knapsack. Let ``e`` be the item with the most atoms per call: any ``M_e`` other items hold
    a subset whose atoms sum to a multiple of ``M_e`` (prefix sums modulo ``M_e``), which copies of
    ``e`` hold for no more calls, so an optimum uses fewer than ``M_e`` other items, holding at most
    ``(M_e - 1) * max M`` atoms: a dynamic programme over that range is exact. ``lower`` (a lower
    bound) ends the search early when copies of ``e`` and one group for the rest reach it."""
    if n <= 0:
        return 0, []
    e_m, e_c = max(items, key=lambda it: (Fraction(it[0], it[1]), -it[0]))
    full, rest = divmod(n, e_m)
    quick = full * e_c + (next(c for m, c in items if m >= rest) if rest else 0)
    if quick <= lower:
        return quick, [e_m] * full + ([rest] if rest else [])
    # an item costing at least the copies of e that hold as many atoms is never needed
    others = [(m, c) for m, c in items if (m, c) != (e_m, e_c) and c < e_c * -(-m // e_m)]
    span = min(n, (e_m - 1) * max((m for m, _ in others), default=0))
    sizes_arr = np.array([e_m] + [m for m, _ in others], dtype=np.int64)
    calls_arr = np.array([e_c] + [c for _, c in others], dtype=np.int64)
    cost = np.zeros(span + 1, dtype=np.int64)  # cost[y]: fewest calls holding y atoms
    pick = np.zeros(span + 1, dtype=np.int64)
    for y in range(1, span + 1):  # bounded by the exchange argument above
        offers = cost[np.maximum(0, y - sizes_arr)] + calls_arr
        best = int(np.argmin(offers))
        cost[y], pick[y] = offers[best], sizes_arr[best]
    ys = np.arange(span + 1)
    totals = cost + e_c * -(-(n - ys) // e_m)
    y0 = int(np.argmin(totals))
    sizes = [e_m] * (-(-(n - y0) // e_m))
    y = y0
    for _ in range(span + 1):  # bounded walk back
        if y <= 0:
            break
        sizes.append(int(pick[y]))
        y -= int(pick[y])
    return int(totals[y0]), _trim(sizes, n)


def _trim(sizes: Sequence[int], n: int) -> list[int]:
    """Group sizes holding exactly ``n`` atoms: the last groups take what is left."""
    out = []
    for m in sizes:
        if n <= 0:
            break
        out.append(min(m, n))
        n -= out[-1]
    return out


def _one_type(types: Sequence[_Type], i: int, total_s: int, most: int | None = None,
              groups: int | None = None) -> tuple[int, list[int]]:
    """The fewest calls for the atoms of ``types[i]`` alone (groups of at most ``most`` atoms when
    given), and the group sizes that reach it.

    Without regard to queries this is :func:`_cover`. But the atoms' queries need at least ``G``
    groups (``groups``, by default :func:`_query_bound` of these atoms); when :func:`_cover` uses fewer, the bound is
    the fewest calls of exactly ``G`` groups holding ``y`` atoms (a dynamic programme over groups and
    atoms) plus a lower bound for the other ``n - y`` atoms, over all ``y``: every plan has ``G``
    groups that hold some ``y`` atoms."""
    t = types[i]
    n = len(t.atoms)
    alone = [n if j == i else 0 for j in range(len(types))]
    lower = _lower_bound(types, alone)
    items = _items(t, total_s, min(n, MAX_QUERIES_PER_CALL // t.q, most or n))
    total, sizes = _cover(items, n, lower)
    groups = groups or _query_bound([t], [n])
    if len(sizes) >= groups:
        return total, sizes
    m_arr = np.array([m for m, _ in items], dtype=np.int64)
    c_arr = np.array([c for _, c in items], dtype=np.int64)
    ys = np.arange(n + 1)
    reach = np.maximum(0, ys[:, None] - m_arr[None, :])
    held = np.full(n + 1, 1 << 40, dtype=np.int64)  # held[y]: fewest calls of g groups holding y atoms
    held[0] = 0
    picks = []
    for _g in range(groups):  # bounded: the query bound, a few groups
        offers = held[reach] + c_arr[None, :]
        k = np.argmin(offers, axis=1)
        picks.append(m_arr[k])
        held = offers[ys, k]
    rest = n - ys  # the other atoms: at least their datapoint bound
    bound = held + -(-(rest * t.whole) // MAX_DATAPOINTS_PER_CALL)
    y = int(np.argmin(bound))
    first = []
    for pick in reversed(picks):  # bounded walk back over the groups
        first.append(int(pick[y]))
        y = max(0, y - first[-1])
    y_best = int(np.argmin(bound))
    more = _cover(items, n - y_best, int(bound[y_best] - held[y_best]))[1]
    return max(total, int(bound[y_best])), _trim(first + more, n)


def _fill(types: Sequence[_Type], left: Sequence[int], live: Sequence[int], calls: int,
          total_s: int) -> tuple[list[int], bool] | None:
    """A group for ``calls`` calls from the atoms ``left`` of types ``live``: every type in proportion
    to what is left, as many as the tighter of 500 queries and the cap per chunk allows, then topped
    up. Also says whether the cap (not queries or atoms) stopped it: else more calls cannot help."""
    if calls == 1:
        weight = [types[i].whole for i in live]
    else:
        align = math.lcm(*(types[i].align for i in live))
        units = -(-total_s // align)
        if units < calls:
            return None
        length = align * -(-units // calls)
        weight = [sum(length // p for p in types[i].returned) for i in live]
    queries = sum(left[i] * types[i].q for i in live)
    points = sum(left[i] * w for i, w in zip(live, weight, strict=True))
    share = min(Fraction(1), Fraction(MAX_QUERIES_PER_CALL, queries),
                Fraction(MAX_DATAPOINTS_PER_CALL, points) if points else Fraction(1))
    counts = [0] * len(types)
    for i in live:
        counts[i] = math.floor(share * left[i])
    q_room = MAX_QUERIES_PER_CALL - sum(counts[i] * types[i].q for i in live)
    w_room = MAX_DATAPOINTS_PER_CALL - sum(counts[i] * w for i, w in zip(live, weight, strict=True))
    capped = False
    for w, i in sorted(zip(weight, live, strict=True), key=lambda x: (-x[0], types[x[1]].q, x[1])):
        more = min(left[i] - counts[i], q_room // types[i].q, w_room // w if w else left[i])
        counts[i] += more
        q_room -= more * types[i].q
        w_room -= more * w
        capped |= counts[i] < left[i] and q_room >= types[i].q
    return counts, capped


def _greedy(types: Sequence[_Type], total_s: int, target: int) -> list[tuple[list[int], int]] | None:
    """Groups ``(counts, calls)`` of at most ``target`` calls in all, or None when this greedy finds
    none: each step takes the fullest group (datapoints or queries per call) whose calls plus the
    :func:`_lower_bound` of what is left stay within ``target``, and repeats it while that holds."""
    left = [len(t.atoms) for t in types]
    classes: dict[int, list[int]] = {}
    for i, t in enumerate(types):
        classes.setdefault(t.align, []).append(i)
    subsets = list(dict.fromkeys(tuple(s) for s in [range(len(types)), *classes.values(),
                                                       *([i] for i in range(len(types)))]))
    used = 0
    groups: list[tuple[list[int], int]] = []
    for _ in range(sum(left) + 1):  # bounded: every step takes at least one atom
        if not any(left):
            return groups
        best: tuple[Fraction, int, list[int], int] | None = None
        for subset in subsets:
            live = [i for i in subset if left[i]]
            for calls in range(1, target - used + 1):  # bounded by the target
                filled = _fill(types, left, live, calls, total_s) if live else None
                if filled is None:
                    break
                counts, capped = filled
                chunk = _chunk(types, counts, total_s) if any(counts) else None
                if chunk is not None:
                    rest = [a - b for a, b in zip(left, counts, strict=True)]
                    if used + chunk[1] + (_lower_bound(types, rest) if any(rest) else 0) <= target:
                        full = max(Fraction(sum(n * t.whole for n, t in zip(counts, types, strict=True)),
                                            chunk[1] * MAX_DATAPOINTS_PER_CALL),
                                   Fraction(sum(n * t.q for n, t in zip(counts, types, strict=True)),
                                            chunk[1] * MAX_QUERIES_PER_CALL))
                        if best is None or (full, sum(counts)) > best[:2]:
                            best = (full, sum(counts), counts, chunk[1])
                if not capped:
                    break
        if best is None:
            return None
        counts, calls = best[2], best[3]
        for _rep in range(sum(left)):  # bounded: every copy takes at least one atom
            rest = [a - b for a, b in zip(left, counts, strict=True)]
            if min(rest) < 0 or used + calls + (_lower_bound(types, rest) if any(rest) else 0) > target:
                break
            groups.append((counts, calls))
            used += calls
            left = rest
    return None


def _prepare(queries: Sequence[Mapping[str, Any]], window: Window,
             now: datetime | None) -> tuple[datetime, int, list[_Type]]:
    start, end = check_window(window)
    rounding = _rounding_s(start, now)
    origin = datetime.fromtimestamp(math.floor(start.timestamp() / rounding) * rounding, UTC)
    total_s = math.ceil((end - origin).total_seconds())
    return origin, total_s, _types(_atoms(queries), rounding, total_s)


def _classes(types: Sequence[_Type]) -> list[list[int]]:
    """Indices of the types that return the same series on the same grid (they differ in queries)."""
    same: dict[tuple[Any, ...], list[int]] = {}
    for i, t in enumerate(types):
        same.setdefault((tuple(sorted(t.returned)), t.align), []).append(i)
    return list(same.values())


def _merged(types: Sequence[_Type], members: Sequence[int]) -> _Type:
    """One type for ``members`` whose atoms all have the fewest queries of any: planning fewer queries
    never costs more calls, so its exact minimum is a lower bound for those types together."""
    if len(members) == 1:
        return types[members[0]]
    merged = object.__new__(_Type)
    merged.atoms = [a for i in members for a in types[i].atoms]
    merged.q = min(types[i].q for i in members)
    first = types[members[0]]
    merged.returned, merged.align, merged.whole = first.returned, first.align, first.whole
    return merged


def _only(types: Sequence[_Type], members: Sequence[int]) -> list[int]:
    """Counts of all the atoms of ``members``, none of the other types."""
    return [len(t.atoms) if i in members else 0 for i, t in enumerate(types)]


def _class_plan(types: Sequence[_Type], members: Sequence[int],
                total_s: int) -> list[tuple[list[int], int]] | None:
    """Groups for the types ``members`` of one class (:func:`_classes`): the group sizes of the merged
    type's exact minimum, filled with the real atoms (most queries first, each into the group with
    the most query room); when they do not fit 500 queries, smaller groups are tried a few times."""
    merged = _merged(types, members)
    extra = sum((types[i].q - merged.q) * len(types[i].atoms) for i in members)
    most = MAX_QUERIES_PER_CALL // merged.q
    order = sorted(members, key=lambda i: -types[i].q)
    for _try in range(8):  # bounded: a few smaller group limits
        _calls, sizes = _one_type([merged], 0, total_s, most, _query_bound(types, _only(types, members)))
        room = [(-MAX_QUERIES_PER_CALL, g) for g in range(len(sizes))]  # max-heap of query room
        slots = list(sizes)
        counts = [[0] * len(types) for _ in sizes]
        fits = True
        for i in order:  # bounded: every atom once
            for _atom in range(len(types[i].atoms)):
                while room and not slots[room[0][1]]:
                    heapq.heappop(room)  # full groups leave the heap
                if not room or -room[0][0] < types[i].q:
                    fits = False
                    break
                free, g = heapq.heappop(room)
                counts[g][i] += 1
                slots[g] -= 1
                heapq.heappush(room, (free + types[i].q, g))
            if not fits:
                break
        if fits:
            return [(c, _calls_of(types, c, total_s)) for c in counts]
        # groups averaging this many atoms leave room for the extra queries
        smaller = (MAX_QUERIES_PER_CALL * len(sizes) - extra) // (merged.q * len(sizes))
        most = min(most - 1, smaller)
        if most < 1:
            return None
    return None


def _minimum(types: Sequence[_Type], total_s: int) -> tuple[int, list[tuple[int, list[int]]]]:
    """The bound (see :func:`minimum_calls`) and, per type, its exact minimum and group sizes."""
    own = [_one_type(types, i, total_s) for i in range(len(types))]
    together = [_one_type([_merged(types, m)], 0, total_s, groups=_query_bound(types, _only(types, m)))[0]
                for m in _classes(types) if len(m) > 1]
    return max(_lower_bound(types, [len(t.atoms) for t in types]), *(c for c, _ in own), *together), own


Groups = list[tuple[list[int], int]]


def _candidates(types: Sequence[_Type], total_s: int, bound: int,
                own: Sequence[tuple[int, list[int]]]) -> list[Callable[[], Groups | None]]:
    """Ways to plan, cheapest to try first; :func:`plan_requests` keeps the first that meets the bound,
    else the fewest calls: the greedy with the bound as target, each class (:func:`_classes`) alone,
    the greedy with one or two calls of slack, each type alone in its exact minimum (always a plan)."""

    def by_class() -> Groups | None:
        out: Groups = []
        for members in _classes(types):
            part = _class_plan(types, members, total_s)
            if part is None:
                return None
            out += part
        return out

    def separate() -> Groups:
        out: Groups = []
        for i, (_calls, sizes) in enumerate(own):
            for m in sizes:
                counts = [m if j == i else 0 for j in range(len(types))]
                out.append((counts, _calls_of(types, counts, total_s)))
        return out

    return [lambda: _greedy(types, total_s, bound), by_class, lambda: _greedy(types, total_s, bound + 1),
            lambda: _greedy(types, total_s, bound + 2), separate]


def plan_requests(queries: Sequence[Mapping[str, Any]], window: Window, *,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    """GetMetricData requests for ``queries`` over ``window`` in the fewest calls the limits allow.

    Parameters
    ----------
    queries
        ``MetricDataQuery`` objects with unique Ids: ``MetricStat`` (any statistic, percentiles
        included) or ``Expression`` (metric math naming other queries by Id; queries used only as
        inputs carry ``ReturnData: false``).
    window
        ``(start, end)``, timezone-aware; ``end`` exclusive.
    now
        The time of the calls, for CloudWatch's rounding of a StartTime by age (default: a minute, as
        for data under 15 days old).

    Returns
    -------
    list of dict
        Request parameters (``MetricDataQueries``, ``StartTime``, ``EndTime``, ``ScanBy``), each with
        at most :data:`MAX_QUERIES_PER_CALL` queries and at most :data:`MAX_DATAPOINTS_PER_CALL`
        datapoints, an expression always in the same call as the queries it names. The first
        StartTime is ``start`` rounded down as CloudWatch would round it, so no call gains a datapoint
        (and a page) by rounding. Ordered by group, then time.

    Raises
    ------
    CloudWatchFetchError
        Duplicate or missing Ids, an expression needing more than 500 queries, or a period whose
        datapoints alone exceed the cap.

    Notes
    -----
    Candidates are tried in the order of :func:`_candidates` and the first that meets
    :func:`minimum_calls` is kept (else the one with the fewest calls). On one period grid the bound
    is met (hypothesis and ``bench/bench_calls.py`` check it), so the count is the minimum; with
    periods on different grids it can be one call over the bound (see the module docstring).
    """
    origin, total_s, types = _prepare(queries, window, now)
    if total_s < 1:
        raise CloudWatchFetchError(f"window {iso_z(origin)}..{iso_z(window[1])} is shorter than a second")
    bound, own = _minimum(types, total_s)
    plan = None
    for make in _candidates(types, total_s, bound, own):  # bounded: a fixed list
        found = make()
        if found is not None and (plan is None or sum(c for _, c in found) < sum(c for _, c in plan)):
            plan = found
        if plan is not None and sum(c for _, c in plan) <= bound:
            break
    assert plan is not None  # each type alone always plans
    taken = [0] * len(types)
    requests: list[dict[str, Any]] = []
    for counts, _calls in plan:
        atoms: list[_Atom] = []
        for i, n in enumerate(counts):
            atoms += types[i].atoms[taken[i]:taken[i] + n]
            taken[i] += n
        chunk_s = _chunk(types, counts, total_s)
        assert chunk_s is not None  # every candidate group was measured
        qs = [q for a in sorted(atoms, key=lambda a: a.order) for q in a.queries]
        lo = 0
        for _ in range(chunk_s[1]):
            hi = min(lo + chunk_s[0], total_s)
            requests.append({"MetricDataQueries": qs, "StartTime": origin + timedelta(seconds=lo),
                             "EndTime": origin + timedelta(seconds=hi), "ScanBy": "TimestampAscending"})
            lo = hi
    return requests


def _calls_of(types: Sequence[_Type], counts: Sequence[int], total_s: int) -> int:
    chunk = _chunk(types, counts, total_s)
    assert chunk is not None
    return chunk[1]


def minimum_calls(queries: Sequence[Mapping[str, Any]], window: Window, *, now: datetime | None = None) -> int:
    """The fewest GetMetricData calls a plan can use: the bound :func:`plan_requests` is held to.

    Returns the largest of three lower bounds, over the window from ``start`` rounded down as
    CloudWatch rounds it (see :func:`plan_requests`), ``T`` seconds long:

    - ``ceil(Q / 500)``, ``Q`` all queries, inputs with ``ReturnData: false`` included; and, for each
      size ``s`` of an expression with its inputs (an *atom*: they must share every call),
      ``ceil(n_s / floor(500 / s))`` with ``n_s`` the atoms of ``s`` queries or more. Every instant
      of the window lies in calls that together hold every query, and a call holds 500 at most.
    - ``ceil(D / 100800)``, ``D`` the returned datapoints: the sum over queries not marked
      ``ReturnData: false`` of ``ceil(T / period)`` (an expression's period is its own ``Period``,
      else the largest of the queries it names). GetMetricData counts returned datapoints only
      (``MaxDatapoints``: "the maximum number of data points the request should return"), so hidden
      inputs do not count, and each returned datapoint comes back from some call.
    - for each kind of atom alone (same query count, returned periods and period grid), the exact
      fewest calls of the plans that give every atom one set of companions for the whole window and
      cut the window for them on their grid (:func:`_one_type`); and for kinds that return the same
      series on the same grid, the same for one merged kind with the fewest queries of any, in at
      least as many groups as their real queries need. Dropping atoms or queries never costs a call,
      so each is a lower bound for the whole. This catches what the sums miss when a call's query set
      and time span cannot both be filled: 11 series of 18,327 points make 201,597 datapoints, under
      2 x 100,800, yet need 3 calls.

    The first two hold for any plan; the third holds for plans that keep each query's companions
    fixed over the window, the only plans :func:`plan_requests` makes (a plan that regroups queries
    mid-window is not considered).

    Parameters
    ----------
    queries
        ``MetricDataQuery`` objects.
    window
        ``(start, end)``.
    now
        As for :func:`plan_requests`.

    Returns
    -------
    int
        The bound; ``len(plan_requests(queries, window)) == minimum_calls(queries, window)`` is
        checked by the tests and ``bench/bench_calls.py``.
    """
    _origin, total_s, types = _prepare(queries, window, now)
    return _minimum(types, total_s)[0]


def merge_query_batches(batches: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One query list from several batches (the service metrics, each SLO's SLI queries ...), so one
    :func:`plan_requests` packs them all, in fewer calls than a plan per batch.

    Parameters
    ----------
    batches
        ``{prefix: queries}``. Each prefix is a valid Id start (a lowercase letter, then letters,
        digits, ``_``); every Id of its batch becomes ``prefix + "_" + Id`` and the expressions of the
        batch are rewritten to name the new Ids, so Ids of different batches (``m1`` in two SLIs) no
        longer clash.

    Returns
    -------
    list of dict
        The queries, batch by batch, in order. The batch of a result is the part of its Id before the
        first ``_`` when the prefixes hold no ``_``.

    Raises
    ------
    CloudWatchFetchError
        A prefix that is not a valid Id start, or two batches giving the same Id.

    Examples
    --------
    >>> q = [{"Id": "m1", "MetricStat": {}}, {"Id": "e1", "Expression": "m1 * 100"}]
    >>> [x.get("Expression", x["Id"]) for x in merge_query_batches({"slo1": q, "slo2": q})]
    ['slo1_m1', 'slo1_m1 * 100', 'slo2_m1', 'slo2_m1 * 100']
    """
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for prefix, queries in batches.items():
        if not _ID_TOKEN.fullmatch(prefix):
            raise CloudWatchFetchError(f"query batch prefix {prefix!r}: an Id starts with a lowercase letter and "
                                       "holds only letters, digits and _")
        ids = {q["Id"] for q in queries}

        def rename(match: re.Match[str], ids: set[str] = ids, prefix: str = prefix) -> str:
            return f"{prefix}_{match.group(0)}" if match.group(0) in ids else match.group(0)

        for q in queries:
            q2 = dict(q, Id=f"{prefix}_{q['Id']}")
            if isinstance(q.get("Expression"), str):
                q2["Expression"] = re.sub(r"\b" + _ID_TOKEN.pattern + r"\b", rename, q["Expression"])
            if q2["Id"] in seen:
                raise CloudWatchFetchError(f"query batches: Id {q2['Id']!r} comes twice; use prefixes without _")
            seen.add(q2["Id"])
            out.append(q2)
    return out


# ----------------------------------------------------------------------------- fetching
def _granted(queries: Sequence[Mapping[str, Any]], start: datetime, now: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    warned: set[str] = set()
    for q in queries:
        q2 = json.loads(json.dumps(q))  # a deep copy of plain JSON
        targets = [q2["MetricStat"]] if "MetricStat" in q2 else ([q2] if q2.get("Period") is not None else [])
        for t in targets:
            period, warning = choose_period(int(t["Period"]), start, now)
            if warning and warning not in warned:
                warned.add(warning)
                log.warning("GetMetricData: %s", warning)
            t["Period"] = period
        out.append(q2)
    return out


def _call_key(request: Mapping[str, Any]) -> str:
    return (f"cloudwatch/GetMetricData/{iso_z(request['StartTime'])}_{iso_z(request['EndTime'])}"
            f"/q-{digest(request['MetricDataQueries'])}")


def _pages(cw: Any, request: dict[str, Any], key: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    pages: list[tuple[dict[str, Any], dict[str, Any]]] = []
    token: str | None = None
    for _page in range(MAX_PAGES):
        req = dict(request, NextToken=token) if token else dict(request)
        response = call_cloudwatch(cw.get_metric_data, req, key)
        pages.append((req, response))
        token = response.get("NextToken")
        if not token:
            return pages
    raise CloudWatchFetchError(f"{key}: more than {MAX_PAGES} pages")


def _partial(pages: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, datetime | None]:
    """Ids whose last result says PartialData, with the latest timestamp each returned (or None)."""
    status: dict[str, str] = {}
    latest: dict[str, datetime | None] = {}
    for _req, resp in pages:
        for res in resp.get("MetricDataResults", []):
            rid = res["Id"]
            status[rid] = res.get("StatusCode", "Complete")
            ts = [t if isinstance(t, datetime) else datetime.fromisoformat(str(t).replace("Z", "+00:00"))
                  for t in res.get("Timestamps", [])]
            if ts:
                prev = latest.get(rid)
                latest[rid] = max(ts) if prev is None else max(prev, *ts)
            else:
                latest.setdefault(rid, None)
    return {rid: latest.get(rid) for rid, s in status.items() if s == "PartialData"}


def _rerequest(request: Mapping[str, Any], partial: Mapping[str, datetime | None]) -> dict[str, Any] | None:
    """The request for the missing range of the partial results (and the queries they name)."""
    qs = request["MetricDataQueries"]
    by_id = {q["Id"]: q for q in qs}
    start, end = request["StartTime"], request["EndTime"]
    missing_from = end
    for rid, last in partial.items():
        q = by_id.get(rid)
        if q is None:
            continue
        lo = start if last is None else max(start, last + timedelta(seconds=_query_period(q, by_id)))
        missing_from = min(missing_from, lo)
    if missing_from >= end:
        return None
    need: set[str] = set()
    todo = [rid for rid in partial if rid in by_id]
    for _ in range(len(by_id)):  # bounded closure over named inputs
        if not todo:
            break
        nxt = []
        for rid in todo:
            if rid not in need:
                need.add(rid)
                nxt.extend(_refs(by_id[rid], by_id))
        todo = nxt
    queries = []
    for q in qs:
        if q["Id"] in need:
            q2 = dict(q)
            if q["Id"] not in partial:
                q2["ReturnData"] = False  # an input only: its complete data is already in hand
            queries.append(q2)
    return {"MetricDataQueries": queries, "StartTime": missing_from, "EndTime": end,
            "ScanBy": request.get("ScanBy", "TimestampAscending")}


def _finished_calls(done: set[str]) -> set[str]:
    keys = set()
    for u in done:
        if u.startswith("cloudwatch/GetMetricData/") and u.endswith(_LAST):
            keys.add(u.split("/page-")[0].split("/partial-")[0])
    return keys


def metric_data_fetcher(settings: AwsSettings | None, queries: Sequence[Mapping[str, Any]], window: Window, *,
                        now: datetime | None = None) -> Fetcher:
    """A fetcher of ``queries`` over ``window`` with GetMetricData, in the planned fewest calls.

    Parameters
    ----------
    settings
        Where and how to call AWS.
    queries
        ``MetricDataQuery`` objects (see :func:`queries_for`, percentiles and expressions welcome).
    window
        ``(start, end)``, timezone-aware.
    now
        The time retention is judged from (default: the current time). Every period is passed through
        :func:`choose_period` for the window's start; a coarser grant is logged as a warning.

    Returns
    -------
    Fetcher
        ``fetcher(done) -> Iterator[Fetched]`` of kind ``metric-data``. Units are
        ``cloudwatch/GetMetricData/<start>_<end>/q-<digest of the queries>/page-NNNN`` (and
        ``.../partial-N/page-NNNN`` for re-requests); the last unit of a call ends in ``-last``, and a
        call with a finished last unit is skipped without calling AWS. A call cut off before its last
        unit is requested again from its first page (finished pages are not yielded twice).

    Notes
    -----
    A result still ``PartialData`` on a page without NextToken is re-requested for its missing range
    (after its latest timestamp; requests scan ascending) with the queries it names, at most
    :data:`MAX_PARTIAL_ATTEMPTS` times; if it stays partial a warning names it and the range.
    """
    start, end = check_window(window)
    now = now or datetime.now(UTC)
    granted = _granted(queries, start, now)
    requests = plan_requests(granted, (start, end), now=now)

    def fetch(done: set[str]) -> Iterator[Fetched]:
        finished = _finished_calls(done)
        cw: Any = None
        for request in requests:  # bounded: the plan
            key = _call_key(request)
            if key in finished:
                continue
            cw = cw or client("cloudwatch", settings)
            pages = _pages(cw, request, key)
            units = [(f"{key}/page-{i:04d}", req, resp) for i, (req, resp) in enumerate(pages)]
            current = request
            for attempt in range(1, MAX_PARTIAL_ATTEMPTS + 2):  # bounded re-requests
                partial = _partial(pages)
                retry = _rerequest(current, partial) if partial else None
                if retry is None:
                    break
                if attempt > MAX_PARTIAL_ATTEMPTS:
                    log.warning("%s: %s still PartialData after %d re-requests; missing from %s to %s", key,
                                ", ".join(sorted(partial)), MAX_PARTIAL_ATTEMPTS, iso_z(retry["StartTime"]),
                                iso_z(retry["EndTime"]))
                    break
                log.info("%s: %s PartialData; re-requesting %s..%s", key, ", ".join(sorted(partial)),
                         iso_z(retry["StartTime"]), iso_z(retry["EndTime"]))
                pages = _pages(cw, retry, key)
                units += [(f"{key}/partial-{attempt}/page-{i:04d}", req, resp) for i, (req, resp) in enumerate(pages)]
                current = retry
            for n, (unit, req, resp) in enumerate(units):
                name = unit + _LAST if n == len(units) - 1 else unit
                if name in done:
                    continue
                frame = metrics_from_get_metric_data(resp, req["MetricDataQueries"], file=name)
                yield Fetched("metric-data", name, req, resp, {"metrics": frame})

    return fetch
