"""CloudWatch alarms: definitions (DescribeAlarms) and state changes (DescribeAlarmHistory).

``watches`` says what an alarm looks at, in one string:

- a metric alarm: ``"Namespace/MetricName{Dim=v,...}"`` (``{}`` omitted when it has no dimensions);
- an alarm on an Application Signals SLO metric (``AWS/ApplicationSignals`` with a ``SloName``
  dimension, e.g. ``BurnRate`` with ``BurnRateWindowMinutes``, or ``AttainmentRate``):
  ``"slo:<SloName>"``, also when the SLO metric is one input of a metric-math alarm;
- a metric-math alarm (``Metrics`` list): ``"<expression> [m1=Ns/Metric{...}:Stat, ...]"``, or the
  single returned metric when the returned query is a plain ``MetricStat``;
- a composite alarm: its ``AlarmRule``.

Examples
--------
>>> doc = {"MetricAlarms": [{"AlarmName": "burn", "Namespace": "AWS/ApplicationSignals",
...        "MetricName": "BurnRate", "Dimensions": [{"Name": "SloName", "Value": "create-ticket"},
...        {"Name": "BurnRateWindowMinutes", "Value": "60"}]}]}
>>> alarm_definitions_from_describe_alarms(doc)["watches"][0]
'slo:create-ticket'
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.exceptions import InputError, MissingKeyError
from slo_analysis.sources._io import as_float, as_int, as_list, as_map, as_str, as_time, dimensions, require
from slo_analysis.sources.cloudwatch_metrics import MATH_NAMESPACE

__all__ = [
    "SLO_DIMENSION",
    "alarm_definitions_from_describe_alarms",
    "alarms_from_history",
    "looks_like_describe_alarms",
    "looks_like_alarm_history",
]

log = logging.getLogger(__name__)

SLO_DIMENSION = "SloName"


def _opt(d: Mapping[str, Any], key: str, conv: Any, file: str, ctx: str) -> Any:
    v = d.get(key)
    return None if v is None else conv(v, file, f"{ctx}.{key}")


def _slo_name(metric: Mapping[str, Any], file: str, ctx: str) -> str | None:
    dims = metric.get("Dimensions")
    if not isinstance(dims, list):
        return None
    for d in dims:
        if isinstance(d, Mapping) and d.get("Name") == SLO_DIMENSION:
            return as_str(d.get("Value"), file, f"{ctx}.Dimensions[SloName]")
    return None


def _metric_string(ns: str, name: str, dims: str) -> str:
    return f"{ns}/{name}{{{dims}}}" if dims else f"{ns}/{name}"


def _metric_alarm(a: Mapping[str, Any], file: str, ctx: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "alarm_type": "MetricAlarm",
        "threshold": _opt(a, "Threshold", as_float, file, ctx),
        "comparison": _opt(a, "ComparisonOperator", as_str, file, ctx),
        "evaluation_periods": _opt(a, "EvaluationPeriods", as_int, file, ctx),
        "datapoints_to_alarm": _opt(a, "DatapointsToAlarm", as_int, file, ctx),
        "period_s": _opt(a, "Period", as_int, file, ctx),
    }
    if a.get("Metrics"):  # some responses carry "Metrics": [] on plain metric alarms
        row.update(_math_alarm(as_list(a["Metrics"], file, f"{ctx}.Metrics"), file, ctx))
        return row
    ns = as_str(require(a, "Namespace", file, ctx), file, f"{ctx}.Namespace")
    name = as_str(require(a, "MetricName", file, ctx), file, f"{ctx}.MetricName")
    dims = dimensions(a.get("Dimensions"), file, f"{ctx}.Dimensions")
    slo = _slo_name(a, file, ctx)
    stat = a.get("Statistic", a.get("ExtendedStatistic"))
    row.update(namespace=ns, metric=name, dimensions=dims,
               statistic=None if stat is None else as_str(stat, file, f"{ctx}.Statistic"),
               watches=f"slo:{slo}" if slo else _metric_string(ns, name, dims))
    return row


def _math_alarm(queries: list[Any], file: str, ctx: str) -> dict[str, Any]:
    parts: dict[str, str] = {}
    slo = None
    returned: Mapping[str, Any] | None = None
    for i, q in enumerate(queries):
        qctx = f"{ctx}.Metrics[{i}]"
        q = as_map(q, file, qctx)
        qid = as_str(require(q, "Id", file, qctx), file, f"{qctx}.Id")
        if q.get("ReturnData") is True or (returned is None and q.get("ReturnData") is None):
            returned = q
        if q.get("MetricStat") is not None:
            ms = as_map(q["MetricStat"], file, f"{qctx}.MetricStat")
            m = as_map(require(ms, "Metric", file, f"{qctx}.MetricStat"), file, f"{qctx}.Metric")
            ns = as_str(require(m, "Namespace", file, f"{qctx}.Metric"), file, "Namespace")
            name = as_str(require(m, "MetricName", file, f"{qctx}.Metric"), file, "MetricName")
            stat = as_str(require(ms, "Stat", file, f"{qctx}.MetricStat"), file, "Stat")
            parts[qid] = f"{_metric_string(ns, name, dimensions(m.get('Dimensions'), file, qctx))}:{stat}"
            slo = slo or _slo_name(m, file, qctx)
        elif q.get("Expression") is not None:
            parts[qid] = as_str(q["Expression"], file, f"{qctx}.Expression")
        else:
            raise MissingKeyError(file, "MetricStat", context=f"{qctx} (MetricStat or Expression)")
    if returned is None:
        raise InputError(file, f"{ctx}.Metrics: no query returns data (ReturnData)", key="ReturnData")
    rid = returned["Id"]
    row: dict[str, Any] = {"namespace": MATH_NAMESPACE, "metric": rid,
                           "dimensions": "", "statistic": parts[rid]}
    if returned.get("Period") is not None:
        row["period_s"] = as_int(returned["Period"], file, f"{ctx}.Metrics.Period")
    if slo:
        row["watches"] = f"slo:{slo}"
    elif returned.get("Expression") is not None:
        inputs = ", ".join(f"{k}={v}" for k, v in sorted(parts.items()) if k != rid)
        row["watches"] = f"{parts[rid]} [{inputs}]" if inputs else parts[rid]
    else:
        row["watches"] = parts[rid].rsplit(":", 1)[0]
    return row


def alarm_definitions_from_describe_alarms(doc: Mapping[str, Any], *, file: str = "<memory>") -> pl.DataFrame:
    """DescribeAlarms (or DescribeAlarmsForMetric) output into an ``alarm_definitions`` frame.

    ``MetricAlarms`` and ``CompositeAlarms`` are read; ``LogAlarms`` are skipped (logged).
    An object with neither key raises :class:`MissingKeyError` for ``MetricAlarms``.
    """
    doc = as_map(doc, file, "DescribeAlarms output")
    if "MetricAlarms" not in doc and "CompositeAlarms" not in doc:
        raise MissingKeyError(file, "MetricAlarms", context="DescribeAlarms output")
    rows: list[dict[str, Any]] = []
    for i, a in enumerate(as_list(doc.get("MetricAlarms") or [], file, "MetricAlarms")):
        ctx = f"MetricAlarms[{i}]"
        a = as_map(a, file, ctx)
        row = _metric_alarm(a, file, ctx)
        rows.append(_common(a, row, file, ctx))
    for i, a in enumerate(as_list(doc.get("CompositeAlarms") or [], file, "CompositeAlarms")):
        ctx = f"CompositeAlarms[{i}]"
        a = as_map(a, file, ctx)
        rule = as_str(require(a, "AlarmRule", file, ctx), file, f"{ctx}.AlarmRule")
        rows.append(_common(a, {"alarm_type": "CompositeAlarm", "watches": rule}, file, ctx))
    if doc.get("LogAlarms"):
        log.info("%s: %d LogAlarms skipped (not metric or composite alarms)", file, len(doc["LogAlarms"]))
    schema = frames.schema("alarm_definitions").polars_schema
    return frames.conform(pl.DataFrame(rows, schema=schema) if rows else frames.empty("alarm_definitions"),
                          "alarm_definitions")


def _common(a: Mapping[str, Any], row: dict[str, Any], file: str, ctx: str) -> dict[str, Any]:
    row["alarm_name"] = as_str(require(a, "AlarmName", file, ctx), file, f"{ctx}.AlarmName")
    enabled = a.get("ActionsEnabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise InputError(file, f"{ctx}.ActionsEnabled must be true or false", key="ActionsEnabled")
    row["actions_enabled"] = enabled
    row["description"] = _opt(a, "AlarmDescription", as_str, file, ctx)
    return {c: row.get(c) for c in frames.schema("alarm_definitions").columns}


def alarms_from_history(doc: Mapping[str, Any], *, file: str = "<memory>",
                        definitions: pl.DataFrame | None = None) -> pl.DataFrame:
    """DescribeAlarmHistory output into an ``alarms`` frame: one row per ``StateUpdate`` item.

    ``HistoryData`` (a JSON string) gives ``oldState.stateValue``, ``newState.stateValue`` and
    ``newState.stateReason``. ``Action``, ``ConfigurationUpdate`` and contributor items are skipped.
    ``alarm_type`` comes from ``AlarmType`` when the item has it, else from ``definitions``;
    ``watches`` is joined from ``definitions`` (an ``alarm_definitions`` frame) by alarm name.
    Rows are sorted by timestamp.
    """
    doc = as_map(doc, file, "DescribeAlarmHistory output")
    items = as_list(require(doc, "AlarmHistoryItems", file, "DescribeAlarmHistory output"), file,
                     "AlarmHistoryItems")
    rows = []
    for i, it in enumerate(items):
        ctx = f"AlarmHistoryItems[{i}]"
        it = as_map(it, file, ctx)
        if as_str(require(it, "HistoryItemType", file, ctx), file, f"{ctx}.HistoryItemType") != "StateUpdate":
            continue
        name = as_str(require(it, "AlarmName", file, ctx), file, f"{ctx}.AlarmName")
        ts = as_time(require(it, "Timestamp", file, ctx), file, f"{ctx}.Timestamp")
        raw = as_str(require(it, "HistoryData", file, ctx), file, f"{ctx}.HistoryData")
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(file, f"{ctx}.HistoryData is not JSON: {exc.msg}", key="HistoryData") from exc
        data = as_map(data, file, f"{ctx}.HistoryData")
        new = as_map(require(data, "newState", file, f"{ctx}.HistoryData"), file, "newState")
        old = data.get("oldState")
        old = None if old is None else as_map(old, file, f"{ctx}.HistoryData.oldState")
        rows.append({
            "timestamp": ts,
            "alarm_name": name,
            "alarm_type": _opt(it, "AlarmType", as_str, file, ctx),
            "old_state": None if old is None else _opt(old, "stateValue", as_str, file, "oldState"),
            "new_state": as_str(require(new, "stateValue", file, f"{ctx}.HistoryData.newState"), file,
                                 "newState.stateValue"),
            "reason": _opt(new, "stateReason", as_str, file, "newState"),
        })
    df = pl.DataFrame(rows, schema={"timestamp": pl.Datetime("us", "UTC"), "alarm_name": pl.String,
                                    "alarm_type": pl.String, "old_state": pl.String,
                                    "new_state": pl.String, "reason": pl.String})
    if definitions is not None and definitions.height:
        defs = definitions.select("alarm_name", pl.col("alarm_type").alias("_def_type"), "watches") \
                          .unique(subset=["alarm_name"], keep="last")
        df = df.join(defs, on="alarm_name", how="left") \
               .with_columns(pl.coalesce("alarm_type", "_def_type").alias("alarm_type")).drop("_def_type")
    return frames.conform(df.sort("timestamp", maintain_order=True), "alarms")


def looks_like_describe_alarms(doc: Any) -> bool:
    """DescribeAlarms / DescribeAlarmsForMetric output: ``MetricAlarms`` or ``CompositeAlarms`` lists."""
    return isinstance(doc, Mapping) and (isinstance(doc.get("MetricAlarms"), list)
                                         or isinstance(doc.get("CompositeAlarms"), list))


def looks_like_alarm_history(doc: Any) -> bool:
    """DescribeAlarmHistory output: an ``AlarmHistoryItems`` list."""
    return isinstance(doc, Mapping) and isinstance(doc.get("AlarmHistoryItems"), list)
