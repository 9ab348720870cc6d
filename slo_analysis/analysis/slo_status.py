"""Glue: the frames of a snapshot to the SLI of each SLO.

:func:`sli_for_slo` chooses where each SLO's SLI comes from (``source="auto"``):

1. **first response** (a request-based SLO whose good metric is ``FirstResponseWithin<N><s|m|h>``,
   or any SLO when ``first_response_threshold_s`` is given): ticket lifecycle events parsed from the
   ``logs`` frame (:func:`ticket_events_from_logs`), right-censored at the window end; the threshold is
   the ``N`` of the metric name unless given. Falls back to the count metrics when the logs hold no
   ticket events.
2. **period-based** SLOs with a threshold: the SLO's ``sli`` metric series (e.g. ``ApplicationSignals``
   ``Latency`` p99 per minute) from the ``metrics`` frame, against the SLO's threshold and comparison,
   on the SLO's own period, with the missing-data policy ``missing`` (default ``"good"``) and the
   SLO's ``slice_target`` (share of good datapoints a period needs; default all).
3. **request-based availability / latency** with a service and operation: the ``requests`` frame
   when it holds rows of that service and operation in the window (exact per-request counts);
   otherwise the count metrics (``Fault`` Sum over ``Latency`` SampleCount).
4. **request-based ratio** SLOs: the good/bad/total count metrics.
5. **period-based ratio** SLOs (OpenSLO ``Timeslices`` / ``RatioTimeslices`` on a ratio metric): the
   event counts of 1. or 4. on the SLO's slice grid (``slo.period_s``), turned into slices by
   ``core.sli.timeslices_sli`` (good when the slice's ratio reaches ``slo.slice_target``) or
   ``core.sli.ratio_timeslices_sli`` (the slice's ratio), with the missing-data policy ``missing``.

``source`` forces one of ``"requests"``, ``"metrics"``, ``"events"``. The SLO's exclusion windows
are applied last.

Examples
--------
>>> import polars as pl
>>> ticket_events_from_logs(pl.DataFrame({"timestamp": [0], "message": ['{"event": "ticket_created", '
...     '"ticket_id": "T-1"}']}, schema_overrides={"timestamp": pl.Datetime("ms", "UTC")}))["event"][0]
'ticket_created'
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

import polars as pl

from slo_analysis.core.model import SLO
from slo_analysis.core.sli import (
    MissingPolicy,
    SliError,
    SliSeries,
    apply_exclusions,
    first_response_sli,
    period_sli_from_series,
    ratio_timeslices_sli,
    request_sli_from_counts,
    request_sli_from_requests,
    timeslices_sli,
)

if TYPE_CHECKING:
    from slo_analysis.store import Snapshot  # noqa: F401  (typing only)

__all__ = ["FrameSource", "SliSource", "frame_of", "ticket_events_from_logs", "sli_source", "sli_for_slo",
           "slis_for_slos"]

SliSource = Literal["auto", "requests", "metrics", "events"]
_FIRST_RESPONSE = re.compile(r"^FirstResponseWithin(\d+)(s|m|h)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600}
TICKET_EVENTS = ("ticket_created", "agent_assigned", "first_response", "resolved")


class _Scannable(Protocol):
    def scan(self, name: str) -> pl.LazyFrame: ...


FrameSource = Mapping[str, pl.DataFrame | pl.LazyFrame] | _Scannable
"""A :class:`~slo_analysis.store.Snapshot` (anything with ``.scan(name)``) or a mapping of frames."""


def frame_of(frames: FrameSource, name: str, *, required: bool = True) -> pl.LazyFrame:
    """Frame ``name`` of a snapshot or a mapping, lazily; a mapping without it gives an empty, typed frame
    unless ``required`` (then :class:`SliError` names the frames it has). A snapshot gives an empty frame."""
    if isinstance(frames, Mapping):
        if name not in frames:
            if required:
                raise SliError(f"no {name!r} frame among {sorted(frames)}")
            from slo_analysis import frames as schemas

            return schemas.empty(name).lazy()
        return frames[name].lazy()
    return frames.scan(name)



def ticket_events_from_logs(logs: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Ticket lifecycle events from the ``logs`` frame: JSON messages with ``event`` and ``ticket_id``.

    Returns a frame ``timestamp`` (the log event's), ``ticket_id``, ``event`` sorted by time. Plain
    text and malformed lines are skipped; only ``ticket_created``, ``agent_assigned``,
    ``first_response`` and ``resolved`` events are kept.
    """
    msg = pl.col("message")
    out = (logs.lazy()
           .filter(msg.str.starts_with("{") & msg.str.contains('"ticket_id"', literal=True)
                   & msg.str.contains('"event"', literal=True))
           .select("timestamp",
                   ticket_id=msg.str.json_path_match("$.ticket_id"),
                   event=msg.str.json_path_match("$.event"))
           .filter(pl.col("ticket_id").is_not_null() & pl.col("event").is_in(TICKET_EVENTS))
           .sort("timestamp")
           .collect())
    return out


def _first_response_threshold(slo: SLO) -> float | None:
    good = slo.metric("good")
    m = _FIRST_RESPONSE.match(good.metric or "") if good is not None else None
    return None if m is None else float(int(m.group(1)) * _UNIT_S[m.group(2)])


def sli_source(slo: SLO) -> Literal["requests", "metrics", "events"]:
    """The SLI source :func:`sli_for_slo` prefers for ``slo`` (before checking the data is there)."""
    if _counts_based(slo) and _first_response_threshold(slo) is not None:
        return "events"
    if slo.method == "request" and slo.sli_kind in ("availability", "latency") and slo.service and slo.operation:
        return "requests"
    return "metrics"


def sli_for_slo(frames: FrameSource, slo: SLO, window: tuple[datetime, datetime], period_s: int = 60, *,
                source: SliSource = "auto", missing: MissingPolicy = "good",
                first_response_threshold_s: float | None = None) -> SliSeries:
    """The SLI of ``slo`` over ``window`` from a snapshot's frames (see the module docstring).

    Parameters
    ----------
    frames : Snapshot or mapping of frames
        anything with ``.scan(name)`` or ``{"requests": df, "metrics": df, "logs": df}``.
    slo : SLO
    window : (datetime, datetime)
        ``[start, end)``, a whole number of periods long (see ``core.sli.align_window``).
    period_s : int
        period of request-based SLIs; period-based SLOs use their own ``slo.period_s`` (their slice).
    source : {"auto", "requests", "metrics", "events"}
    missing : {"good", "bad", "exclude"}
        missing-data policy of period-based SLIs.
    first_response_threshold_s : float, optional
        makes the SLI a first-response SLI from ticket events with this threshold.

    Returns
    -------
    SliSeries
    """
    threshold_s = first_response_threshold_s if first_response_threshold_s is not None else (
        _first_response_threshold(slo))
    chosen = sli_source(slo) if source == "auto" else source
    if first_response_threshold_s is not None and source == "auto":
        chosen = "events"
    sli: SliSeries
    if slo.method == "period" and slo.sli_kind == "ratio":
        # time slices from event counts on the slice grid
        assert slo.period_s is not None
        counts = sli_for_slo(frames, _as_counts(slo), window, slo.period_s, source=source,
                             first_response_threshold_s=first_response_threshold_s)
        if slo.budgeting == "ratio_timeslices":
            sli = ratio_timeslices_sli(counts, missing=missing)
        else:
            assert slo.slice_target is not None
            sli = timeslices_sli(counts, slo.slice_target, missing=missing)
        return apply_exclusions(sli, slo.exclusion_windows) if slo.exclusion_windows else sli
    if chosen == "events":
        if threshold_s is None:
            raise SliError(f"SLO {slo.name}: a first-response SLI needs first_response_threshold_s")
        events = ticket_events_from_logs(frame_of(frames, "logs").filter(
            pl.col("timestamp") < window[1]))
        if events.is_empty() and source == "auto" and slo.metric("total") is not None:
            sli = request_sli_from_counts(frame_of(frames, "metrics"), slo, window, period_s)
        else:
            sli = first_response_sli(events, threshold_s, window, period_s)
    elif slo.method == "period":
        ref = slo.metric("sli")
        if ref is None or ref.metric is None:
            raise SliError(f"SLO {slo.name}: a period-based SLI needs its metric (namespace, metric, statistic)")
        assert slo.period_s is not None and slo.threshold is not None and slo.comparison is not None
        m = frame_of(frames, "metrics")
        series = m.filter((pl.col("namespace") == ref.namespace) & (pl.col("metric") == ref.metric)
                          & (pl.col("dimensions") == ref.dimensions) & (pl.col("stat") == ref.statistic)
                          & (pl.col("timestamp") >= window[0]) & (pl.col("timestamp") < window[1]))
        finest = series.select(pl.col("period_s").min()).collect().item()
        if finest is not None:
            series = series.filter(pl.col("period_s") == finest)
        sli = period_sli_from_series(series.select("timestamp", "value"), slo.threshold, slo.comparison, window,
                                     slo.period_s, missing=missing, slice_target=slo.slice_target)
    elif chosen == "requests":
        req = frame_of(frames, "requests").filter(
            (pl.col("service") == slo.service) & (pl.col("operation") == slo.operation)
            & (pl.col("timestamp") >= window[0]) & (pl.col("timestamp") < window[1]))
        has_rows = req.select(pl.len()).collect().item() > 0
        if has_rows or source == "requests" or slo.metric("total") is None:
            sli = request_sli_from_requests(req, slo, window, period_s)
        else:
            sli = request_sli_from_counts(frame_of(frames, "metrics"), slo, window, period_s)
    else:
        sli = request_sli_from_counts(frame_of(frames, "metrics"), slo, window, period_s)
    return apply_exclusions(sli, slo.exclusion_windows) if slo.exclusion_windows else sli


def _counts_based(slo: SLO) -> bool:
    """Whether the SLI counts events: request-based SLOs and period-based ratio SLOs (per slice)."""
    return slo.method == "request" or slo.sli_kind == "ratio"


def _as_counts(slo: SLO) -> SLO:
    """The request-based (occurrences) twin of a period-based ratio SLO: same metrics, events counted."""
    return dataclasses.replace(slo, method="request", period_s=None, budgeting=None, slice_target=None,
                               exclusion_windows=())


def slis_for_slos(frames: FrameSource, slos: list[SLO], window: tuple[datetime, datetime],
                  period_s: int = 60) -> dict[str, SliSeries]:
    """:func:`sli_for_slo` for each SLO, keyed by SLO name."""
    return {s.name: sli_for_slo(frames, s, window, period_s) for s in slos}
