"""Application Signals SLO definitions (GetServiceLevelObjective shapes) into the ``slos`` frame.

Mapping (botocore model ``application-signals`` 2024-04-15):

- ``sli_kind``: ``MetricType`` AVAILABILITY/LATENCY -> ``availability``/``latency``; without it a
  request-based SLO (custom good/bad/total counts) is ``ratio`` and a period-based one
  (custom metric against a threshold) is ``threshold``.
- ``method``: ``request`` for ``RequestBasedSli`` / ``EvaluationType: RequestBased``, else ``period``.
- ``target`` = ``AttainmentGoal`` / 100 (default 99 when absent, as the API documents);
  ``warning_threshold`` = ``WarningThreshold`` / 100 (default 50, as documented).
- Interval: ``RollingInterval`` or ``CalendarInterval`` (+ ``StartTime``); absent means the
  documented default, a rolling 7 days.
- ``period_s``: period-based only, the ``Period`` of the SLI's returned metric query (the
  response has no ``PeriodSeconds``; that is a create-time field).
- ``metric``: ``"Namespace/MetricName{dims}"`` of the returned query, ``"math:<expr>"`` for an
  expression; request-based: ``"good=...; total=..."`` (or ``bad=``).

Examples
--------
>>> slo = {"Name": "create-ticket-availability", "Goal": {"AttainmentGoal": 99.9},
...        "RequestBasedSli": {"RequestBasedSliMetric": {"MetricType": "AVAILABILITY",
...        "KeyAttributes": {"Name": "ticket-api", "Environment": "prod", "Type": "Service"},
...        "OperationName": "POST /tickets", "TotalRequestCountMetric": [],
...        "MonitoredRequestCountMetric": {}}}}
>>> slos_from_application_signals({"Slo": slo}).select("sli_kind", "method", "target").row(0)
('availability', 'request', 0.999)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.exceptions import InputError, MissingKeyError
from slo_analysis.sources._io import as_float, as_int, as_list, as_map, as_str, as_time, dimensions, require

__all__ = [
    "DEFAULT_ATTAINMENT_GOAL",
    "DEFAULT_WARNING_THRESHOLD",
    "slos_from_application_signals",
    "canonical_json",
    "percent_to_fraction",
    "looks_like_application_signals_slo",
]

DEFAULT_ATTAINMENT_GOAL = 99.0
DEFAULT_WARNING_THRESHOLD = 50.0
_UNITS = {"MINUTE", "HOUR", "DAY", "MONTH"}


def percent_to_fraction(percent: float) -> float:
    """``percent / 100`` computed in decimal, so 99.9 gives the float nearest 0.999 (not 0.9990000000000001).

    >>> percent_to_fraction(99.9)
    0.999
    """
    return float(Decimal(repr(float(percent))) / 100)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, compact separators and datetimes as ISO 8601 (UTC kept as ``+00:00``)."""
    def default(o: Any) -> str:
        if isinstance(o, datetime | date):
            return o.isoformat()
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=default)


def _slo_list(doc: Any, file: str) -> list[Any]:
    if isinstance(doc, list):
        return doc
    doc = as_map(doc, file, "Application Signals SLO document")
    if "Slo" in doc:
        return [doc["Slo"]]
    if "Slos" in doc:
        return as_list(doc["Slos"], file, "Slos")
    return [doc]


def _returned(queries: Any, file: str, ctx: str) -> Mapping[str, Any] | None:
    qs = [as_map(q, file, ctx) for q in as_list(queries, file, ctx)]
    for q in qs:
        if q.get("ReturnData") is True:
            return q
    return next((q for q in qs if q.get("ReturnData") is None), qs[0] if qs else None)


def _describe(q: Mapping[str, Any] | None, file: str, ctx: str) -> tuple[str | None, str | None, int | None]:
    """(metric description, statistic, period) of one MetricDataQuery."""
    if q is None:
        return None, None, None
    if q.get("MetricStat") is not None:
        ms = as_map(q["MetricStat"], file, f"{ctx}.MetricStat")
        m = as_map(require(ms, "Metric", file, f"{ctx}.MetricStat"), file, f"{ctx}.Metric")
        ns = as_str(require(m, "Namespace", file, f"{ctx}.Metric"), file, f"{ctx}.Namespace")
        name = as_str(require(m, "MetricName", file, f"{ctx}.Metric"), file, f"{ctx}.MetricName")
        dims = dimensions(m.get("Dimensions"), file, f"{ctx}.Dimensions")
        period = ms.get("Period")
        return (f"{ns}/{name}{{{dims}}}" if dims else f"{ns}/{name}",
                as_str(require(ms, "Stat", file, f"{ctx}.MetricStat"), file, f"{ctx}.Stat"),
                None if period is None else as_int(period, file, f"{ctx}.Period"))
    if q.get("Expression") is not None:
        period = q.get("Period")
        return (f"math:{as_str(q['Expression'], file, f'{ctx}.Expression')}", None,
                None if period is None else as_int(period, file, f"{ctx}.Period"))
    return None, None, None


def _one(slo: Any, file: str, ctx: str) -> dict[str, Any]:
    slo = as_map(slo, file, ctx)
    name = as_str(require(slo, "Name", file, ctx), file, f"{ctx}.Name")
    ctx = f"SLO {name}"
    goal = as_map(require(slo, "Goal", file, ctx), file, f"{ctx}.Goal")
    request_based = slo.get("RequestBasedSli") is not None or slo.get("EvaluationType") == "RequestBased"
    if slo.get("RequestBasedSli") is not None:
        sli = as_map(slo["RequestBasedSli"], file, f"{ctx}.RequestBasedSli")
        metric_key = "RequestBasedSliMetric"
    elif slo.get("Sli") is not None:
        sli = as_map(slo["Sli"], file, f"{ctx}.Sli")
        metric_key = "SliMetric"
    else:
        raise MissingKeyError(file, "Sli", context=f"{ctx} (Sli or RequestBasedSli)")
    sm = as_map(require(sli, metric_key, file, f"{ctx}.{metric_key}"), file, metric_key)
    mctx = f"{ctx}.{metric_key}"
    keys = sm.get("KeyAttributes")
    keys = {} if keys is None else as_map(keys, file, f"{mctx}.KeyAttributes")
    mtype = sm.get("MetricType")
    if mtype is not None:
        kind = as_str(mtype, file, f"{mctx}.MetricType").lower()
    else:
        kind = "ratio" if request_based else "threshold"
    statistic = period = None
    if metric_key == "SliMetric":
        metric, statistic, period = _describe(_returned(require(sm, "MetricDataQueries", file, mctx), file,
                                                        f"{mctx}.MetricDataQueries"), file, mctx)
    else:
        total, _, _ = _describe(_returned(sm.get("TotalRequestCountMetric") or [], file,
                                          f"{mctx}.TotalRequestCountMetric"), file, mctx)
        mon = as_map(sm.get("MonitoredRequestCountMetric") or {}, file, f"{mctx}.MonitoredRequestCountMetric")
        which = "good" if mon.get("GoodCountMetric") is not None else "bad"
        counted, _, _ = _describe(_returned(mon.get("GoodCountMetric") or mon.get("BadCountMetric") or [],
                                            file, f"{mctx}.{which}"), file, mctx)
        metric = "; ".join(f"{k}={v}" for k, v in ((which, counted), ("total", total)) if v) or None
    threshold = sli.get("MetricThreshold")
    interval = goal.get("Interval")
    interval = {} if interval is None else as_map(interval, file, f"{ctx}.Goal.Interval")
    start = None
    if interval.get("CalendarInterval") is not None:
        iv = as_map(interval["CalendarInterval"], file, f"{ctx}.Goal.Interval.CalendarInterval")
        ikind = "calendar"
        start = as_time(require(iv, "StartTime", file, f"{ctx}.CalendarInterval"), file, "StartTime")
    elif interval.get("RollingInterval") is not None:
        iv = as_map(interval["RollingInterval"], file, f"{ctx}.Goal.Interval.RollingInterval")
        ikind = "rolling"
    else:
        iv, ikind = {"Duration": 7, "DurationUnit": "DAY"}, "rolling"
    unit = as_str(require(iv, "DurationUnit", file, f"{ctx}.Goal.Interval"), file, "DurationUnit")
    if unit not in _UNITS:
        raise InputError(file, f"{ctx}: DurationUnit {unit!r} is not one of {sorted(_UNITS)}", key="DurationUnit")
    target = as_float(goal.get("AttainmentGoal", DEFAULT_ATTAINMENT_GOAL), file, f"{ctx}.Goal.AttainmentGoal")
    warning = goal.get("WarningThreshold", DEFAULT_WARNING_THRESHOLD)
    return {
        "name": name,
        "service": None if keys.get("Name") is None else as_str(keys["Name"], file, "KeyAttributes.Name"),
        "operation": None if sm.get("OperationName") is None else as_str(sm["OperationName"], file,
                                                                          f"{mctx}.OperationName"),
        "environment": None if keys.get("Environment") is None else as_str(keys["Environment"], file,
                                                                            "KeyAttributes.Environment"),
        "sli_kind": kind, "method": "request" if request_based else "period", "metric": metric,
        "statistic": statistic,
        "threshold": None if threshold is None else as_float(threshold, file, f"{ctx}.MetricThreshold"),
        "comparison": None if sli.get("ComparisonOperator") is None else as_str(
            sli["ComparisonOperator"], file, f"{ctx}.ComparisonOperator"),
        "target": percent_to_fraction(target),
        "warning_threshold": percent_to_fraction(as_float(warning, file, f"{ctx}.Goal.WarningThreshold")),
        "interval_kind": ikind,
        "interval_duration": as_int(require(iv, "Duration", file, f"{ctx}.Goal.Interval"), file, "Duration"),
        "interval_unit": unit, "calendar_start": start,
        "period_s": None if request_based else period,
        "source": "application-signals", "definition": _definition(slo, file, ctx),
    }


def _definition(slo: Mapping[str, Any], file: str, ctx: str) -> str:
    try:
        return canonical_json(slo)
    except (TypeError, ValueError) as exc:
        raise InputError(file, f"{ctx}: cannot serialise the definition: {exc}") from exc


def slos_from_application_signals(doc: Any, *, file: str = "<memory>") -> pl.DataFrame:
    """SLO definitions from a GetServiceLevelObjective response ``{"Slo": {...}}``, a bare Slo,
    a list of them or ``{"Slos": [...]}``, as a ``slos`` frame (one row per SLO).

    ``definition`` keeps the whole Slo as canonical JSON (sorted keys, ISO datetimes) for the SLO
    engine. Missing required keys raise :class:`MissingKeyError` naming the file, SLO and key.
    """
    rows = [_one(s, file, f"Slos[{i}]") for i, s in enumerate(_slo_list(doc, file))]
    cols = frames.schema("slos").columns
    data = {c: pl.Series([r[c] for r in rows],
                         dtype=pl.Datetime("us", "UTC") if cols[c] == frames.UTC_MS else cols[c]) for c in cols}
    return frames.conform(pl.DataFrame(data), "slos")


def looks_like_application_signals_slo(doc: Any) -> bool:
    """A GetServiceLevelObjective response, a bare Slo, or a list / ``{"Slos": [...]}`` of them.

    Under the ``Slo`` / ``Slos`` keys an object with a ``Name`` or an ``Arn`` is enough: an SLO that
    lacks ``Goal`` (or its SLI) is still an SLO, and the loader says which key is missing instead of
    the file being skipped as unrecognised. A bare Slo or list needs the full shape.
    """
    def is_slo(s: Any) -> bool:
        return isinstance(s, Mapping) and "Name" in s and "Goal" in s and ("Sli" in s or "RequestBasedSli" in s)

    def is_named(s: Any) -> bool:
        return isinstance(s, Mapping) and ("Name" in s or "Arn" in s)
    if isinstance(doc, Mapping) and "Slo" in doc:
        return is_named(doc["Slo"])
    if isinstance(doc, Mapping) and isinstance(doc.get("Slos"), list):
        return bool(doc["Slos"]) and all(is_named(s) for s in doc["Slos"])
    if isinstance(doc, list):
        return bool(doc) and all(is_slo(s) for s in doc)
    return is_slo(doc)
