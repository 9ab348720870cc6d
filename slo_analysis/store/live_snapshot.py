"""``slo-analysis snapshot``: everything a review needs about some services and SLOs, from a live account.

:func:`take_snapshot` composes the live fetchers of every source (see docs/live-sources.md) for the
services, SLOs and log groups asked for, and runs them into a snapshot with
:func:`~slo_analysis.store.fetcher.run_fetchers`, so an interrupted run resumes where it stopped.
A source that fails (an API the endpoint lacks, a permission missing) is reported and the others go
on; the outcome lists the failures, each naming the AWS operation that failed (:func:`describe_failure`).
Credentials never reach the snapshot: requests are stored as their API parameters, the manifest
records the region and endpoint only.

What is fetched for each service ``S`` over the window:

- metrics: every ``ApplicationSignals`` metric with dimension ``Service=S`` (Latency as p50, p90,
  p99, Average and SampleCount; Fault and Error as Sum) and ``AWS/ECS`` CPU and memory of
  ``ServiceName=S`` (Average, Maximum), found with ListMetrics, at the finest period retention holds;
- SLOs named with ``--slo`` (GetServiceLevelObjective, with their exclusion windows from
  ListServiceLevelObjectiveExclusionWindows), the SLI metrics each one names, and their budget
  history (BatchGetServiceLevelObjectiveBudgetReport every ``--budget-step``, raw only);
- log events of each ``--log-group`` (FilterLogEvents), and the requests frame parsed from them;
- X-Ray trace summaries for ``service("S")``, a capped sample of traces that keeps every faulted,
  errored and throttled one and the slowest, and the service graph;
- changes: CodeDeploy deployments in the window, ECS services named with ``--ecs-service``, Lambda
  versions and aliases of each ``--function``, and CloudTrail change events (with a look-back before
  the window);
- CloudWatch alarms (definitions) and their state changes in the window.

The SLOs are fetched first, then the service metrics and the SLI queries of every SLO go to
GetMetricData as one batch (:func:`~slo_analysis.sources.cloudwatch_metrics_fetch.merge_query_batches`,
Ids prefixed ``svc_`` and ``slo<k><role>_``, see :func:`_sli_batches`), planned once, so the snapshot
makes the fewest calls the limits allow for all of it rather than at least one more per SLO. A
``MetricStat`` row of the ``metrics`` frame is identified by its metric, statistic and period, not by
its Id, so it is the row a separate fetch gives; a metric-math row is named by its Id, so by the
prefixed one (the original Id is what follows the first ``_``), as the stored request names it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from slo_analysis.exceptions import SloAnalysisError
from slo_analysis.sources import (
    alarms_fetch,
    application_signals_fetch,
    cloudwatch_logs_fetch,
    cloudwatch_metrics_fetch,
    deployments_fetch,
    xray_fetch,
)
from slo_analysis.sources.aws import AwsSettings, Fetched, Fetcher
from slo_analysis.store.fetcher import FetchResult, done_units, run_fetchers, stored_responses
from slo_analysis.store.snapshot import Snapshot

__all__ = ["SOURCES", "LATENCY_STATS", "MIN_BUDGET_STEP_S", "SnapshotRequest", "SnapshotOutcome", "parse_step",
           "describe_failure", "live_fetchers", "take_snapshot"]

log = logging.getLogger(__name__)

SOURCES = ("metrics", "slos", "logs", "traces", "deployments", "cloudtrail", "alarms")
LATENCY_STATS = ("p50", "p90", "p99", "Average", "SampleCount")
MIN_BUDGET_STEP_S = 60  # budget reports follow per-minute metrics: a finer step repeats the same report
_STEP = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_STEP_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class SnapshotRequest:
    """What to fetch: the window, the services, and optionally SLOs, log groups and change sources."""

    window: tuple[datetime, datetime]
    services: tuple[str, ...]
    slos: tuple[str, ...] = ()
    log_groups: tuple[str, ...] = ()
    ecs_services: dict[str, list[str]] = field(default_factory=dict)  # cluster -> services
    sources: tuple[str, ...] = SOURCES
    period_s: int = 60
    latency_stats: tuple[str, ...] = LATENCY_STATS
    max_traces: int = 500
    trace_filter: str | None = None  # default: service("S1") OR service("S2") ...; "" for none
    change_lookback: timedelta = timedelta(days=1)
    functions: tuple[str, ...] = ()  # Lambda functions: versions, aliases
    budget_step_s: int = 3600  # SLO budget history: one report per SLO batch every step


@dataclass
class SnapshotOutcome:
    """What a run fetched, and which sources failed (with the error)."""

    snapshot: Snapshot
    result: FetchResult
    failures: dict[str, str]


def parse_step(text: str) -> int:
    """Seconds of a step written ``90``, ``90s``, ``15m``, ``1h`` or ``1d``.

    >>> parse_step("1h"), parse_step("15m"), parse_step("120")
    (3600, 900, 120)
    """
    m = _STEP.match(text)
    if not m or int(m.group(1)) <= 0:
        raise SloAnalysisError(f"not a step: {text!r} (a positive count with s, m, h or d, e.g. 1h)")
    return int(m.group(1)) * _STEP_UNIT_S[m.group(2)]


def describe_failure(exc: BaseException) -> str:
    """One line naming what failed: the AWS operation, AWS's error code and HTTP status, the message.

    An endpoint that does not implement an operation (an emulator such as moto) answers with HTTP 501,
    404 or a 500 whose body is an HTML error page; that is said in so many words, because it is
    a limit of the endpoint, not of the account.
    """
    if isinstance(exc, ClientError):
        op = exc.operation_name or "an AWS call"
        response: dict[str, Any] = dict(exc.response)
        err: dict[str, Any] = dict(response.get("Error") or {})
        status = dict(response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        code = str(err.get("Code") or "")
        message = " ".join(str(err.get("Message") or "").split())
        html = message.lstrip().lower().startswith(("<!doctype", "<html"))
        if status in (404, 501) or code in ("NotImplemented", "UnknownOperationException", "InvalidAction") \
                or (status == 500 and html):
            named = f" {code}" if code and code != str(status) else ""
            return f"{op} is not supported by this endpoint (HTTP {status}{named}); the other sources are kept"
        detail = "" if html else f": {message[:300]}"
        return f"{op} failed: {code or 'error'} (HTTP {status}){detail}"
    if isinstance(exc, SloAnalysisError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"  # BotoCoreError: no credentials, endpoint unreachable, ...


def _check_budget_step(request: SnapshotRequest) -> None:
    if request.budget_step_s < MIN_BUDGET_STEP_S:
        raise SloAnalysisError(f"budget step {request.budget_step_s} s is below {MIN_BUDGET_STEP_S} s "
                               "(budget reports follow per-minute metrics)")
    if "slos" in request.sources and request.slos:  # the fetcher bounds the number of reports
        application_signals_fetch.budget_report_fetcher(None, request.slos, request.window,
                                                         step_s=request.budget_step_s)


def _metric_queries(settings: AwsSettings, request: SnapshotRequest) -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = []
    for service in request.services:
        for metric in cloudwatch_metrics_fetch.discover_metrics(settings, namespace="ApplicationSignals",
                                                                 dimensions={"Service": service}):
            stats = request.latency_stats if metric["MetricName"] == "Latency" else ("Sum",)
            queries += cloudwatch_metrics_fetch.queries_for("ApplicationSignals", metric["MetricName"],
                                                            [metric.get("Dimensions", [])], stats, request.period_s)
        for metric in cloudwatch_metrics_fetch.discover_metrics(settings, namespace="AWS/ECS",
                                                                 dimensions={"ServiceName": service}):
            queries += cloudwatch_metrics_fetch.queries_for("AWS/ECS", metric["MetricName"],
                                                            [metric.get("Dimensions", [])], ("Average", "Maximum"),
                                                            request.period_s)
    unique = {q["Id"]: q for q in queries}  # a metric listed twice is fetched once
    return [unique[k] for k in sorted(unique)]


def _lazy(build: Callable[[], Fetcher]) -> Fetcher:
    """A fetcher whose set-up (discovery calls) runs only when it is run."""

    def run(done: set[str]) -> Iterator[Fetched]:
        yield from build()(done)

    return run


def _sli_batches(snap: Snapshot) -> dict[str, list[dict[str, Any]]]:
    """``{prefix: queries}`` of every part of every Application Signals SLO stored in ``snap``.

    The prefix is ``slo<k><role>``: ``k`` the SLO's place among the stored definitions sorted as text
    (the same on every run, however a resumed run appended them), ``role`` its part (``sli``,
    ``total``, ``good``, ``bad``). A query ``m1`` of that part is fetched as ``slo0total_m1``.
    """
    slos = snap.read("slos")
    definitions = sorted(set(slos.filter(slos["source"] == "application-signals")["definition"].to_list()))
    return {f"slo{k}{part.role}": part.queries
            for k, definition in enumerate(definitions)
            for part in application_signals_fetch.sli_metric_queries(definition) if part.queries}


def live_fetchers(settings: AwsSettings, request: SnapshotRequest, snap: Snapshot) -> list[tuple[str, Fetcher]]:
    """The ``(name, fetcher)`` list for ``request``, in the order they should run."""
    window, wanted = request.window, set(request.sources)
    stored = stored_responses(snap)
    out: list[tuple[str, Fetcher]] = []
    service_metrics = "metrics" in wanted and bool(request.services)
    slo_wanted = "slos" in wanted and bool(request.slos)
    if slo_wanted:  # first: the metrics fetcher plans the SLI queries the definitions name
        out.append(("slos", application_signals_fetch.slo_fetcher(settings, names_or_arns=list(request.slos),
                                                                  stored=stored)))
    if service_metrics or slo_wanted:

        def metrics() -> Fetcher:
            # One batch for the service metrics and every SLI: one plan, the fewest GetMetricData calls.
            batches = {"svc": _metric_queries(settings, request)} if service_metrics else {}
            if slo_wanted:
                batches.update(_sli_batches(snap))
            queries = cloudwatch_metrics_fetch.merge_query_batches({k: v for k, v in batches.items() if v})
            if not queries:
                return lambda done: iter(())
            return cloudwatch_metrics_fetch.metric_data_fetcher(settings, queries, window)

        out.append(("metrics", _lazy(metrics)))
    if slo_wanted:
        out.append(("slo-budget-reports", application_signals_fetch.budget_report_fetcher(
            settings, list(request.slos), window, step_s=request.budget_step_s)))
    if "logs" in wanted:
        out += [(f"logs {group}", cloudwatch_logs_fetch.filter_log_events_fetcher(settings, group, window))
                for group in request.log_groups]
    if "traces" in wanted and request.services:
        default = " OR ".join(f'service("{s}")' for s in request.services)
        expression = (request.trace_filter if request.trace_filter is not None else default) or None
        out.append(("trace-summaries", xray_fetch.trace_summaries_fetcher(settings, window,
                                                                         filter_expression=expression)))

        def traces() -> Fetcher:
            summaries = xray_fetch.get_trace_summaries(settings, window, filter_expression=expression)
            ids = xray_fetch.sample_trace_ids(summaries, max_traces=request.max_traces)
            return xray_fetch.traces_fetcher(settings, ids)

        out.append(("traces", _lazy(traces)))
        out.append(("service-graph", xray_fetch.service_graph_fetcher(settings, window)))
    if "deployments" in wanted or "cloudtrail" in wanted:
        out += deployments_fetch.deployments_fetchers(
            settings, window, services=request.services, clusters=request.ecs_services,
            functions=request.functions, codedeploy="deployments" in wanted, cloudtrail="cloudtrail" in wanted,
            lookback=request.change_lookback, stored=stored)
    if "alarms" in wanted:
        out.append(("alarm-definitions", alarms_fetch.alarm_definitions_fetcher(settings)))
        out.append(("alarm-history", alarms_fetch.alarm_history_fetcher(  # after the definitions: fills `watches`
            settings, window, definitions=lambda: snap.read("alarm_definitions"))))
    return out


def take_snapshot(out: str | Path, settings: AwsSettings, request: SnapshotRequest, *,
                  progress: Callable[[Iterator[Fetched], str], Iterator[Fetched]] | None = None) -> SnapshotOutcome:
    """Fetch ``request`` into the snapshot at ``out`` (created, or resumed when it exists)."""
    unknown = set(request.sources) - set(SOURCES)
    if unknown:
        raise SloAnalysisError(f"unknown source(s) {sorted(unknown)}; choose from {', '.join(SOURCES)}")
    _check_budget_step(request)
    snap = Snapshot.create(out)
    snap.set_origin(region=settings.region)
    params = {"window": {"start": request.window[0], "end": request.window[1]}, "services": list(request.services),
              "slos": list(request.slos), "log_groups": list(request.log_groups), "sources": list(request.sources),
              "ecs_services": request.ecs_services, "functions": list(request.functions),
              "region": settings.region, "endpoint_url": settings.endpoint_url, "period_s": request.period_s,
              "budget_step_s": request.budget_step_s}
    total = FetchResult(units_skipped=len(done_units(snap)))
    failures: dict[str, str] = {}
    for name, fetcher in live_fetchers(settings, request, snap):
        try:
            result = run_fetchers(snap, [(name, fetcher)], params=params, progress=progress)
        except (SloAnalysisError, BotoCoreError, ClientError) as exc:  # e.g. an API the endpoint lacks: go on
            failures[name] = describe_failure(exc)
            log.warning("%s failed: %s", name, failures[name])
            continue
        finally:
            params = {}  # the run's parameters are recorded once
        total.units_fetched += result.units_fetched
        for frame, n in result.rows_added.items():
            total.rows_added[frame] = total.rows_added.get(frame, 0) + n
    snap.manifest.setdefault("fetch", {})["failures"] = failures
    snap.save_manifest()
    return SnapshotOutcome(snap, total, failures)


