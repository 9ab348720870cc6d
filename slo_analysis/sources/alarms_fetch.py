"""Live CloudWatch alarms: definitions (DescribeAlarms) and state changes (DescribeAlarmHistory).

Fetchers follow ``docs/live-sources.md``; frames come from the import path's loaders
(:func:`~slo_analysis.sources.alarms.alarm_definitions_from_describe_alarms` and
:func:`~slo_analysis.sources.alarms.alarms_from_history`). The review's detection time comes from the
``alarms`` frame these fill.

AWS operations called
---------------------
- ``DescribeAlarms`` with ``AlarmTypes`` ``MetricAlarm`` and ``CompositeAlarm`` (alarms on Application
  Signals SLO metrics are metric alarms), ``MaxRecords`` 100, NextToken pages; by names (at most
  :data:`MAX_ALARM_NAMES` per call), by prefix, or all.
- ``DescribeAlarmHistory`` with ``HistoryItemType`` ``StateUpdate``, ``StartDate``/``EndDate`` = the
  window, both alarm types, ``ScanBy`` ``TimestampAscending``, NextToken pages; one listing per alarm
  name (the API takes a single ``AlarmName``), or one for all alarms.

Units are ``cloudwatch/<Operation>/<selector>/page-NNNN``; the last page of a listing ends in
``-last`` and a listing with a finished last page is skipped without calling AWS. A listing cut off
earlier is read again from its first page (finished pages are not yielded twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import polars as pl

from slo_analysis.sources.alarms import alarm_definitions_from_describe_alarms, alarms_from_history
from slo_analysis.sources.aws import AwsSettings, Fetched, Window, check_window, client, digest, iso_z
from slo_analysis.sources.cloudwatch_metrics_fetch import MAX_PAGES, CloudWatchFetchError, call_cloudwatch

__all__ = ["MAX_ALARM_NAMES", "MAX_RECORDS", "alarm_definitions_fetcher", "alarm_history_fetcher"]

log = logging.getLogger(__name__)

FetcherFn = Callable[[set[str]], Iterator[Fetched]]
Definitions = pl.DataFrame | Callable[[], pl.DataFrame | None] | None

MAX_ALARM_NAMES = 100  # DescribeAlarms AlarmNames: at most 100 names (model: AlarmNames max 100)
MAX_RECORDS = 100  # DescribeAlarms / DescribeAlarmHistory MaxRecords: 1..100
ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]
_LAST = "-last"


def _listing(call: Callable[..., Any], request: dict[str, Any], prefix: str, done: set[str],
             ) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Pages of one listing as ``(unit, request, response)``, the last unit marked ``-last``; nothing
    (and no call) when its last page is finished; finished pages are read again only for their token."""
    if any(u.startswith(prefix + "/page-") and u.endswith(_LAST) for u in done):
        return
    token: str | None = None
    for page in range(MAX_PAGES):
        req = dict(request, NextToken=token) if token else dict(request)
        response = call_cloudwatch(call, req, prefix)
        token = response.get("NextToken")
        unit = f"{prefix}/page-{page:04d}" + ("" if token else _LAST)
        if unit not in done:
            yield unit, req, response
        if not token:
            return
    raise CloudWatchFetchError(f"{prefix}: more than {MAX_PAGES} pages; narrow the request")


def alarm_definitions_fetcher(settings: AwsSettings | None, *, alarm_names: Sequence[str] | None = None,
                              prefix: str | None = None) -> FetcherFn:
    """A fetcher of alarm definitions (DescribeAlarms) into the ``alarm_definitions`` frame.

    Parameters
    ----------
    settings
        Where and how to call AWS.
    alarm_names
        Only these alarms (batched by :data:`MAX_ALARM_NAMES`).
    prefix
        Only alarms whose name starts with this (the API does not combine it with names).

    Returns
    -------
    Fetcher
        ``fetcher(done) -> Iterator[Fetched]`` of kind ``alarm-definitions``, one unit per page, metric
        and composite alarms.
    """
    if alarm_names and prefix:
        raise CloudWatchFetchError("DescribeAlarms takes alarm names or a name prefix, not both")
    base: dict[str, Any] = {"AlarmTypes": ALARM_TYPES, "MaxRecords": MAX_RECORDS}
    selectors: list[tuple[str, dict[str, Any]]] = []
    if alarm_names:
        names = sorted(set(alarm_names))
        for i in range(0, len(names), MAX_ALARM_NAMES):
            batch = names[i:i + MAX_ALARM_NAMES]
            selectors.append((f"names-{digest(batch)}", dict(base, AlarmNames=batch)))
    elif prefix:
        selectors.append((f"prefix-{prefix}", dict(base, AlarmNamePrefix=prefix)))
    else:
        selectors.append(("all", base))

    def fetch(done: set[str]) -> Iterator[Fetched]:
        cw: Any = None
        for selector, request in selectors:
            cw = cw or client("cloudwatch", settings)
            for unit, req, resp in _listing(cw.describe_alarms, request, f"cloudwatch/DescribeAlarms/{selector}",
                                            done):
                yield Fetched("alarm-definitions", unit, req, resp,
                              {"alarm_definitions": alarm_definitions_from_describe_alarms(resp, file=unit)})

    return fetch


def alarm_history_fetcher(settings: AwsSettings | None, window: Window, *, alarm_names: Sequence[str] | None = None,
                          definitions: Definitions = None) -> FetcherFn:
    """A fetcher of alarm state changes over ``window`` (DescribeAlarmHistory) into the ``alarms`` frame.

    Parameters
    ----------
    settings
        Where and how to call AWS.
    window
        ``(start, end)``, timezone-aware: ``StartDate`` and ``EndDate``.
    alarm_names
        Only these alarms (one listing each); all metric and composite alarms when None.
    definitions
        An ``alarm_definitions`` frame, or a callable returning one (or None) when the fetcher runs
        (e.g. reading the snapshot after :func:`alarm_definitions_fetcher` ran), so ``watches`` and the
        alarm type are filled; without it they stay as the history items give them.

    Returns
    -------
    Fetcher
        ``fetcher(done) -> Iterator[Fetched]`` of kind ``alarm-history``, one unit per page.
    """
    start, end = check_window(window)
    span = f"{iso_z(start)}_{iso_z(end)}"
    base: dict[str, Any] = {"AlarmTypes": ALARM_TYPES, "HistoryItemType": "StateUpdate", "StartDate": start,
                            "EndDate": end, "ScanBy": "TimestampAscending", "MaxRecords": MAX_RECORDS}
    selectors = ([(f"alarm-{n}", dict(base, AlarmName=n)) for n in sorted(set(alarm_names))] if alarm_names
                 else [("all", base)])

    def fetch(done: set[str]) -> Iterator[Fetched]:
        defs = definitions() if callable(definitions) else definitions
        cw: Any = None
        for selector, request in selectors:
            cw = cw or client("cloudwatch", settings)
            prefix = f"cloudwatch/DescribeAlarmHistory/{selector}/{span}"
            for unit, req, resp in _listing(cw.describe_alarm_history, request, prefix, done):
                yield Fetched("alarm-history", unit, req, resp,
                              {"alarms": alarms_from_history(resp, file=unit, definitions=defs)})

    return fetch

