"""Live change sources: CodeDeploy, ECS, Lambda and CloudTrail into the ``deployments`` frame.

Fetchers follow ``docs/live-sources.md``: clients only from :func:`slo_analysis.sources.aws.client`,
one :class:`~slo_analysis.sources.aws.Fetched` unit per call (per page for paginated calls),
``done`` units skipped without calling AWS, every loop bounded, frames parsed by the loaders of
:mod:`slo_analysis.sources.deployments` (the import path's parsers). Rows of the different sources are
kept as they are; :func:`~slo_analysis.sources.deployment_merge.merge_deployments` de-duplicates them when
the analysis reads the snapshot.

AWS operations called
---------------------
- CodeDeploy: ``ListDeploymentGroups`` (only for applications named without groups),
  ``ListDeployments`` (``createTimeRange`` = the window, paginated), ``BatchGetDeployments`` (at most
  :data:`MAX_CODEDEPLOY_BATCH` ids per call). Without applications one account-wide listing is made
  (``ListDeployments`` requires a group whenever it is given an application).
- ECS: ``DescribeServices`` (at most :data:`MAX_ECS_SERVICES` services per call), deployments into the
  frame; the service ``events`` stay in the raw response.
- Lambda: ``ListVersionsByFunction`` (paginated by Marker) into the frame, ``ListAliases`` raw only
  (an alias carries no timestamp: its changes come from CloudTrail ``UpdateAlias``/``CreateAlias``).
- CloudTrail: ``LookupEvents`` over the window, one lookup attribute per call (the API's rule, in
  the model: "the list can contain only one item"): ``EventName`` for each name in
  :data:`~slo_analysis.sources.deployments.CHANGE_EVENTS`, or ``EventSource`` per given source; 50
  events per page. Lambda records its calls under versioned names (``UpdateFunctionCode20150331v2``,
  ``PublishVersion20150331``, ...) and LookupEvents matches ``EventName`` exactly, so the Lambda names
  (:data:`LAMBDA_CHANGE_EVENTS`) are looked up as one ``EventSource=lambda.amazonaws.com`` lookup;
  the loader drops its read events, and when names are given explicitly the frame keeps only the
  events named ``<name>`` or ``<name><API version>`` (the raw page keeps them all). LookupEvents
  allows 2 requests per second per account and region: throttled calls are retried by the client's
  bounded standard/adaptive retries.

Point-in-time sources (ECS DescribeServices, Lambda listings) return what AWS holds now, not only the
window: every row is kept (older deployments give ``version_from``). Their unit keys still name the
window, so a snapshot of another window reads them again.

Resume: a page's NextToken/NextMarker is in its stored response; pass ``stored(unit)`` (the
snapshot's stored response of a finished unit) and a resumed run calls AWS only for unfinished units.
Without it a finished list page is read again for its token (never yielded twice); finished data units
(BatchGetDeployments, DescribeServices, LookupEvents and version pages' frames) are not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from slo_analysis.sources.aws import (
    AwsSettings,
    Fetched,
    Fetcher,
    Stored,
    Window,
    check_window,
    client,
    digest,
    iso_z,
    pages,
    to_jsonable,
)
from slo_analysis.sources.deployments import (
    CHANGE_EVENTS,
    deployments_from_cloudtrail,
    deployments_from_codedeploy,
    deployments_from_ecs,
    deployments_from_lambda,
)

__all__ = [
    "MAX_CODEDEPLOY_BATCH",
    "MAX_ECS_SERVICES",
    "MAX_CLOUDTRAIL_RESULTS",
    "LAMBDA_CHANGE_EVENTS",
    "LAMBDA_EVENT_SOURCE",
    "codedeploy_fetcher",
    "ecs_fetcher",
    "lambda_fetcher",
    "cloudtrail_fetcher",
    "deployments_fetchers",
]

log = logging.getLogger(__name__)


MAX_CODEDEPLOY_BATCH = 25  # BatchGetDeployments: "the maximum number of names or IDs allowed is 25"
MAX_ECS_SERVICES = 10  # DescribeServices: "you may specify up to 10 services"
MAX_CLOUDTRAIL_RESULTS = 50  # model: LookupEvents MaxResults max 50
LAMBDA_EVENT_SOURCE = "lambda.amazonaws.com"
LAMBDA_CHANGE_EVENTS = frozenset({
    "UpdateFunctionCode", "UpdateFunctionConfiguration", "UpdateAlias", "CreateAlias", "PublishVersion",
    "PutFunctionConcurrency", "UpdateEventSourceMapping"}) & CHANGE_EVENTS
"""Change events of Lambda, which CloudTrail names with an API-version suffix (``UpdateAlias20150331``)."""
_API_VERSION = r"(?:\d{8}(?:v\d+)?)?"  # Lambda's suffix: the API date, sometimes a revision (20150331v2)




def _span(window: Window) -> str:
    start, end = check_window(window)
    return f"{iso_z(start)}_{iso_z(end)}"



def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


# ----------------------------------------------------------------------------- CodeDeploy
def codedeploy_fetcher(settings: AwsSettings | None, window: Window, *,
                       applications: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
                       service_from: Literal["deploymentGroupName", "applicationName"] = "deploymentGroupName",
                       max_pages: int = 100, stored: Stored | None = None) -> Fetcher:
    """A fetcher of CodeDeploy deployments created in ``window``.

    Parameters
    ----------
    settings
        session, region and endpoint.
    window
        ``(start, end)``, timezone-aware: ListDeployments' ``createTimeRange``.
    applications
        None: every deployment of the account and region (one listing). A list of application names:
        their deployment groups (ListDeploymentGroups) and each group's deployments. A mapping
        application -> groups: those groups only.
    service_from
        passed to :func:`~slo_analysis.sources.deployments.deployments_from_codedeploy`.
    max_pages
        bound on pages per listing.
    stored
        finished units' stored responses (module docstring).

    Returns
    -------
    callable
        ``fetcher(done)``: list pages (kind ``codedeploy-list``, raw only) and BatchGetDeployments
        batches (kind ``deployments-codedeploy``, frame ``deployments``).
    """
    start, end = check_window(window)
    span = _span(window)

    def fetch(done: set[str]) -> Iterator[Fetched]:
        c: Any = client("codedeploy", settings)
        fetched: set[str] = set()  # a deployment listed on two pages of this run is fetched once

        def listing(request: dict[str, Any], prefix: str) -> Iterator[Fetched]:
            for unit, req, response, new in pages(c.list_deployments, request, unit_prefix=prefix, done=done,
                                                   stored=stored, max_pages=max_pages, token_in="nextToken",
                                                   token_out="nextToken"):
                if new:
                    yield Fetched("codedeploy-list", unit, req, dict(response))
                for batch in _chunks(list(dict.fromkeys(response.get("deployments") or [])), MAX_CODEDEPLOY_BATCH):
                    bunit = f"codedeploy/deployments/{digest(sorted(batch))}"
                    if bunit in done or bunit in fetched:
                        continue
                    breq = {"deploymentIds": batch}
                    bresp = c.batch_get_deployments(**breq)
                    yield Fetched("deployments-codedeploy", bunit, breq, bresp, {"deployments": (
                        deployments_from_codedeploy(to_jsonable(bresp), file=bunit, service_from=service_from))})
                    fetched.add(bunit)

        time_range = {"start": start, "end": end}
        if applications is None:
            yield from listing({"createTimeRange": time_range}, f"codedeploy/list-deployments/{span}")
            return
        groups: dict[str, Sequence[str] | None] = (
            {a: list(g) for a, g in applications.items()} if isinstance(applications, Mapping)
            else dict.fromkeys(applications))
        for app, app_groups in groups.items():
            names: list[str] = list(app_groups or [])
            if app_groups is None:
                for unit, req, response, new in pages(
                        c.list_deployment_groups, {"applicationName": app},
                        unit_prefix=f"codedeploy/list-deployment-groups/{app}/{span}", done=done, stored=stored,
                        max_pages=max_pages, token_in="nextToken", token_out="nextToken"):
                    if new:
                        yield Fetched("codedeploy-list", unit, req, dict(response))
                    names.extend(response.get("deploymentGroups") or [])
            for group in dict.fromkeys(names):
                yield from listing({"applicationName": app, "deploymentGroupName": group,
                                    "createTimeRange": time_range},
                                   f"codedeploy/list-deployments/{app}/{group}/{span}")

    return fetch


# ----------------------------------------------------------------------------- ECS
def ecs_fetcher(settings: AwsSettings | None, window: Window,
                clusters: Mapping[str, Sequence[str]]) -> Fetcher:
    """A fetcher of ECS deployments and events: DescribeServices per cluster, 10 services per call.

    Parameters
    ----------
    settings
        session, region and endpoint.
    window
        names the units only: DescribeServices returns the services' current deployments and last
        events, whatever the window.
    clusters
        cluster name or ARN -> service names or ARNs.

    Returns
    -------
    callable
        ``fetcher(done)``: one unit per call (kind ``deployments-ecs``, frame ``deployments``);
        ``failures`` (a service not found) are logged and kept in the raw response.
    """
    span = _span(window)

    def fetch(done: set[str]) -> Iterator[Fetched]:
        c: Any = None
        for cluster, services in clusters.items():
            for batch in _chunks(list(dict.fromkeys(services)), MAX_ECS_SERVICES):
                unit = f"ecs/describe-services/{cluster.rsplit('/', 1)[-1]}/{digest(sorted(batch))}/{span}"
                if unit in done:
                    continue
                c = c or client("ecs", settings)
                request = {"cluster": cluster, "services": batch}
                response = c.describe_services(**request)
                for failure in response.get("failures") or []:
                    log.warning("%s: %s %s", unit, failure.get("arn"), failure.get("reason"))
                yield Fetched("deployments-ecs", unit, request, response,
                              {"deployments": deployments_from_ecs(to_jsonable(response), file=unit)})

    return fetch


# ----------------------------------------------------------------------------- Lambda
def lambda_fetcher(settings: AwsSettings | None, window: Window, functions: Sequence[str], *,
                   aliases: bool = True, max_pages: int = 100, stored: Stored | None = None) -> Fetcher:
    """A fetcher of Lambda versions (ListVersionsByFunction) and aliases (ListAliases) per function.

    Parameters
    ----------
    settings
        session, region and endpoint.
    window
        names the units only (the listings are the functions' whole current history).
    functions
        function names or ARNs.
    aliases
        also keep each function's aliases (raw only, kind ``lambda-aliases``).
    max_pages
        bound on pages per listing.
    stored
        finished units' stored responses (module docstring).

    Returns
    -------
    callable
        ``fetcher(done)``: version pages (kind ``deployments-lambda``, frame ``deployments``; a
        page's first version has ``version_from`` only when the previous version is on the same page).
    """
    span = _span(window)

    def fetch(done: set[str]) -> Iterator[Fetched]:
        c: Any = client("lambda", settings)
        for fn in dict.fromkeys(functions):
            short = fn.rsplit(":function:", 1)[-1]
            for unit, req, response, new in pages(
                    c.list_versions_by_function, {"FunctionName": fn},
                    unit_prefix=f"lambda/list-versions/{short}/{span}", done=done, stored=stored,
                    max_pages=max_pages, token_in="Marker", token_out="NextMarker"):
                if new:
                    yield Fetched("deployments-lambda", unit, req, dict(response),
                                  {"deployments": deployments_from_lambda(to_jsonable(response), file=unit)})
            if not aliases:
                continue
            for unit, req, response, new in pages(
                    c.list_aliases, {"FunctionName": fn}, unit_prefix=f"lambda/list-aliases/{short}/{span}",
                    done=done, stored=stored, max_pages=max_pages, token_in="Marker", token_out="NextMarker"):
                if new:
                    yield Fetched("lambda-aliases", unit, req, dict(response))

    return fetch


# ----------------------------------------------------------------------------- CloudTrail
def cloudtrail_fetcher(settings: AwsSettings | None, window: Window, *,
                       event_names: Iterable[str] | None = None, event_sources: Iterable[str] | None = None,
                       max_pages: int = 200, stored: Stored | None = None) -> Fetcher:
    """A fetcher of CloudTrail change events (LookupEvents) over ``window``.

    Parameters
    ----------
    settings
        session, region and endpoint.
    window
        ``(start, end)``, timezone-aware (LookupEvents covers the last 90 days).
    event_names
        names to look up, one paginated lookup each; default
        :data:`~slo_analysis.sources.deployments.CHANGE_EVENTS` unless ``event_sources`` is given.
        Names in :data:`LAMBDA_CHANGE_EVENTS` share one ``EventSource=lambda.amazonaws.com`` lookup
        (module docstring), run last: it also pages through Lambda's read events.
    event_sources
        event sources (``ecs.amazonaws.com``, ...) to look up, one paginated lookup each; they return
        read events too (the loader drops them), so they cost more pages than names.
    max_pages
        bound on pages (50 events each) per lookup.
    stored
        finished units' stored responses (module docstring).

    Returns
    -------
    callable
        ``fetcher(done)``: one unit per page (kind ``deployments-cloudtrail``, frame ``deployments``).
    """
    start, end = check_window(window)
    span = _span(window)
    asked = set(event_names if event_names is not None else (() if event_sources else CHANGE_EVENTS))
    lambda_names = sorted(asked & LAMBDA_CHANGE_EVENTS)
    sources = set(event_sources or ())
    # (attribute, value, event-name filter of the frame or None for every event)
    lookups: list[tuple[str, str, re.Pattern[str] | None]] = [
        ("EventName", n, None) for n in sorted(asked - LAMBDA_CHANGE_EVENTS)]
    lookups += [("EventSource", src, None) for src in sorted(sources)]
    if lambda_names and LAMBDA_EVENT_SOURCE not in sources:  # a source asked for keeps all its events
        # By default the loader alone decides, as an `import` of the raw pages would; names asked
        # for explicitly keep only those events.
        keep = None if event_names is None else re.compile(f"(?:{'|'.join(lambda_names)}){_API_VERSION}")
        lookups.append(("EventSource", LAMBDA_EVENT_SOURCE, keep))

    def frame_doc(response: Mapping[str, Any], keep: re.Pattern[str] | None) -> Any:
        doc = to_jsonable(response)
        if keep is not None:  # by the listed EventName: the loader parses the events themselves
            doc["Events"] = [e for e in doc.get("Events") or []
                             if isinstance(e, Mapping) and keep.fullmatch(str(e.get("EventName", "")))]
        return doc

    def fetch(done: set[str]) -> Iterator[Fetched]:
        c: Any = client("cloudtrail", settings)
        for key, value, keep in lookups:
            request = {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}],
                       "StartTime": start, "EndTime": end, "MaxResults": MAX_CLOUDTRAIL_RESULTS}
            for unit, req, response, new in pages(
                    c.lookup_events, request, unit_prefix=f"cloudtrail/lookup-events/{key}={value}/{span}",
                    done=done, stored=stored, max_pages=max_pages, token_in="NextToken", token_out="NextToken"):
                if new:
                    yield Fetched("deployments-cloudtrail", unit, req, dict(response),
                                  {"deployments": deployments_from_cloudtrail(frame_doc(response, keep), file=unit)})

    return fetch


# ----------------------------------------------------------------------------- all of them
def deployments_fetchers(settings: AwsSettings | None, window: Window, *, services: Sequence[str] = (),
                         clusters: Sequence[str] | Mapping[str, Sequence[str]] = (),
                         functions: Sequence[str] = (),
                         applications: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
                         codedeploy: bool = True, cloudtrail: bool = True,
                         event_names: Iterable[str] | None = None, event_sources: Iterable[str] | None = None,
                         lookback: timedelta = timedelta(0), stored: Stored | None = None) \
        -> list[tuple[str, Fetcher]]:
    """The change fetchers for an incident, as ``(name, fetcher)`` for :func:`~slo_analysis.store.
    fetcher.run_fetchers`.

    Parameters
    ----------
    settings
        session, region and endpoint.
    window
        the incident window ``(start, end)``.
    services
        ECS service names, looked up in every cluster of a ``clusters`` sequence.
    clusters
        cluster names (with ``services``) or a mapping cluster -> services; none: no ECS fetcher.
    functions
        Lambda function names; none: no Lambda fetcher.
    applications
        CodeDeploy applications (or application -> groups); None lists the whole account.
    codedeploy, cloudtrail
        whether to include those fetchers.
    event_names, event_sources
        CloudTrail lookups (see :func:`cloudtrail_fetcher`).
    lookback
        extend the window's start for CodeDeploy and CloudTrail, to see the change that preceded it.
    stored
        finished units' stored responses (module docstring).

    Returns
    -------
    list of (str, callable)
        names ``codedeploy``, ``ecs``, ``lambda``, ``cloudtrail`` (those that apply).
    """
    start, end = check_window(window)
    wide = (start - lookback, end)
    out: list[tuple[str, Fetcher]] = []
    if codedeploy:
        out.append(("codedeploy", codedeploy_fetcher(settings, wide, applications=applications, stored=stored)))
    pairs = dict(clusters) if isinstance(clusters, Mapping) else {cl: list(services) for cl in clusters}
    pairs = {cl: svcs for cl, svcs in pairs.items() if svcs}
    if pairs:
        out.append(("ecs", ecs_fetcher(settings, window, pairs)))
    if functions:
        out.append(("lambda", lambda_fetcher(settings, window, functions, stored=stored)))
    if cloudtrail:
        out.append(("cloudtrail", cloudtrail_fetcher(settings, wide, event_names=event_names,
                                                     event_sources=event_sources, stored=stored)))
    return out
