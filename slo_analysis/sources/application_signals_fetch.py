"""Live Application Signals: services, operations, SLO definitions, budget reports, SLI queries.

Fetchers follow ``docs/live-sources.md``: clients only from :func:`slo_analysis.sources.aws.client`,
one :class:`~slo_analysis.sources.aws.Fetched` unit per call (per page for paginated calls),
``done`` units skipped without calling AWS, every loop bounded.

AWS operations called (botocore model ``application-signals`` 2024-04-15): ``ListServices``,
``ListServiceOperations``, ``ListServiceLevelObjectives`` (MaxResults <= 50, NextToken),
``GetServiceLevelObjective``, ``ListServiceLevelObjectiveExclusionWindows`` (MaxResults <= 10,
NextToken), ``BatchGetServiceLevelObjectiveBudgetReport`` (1 to 50 SloIds and one Timestamp per call).

Units and kinds
---------------
- ``application-signals/list-slos/<request hash>/page-NNNN``: a ListServiceLevelObjectives page,
  kind ``slo-list``, raw only (summaries are not definitions).
- ``application-signals/slo/<arn or name>``: a GetServiceLevelObjective response, kind
  ``slo-application-signals``, frame ``slos`` through :func:`~slo_analysis.sources.
  application_signals.slos_from_application_signals` (the loader the import path uses). Exclusion
  windows are not part of the ``Slo`` shape: the unit also lists them
  (ListServiceLevelObjectiveExclusionWindows, every page) and stores them in the response as
  ``Slo.ExclusionWindows`` (the items unchanged, the key the SLO model reads), so the stored
  response, and an ``import`` of it, holds the whole definition. The two calls are one unit: an
  interrupt between them fetches both again.
- ``application-signals/budget-report/<ids hash>/<timestamp>``: one budget report, kind
  ``slo-budget-report``, **raw only**: a report is AWS's own evaluation of the SLO at one instant
  (status, attainment, remaining budget), kept as evidence beside the SLO engine's figures, not a
  canonical frame. ``slo-analysis import`` reports these files as unrecognised and skips them.

Resume and pagination
---------------------
A page's NextToken is in its stored response. Fetchers take ``stored(unit) -> response | None`` (the
snapshot's raw response of a finished unit); with it a resumed run calls AWS only for unfinished
units. Without it (or when it returns None) a finished *list* page is read again to learn its token,
never yielded twice, and finished data units (GetServiceLevelObjective, budget reports) are still
skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slo_analysis.exceptions import SloAnalysisError
from slo_analysis.sources.application_signals import slos_from_application_signals
from slo_analysis.sources.aws import (
    AwsSettings,
    Fetched,
    Stored,
    Window,
    check_window,
    client,
    digest,
    iso_z,
    pages,
    to_jsonable,
)

__all__ = [
    "SliQueries",
    "MAX_SLO_IDS_PER_BUDGET_REPORT",
    "MAX_SLOS_PER_PAGE",
    "MAX_EXCLUSION_WINDOWS_PER_PAGE",
    "list_services",
    "list_service_operations",
    "slo_fetcher",
    "budget_report_fetcher",
    "sli_metric_queries",
]

log = logging.getLogger(__name__)


MAX_SLO_IDS_PER_BUDGET_REPORT = 50  # model: ServiceLevelObjectiveIds max 50
MAX_SLOS_PER_PAGE = 50  # model: ListServiceLevelObjectivesMaxResults max 50
MAX_EXCLUSION_WINDOWS_PER_PAGE = 10  # model: ListServiceLevelObjectiveExclusionWindows MaxResults max 10
_MAX_LIST_RESULTS = 100  # model: ListServicesMaxResults / ListServiceOperationMaxResults max 100
_MAX_REPORT_TIMESTAMPS = 20_000  # a bound on one budget history (a year of hours is 8,760)





def _list_all(operation: str, request: Mapping[str, Any], items_key: str, settings: AwsSettings | None,
              max_pages: int) -> list[dict[str, Any]]:
    c: Any = client("application-signals", settings)
    call = getattr(c, operation)
    out: list[dict[str, Any]] = []
    for _, _, response, _ in pages(call, request, unit_prefix=operation, done=set(), stored=None,
                                    max_pages=max_pages):
        out.extend(to_jsonable(response.get(items_key) or []))
    return out


def list_services(settings: AwsSettings | None, window: Window, *, max_pages: int = 100) -> list[dict[str, Any]]:
    """Services Application Signals saw in ``window`` (ListServices, every page).

    Parameters
    ----------
    settings
        session, region and endpoint; None for the standard credential chain.
    window
        ``(start, end)``, timezone-aware; AWS rounds the start down to the hour.
    max_pages
        bound on pages (100 summaries each).

    Returns
    -------
    list of dict
        ``ServiceSummaries`` as AWS returns them (``KeyAttributes``, ``MetricReferences``, ...), JSON-ready.
        ``KeyAttributes`` is what :func:`list_service_operations` and :func:`slo_fetcher` take.
    """
    start, end = check_window(window)
    return _list_all("list_services", {"StartTime": start, "EndTime": end, "MaxResults": _MAX_LIST_RESULTS},
                     "ServiceSummaries", settings, max_pages)


def list_service_operations(settings: AwsSettings | None, key_attributes: Mapping[str, str], window: Window, *,
                            max_pages: int = 100) -> list[dict[str, Any]]:
    """Operations of one service (its ``KeyAttributes``) seen in ``window`` (ListServiceOperations).

    Returns
    -------
    list of dict
        ``ServiceOperations`` as AWS returns them (``Name``, ``MetricReferences``), JSON-ready.
    """
    start, end = check_window(window)
    return _list_all("list_service_operations", {"StartTime": start, "EndTime": end,
                                                 "KeyAttributes": dict(key_attributes),
                                                 "MaxResults": _MAX_LIST_RESULTS},
                     "ServiceOperations", settings, max_pages)


def _exclusion_windows(c: Any, slo_id: str, max_pages: int) -> list[Any]:
    """Every ``ExclusionWindows`` item of one SLO (ListServiceLevelObjectiveExclusionWindows, all pages)."""
    out: list[Any] = []
    request = {"Id": slo_id, "MaxResults": MAX_EXCLUSION_WINDOWS_PER_PAGE}
    for _, _, response, _ in pages(c.list_service_level_objective_exclusion_windows, request,
                                    unit_prefix=f"application-signals/exclusion-windows/{slo_id}", done=set(),
                                    stored=None, max_pages=max_pages):
        out.extend(response.get("ExclusionWindows") or [])
    return out


def slo_fetcher(settings: AwsSettings | None, *, names_or_arns: Sequence[str] | None = None,
                key_attributes: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
                operation_name: str | None = None, exclusion_windows: bool = True, max_pages: int = 100,
                stored: Stored | None = None) -> Callable[[set[str]], Iterator[Fetched]]:
    """A fetcher of SLO definitions into the ``slos`` frame.

    With ``names_or_arns``: one GetServiceLevelObjective per name or ARN. Otherwise
    ListServiceLevelObjectives (all SLOs, or those of each service in ``key_attributes``, optionally
    one ``operation_name``), every page, then GetServiceLevelObjective for each listed ARN. Each SLO's
    exclusion windows are listed and merged into its definition (module docstring).

    Parameters
    ----------
    settings
        session, region and endpoint.
    names_or_arns
        SLOs to fetch (the API's ``Id`` takes either).
    key_attributes
        one service's ``KeyAttributes`` or several; ignored when ``names_or_arns`` is given.
    operation_name
        only SLOs on this operation (with ``key_attributes``).
    exclusion_windows
        list each SLO's exclusion windows (ListServiceLevelObjectiveExclusionWindows) into its
        definition; False leaves them out (the SLO engine then counts every minute).
    max_pages
        bound on list pages per listing (and on exclusion-window pages per SLO).
    stored
        finished units' stored responses (see the module docstring).

    Returns
    -------
    callable
        ``fetcher(done) -> Iterator[Fetched]``.
    """
    def fetch(done: set[str]) -> Iterator[Fetched]:
        c: Any = client("application-signals", settings)

        def get(slo_id: str) -> Iterator[Fetched]:
            unit = f"application-signals/slo/{slo_id}"
            if unit in done:
                return
            request = {"Id": slo_id}
            response = dict(c.get_service_level_objective(**request))
            if exclusion_windows and isinstance(response.get("Slo"), Mapping):
                slo = dict(response["Slo"])
                slo["ExclusionWindows"] = _exclusion_windows(c, str(slo.get("Arn") or slo_id), max_pages)
                response["Slo"] = slo
            yield Fetched("slo-application-signals", unit, request, response,
                          {"slos": slos_from_application_signals(to_jsonable(response), file=unit)})

        if names_or_arns is not None:
            for slo_id in dict.fromkeys(names_or_arns):
                yield from get(slo_id)
            return
        services: list[Mapping[str, str] | None]
        if key_attributes is None:
            services = [None]
        elif isinstance(key_attributes, Mapping):
            services = [key_attributes]
        else:
            services = list(key_attributes)
        for keys in services:
            request: dict[str, Any] = {"MaxResults": MAX_SLOS_PER_PAGE}
            if keys is not None:
                request["KeyAttributes"] = dict(keys)
                if operation_name is not None:
                    request["OperationName"] = operation_name
            prefix = f"application-signals/list-slos/{digest(request)}"
            for unit, req, response, new in pages(c.list_service_level_objectives, request, unit_prefix=prefix,
                                                   done=done, stored=stored, max_pages=max_pages):
                if new:
                    yield Fetched("slo-list", unit, req, dict(response))
                for summary in response.get("SloSummaries") or []:
                    yield from get(str(summary.get("Arn") or summary["Name"]))

    return fetch


def _report_times(window: Window, step_s: int) -> list[datetime]:
    start, end = check_window(window)
    if step_s <= 0:
        raise SloAnalysisError(f"budget report step must be positive, got {step_s} s")
    count = -(-int((end - start).total_seconds()) // step_s)  # timestamps in [start, end)
    if count > _MAX_REPORT_TIMESTAMPS:
        raise SloAnalysisError(f"budget reports {iso_z(start)}..{iso_z(end)} every {step_s} s would take {count} "
                               f"calls per batch of SLOs (more than {_MAX_REPORT_TIMESTAMPS}); use a larger step")
    return [start + timedelta(seconds=k * step_s) for k in range(count)]


def budget_report_fetcher(settings: AwsSettings | None, slo_ids: Sequence[str], window: Window, *,
                          step_s: int = 3600) -> Callable[[set[str]], Iterator[Fetched]]:
    """A fetcher of budget history: BatchGetServiceLevelObjectiveBudgetReport every ``step_s`` in ``window``.

    One call per timestamp ``start, start + step, ... < end`` and per batch of at most
    :data:`MAX_SLO_IDS_PER_BUDGET_REPORT` SLO ids (the API's limit): ``ceil(n / 50) * ceil(span / step)``
    calls. Each call is one unit, kept **raw only** (kind ``slo-budget-report``): the report is AWS's
    view of the budget at that instant, evidence beside the SLO engine's own figures, not a canonical
    frame. ``Errors`` (an unknown SLO id, ...) are kept in the response and logged.

    Parameters
    ----------
    settings
        session, region and endpoint.
    slo_ids
        SLO names or ARNs.
    window
        ``(start, end)``, timezone-aware, half-open.
    step_s
        seconds between reports (3600: hourly budget history).
    """
    times = _report_times(window, step_s)
    ids = list(dict.fromkeys(slo_ids))
    batches = [ids[i:i + MAX_SLO_IDS_PER_BUDGET_REPORT] for i in range(0, len(ids), MAX_SLO_IDS_PER_BUDGET_REPORT)]

    def fetch(done: set[str]) -> Iterator[Fetched]:
        c: Any = None
        for batch in batches:
            prefix = f"application-signals/budget-report/{digest(sorted(batch))}"
            for t in times:
                unit = f"{prefix}/{iso_z(t)}"
                if unit in done:
                    continue
                c = c or client("application-signals", settings)
                request = {"Timestamp": t, "SloIds": batch}
                response = c.batch_get_service_level_objective_budget_report(**request)
                for err in response.get("Errors") or []:
                    log.warning("%s: %s %s: %s", unit, err.get("Name") or err.get("Arn"), err.get("ErrorCode"),
                                err.get("ErrorMessage"))
                yield Fetched("slo-budget-report", unit, request, response)

    return fetch


@dataclass(frozen=True)
class SliQueries:
    """The MetricDataQueries of one part of an SLO's SLI, ready for GetMetricData.

    ``role`` is ``sli`` (a period-based SLO's metric), ``total``, ``good`` or ``bad`` (request
    counts). Ids are unique within one ``queries`` list, not across parts or SLOs: fetch each part
    as its own query set (or rename Ids and the expressions that use them together).
    """

    slo: str
    role: str
    queries: list[dict[str, Any]]


def _slo_doc(slo_definition: Mapping[str, Any] | str) -> Mapping[str, Any]:
    doc: Any = json.loads(slo_definition) if isinstance(slo_definition, str) else slo_definition
    if isinstance(doc, Mapping) and isinstance(doc.get("Slo"), Mapping):
        doc = doc["Slo"]
    if not isinstance(doc, Mapping):
        raise SloAnalysisError(f"not an Application Signals SLO definition: {type(doc).__name__}")
    return doc


def sli_metric_queries(slo_definition: Mapping[str, Any] | str) -> list[SliQueries]:
    """The MetricDataQueries an SLO's SLI names, for the metrics source to fetch.

    Parameters
    ----------
    slo_definition
        a GetServiceLevelObjective response, its ``Slo``, or the ``slos`` frame's ``definition``
        (canonical JSON).

    Returns
    -------
    list of SliQueries
        period-based: one ``sli`` part (``Sli.SliMetric.MetricDataQueries``); request-based:
        ``total`` (``RequestBasedSli.RequestBasedSliMetric.TotalRequestCountMetric``) and ``good``
        or ``bad`` (``MonitoredRequestCountMetric``). Empty parts are left out.

    Examples
    --------
    >>> slo = {"Name": "p99", "Sli": {"SliMetric": {"MetricDataQueries": [{"Id": "m1", "MetricStat": {
    ...     "Metric": {"Namespace": "ApplicationSignals", "MetricName": "Latency"}, "Period": 60,
    ...     "Stat": "p99"}}]}}}
    >>> [(q.role, q.queries[0]["Id"]) for q in sli_metric_queries(slo)]
    [('sli', 'm1')]
    """
    slo = _slo_doc(slo_definition)
    name = str(slo.get("Arn") or slo.get("Name") or "?")
    parts: list[SliQueries] = []

    def add(role: str, queries: Any) -> None:
        if isinstance(queries, list) and queries:
            parts.append(SliQueries(name, role, [dict(q) for q in queries if isinstance(q, Mapping)]))

    sli = slo.get("Sli")
    if isinstance(sli, Mapping) and isinstance(sli.get("SliMetric"), Mapping):
        add("sli", sli["SliMetric"].get("MetricDataQueries"))
    rb = slo.get("RequestBasedSli")
    if isinstance(rb, Mapping) and isinstance(rb.get("RequestBasedSliMetric"), Mapping):
        metric = rb["RequestBasedSliMetric"]
        add("total", metric.get("TotalRequestCountMetric"))
        monitored = metric.get("MonitoredRequestCountMetric")
        if isinstance(monitored, Mapping):
            add("good", monitored.get("GoodCountMetric"))
            add("bad", monitored.get("BadCountMetric"))
    return parts
