"""Live CloudWatch Logs fetchers: Logs Insights with row-cap splits, SLI push-down, FilterLogEvents, S3 exports.

Every fetcher follows docs/live-sources.md: clients come from :func:`slo_analysis.sources.aws.client`,
each unit is a stable key derived from the request, finished units (``done``) are skipped without
calling AWS, and responses are parsed with the file loaders of
:mod:`slo_analysis.sources.cloudwatch_logs` (never a second parser).

AWS limits honoured (botocore ``logs`` model 2014-03-28 as installed, checked against the API docs):

- ``StartQuery``: ``limit`` 1..100,000 rows (Logs Insights QL); ``GetQueryResults`` returns at most
  10,000 rows per call and a ``nextToken`` for the rest; ``startTime``/``endTime`` are epoch
  *seconds* and both *inclusive*; up to 50 log groups per query; queries time out after 60 minutes;
  the concurrent-query quota is per account and region (30 in older docs, 100 in the current
  model), shared with dashboards and scheduled queries, so this module runs at most
  ``max_concurrent`` (default 4) at once.
- ``FilterLogEvents``: pages of up to 10,000 events / 1 MB, possibly empty while ``nextToken`` is
  set; ``endTime`` is inclusive (milliseconds); at most 100 ``logStreamNames`` per call.
- ``CreateExportTask`` writes to the account (an S3 bucket): :func:`start_export_task` refuses unless
  ``confirm=True``.

The row-cap split rule
----------------------
A (sub)range ``[a, b)`` (whole seconds) is one StartQuery with ``startTime=a`` and ``endTime=b``
(inclusive, so the query also sees the second ``[b, b+1)``). Every result page is read. Rows are
assigned to the range by their time field (``@timestamp`` for raw rows, the ``bin(...)`` column for
:func:`sli_counts_query`); rows outside ``[a, b)`` are dropped, since the neighbouring range returns
them. When a range returns ``limit`` rows or more (before dropping), rows may be missing: the range is
split at ``a + (b - a) // 2`` rounded down to a multiple of ``align_s`` in epoch seconds (where
Insights puts its ``bin(...)`` boundaries), and both halves are queried. A range that cannot be split
(shorter than ``2 * align_s``, or ``max_splits`` deep) raises :class:`InsightsRowCapError` instead of
losing rows. Merged results hold every row once: ranges are half-open and disjoint, and rows are also
de-duplicated on ``@ptr``.

Aggregates (``align_s > 1``): a bin row carries only its bin's start, so a bin cut by a range edge
would be counted in part, or dropped. The window is therefore widened to whole multiples of
``align_s`` (start rounded down, end rounded up; a warning says so), every split falls on such a
multiple, and a bin row that starts before its range (bins not aligned to ``align_s``) raises
:class:`AwsSourceError` rather than being dropped.

Outcomes
--------
- ``ThrottlingException`` (and 5xx): retried by botocore, ``AwsSettings.max_attempts`` attempts in all
  (see :func:`slo_analysis.sources.aws.client`), then botocore's ``ClientError``; a query already
  started is stopped (StopQuery).
- ``LimitExceededException`` on StartQuery (the concurrent-query quota is taken, often by dashboards):
  after botocore's retries, waited for and asked again ``PollPolicy.start_retries`` times with a
  capped exponential backoff, then :class:`InsightsLimitExceededError`.
- Status ``Failed`` / ``Cancelled``: :class:`InsightsQueryError`; ``Timeout``, or still running at our
  own deadline: :class:`InsightsTimeoutError` (StopQuery sent). Other running queries are stopped.
- A result whose ``nextToken`` is still set after the page bound while below the cap:
  :class:`InsightsQueryError` (status ``Incomplete``); rows are never dropped quietly.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import polars as pl
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from slo_analysis.exceptions import AwsSourceError
from slo_analysis.sources import cloudwatch_logs
from slo_analysis.sources._io import LoadReport
from slo_analysis.sources.aws import AwsSettings, Fetched, Fetcher, Window, client, digest

__all__ = [
    "InsightsQueryError",
    "InsightsTimeoutError",
    "InsightsRowCapError",
    "InsightsLimitExceededError",
    "ExportRefusedError",
    "PollPolicy",
    "InsightsPart",
    "InsightsResult",
    "Window",
    "RAW_EVENTS_QUERY",
    "INSIGHTS_PAGE_ROWS",
    "INSIGHTS_MAX_LIMIT",
    "SLI_COUNTS_SCHEMA",
    "iter_insights_parts",
    "run_insights_query",
    "insights_fetcher",
    "sli_counts_query",
    "sli_counts_frame",
    "sli_counts_fetcher",
    "filter_log_events_fetcher",
    "export_objects_fetcher",
    "start_export_task",
    "paginated_units",
    "window_ms",
]

log = logging.getLogger(__name__)

#: ``(start, end)``, half-open; naive datetimes are read as UTC.

INSIGHTS_PAGE_ROWS = 10_000  # GetQueryResults: rows per call
INSIGHTS_MAX_LIMIT = 100_000  # StartQuery ``limit`` maximum (Logs Insights QL)
MAX_LOG_GROUPS = 50  # StartQuery logGroupNames
FILTER_MAX_STREAMS = 100  # FilterLogEvents logStreamNames
FILTER_MAX_LIMIT = 10_000  # FilterLogEvents events per page

#: Raw events with everything the ``logs`` frame needs (``@ptr`` is always returned as well).
RAW_EVENTS_QUERY = "fields @timestamp, @message, @logStream, @log | sort @timestamp asc"

_PENDING = {"Scheduled", "Running", "Unknown"}
_TS_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------
# errors


class InsightsQueryError(AwsSourceError):
    """A Logs Insights query ended ``Failed``, ``Timeout`` or ``Cancelled``."""

    def __init__(self, status: str, query: str, log_groups: Sequence[str], start_s: int, end_s: int,
                 query_id: str | None, detail: str = "") -> None:
        self.status = status
        self.query = query
        self.log_groups = list(log_groups)
        self.start_s = start_s
        self.end_s = end_s
        self.query_id = query_id
        super().__init__(
            f"Logs Insights query {query_id or '?'} ended {status} for [{_iso(start_s)}, {_iso(end_s)}) "
            f"on {', '.join(log_groups)}: {query!r}" + (f" ({detail})" if detail else ""))


class InsightsTimeoutError(InsightsQueryError):
    """A Logs Insights query timed out (status ``Timeout``, or still running at our own deadline)."""


class InsightsRowCapError(AwsSourceError):
    """A range returned the row cap and cannot be split further: rows would be lost."""


class InsightsLimitExceededError(AwsSourceError):
    """StartQuery kept failing with ``LimitExceededException``: the account's concurrent-query quota
    (shared with dashboards and scheduled queries) stayed taken through every bounded retry."""

    def __init__(self, log_groups: Sequence[str], start_s: int, end_s: int, attempts: int, detail: str) -> None:
        self.log_groups = list(log_groups)
        self.start_s = start_s
        self.end_s = end_s
        self.attempts = attempts
        super().__init__(
            f"Logs Insights StartQuery for [{_iso(start_s)}, {_iso(end_s)}) on {', '.join(log_groups)}: "
            f"LimitExceededException after {attempts} attempts ({detail}). Too many queries run at once in "
            f"this account and region: lower max_concurrent, or run again later (finished ranges are kept).")


class ExportRefusedError(AwsSourceError):
    """CreateExportTask writes to the account; it runs only with ``confirm=True``."""


# --------------------------------------------------------------------------------------------------
# helpers


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


def window_ms(window: Window) -> tuple[int, int]:
    """``(start_ms, end_ms)`` of a half-open window; naive datetimes are UTC.

    Raises
    ------
    AwsSourceError
        when the window is empty or reversed.
    """
    start, end = (w if w.tzinfo else w.replace(tzinfo=UTC) for w in window)
    a, b = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    if b <= a:
        raise AwsSourceError(f"empty or reversed window [{start.isoformat()}, {end.isoformat()})")
    return a, b


def _key(*parts: Any) -> str:
    return digest(parts)


def paginated_units(call: Callable[..., dict[str, Any]], request: dict[str, Any], *, chain: str, done: set[str],
                    token_in: str, token_out: str,
                    max_pages: int) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Walk one pagination chain as units ``<chain>:p<n>``; the last page's unit ends in ``:end``.

    A chain whose ``:end`` unit is in ``done`` is skipped without calling AWS. A chain cut off
    half-way is walked again from its first page (NextTokens are not kept between runs), yielding
    only the pages not in ``done``. Yields ``(unit, request as sent, response)``.

    Raises
    ------
    AwsSourceError
        when the chain has more than ``max_pages`` pages.
    """
    if any(u.startswith(chain + ":p") and u.endswith(":end") for u in done):
        return
    token: str | None = None
    for page in range(max_pages):
        sent = dict(request)
        if token:
            sent[token_in] = token
        response = call(**sent)
        token = response.get(token_out) or None
        unit = f"{chain}:p{page}" + ("" if token else ":end")
        if unit not in done:
            yield unit, sent, response
        if not token:
            return
    raise AwsSourceError(f"{chain}: more than {max_pages} pages; narrow the request or raise max_pages")


def _parse_insights_time(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    t = text.strip()
    for fmt in _TS_FORMATS:
        try:
            return int(datetime.strptime(t, fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    return None


def _fields(row: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {str(f.get("field")): f.get("value") for f in row}


# --------------------------------------------------------------------------------------------------
# Logs Insights runner


@dataclass(frozen=True)
class PollPolicy:
    """How GetQueryResults is polled: capped exponential backoff, bounded by count and deadline.

    ``start_*`` bound the waits when StartQuery meets ``LimitExceededException`` (the concurrency
    quota frees only as other queries finish, so these waits are longer). ``sleep`` and ``clock`` are
    injectable for tests.
    """

    first_s: float = 0.5
    max_s: float = 15.0
    factor: float = 2.0
    max_polls: int = 2_000
    start_retries: int = 6
    start_first_s: float = 5.0
    start_max_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def delay(self, attempt: int) -> float:
        """Seconds to wait before poll ``attempt + 1``."""
        return min(self.max_s, self.first_s * self.factor ** min(attempt, 60))

    def __post_init__(self) -> None:
        if self.max_polls < 1 or self.start_retries < 0:
            raise AwsSourceError(f"PollPolicy: max_polls must be >= 1 and start_retries >= 0, got "
                                 f"{self.max_polls} and {self.start_retries}")

    def start_delay(self, attempt: int) -> float:
        """Seconds to wait before StartQuery attempt ``attempt + 1`` after a LimitExceededException."""
        return min(self.start_max_s, self.start_first_s * self.factor ** min(attempt, 60))


@dataclass
class InsightsPart:
    """One (sub)range's complete result.

    ``request`` is the StartQuery request as sent; ``response`` is GetQueryResults-shaped: the final
    ``status`` and ``statistics``, ``results`` = the rows of every page that fall in
    ``[start_s, end_s)``, plus ``queryId``, ``pages`` (GetQueryResults pages read) and
    ``rowsOutsideRange`` (rows dropped because the neighbouring range returns them).
    """

    start_s: int
    end_s: int
    depth: int
    request: dict[str, Any]
    response: dict[str, Any]

    @property
    def rows(self) -> list[list[dict[str, Any]]]:
        """The rows of this range."""
        return list(self.response["results"])


@dataclass
class InsightsResult:
    """Every part of a (possibly split) query and the merged rows, each row exactly once."""

    query: str
    log_groups: list[str]
    parts: list[InsightsPart] = field(default_factory=list)
    rows: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def splits(self) -> int:
        """How many ranges were split (parts - 1)."""
        return max(0, len(self.parts) - 1)


@dataclass
class _Outcome:
    rows: list[list[dict[str, Any]]]
    status: str
    statistics: dict[str, Any]
    query_id: str
    pages: int


def _run_query(c: Any, params: dict[str, Any], *, poll: PollPolicy, timeout_s: float, cancel: threading.Event,
               max_pages: int, query: str, groups: Sequence[str]) -> _Outcome:
    """StartQuery, poll to a final status, read every result page; StopQuery if we leave early."""
    start_s, end_s = params["startTime"], params["endTime"]
    query_id = _start_query(c, params, poll=poll, cancel=cancel, groups=groups)
    running = True
    try:
        deadline = poll.clock() + timeout_s
        response: dict[str, Any] = {}
        for attempt in range(poll.max_polls):
            if cancel.is_set():
                raise AwsSourceError(f"query {query_id} cancelled: another query of this fetch failed")
            response = c.get_query_results(queryId=query_id)
            status = response.get("status", "Unknown")
            if status == "Complete":
                break
            if status not in _PENDING:
                running = False  # Failed / Timeout / Cancelled: nothing left to stop
                kind = InsightsTimeoutError if status == "Timeout" else InsightsQueryError
                raise kind(status, query, groups, start_s, end_s, query_id)
            remaining = deadline - poll.clock()
            if remaining <= 0:
                raise InsightsTimeoutError("Timeout", query, groups, start_s, end_s, query_id,
                                           f"still {status} after {timeout_s:g} s; StopQuery sent")
            poll.sleep(min(poll.delay(attempt), remaining))
        else:
            raise InsightsTimeoutError("Timeout", query, groups, start_s, end_s, query_id,
                                       f"still running after {poll.max_polls} polls; StopQuery sent")
        running = False
        rows = list(response.get("results") or [])
        pages = 1
        token = response.get("nextToken")
        while token and pages < max_pages:
            page = c.get_query_results(queryId=query_id, nextToken=token)
            rows.extend(page.get("results") or [])
            pages += 1
            token = page.get("nextToken")
        if token and len(rows) < params["limit"]:  # at the cap the range is split anyway: nothing is lost
            raise InsightsQueryError("Incomplete", query, groups, start_s, end_s, query_id,
                                     f"GetQueryResults still returned a nextToken after {pages} pages "
                                     f"({len(rows)} rows, below the limit of {params['limit']}); the rest "
                                     "would be lost")
        return _Outcome(rows, "Complete", dict(response.get("statistics") or {}), query_id, pages)
    except BaseException:
        if running:
            try:
                c.stop_query(queryId=query_id)
            except ClientError as exc:  # already finished: nothing to stop
                log.info("StopQuery %s: %s", query_id, exc)
        raise


def _start_query(c: Any, params: dict[str, Any], *, poll: PollPolicy, cancel: threading.Event,
                 groups: Sequence[str]) -> str:
    """StartQuery's query id; a LimitExceededException is waited out at most ``poll.start_retries`` times."""
    start_s, end_s = params["startTime"], params["endTime"]
    for attempt in range(poll.start_retries + 1):
        if cancel.is_set():
            raise AwsSourceError("cancelled before StartQuery: another query of this fetch failed")
        try:
            query_id: str = c.start_query(**params)["queryId"]
            return query_id
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "LimitExceededException":
                raise
            if attempt >= poll.start_retries:
                raise InsightsLimitExceededError(groups, start_s, end_s, attempt + 1,
                                                 str(exc.response["Error"].get("Message") or exc)) from exc
            wait_s = poll.start_delay(attempt)
            log.warning("StartQuery [%s, %s): concurrent-query quota taken; waiting %.0f s (retry %d of %d)",
                        _iso(start_s), _iso(end_s), wait_s, attempt + 1, poll.start_retries)
            poll.sleep(wait_s)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _halves(a: int, b: int, align_s: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    mid = a + (b - a) // 2
    mid -= mid % align_s  # on an epoch multiple of align_s: where Insights' bin() boundaries fall
    if mid <= a or mid >= b:
        return None
    return (a, mid), (mid, b)


def _aligned_window(win_a: int, win_b: int, align_s: int) -> tuple[int, int]:
    """``(start_ms, end_ms)`` widened to whole multiples of ``align_s`` seconds (unchanged for 1 s)."""
    step = align_s * 1000
    if align_s == 1:
        return win_a, win_b
    a, b = win_a - win_a % step, -(-win_b // step) * step
    if (a, b) != (win_a, win_b):
        log.warning("Logs Insights window [%s, %s) widened to [%s, %s): bins of %d s are counted whole, "
                    "never in part", _iso_ms(win_a), _iso_ms(win_b), _iso_ms(a), _iso_ms(b), align_s)
    return a, b


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def iter_insights_parts(settings: AwsSettings | None, log_groups: Sequence[str], query: str, window: Window, *,
                        limit: int = INSIGHTS_PAGE_ROWS, poll: PollPolicy | None = None, timeout_s: float = 3900.0,
                        max_splits: int = 12, align_s: int = 1, max_concurrent: int = 4,
                        time_field: str = "@timestamp", done_ranges: Iterable[tuple[int, int]] = (),
                        aws: BaseClient | None = None) -> Iterator[InsightsPart]:
    """Run ``query`` over ``window``, splitting ranges that reach the row cap; yield each complete range.

    Parameters
    ----------
    settings
        Where and how to call AWS (ignored when ``aws`` is given).
    log_groups
        Up to 50 log group names.
    query
        A Logs Insights QL query string.
    window
        ``(start, end)``, half-open; widened to whole seconds for StartQuery, rows are kept to it.
    limit
        StartQuery ``limit`` (1..100,000): the row cap that triggers a split.
    poll
        Polling policy (backoff, bounds, injectable sleep/clock).
    timeout_s
        Our own deadline per query (Insights times out after 60 minutes; a little more by default).
    max_splits
        Maximum split depth: at most ``2 ** max_splits`` leaf ranges.
    align_s
        Split points fall on epoch multiples of ``align_s`` seconds (the bin size for aggregate
        queries, so no bin is cut in two). Above 1, the window is widened to such multiples (a
        warning says so) and a row whose ``time_field`` is before its range raises.
    max_concurrent
        Queries running at once (the concurrency quota is per account).
    time_field
        The result field that places a row in its range (``@timestamp``, or a ``bin(...)`` column).
    done_ranges
        ``(start_s, end_s)`` ranges finished by an earlier run: not queried again; a range with a
        finished range inside it was split before, so it is split again without being queried.
    aws
        A ``logs`` client to use instead of one built from ``settings``.

    Yields
    ------
    InsightsPart
        One per complete leaf range, in completion order.

    Raises
    ------
    InsightsQueryError, InsightsTimeoutError
        when a query ends Failed / Cancelled / Timeout (other running queries are stopped).
    InsightsRowCapError
        when a range at the split bound still returns the cap.
    InsightsLimitExceededError
        when StartQuery keeps meeting the concurrent-query quota.
    AwsSourceError
        on bad arguments, capped aggregate rows that carry no ``time_field``, or (``align_s > 1``)
        a bin row that starts before its range.
    """
    groups = list(log_groups)
    if not 1 <= len(groups) <= MAX_LOG_GROUPS:
        raise AwsSourceError(f"StartQuery takes 1 to {MAX_LOG_GROUPS} log groups, got {len(groups)}")
    if not 1 <= limit <= INSIGHTS_MAX_LIMIT:
        raise AwsSourceError(f"limit must be 1..{INSIGHTS_MAX_LIMIT}, got {limit}")
    if max_concurrent < 1 or align_s < 1 or max_splits < 0:
        raise AwsSourceError("max_concurrent and align_s must be >= 1, max_splits >= 0")
    win_a, win_b = _aligned_window(*window_ms(window), align_s)
    poll = poll or PollPolicy()
    c: Any = aws or client("logs", settings)
    a0, b0 = win_a // 1000, -(-win_b // 1000)
    done = {(int(x), int(y)) for x, y in done_ranges}
    max_pages = -(-limit // INSIGHTS_PAGE_ROWS) + 1
    cancel = threading.Event()
    pending: deque[tuple[int, int, int]] = deque([(a0, b0, 0)])
    running: dict[Future[_Outcome], tuple[int, int, int, dict[str, Any]]] = {}

    def split(a: int, b: int, depth: int, why: str) -> None:
        halves = _halves(a, b, align_s)
        if halves is None or depth >= max_splits:
            raise InsightsRowCapError(
                f"Logs Insights range [{_iso(a)}, {_iso(b)}) of {query!r} on {', '.join(groups)} {why} and "
                f"cannot be split further (depth {depth}/{max_splits}, align {align_s} s): rows would be "
                f"lost. Narrow the query, push aggregation down (stats ... by bin), or export to S3.")
        pending.extend((x, y, depth + 1) for x, y in halves)

    pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="insights")
    try:
        # Bounded: every range is queried at most once and there are < 2 ** (max_splits + 1) ranges.
        while pending or running:
            while pending and len(running) < max_concurrent:
                a, b, depth = pending.popleft()
                if (a, b) in done:
                    continue
                if any(a <= x and y <= b and (x, y) != (a, b) for x, y in done):
                    split(a, b, depth, "was split by an earlier run")
                    continue
                params = {"logGroupNames": groups, "startTime": a, "endTime": b, "queryString": query,
                          "limit": limit}
                fut = pool.submit(_run_query, c, params, poll=poll, timeout_s=timeout_s, cancel=cancel,
                                  max_pages=max_pages, query=query, groups=groups)
                running[fut] = (a, b, depth, params)
            if not running:
                continue
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in finished:
                a, b, depth, params = running.pop(fut)
                out = fut.result()
                if len(out.rows) >= limit:
                    timed = [_parse_insights_time(_fields(r).get(time_field)) for r in out.rows[:1]]
                    if timed and timed[0] is None:
                        raise AwsSourceError(
                            f"Logs Insights range [{_iso(a)}, {_iso(b)}) returned the cap ({limit} rows) and "
                            f"its rows carry no {time_field!r} to split on: pass time_field (the bin column)")
                    split(a, b, depth, f"returned the cap ({len(out.rows)} >= {limit} rows)")
                    continue
                lo, hi = max(a * 1000, win_a), min(b * 1000, win_b)
                kept, outside = [], 0
                for row in out.rows:
                    ms = _parse_insights_time(_fields(row).get(time_field))
                    if ms is None or lo <= ms < hi:
                        kept.append(row)
                    elif align_s > 1 and ms < lo:  # no other range holds this bin: dropping it loses counts
                        raise AwsSourceError(
                            f"Logs Insights range [{_iso(a)}, {_iso(b)}): a row's {time_field!r} "
                            f"({_iso_ms(ms)}) is before the range, so its bin is not aligned to {align_s} s; "
                            f"pass align_s equal to the query's bin size")
                    else:
                        outside += 1
                response = {"queryId": out.query_id, "status": out.status, "statistics": out.statistics,
                            "results": kept, "pages": out.pages, "rowsOutsideRange": outside}
                yield InsightsPart(a, b, depth, params, response)
    except BaseException:
        cancel.set()  # running queries see it at their next poll and send StopQuery
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_insights_query(settings: AwsSettings | None, log_groups: Sequence[str], query: str, window: Window, *,
                       limit: int = INSIGHTS_PAGE_ROWS, poll: PollPolicy | None = None, timeout_s: float = 3900.0,
                       max_splits: int = 12, align_s: int = 1, max_concurrent: int = 4,
                       time_field: str = "@timestamp", aws: BaseClient | None = None) -> InsightsResult:
    """Run a Logs Insights query to completion; every row of ``window`` exactly once.

    See :func:`iter_insights_parts` for the parameters and errors. Parts are ordered by start time;
    rows keep each part's order and are de-duplicated on ``@ptr`` (rows without one are kept).

    Examples
    --------
    Against a live account (so not run as a doctest)::

        res = run_insights_query(settings, ["/ecs/ticket-api"], RAW_EVENTS_QUERY, (t0, t1))
        len(res.rows), res.splits   # e.g. (23817, 3): the range was split three times at the row cap
    """
    parts = sorted(iter_insights_parts(settings, log_groups, query, window, limit=limit, poll=poll,
                                       timeout_s=timeout_s, max_splits=max_splits, align_s=align_s,
                                       max_concurrent=max_concurrent, time_field=time_field, aws=aws),
                   key=lambda p: p.start_s)
    result = InsightsResult(query, list(log_groups), parts)
    seen: set[str] = set()
    for part in parts:
        for row in part.rows:
            ptr = _fields(row).get("@ptr")
            if ptr is not None:
                if ptr in seen:
                    continue
                seen.add(ptr)
            result.rows.append(row)
    return result


def _insights_units(settings: AwsSettings | None, log_groups: Sequence[str], query: str, window: Window,
                    done: set[str], *, prefix: str, **kwargs: Any) -> Iterator[InsightsPart]:
    ranges = []
    for u in done:
        if u.startswith(prefix):
            a, _, b = u[len(prefix):].partition("-")
            if a.isdigit() and b.isdigit():
                ranges.append((int(a), int(b)))
    yield from iter_insights_parts(settings, log_groups, query, window, done_ranges=ranges, **kwargs)


def insights_fetcher(settings: AwsSettings | None, log_groups: Sequence[str], query: str = RAW_EVENTS_QUERY,
                     window: Window | None = None, *, limit: int = INSIGHTS_PAGE_ROWS, poll: PollPolicy | None = None,
                     timeout_s: float = 3900.0, max_splits: int = 12, max_concurrent: int = 4) -> Fetcher:
    """A fetcher of raw log events through Logs Insights, one unit per (sub)range.

    Units are ``logs:insights:<hash of groups, query, limit>:<start_s>-<end_s>``; kind
    ``insights-results``; ``request`` is the StartQuery request (so a re-import finds the log group),
    ``response`` the GetQueryResults-shaped dict of :class:`InsightsPart`. Frames: ``logs`` through
    :func:`~slo_analysis.sources.cloudwatch_logs.logs_from_insights_results` (rows need ``@log``
    when more than one group is queried; :data:`RAW_EVENTS_QUERY` returns it).
    """
    if window is None:
        raise AwsSourceError("insights_fetcher needs a window")
    groups = list(log_groups)
    prefix = f"logs:insights:{_key(groups, query, limit)}:"

    def fetch(done: set[str]) -> Iterator[Fetched]:
        for part in _insights_units(settings, groups, query, window, done, prefix=prefix, limit=limit, poll=poll,
                                    timeout_s=timeout_s, max_splits=max_splits, max_concurrent=max_concurrent):
            unit = f"{prefix}{part.start_s}-{part.end_s}"
            report = LoadReport()
            df = cloudwatch_logs.logs_from_insights_results(part.response, file=unit, report=report,
                                                            log_group=groups[0] if len(groups) == 1 else None)
            if report.bad:
                log.warning("%s: %d Insights row(s) could not be loaded", unit, len(report.bad))
            yield Fetched("insights-results", unit, part.request, part.response, {"logs": df} if df.height else {})

    return fetch


# --------------------------------------------------------------------------------------------------
# SLI push-down


#: :func:`sli_counts_frame` output (documented, not a canonical store frame): one row per bin, group
#: and status class. ``slow_<T>`` counts requests with latency >= T ms.
SLI_COUNTS_SCHEMA = pl.Schema({
    "bin_start": pl.Datetime("ms", "UTC"),
    "status_class": pl.Int32(),  # 2 for 2xx, 5 for 5xx; null when the status was not a number
    "requests": pl.Int64(),
})


def _bin_field(bin_s: int) -> str:
    return f"bin({bin_s}s)"


def sli_counts_query(*, status_field: str = "status", latency_field: str = "latency_ms",
                     group_by: Sequence[str] = ("route",), bin_s: int = 60,
                     latency_thresholds_ms: Sequence[int] = (), filter_expr: str | None = None) -> str:
    """A Logs Insights query that counts requests per bin, group and HTTP status class server-side.

    For JSON request logs (``{"status": 503, "latency_ms": 12.5, "route": "POST /tickets"}``); only
    documented Insights functions are used (``ispresent``, ``floor``, ``least``, ``count``, ``sum``,
    ``bin``).

    Parameters
    ----------
    status_field, latency_field
        JSON fields with the HTTP status and the latency in milliseconds.
    group_by
        Extra grouping fields (route, operation, service, ...).
    bin_s
        Bin width in seconds; the result's time column is ``bin(<bin_s>s)``.
    latency_thresholds_ms
        For each threshold T, a column ``slow_T`` = requests with latency >= T ms
        (``least(floor(latency / T), 1)`` is 1 exactly when latency >= T).
    filter_expr
        An extra ``filter`` expression (e.g. ``service = "ticket-api"``).

    Examples
    --------
    >>> print(sli_counts_query(latency_thresholds_ms=[800]))
    filter ispresent(status)
    | fields floor(status / 100) as status_class, least(floor(latency_ms / 800), 1) as is_slow_800
    | stats count(*) as requests, sum(is_slow_800) as slow_800 by bin(60s), route, status_class
    """
    if bin_s < 1 or any(int(t) != t or t <= 0 for t in latency_thresholds_ms):
        raise AwsSourceError("bin_s and latency thresholds must be positive whole numbers")
    lines = [f"filter ispresent({status_field})"]
    if filter_expr:
        lines.append(f"filter {filter_expr}")
    fields = [f"floor({status_field} / 100) as status_class"]
    fields += [f"least(floor({latency_field} / {int(t)}), 1) as is_slow_{int(t)}" for t in latency_thresholds_ms]
    lines.append("fields " + ", ".join(fields))
    stats = ["count(*) as requests"] + [f"sum(is_slow_{int(t)}) as slow_{int(t)}" for t in latency_thresholds_ms]
    by = [_bin_field(bin_s), *group_by, "status_class"]
    lines.append(f"stats {', '.join(stats)} by {', '.join(by)}")
    return "\n| ".join(lines)


def sli_counts_frame(rows: Iterable[Sequence[Mapping[str, Any]]], *, bin_s: int = 60,
                     group_by: Sequence[str] = ("route",)) -> pl.DataFrame:
    """Rows of a :func:`sli_counts_query` result as a small frame (:data:`SLI_COUNTS_SCHEMA` plus
    one String column per ``group_by`` field and one Int64 ``slow_<T>`` column per threshold),
    sorted by ``bin_start`` then the groups."""
    records = [_fields(r) for r in rows]
    slow = sorted({k for r in records for k in r if k.startswith("slow_")})
    schema = pl.Schema({"bin_start": pl.Datetime("ms", "UTC"), **{g: pl.String() for g in group_by},
                        "status_class": pl.Int32(), "requests": pl.Int64(), **{s: pl.Int64() for s in slow}})

    def num(v: Any) -> int | None:
        try:
            return int(float(v))
        except (TypeError, ValueError):
            return None

    out = [{"bin_start": _parse_insights_time(r.get(_bin_field(bin_s))),
            **{g: r.get(g) for g in group_by},
            "status_class": num(r.get("status_class")), "requests": num(r.get("requests")) or 0,
            **{s: num(r.get(s)) or 0 for s in slow}} for r in records]
    df = pl.DataFrame(out, schema={**schema, "bin_start": pl.Int64()}, orient="row")
    df = df.with_columns(pl.from_epoch("bin_start", time_unit="ms").dt.replace_time_zone("UTC"))
    return df.cast(schema).sort(["bin_start", *group_by, "status_class"], nulls_last=True)


def sli_counts_fetcher(settings: AwsSettings | None, log_groups: Sequence[str], window: Window, *,
                       bin_s: int = 60, group_by: Sequence[str] = ("route",),
                       latency_thresholds_ms: Sequence[int] = (), filter_expr: str | None = None,
                       limit: int = INSIGHTS_PAGE_ROWS, poll: PollPolicy | None = None, max_splits: int = 12,
                       max_concurrent: int = 4) -> Fetcher:
    """A fetcher of per-bin request counts computed by Logs Insights, so raw volume stays in AWS.

    Splits on epoch bin boundaries (``align_s = bin_s``) and keeps each bin in the range that holds
    its start, so no bin is counted twice or in part. A window not on bin boundaries is widened to
    them (start rounded down, end rounded up, with a warning): every bin is counted whole.

    Units ``logs:sli-counts:<hash>:<start_s>-<end_s>``, kind ``insights-results``; no canonical
    frame (the store only takes canonical frames): the counts stay in the raw responses, and
    :func:`sli_counts_frame` reads them (``Fetched.response["results"]``).
    """
    groups = list(log_groups)
    query = sli_counts_query(group_by=group_by, bin_s=bin_s, latency_thresholds_ms=latency_thresholds_ms,
                             filter_expr=filter_expr)
    prefix = f"logs:sli-counts:{_key(groups, query, limit)}:"

    def fetch(done: set[str]) -> Iterator[Fetched]:
        for part in _insights_units(settings, groups, query, window, done, prefix=prefix, limit=limit, poll=poll,
                                    max_splits=max_splits, max_concurrent=max_concurrent, align_s=bin_s,
                                    time_field=_bin_field(bin_s)):
            yield Fetched("insights-results", f"{prefix}{part.start_s}-{part.end_s}", part.request, part.response)

    return fetch


# --------------------------------------------------------------------------------------------------
# FilterLogEvents


def filter_log_events_fetcher(settings: AwsSettings | None, log_group: str, window: Window, *,
                              log_stream_names: Sequence[str] | None = None, filter_pattern: str | None = None,
                              chunk_s: int = 3600, page_limit: int | None = None,
                              max_pages: int = 10_000) -> Fetcher:
    """A fetcher of raw events through FilterLogEvents, one unit per page.

    The window is cut into ``chunk_s`` chunks and the streams into batches of 100 (the API's cap);
    each (chunk, batch) is one pagination chain (see :func:`paginated_units`): units
    ``logs:filter:<hash>:<chunk start ms>:<batch>:p<n>[:end]``, kind ``log-events``, frames ``logs``
    through :func:`~slo_analysis.sources.cloudwatch_logs.logs_from_events`. Each chunk ``[a, b)`` is
    sent as ``startTime=a``, ``endTime=b - 1`` (endTime is inclusive), so no event is read twice.

    Parameters
    ----------
    filter_pattern
        A CloudWatch Logs filter pattern (evaluated by AWS; moto ignores JSON patterns).
    page_limit
        ``limit`` per page (1..10,000); AWS's default otherwise.
    max_pages
        Bound on pages per chain.
    """
    a, b = window_ms(window)
    if chunk_s < 1:
        raise AwsSourceError("chunk_s must be >= 1")
    streams = list(log_stream_names or [])
    batches: list[list[str] | None] = ([streams[i:i + FILTER_MAX_STREAMS]
                                        for i in range(0, len(streams), FILTER_MAX_STREAMS)] or [None])
    key = _key(log_group, streams, filter_pattern, page_limit)

    def fetch(done: set[str]) -> Iterator[Fetched]:
        c: Any = None
        for start in range(a, b, chunk_s * 1000):
            end = min(b, start + chunk_s * 1000)
            for bi, batch in enumerate(batches):
                chain = f"logs:filter:{key}:{start}:{bi}"
                if any(u.startswith(chain + ":p") and u.endswith(":end") for u in done):
                    continue
                c = c or client("logs", settings)
                request: dict[str, Any] = {"logGroupName": log_group, "startTime": start, "endTime": end - 1}
                if batch:
                    request["logStreamNames"] = batch
                if filter_pattern is not None:
                    request["filterPattern"] = filter_pattern
                if page_limit is not None:
                    request["limit"] = page_limit
                for unit, sent, response in paginated_units(c.filter_log_events, request, chain=chain, done=done,
                                                            token_in="nextToken", token_out="nextToken",
                                                            max_pages=max_pages):
                    report = LoadReport()
                    df = cloudwatch_logs.logs_from_events(response, file=unit, log_group=log_group, report=report)
                    if report.bad:
                        log.warning("%s: %d event(s) could not be loaded", unit, len(report.bad))
                    yield Fetched("log-events", unit, sent, response, {"logs": df} if df.height else {})

    return fetch


# --------------------------------------------------------------------------------------------------
# S3 export objects


def _export_tasks(c: Any, max_pages: int) -> dict[str, str]:
    tasks: dict[str, str] = {}
    token: str | None = None
    for _ in range(max_pages):
        resp = c.describe_export_tasks(**({"nextToken": token} if token else {}))
        tasks.update(cloudwatch_logs.export_task_log_groups(resp, file="DescribeExportTasks"))
        token = resp.get("nextToken")
        if not token:
            return tasks
    raise AwsSourceError(f"DescribeExportTasks: more than {max_pages} pages")


def export_objects_fetcher(settings: AwsSettings | None, bucket: str, prefix: str, *,
                           log_group_for_task: Mapping[str, str] | str | None = None,
                           max_objects: int = 100_000, max_object_bytes: int = 2 * 1024**3) -> Fetcher:
    """A fetcher of existing CloudWatch Logs export objects in S3, one unit per object.

    Objects are listed with ListObjectsV2 under ``prefix`` (paginated; the listing is repeated on
    every run, it is not a unit) and read with GetObject. An export object's key is
    ``<prefix>/<taskId>/<log stream parts...>/<n>.gz``; its log group comes from
    ``log_group_for_task``: a ``{taskId: log group}`` mapping, one log group for every object, or
    ``None`` to ask DescribeExportTasks. Objects whose group cannot be told are skipped with a warning.

    Units ``s3:<bucket>/<key>:<etag>``, kind ``logs-export``. ``request`` is
    ``{"Bucket", "Key"}``; ``response`` is ``{"Bucket", "Key", "ETag", "ContentLength", "LogGroup",
    "LogStream", "Body"}`` where ``Body`` is the gunzipped object as text (invalid UTF-8 replaced;
    the frame is parsed from the exact bytes). Frames: ``logs`` through
    :func:`~slo_analysis.sources.cloudwatch_logs.logs_from_export_file`.
    """

    def fetch(done: set[str]) -> Iterator[Fetched]:
        s3: Any = client("s3", settings)
        tasks: Mapping[str, str] | None = log_group_for_task if isinstance(log_group_for_task, Mapping) else None
        listed = 0
        token: str | None = None
        for _page in range(-(-max_objects // 1000) + 1):
            req: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            if token:
                req["ContinuationToken"] = token
            page = s3.list_objects_v2(**req)
            for obj in page.get("Contents") or []:
                key = obj["Key"]
                listed += 1
                if listed > max_objects:
                    raise AwsSourceError(f"s3://{bucket}/{prefix}: more than {max_objects} objects")
                if not key.endswith(".gz"):  # also skips the aws-logs-write-test object
                    continue
                unit = f"s3:{bucket}/{key}:{str(obj.get('ETag', '')).strip(chr(34))}"
                if unit in done:
                    continue
                if isinstance(log_group_for_task, str):
                    where: tuple[str, str] | None = (log_group_for_task, str(PurePosixPath(key).parent.name))
                    rel = PurePosixPath(key).relative_to(prefix) if key.startswith(prefix.rstrip("/") + "/") else None
                    if rel is not None and len(rel.parts) >= 3:  # <taskId>/<stream...>/<n>.gz
                        where = (log_group_for_task, "/".join(rel.parts[1:-1]))
                else:
                    if tasks is None:
                        tasks = _export_tasks(client("logs", settings), max_pages=1000)
                    where = cloudwatch_logs.locate_export_object(PurePosixPath(key), tasks)  # type: ignore[arg-type]
                if where is None:
                    log.warning("s3://%s/%s: no export task names its log group; skipped", bucket, key)
                    continue
                if int(obj.get("Size", 0)) > max_object_bytes:
                    raise AwsSourceError(f"s3://{bucket}/{key} is larger than {max_object_bytes} bytes")
                got = s3.get_object(Bucket=bucket, Key=key)
                data = got["Body"].read()
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
                report = LoadReport()
                df = cloudwatch_logs.logs_from_export_file(data, file=f"s3://{bucket}/{key}", log_group=where[0],
                                                           log_stream=where[1], report=report)
                if report.bad:
                    log.warning("s3://%s/%s: %d line(s) could not be loaded", bucket, key, len(report.bad))
                response = {"Bucket": bucket, "Key": key, "ETag": got.get("ETag"),
                            "ContentLength": got.get("ContentLength"), "LogGroup": where[0], "LogStream": where[1],
                            "Body": data.decode("utf-8", errors="replace")}
                yield Fetched("logs-export", unit, {"Bucket": bucket, "Key": key}, response,
                              {"logs": df} if df.height else {})
            token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
            if not token:
                return
        raise AwsSourceError(f"s3://{bucket}/{prefix}: listing did not end within the page bound")

    return fetch


def start_export_task(settings: AwsSettings | None, log_group: str, window: Window, bucket: str, prefix: str, *,
                      confirm: bool, task_name: str | None = None) -> str:
    """Start a CreateExportTask of ``log_group`` over ``window`` to ``s3://bucket/prefix``; its task id.

    This **writes to the account** (objects in the bucket, an export task; one active task per
    account), so it runs only when ``confirm=True``. Read the objects afterwards, once
    DescribeExportTasks says COMPLETED, with :func:`export_objects_fetcher`.

    Raises
    ------
    ExportRefusedError
        when ``confirm`` is not ``True``.
    """
    if confirm is not True:
        raise ExportRefusedError(f"CreateExportTask of {log_group} to s3://{bucket}/{prefix} writes to the "
                                 "account: pass confirm=True (the CLI asks for an explicit flag)")
    a, b = window_ms(window)
    params: dict[str, Any] = {"logGroupName": log_group, "from": a, "to": b - 1, "destination": bucket,
                              "destinationPrefix": prefix}
    if task_name:
        params["taskName"] = task_name
    logs: Any = client("logs", settings)
    task_id: str = logs.create_export_task(**params)["taskId"]
    log.info("export task %s started for %s", task_id, log_group)
    return task_id
