"""Live X-Ray fetchers: trace summaries over long windows, sampled full traces, the service graph.

Follows docs/live-sources.md (clients from :func:`slo_analysis.sources.aws.client`, one unit per
page, ``done`` units skipped without calling AWS) and parses with :mod:`slo_analysis.sources.xray`.

AWS limits honoured (botocore ``xray`` model 2016-04-12 as installed and the API reference):

- ``GetTraceSummaries``: paginated with ``NextToken`` (the first page holds the most recent traces);
  the window is cut into chunks of ``chunk_s`` (default 6 h). The API reference states no maximum
  range; a 24 h cap per call is commonly reported, so ``chunk_s`` may not exceed 24 h.
- ``BatchGetTraces``: 1 to 5 trace ids per call (API reference; the model carries no bound),
  paginated; ids it could not process come back in ``UnprocessedTraceIds``.
- ``GetServiceGraph``: paginated with ``NextToken``.

A typical pull: :func:`get_trace_summaries` (or the raw units of :func:`trace_summaries_fetcher`) ->
:func:`sample_trace_ids` -> :class:`TracesFetcher`. Trace summaries and service-graph edges are not
canonical store frames, so their fetchers store the raw responses only (read them back with
:func:`slo_analysis.sources.xray.trace_summaries` and
:func:`~slo_analysis.sources.xray.service_graph_edges_from_pages`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl

from slo_analysis.exceptions import AwsSourceError
from slo_analysis.sources import xray
from slo_analysis.sources._io import LoadReport
from slo_analysis.sources.aws import AwsSettings, Fetched, Fetcher, client
from slo_analysis.sources.cloudwatch_logs_fetch import Window, _key, paginated_units, window_ms

__all__ = [
    "BATCH_GET_TRACES_MAX_IDS",
    "MAX_SUMMARY_CHUNK_S",
    "trace_summaries_fetcher",
    "get_trace_summaries",
    "sample_trace_ids",
    "TracesFetcher",
    "traces_fetcher",
    "service_graph_fetcher",
]

log = logging.getLogger(__name__)

BATCH_GET_TRACES_MAX_IDS = 5
MAX_SUMMARY_CHUNK_S = 24 * 3600


def _chunks(window: Window, chunk_s: int) -> Iterator[tuple[int, int]]:
    a, b = window_ms(window)
    step = chunk_s * 1000
    for start in range(a, b, step):
        yield start, min(b, start + step)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _summary_pages(settings: AwsSettings | None, window: Window, done: set[str], *, filter_expression: str | None,
                   chunk_s: int, time_range_type: str | None, max_pages: int
                   ) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    if not 1 <= chunk_s <= MAX_SUMMARY_CHUNK_S:
        raise AwsSourceError(f"chunk_s must be 1..{MAX_SUMMARY_CHUNK_S} s, got {chunk_s}")
    key = _key(filter_expression, time_range_type)
    c: Any = None
    for start, end in _chunks(window, chunk_s):
        chain = f"xray:summaries:{key}:{start}-{end}"
        if any(u.startswith(chain + ":p") and u.endswith(":end") for u in done):
            continue
        c = c or client("xray", settings)
        request: dict[str, Any] = {"StartTime": _dt(start), "EndTime": _dt(end)}
        if filter_expression:
            request["FilterExpression"] = filter_expression
        if time_range_type:
            request["TimeRangeType"] = time_range_type
        yield from paginated_units(c.get_trace_summaries, request, chain=chain, done=done, token_in="NextToken",
                                   token_out="NextToken", max_pages=max_pages)


def trace_summaries_fetcher(settings: AwsSettings | None, window: Window, *, filter_expression: str | None = None,
                            chunk_s: int = 6 * 3600,
                            time_range_type: Literal["TraceId", "Event", "Service"] | None = None,
                            max_pages: int = 10_000) -> Fetcher:
    """A fetcher of GetTraceSummaries pages over ``window`` cut into ``chunk_s`` chunks.

    Units ``xray:summaries:<hash of filter>:<chunk start ms>-<end ms>:p<n>[:end]``, kind
    ``xray-summaries``, no frames (summaries are not a canonical frame; the raw pages are kept and
    :func:`slo_analysis.sources.xray.trace_summaries` reads them).

    Parameters
    ----------
    filter_expression
        An X-Ray filter expression (``fault = true``, ``service("ticket-api")``, ...), evaluated by AWS.
    chunk_s
        Seconds per GetTraceSummaries range (1 s to 24 h).
    time_range_type
        ``TraceId`` (AWS's default), ``Event`` or ``Service``.
    max_pages
        Bound on pages per chunk.
    """

    def fetch(done: set[str]) -> Iterator[Fetched]:
        for unit, sent, response in _summary_pages(settings, window, done, filter_expression=filter_expression,
                                                   chunk_s=chunk_s, time_range_type=time_range_type,
                                                   max_pages=max_pages):
            yield Fetched("xray-summaries", unit, sent, response)

    return fetch


def get_trace_summaries(settings: AwsSettings | None, window: Window, *, filter_expression: str | None = None,
                        chunk_s: int = 6 * 3600,
                        time_range_type: Literal["TraceId", "Event", "Service"] | None = None,
                        max_pages: int = 10_000) -> pl.DataFrame:
    """Every trace summary of ``window`` as a :data:`~slo_analysis.sources.xray.TRACE_SUMMARY_SCHEMA`
    frame, one row per trace (a trace seen in two chunks is kept once)."""
    parts = [xray.trace_summaries(resp, file=unit)
             for unit, _, resp in _summary_pages(settings, window, set(), filter_expression=filter_expression,
                                                 chunk_s=chunk_s, time_range_type=time_range_type,
                                                 max_pages=max_pages)]
    if not parts:
        return pl.DataFrame(schema=xray.TRACE_SUMMARY_SCHEMA)
    return pl.concat(parts, how="vertical").unique(subset=["trace_id"], keep="first", maintain_order=True)


def sample_trace_ids(summaries: pl.DataFrame, *, max_traces: int, keep_slowest: int = 50, seed: int = 0) -> list[str]:
    """The trace ids to pull: all faulted, errored and throttled traces, the slowest, then a sample.

    Parameters
    ----------
    summaries
        A :data:`~slo_analysis.sources.xray.TRACE_SUMMARY_SCHEMA` frame (duplicates allowed).
    max_traces
        The cap on how many traces are pulled. Faulted / errored / throttled traces and the
        ``keep_slowest`` slowest are **always** kept, even beyond the cap; the rest of the cap is
        filled with a deterministic sample of the others.
    keep_slowest
        How many of the slowest traces (by ``duration_ms``, else ``response_time_ms``) to keep.
    seed
        Changes the sample; the same seed and input give the same ids.

    Returns
    -------
    list[str]
        Flagged traces (in input order), then the slowest (slowest first), then the sample (in
        input order). No duplicates.

    Examples
    --------
    >>> import polars as pl
    >>> from slo_analysis.sources.xray import TRACE_SUMMARY_SCHEMA
    >>> df = pl.DataFrame({"trace_id": ["a", "b", "c", "d"], "duration_ms": [1.0, 9.0, 2.0, 3.0],
    ...                    "has_fault": [False, False, True, False]}).with_columns(
    ...     has_error=pl.lit(False), has_throttle=pl.lit(False))
    >>> sample_trace_ids(df, max_traces=2, keep_slowest=1)
    ['c', 'b']
    """
    if max_traces < 0 or keep_slowest < 0:
        raise ValueError("max_traces and keep_slowest must be >= 0")
    df = summaries.unique(subset=["trace_id"], keep="first", maintain_order=True).with_row_index("_order")
    latency = (pl.coalesce("duration_ms", "response_time_ms") if "response_time_ms" in df.columns
               else pl.col("duration_ms"))
    flag = pl.lit(False)
    for col in ("has_fault", "has_error", "has_throttle"):
        if col in df.columns:
            flag = flag | pl.col(col).fill_null(False)
    df = df.with_columns(_flag=flag, _lat=latency)
    flagged = df.filter(pl.col("_flag"))["trace_id"].to_list()
    rest = df.filter(~pl.col("_flag"))
    slowest = (rest.filter(pl.col("_lat").is_not_null())
               .sort(["_lat", "trace_id"], descending=[True, False]).head(keep_slowest)["trace_id"].to_list())
    chosen = set(flagged) | set(slowest)
    room = max(0, max_traces - len(chosen))
    others = rest.filter(~pl.col("trace_id").is_in(list(chosen)))
    if room and others.height:
        rank = [hashlib.sha256(f"{seed}:{t}".encode()).hexdigest() for t in others["trace_id"].to_list()]
        sample = (others.with_columns(_rank=pl.Series(rank, dtype=pl.String)).sort("_rank").head(room)
                  .sort("_order")["trace_id"].to_list())
    else:
        sample = []
    return [*flagged, *slowest, *sample]


class TracesFetcher:
    """A fetcher of full traces through BatchGetTraces, 5 ids per call, paginated.

    Units ``xray:traces:<hash of the batch's ids>[:retry<r>]:p<n>[:end]``, kind ``xray-traces``,
    frames ``spans`` through :func:`~slo_analysis.sources.xray.spans_from_batch_get_traces`. Ids in
    ``UnprocessedTraceIds`` are asked again in new batches, at most ``max_retries`` rounds with a
    backoff; those still unprocessed end in :attr:`unprocessed` (and a warning), and stay visible in
    the stored responses. (On a resumed run, the unprocessed ids of batches finished earlier are
    only in those stored responses.)
    """

    def __init__(self, settings: AwsSettings | None, trace_ids: Sequence[str], *, max_retries: int = 3,
                 retry_delay_s: float = 1.0, max_pages: int = 1_000,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.trace_ids = list(dict.fromkeys(trace_ids))
        self.max_retries = max_retries
        self.retry_delay_s = retry_delay_s
        self.max_pages = max_pages
        self.sleep = sleep
        self.unprocessed: list[str] = []

    def __call__(self, done: set[str]) -> Iterator[Fetched]:
        """Yield one :class:`Fetched` per BatchGetTraces page not in ``done``."""
        self.unprocessed = []
        c: Any = None
        ids = self.trace_ids
        for round_ in range(self.max_retries + 1):
            if round_:
                self.sleep(self.retry_delay_s * 2 ** (round_ - 1))
            missed: list[str] = []
            for i in range(0, len(ids), BATCH_GET_TRACES_MAX_IDS):
                batch = ids[i:i + BATCH_GET_TRACES_MAX_IDS]
                chain = f"xray:traces:{_key(batch)}" + (f":retry{round_}" if round_ else "")
                if any(u.startswith(chain + ":p") and u.endswith(":end") for u in done):
                    continue
                c = c or client("xray", self.settings)
                for unit, sent, response in paginated_units(c.batch_get_traces, {"TraceIds": batch}, chain=chain,
                                                            done=done, token_in="NextToken", token_out="NextToken",
                                                            max_pages=self.max_pages):
                    missed.extend(str(t) for t in response.get("UnprocessedTraceIds") or [])
                    report = LoadReport()
                    df = xray.spans_from_batch_get_traces(response, file=unit, report=report)
                    yield Fetched("xray-traces", unit, sent, response, {"spans": df} if df.height else {})
            ids = list(dict.fromkeys(missed))
            if not ids:
                return
        self.unprocessed = ids
        log.warning("BatchGetTraces: %d trace id(s) still unprocessed after %d retries: %s", len(ids),
                    self.max_retries, ", ".join(ids[:10]))


def traces_fetcher(settings: AwsSettings | None, trace_ids: Sequence[str], *, max_retries: int = 3,
                   retry_delay_s: float = 1.0) -> TracesFetcher:
    """A :class:`TracesFetcher` (a :data:`~slo_analysis.store.fetcher.Fetcher` with ``.unprocessed``)."""
    return TracesFetcher(settings, trace_ids, max_retries=max_retries, retry_delay_s=retry_delay_s)


def service_graph_fetcher(settings: AwsSettings | None, window: Window, *, group_name: str | None = None,
                          max_pages: int = 1_000) -> Fetcher:
    """A fetcher of GetServiceGraph pages over ``window``.

    Units ``xray:service-graph:<hash of group>:<start ms>-<end ms>:p<n>[:end]``, kind
    ``xray-service-graph``. No frames: the edges frame (``SERVICE_EDGE_SCHEMA``) is not a canonical
    store frame, so the pages are kept raw; read them back, every page of the graph at once (an
    edge's target may be listed on another page), with
    ``service_graph_edges_from_pages([(u.unit, u.response) for u in units])`` of
    :mod:`slo_analysis.sources.xray`.
    """
    a, b = window_ms(window)

    def fetch(done: set[str]) -> Iterator[Fetched]:
        chain = f"xray:service-graph:{_key(group_name)}:{a}-{b}"
        if any(u.startswith(chain + ":p") and u.endswith(":end") for u in done):
            return
        c: Any = client("xray", settings)
        request: dict[str, Any] = {"StartTime": _dt(a), "EndTime": _dt(b)}
        if group_name:
            request["GroupName"] = group_name
        for unit, sent, response in paginated_units(c.get_service_graph, request, chain=chain, done=done,
                                                    token_in="NextToken", token_out="NextToken",
                                                    max_pages=max_pages):
            yield Fetched("xray-service-graph", unit, sent, response)

    return fetch
