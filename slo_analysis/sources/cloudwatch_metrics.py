"""CloudWatch metric datapoints (GetMetricData, GetMetricStatistics) into the ``metrics`` frame.

A GetMetricData response carries only each query's ``Id`` and ``Label``; a metric's identity
(namespace, name, dimensions, statistic, period, unit) comes *only* from the
``MetricDataQuery`` with the same ``Id`` in the request. A label is never parsed to guess it.

Metric-math queries (``Expression``) become rows with namespace ``"MetricMath"``, ``metric`` =
the query Id, ``stat`` = the expression, and ``dimensions`` = ``""``. Their period is, in order:
the query's own ``Period``; else the common (largest) period of the ``MetricStat`` queries the
expression names by Id (CloudWatch evaluates math at the period of its inputs); else the spacing
of the result's timestamps. When none of these is known (one datapoint, no inputs) the loader
raises :class:`InputError` naming the Id.

Examples
--------
>>> resp = {"MetricDataResults": [{"Id": "m1", "Label": "x", "StatusCode": "Complete",
...         "Timestamps": ["2026-11-02T00:01:00Z"], "Values": [3.0]}]}
>>> q = [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "ApplicationSignals",
...       "MetricName": "Fault", "Dimensions": [{"Name": "Service", "Value": "ticket-api"}]},
...       "Period": 60, "Stat": "Sum"}}]
>>> metrics_from_get_metric_data(resp, q).select("metric", "dimensions", "period_s", "value").row(0)
('Fault', 'Service=ticket-api', 60, 3.0)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.exceptions import InputError, MissingKeyError
from slo_analysis.sources._io import (
    as_float,
    as_int,
    as_list,
    as_map,
    as_str,
    as_time,
    dimensions,
    require,
)

__all__ = [
    "MATH_NAMESPACE",
    "metrics_from_get_metric_data",
    "metrics_from_get_metric_statistics",
    "looks_like_get_metric_data",
    "looks_like_metric_data_queries",
    "looks_like_get_metric_statistics",
    "query_ids",
]

log = logging.getLogger(__name__)

MATH_NAMESPACE = "MetricMath"
_STATS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_ID_TOKEN = re.compile(r"[a-z][A-Za-z0-9_]*")


# ----------------------------------------------------------------------------- queries
def _queries_list(queries: Any, file: str) -> list[Mapping[str, Any]]:
    if isinstance(queries, Mapping):
        queries = require(queries, "MetricDataQueries", file, "the --cli-input-json request")
    return [as_map(q, file, "MetricDataQueries[]") for q in as_list(queries, file, "MetricDataQueries")]


def _identity(q: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]], file: str,
              timestamps: pl.Series) -> tuple[str, str, str, str, int, str | None]:
    """(namespace, metric, dimensions, stat, period_s, unit) of one query."""
    qid = as_str(q["Id"], file, "Id")
    if "MetricStat" in q:
        ms = as_map(q["MetricStat"], file, f"MetricStat of {qid}")
        metric = as_map(require(ms, "Metric", file, f"MetricStat of query {qid}"), file, "Metric")
        ns = as_str(require(metric, "Namespace", file, f"Metric of query {qid}"), file, "Namespace")
        name = as_str(require(metric, "MetricName", file, f"Metric of query {qid}"), file, "MetricName")
        stat = as_str(require(ms, "Stat", file, f"MetricStat of query {qid}"), file, "Stat")
        period = as_int(require(ms, "Period", file, f"MetricStat of query {qid}"), file, "Period")
        unit = ms.get("Unit")
        unit = None if unit is None else as_str(unit, file, "Unit")
        return ns, name, dimensions(metric.get("Dimensions"), file, f"Dimensions of {qid}"), stat, period, unit
    if "Expression" in q:
        expr = as_str(q["Expression"], file, f"Expression of {qid}")
        return MATH_NAMESPACE, qid, "", expr, _math_period(q, expr, by_id, file, timestamps), None
    raise MissingKeyError(file, "MetricStat", context=f"query {qid} (a query has MetricStat or Expression)")


def _math_period(q: Mapping[str, Any], expr: str, by_id: Mapping[str, Mapping[str, Any]], file: str,
                 timestamps: pl.Series) -> int:
    qid = q["Id"]
    if q.get("Period") is not None:
        return as_int(q["Period"], file, f"Period of {qid}")
    periods = []
    for token in set(_ID_TOKEN.findall(expr)):
        ref = by_id.get(token)
        if ref is not None and token != qid and isinstance(ref.get("MetricStat"), Mapping):
            p = ref["MetricStat"].get("Period")
            if p is not None:
                periods.append(as_int(p, file, f"Period of {token}"))
    if periods:
        return max(periods)
    distinct = sorted(set(timestamps.to_list()))
    gaps = [int((b - a).total_seconds()) for a, b in zip(distinct, distinct[1:], strict=False)]
    if gaps and min(gaps) > 0:
        return min(gaps)
    raise InputError(file, f"cannot tell the period of expression query {qid!r}: it has no Period, names "
                           "no MetricStat query and has fewer than two datapoints", key="Period")


def query_ids(doc: Any) -> set[str]:
    """The query Ids of a MetricDataQueries document (list, or ``{"MetricDataQueries": [...]}``) or of
    a GetMetricData response (its result Ids); an empty set for anything else.

    A response pairs with a query file when ``query_ids(response) <= query_ids(queries)`` (queries
    with ``ReturnData: false`` have no result).

    >>> query_ids({"MetricDataQueries": [{"Id": "m1"}, {"Id": "e1"}]}) == {"m1", "e1"}
    True
    """
    items: Any = doc
    if isinstance(doc, Mapping):
        items = doc.get("MetricDataQueries", doc.get("MetricDataResults"))
    if not isinstance(items, list):
        return set()
    return {q["Id"] for q in items if isinstance(q, Mapping) and isinstance(q.get("Id"), str)}


# ----------------------------------------------------------------------------- loaders
def metrics_from_get_metric_data(response: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                                 queries: Sequence[Mapping[str, Any]] | Mapping[str, Any], *,
                                 file: str = "<memory>") -> pl.DataFrame:
    """GetMetricData response page(s) into a ``metrics`` frame, identified by their queries.

    Parameters
    ----------
    response
        One response (``{"MetricDataResults": [...], ...}``) or a list of pages of the same call.
    queries
        The request's ``MetricDataQueries`` list, or the ``--cli-input-json`` request holding it.
    file
        Named in errors.

    Raises
    ------
    MissingKeyError
        a required key is absent, or a result ``Id`` has no query (the error names the Id).
    InputError
        ``Timestamps`` and ``Values`` differ in length, or a value cannot be parsed.

    Notes
    -----
    ``StatusCode`` ``PartialData`` (more pages follow) keeps its rows; ``InternalError`` and
    ``Forbidden`` results keep whatever rows they carry and are logged as warnings.
    """
    pages = list(response) if isinstance(response, list) else [response]
    by_id: dict[str, Mapping[str, Any]] = {}
    for q in _queries_list(queries, file):
        qid = as_str(require(q, "Id", file, "MetricDataQueries[]"), file, "Id")
        if qid in by_id:
            raise InputError(file, f"duplicate query Id {qid!r} in MetricDataQueries", key="Id")
        by_id[qid] = q
    parts: list[pl.DataFrame] = []
    for page in pages:
        results = as_list(require(page, "MetricDataResults", file, "GetMetricData response"), file,
                           "MetricDataResults")
        for i, res in enumerate(results):
            ctx = f"MetricDataResults[{i}]"
            res = as_map(res, file, ctx)
            rid = as_str(require(res, "Id", file, ctx), file, f"{ctx}.Id")
            query = by_id.get(rid)
            if query is None:
                raise MissingKeyError(file, rid, context="MetricDataQueries (no query has this result's Id)")
            raw_ts = as_list(require(res, "Timestamps", file, ctx), file, f"{ctx}.Timestamps")
            raw_vals = as_list(require(res, "Values", file, ctx), file, f"{ctx}.Values")
            if len(raw_ts) != len(raw_vals):
                raise InputError(file, f"{ctx} (Id {rid}): {len(raw_ts)} Timestamps but {len(raw_vals)} Values",
                                 key="Values")
            ts = _timestamps(raw_ts, file, f"{ctx}.Timestamps")
            vals = _values(raw_vals, file, f"{ctx}.Values")
            status = res.get("StatusCode")
            if status not in (None, "Complete", "PartialData"):
                log.warning("%s: result %s has StatusCode %s; keeping its %d datapoint(s)", file, rid,
                            status, len(ts))
            ns, metric, dims, stat, period, unit = _identity(query, by_id, file, ts)
            parts.append(pl.DataFrame({"timestamp": ts, "value": vals}).with_columns(
                namespace=pl.lit(ns), metric=pl.lit(metric), dimensions=pl.lit(dims), stat=pl.lit(stat),
                period_s=pl.lit(period, dtype=pl.Int64), unit=pl.lit(unit, dtype=pl.String)))
    if not parts:
        return frames.empty("metrics")
    return frames.conform(pl.concat(parts, how="vertical"), "metrics")


def _timestamps(raw: list[Any], file: str, key: str) -> pl.Series:
    """Parse a Timestamps list in one vectorised pass (ISO strings from the CLI, datetimes from boto3);
    on any failure, fall back to element-wise parsing so the error names the bad value."""
    if raw and all(isinstance(v, str) for v in raw):
        s = pl.Series(raw, dtype=pl.String).str.replace(r"Z$", "+00:00")
        parsed = s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="ms", strict=False)
        if parsed.null_count() == 0:
            return parsed.dt.convert_time_zone("UTC")
    return pl.Series([as_time(v, file, key) for v in raw], dtype=pl.Datetime("ms", "UTC"))


def _values(raw: list[Any], file: str, key: str) -> pl.Series:
    """Values as Float64; a non-number is an InputError naming the value."""
    if all(type(v) in (int, float) for v in raw):  # bool is excluded: type(True) is bool
        return pl.Series(raw, dtype=pl.Float64)
    return pl.Series([as_float(v, file, key) for v in raw], dtype=pl.Float64)


def metrics_from_get_metric_statistics(response: Mapping[str, Any], *, namespace: str,
                                       dimensions: Mapping[str, str] | list[dict[str, str]] | str | None,
                                       period_s: int, metric: str | None = None,
                                       file: str = "<memory>") -> pl.DataFrame:
    """A GetMetricStatistics response into a ``metrics`` frame, one row per datapoint and statistic.

    The response names neither namespace nor dimensions, so the caller passes them (a mapping,
    CloudWatch's ``[{"Name", "Value"}]`` list, or an already formatted ``k=v,k=v`` string).
    ``metric`` defaults to the response ``Label``, which GetMetricStatistics sets to the metric name.
    Extended statistics (``ExtendedStatistics: {"p99": ...}``) become rows with stat ``p99``.
    Rows are sorted by timestamp (CloudWatch returns them unordered).
    """
    response = as_map(response, file, "GetMetricStatistics response")
    if metric is None:
        metric = as_str(require(response, "Label", file, "GetMetricStatistics response"), file, "Label")
    dims = dimensions if isinstance(dimensions, str) else frames.format_dimensions(dimensions)
    cols: dict[str, list[Any]] = {c: [] for c in ("timestamp", "stat", "unit", "value")}
    for i, dp in enumerate(as_list(require(response, "Datapoints", file, "GetMetricStatistics response"),
                                    file, "Datapoints")):
        ctx = f"Datapoints[{i}]"
        dp = as_map(dp, file, ctx)
        ts = as_time(require(dp, "Timestamp", file, ctx), file, f"{ctx}.Timestamp")
        unit = dp.get("Unit")
        unit = None if unit is None else as_str(unit, file, f"{ctx}.Unit")
        values = [(s, dp[s]) for s in _STATS if s in dp]
        ext = dp.get("ExtendedStatistics")
        if ext is not None:
            values += sorted(as_map(ext, file, f"{ctx}.ExtendedStatistics").items())
        for stat, v in values:
            cols["timestamp"].append(ts)
            cols["stat"].append(as_str(stat, file, f"{ctx}.ExtendedStatistics"))
            cols["unit"].append(unit)
            cols["value"].append(as_float(v, file, f"{ctx}.{stat}"))
    n = len(cols["timestamp"])
    cols.update(namespace=[namespace] * n, metric=[metric] * n, dimensions=[dims] * n,
                period_s=[int(period_s)] * n)
    return _frame(cols).sort("timestamp", "stat", maintain_order=True)


def _frame(cols: dict[str, list[Any]]) -> pl.DataFrame:
    df = pl.DataFrame({
        "timestamp": pl.Series(cols["timestamp"], dtype=pl.Datetime("us", "UTC")),
        "namespace": pl.Series(cols["namespace"], dtype=pl.String),
        "metric": pl.Series(cols["metric"], dtype=pl.String),
        "dimensions": pl.Series(cols["dimensions"], dtype=pl.String),
        "stat": pl.Series(cols["stat"], dtype=pl.String),
        "period_s": pl.Series(cols["period_s"], dtype=pl.Int64),
        "unit": pl.Series(cols["unit"], dtype=pl.String),
        "value": pl.Series(cols["value"], dtype=pl.Float64),
    })
    return frames.conform(df, "metrics")


# ----------------------------------------------------------------------------- detection
def looks_like_get_metric_data(doc: Any) -> bool:
    """A GetMetricData response: an object with a ``MetricDataResults`` list."""
    return isinstance(doc, Mapping) and isinstance(doc.get("MetricDataResults"), list)


def looks_like_metric_data_queries(doc: Any) -> bool:
    """A MetricDataQueries list, or a request object holding one, whose items have an ``Id`` and a
    ``MetricStat`` or ``Expression``."""
    if isinstance(doc, Mapping):
        if "MetricDataResults" in doc:
            return False
        doc = doc.get("MetricDataQueries")
    return (isinstance(doc, list) and bool(doc)
            and all(isinstance(q, Mapping) and "Id" in q and ("MetricStat" in q or "Expression" in q)
                    for q in doc))


def looks_like_get_metric_statistics(doc: Any) -> bool:
    """A GetMetricStatistics response: an object with a ``Datapoints`` list (and usually ``Label``)."""
    return (isinstance(doc, Mapping) and isinstance(doc.get("Datapoints"), list)
            and "MetricDataResults" not in doc)
