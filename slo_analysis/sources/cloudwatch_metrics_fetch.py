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
A GetMetricData call takes at most :data:`MAX_QUERIES_PER_CALL` (500) queries and returns at most
:data:`MAX_DATAPOINTS_PER_CALL` (100,800) datapoints; one call has one ``StartTime``/``EndTime`` for
all its queries. A call over ``[s, e)`` returns, per returned query of period ``p``,
``ceil((e - s) / p)`` datapoints at most. So every plan needs at least::

    minimum_calls = max(ceil(Q / 500), ceil(D / 100800))

calls, ``Q`` the number of queries and ``D`` the datapoints of the whole window (sum over returned
queries of ``ceil(T / p)``): each query must be in some call, and each datapoint must come back from
some call. :func:`minimum_calls` computes this bound from the totals alone.

:func:`plan_requests` puts the queries into groups (an expression always travels with the queries it
names, transitively: an *atom*), and cuts each group's window into chunks aligned to the least common
multiple ``A`` of the group's periods (so no query's period grid shifts between chunks) of the longest
length the cap allows, ``k * A`` with ``k = floor(100800 / r)``, ``r`` the group's datapoints per
``A`` seconds. A group then costs ``ceil(T / (k * A))`` calls, the fewest any aligned chunking of that
group can use. Atoms are ordered (coarsest alignment last, then by datapoints per query) and an exact
dynamic programme over the split points picks the groups with the fewest total calls. The tests and
``bench/bench_calls.py`` check ``len(plan_requests(q, w)) == minimum_calls(q, w)`` over many shapes.

Retention
---------
CloudWatch keeps sub-minute data 3 hours, 1-minute data 15 days, 5-minute data 63 days and 1-hour data
455 days; a query of older data must use a period that is a multiple of 60, 300 or 3600 s, or it
returns nothing. :func:`choose_period` grants the finest period retention still holds and says so when
that is coarser than the one asked for; :func:`metric_data_fetcher` applies it to every query.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

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

    __slots__ = ("queries", "periods", "returned")

    def __init__(self, queries: list[dict[str, Any]], by_id: Mapping[str, Mapping[str, Any]]) -> None:
        self.queries = queries
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
    atoms = [_Atom(m, by_id) for m in members.values()]
    for a in atoms:
        if len(a.queries) > MAX_QUERIES_PER_CALL:
            raise CloudWatchFetchError(
                f"expression {a.queries[-1]['Id']!r} needs {len(a.queries)} queries in one call; GetMetricData "
                f"takes at most {MAX_QUERIES_PER_CALL}")
    return atoms


def _group_chunk_s(returned: Mapping[int, int], align: int, total_s: int) -> int | None:
    """The longest chunk (seconds) a group may use: the whole window when its datapoints fit in one
    call, else the longest multiple of ``align`` (the lcm of the group's periods) whose datapoints stay
    under the cap; None when not even ``align`` seconds fit. ``returned`` counts returned queries by
    period."""
    if sum(n * -(-total_s // p) for p, n in returned.items()) <= MAX_DATAPOINTS_PER_CALL:
        return total_s
    per_align = sum(n * (align // p) for p, n in returned.items())
    k = MAX_DATAPOINTS_PER_CALL // per_align
    return k * align if k else None


def _plan_groups(atoms: list[_Atom], total_s: int) -> list[tuple[list[_Atom], int]]:
    """Fewest-call partition of ``atoms`` (in this order) into contiguous groups: [(atoms, chunk_s)]."""
    n = len(atoms)
    inf = math.inf
    best: list[float] = [0.0] + [inf] * n
    back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    for i in range(n):
        # a group's calls never grow when an atom leaves it, so a split point is dominated by the next
        # one when both have the same best cost (best[i + 1] is final here except for i's own offer)
        if best[i] == inf or best[i + 1] == best[i]:
            continue
        count = 0
        align = 1
        returned: dict[int, int] = {}
        for j in range(i, n):  # bounded: at most MAX_QUERIES_PER_CALL queries per group
            a = atoms[j]
            count += len(a.queries)
            if count > MAX_QUERIES_PER_CALL:
                break
            align = math.lcm(align, *a.periods)
            for p in a.returned:
                returned[p] = returned.get(p, 0) + 1
            chunk = _group_chunk_s(returned, align, total_s)
            if chunk is None:
                continue
            cost = best[i] + -(-total_s // chunk)
            if cost < best[j + 1]:
                best[j + 1] = cost
                back[j + 1] = (i, chunk)
    if best[n] == inf:
        raise CloudWatchFetchError("these queries cannot be planned: one period's datapoints alone exceed "
                                   f"{MAX_DATAPOINTS_PER_CALL} per call")
    groups: list[tuple[list[_Atom], int]] = []
    j = n
    for _ in range(n + 1):  # bounded walk back
        if j == 0:
            break
        i, chunk = back[j]
        groups.append((atoms[i:j], chunk))
        j = i
    return groups[::-1]


def plan_requests(queries: Sequence[Mapping[str, Any]], window: Window) -> list[dict[str, Any]]:
    """GetMetricData requests for ``queries`` over ``window`` in the fewest calls the limits allow.

    Parameters
    ----------
    queries
        ``MetricDataQuery`` objects with unique Ids: ``MetricStat`` (any statistic, percentiles
        included) or ``Expression`` (metric math naming other queries by Id; queries used only as
        inputs carry ``ReturnData: false``).
    window
        ``(start, end)``, timezone-aware; ``end`` exclusive.

    Returns
    -------
    list of dict
        Request parameters (``MetricDataQueries``, ``StartTime``, ``EndTime``, ``ScanBy``), each with
        at most :data:`MAX_QUERIES_PER_CALL` queries and at most :data:`MAX_DATAPOINTS_PER_CALL`
        datapoints, an expression always in the same call as the queries it names. Ordered by group,
        then time.

    Raises
    ------
    CloudWatchFetchError
        Duplicate or missing Ids, an expression needing more than 500 queries, or a period whose
        datapoints alone exceed the cap.

    Notes
    -----
    See the module docstring for the rule and why the count equals :func:`minimum_calls`.
    """
    start, end = check_window(window)
    total_s = int((end - start).total_seconds())
    if total_s < 1:
        raise CloudWatchFetchError(f"window {iso_z(start)}..{iso_z(end)} is shorter than a second")
    atoms = _atoms(queries)
    # similar alignment together (a coarse lcm wastes room), then dense atoms first
    order = sorted(range(len(atoms)), key=lambda i: (math.lcm(*atoms[i].periods),
                                                     -len(atoms[i].returned) / len(atoms[i].queries), i))
    requests: list[dict[str, Any]] = []
    for group, chunk_s in _plan_groups([atoms[i] for i in order], total_s):
        qs = [q for a in group for q in a.queries]
        lo = 0
        for _ in range(-(-total_s // chunk_s)):
            hi = min(lo + chunk_s, total_s)
            requests.append({"MetricDataQueries": qs, "StartTime": start + timedelta(seconds=lo),
                             "EndTime": start + timedelta(seconds=hi), "ScanBy": "TimestampAscending"})
            lo = hi
    return requests


def minimum_calls(queries: Sequence[Mapping[str, Any]], window: Window) -> int:
    """The fewest GetMetricData calls any plan can use, from the totals alone.

    ``max(ceil(Q / 500), ceil(D / 100800))`` with ``Q`` the number of queries and ``D`` the sum over
    returned queries (``ReturnData`` not false) of ``ceil(T / period)``, ``T`` the window in seconds.
    An expression's period is its own ``Period``, else the largest period of the queries it names.

    Parameters
    ----------
    queries
        ``MetricDataQuery`` objects.
    window
        ``(start, end)``.

    Returns
    -------
    int
        The lower bound every plan must meet; :func:`plan_requests` is checked against it.
    """
    start, end = window
    total_s = int((end - start).total_seconds())
    by_id = {q["Id"]: q for q in queries}
    datapoints = sum(-(-total_s // _query_period(q, by_id)) for q in queries if _returns(q))
    return max(-(-len(queries) // MAX_QUERIES_PER_CALL), -(-datapoints // MAX_DATAPOINTS_PER_CALL))


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
    granted = _granted(queries, start, now or datetime.now(UTC))
    requests = plan_requests(granted, (start, end))

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
