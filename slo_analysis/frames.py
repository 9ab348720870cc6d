"""Canonical frames: one schema per frame type, and the validator that checks them.

Every loader returns one of these frames and every analysis reads them. Timestamps are
``Datetime("ms", "UTC")``; windows are half-open ``[start, end)``. Free-form attributes and
annotations are lists of ``{key, value}`` string pairs, so frames from different files concatenate
without schema drift.

Examples
--------
>>> import polars as pl
>>> from slo_analysis import frames
>>> frames.empty("deployments").columns[:3]
['id', 'service', 'started_at']
>>> frames.validate(pl.DataFrame({"timestamp": [1]}), "metrics")
Traceback (most recent call last):
...
slo_analysis.exceptions.FrameValidationError: metrics frame, column 'timestamp': expected Datetime(time_unit='ms', time_zone='UTC'), found Int64
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from slo_analysis.exceptions import FrameValidationError

__all__ = [
    "UTC_MS",
    "KEY_VALUES",
    "FrameSchema",
    "SCHEMAS",
    "FRAME_NAMES",
    "schema",
    "empty",
    "validate",
    "conform",
    "format_dimensions",
    "key_values",
]

UTC_MS = pl.Datetime("ms", "UTC")
KEY_VALUES = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))


@dataclass(frozen=True)
class FrameSchema:
    """Columns, dedup key and time column of one canonical frame type."""

    name: str
    columns: Mapping[str, pl.DataType]
    non_null: frozenset[str]
    key: tuple[str, ...]  # rows equal on these columns are one row (import de-duplication)
    time_column: str | None  # partitions the store by day and bounds the snapshot window
    partitioned: bool = False  # large frames are stored one parquet file per day
    doc: str = field(default="", compare=False)

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema(dict(self.columns))


def _frame(name: str, cols: dict[str, pl.DataType], non_null: set[str], key: tuple[str, ...],
           time_column: str | None, partitioned: bool, doc: str) -> FrameSchema:
    return FrameSchema(name, cols, frozenset(non_null), key, time_column, partitioned, doc)


SCHEMAS: dict[str, FrameSchema] = {
    s.name: s
    for s in [
        _frame(
            "metrics",
            {
                "timestamp": UTC_MS,
                "namespace": pl.String(),
                "metric": pl.String(),
                "dimensions": pl.String(),  # sorted "k=v,k=v"; "" when the metric has none
                "stat": pl.String(),
                "period_s": pl.Int64(),
                "unit": pl.String(),
                "value": pl.Float64(),
            },
            {"timestamp", "namespace", "metric", "dimensions", "stat", "period_s", "value"},
            ("timestamp", "namespace", "metric", "dimensions", "stat", "period_s"),
            "timestamp",
            True,
            "One CloudWatch datapoint.",
        ),
        _frame(
            "requests",
            {
                "timestamp": UTC_MS,
                "service": pl.String(),
                "operation": pl.String(),
                "status_code": pl.Int32(),
                "latency_ms": pl.Float64(),
                "fault": pl.Boolean(),  # 5xx: the server's fault
                "error": pl.Boolean(),  # 4xx: the client's error
                "request_id": pl.String(),
                "trace_id": pl.String(),
                "attributes": KEY_VALUES,  # customer tier, region, version, availability zone, ...
            },
            {"timestamp", "service", "operation", "latency_ms", "fault", "error"},
            ("timestamp", "service", "operation", "request_id", "status_code", "latency_ms"),
            "timestamp",
            True,
            "One served request, from structured request logs or from spans.",
        ),
        _frame(
            "logs",
            {
                "timestamp": UTC_MS,
                "log_group": pl.String(),
                "log_stream": pl.String(),
                "message": pl.String(),
            },
            {"timestamp", "log_group", "log_stream", "message"},
            ("timestamp", "log_group", "log_stream", "message"),
            "timestamp",
            True,
            "One CloudWatch Logs event; JSON messages are parsed on demand (sources.cloudwatch_logs).",
        ),
        _frame(
            "spans",
            {
                "trace_id": pl.String(),
                "span_id": pl.String(),
                "parent_id": pl.String(),
                "service": pl.String(),  # the segment's service; subsegments inherit it
                "name": pl.String(),
                "kind": pl.String(),  # segment | subsegment
                "origin": pl.String(),
                "namespace": pl.String(),  # aws | remote | None
                "start": UTC_MS,
                "end": UTC_MS,
                "duration_ms": pl.Float64(),
                "http_method": pl.String(),
                "http_url": pl.String(),
                "http_status": pl.Int32(),
                "fault": pl.Boolean(),
                "error": pl.Boolean(),
                "throttle": pl.Boolean(),
                "in_progress": pl.Boolean(),
                "aws_operation": pl.String(),
                "sql_query": pl.String(),
                "cause": pl.String(),  # first exception "type: message", or the exception id
                "annotations": KEY_VALUES,
            },
            {"trace_id", "span_id", "service", "name", "kind", "start", "fault", "error", "throttle",
             "in_progress"},
            ("trace_id", "span_id"),
            "start",
            True,
            "One X-Ray segment or subsegment (or OTel span).",
        ),
        _frame(
            "alarms",
            {
                "timestamp": UTC_MS,
                "alarm_name": pl.String(),
                "alarm_type": pl.String(),  # MetricAlarm | CompositeAlarm
                "old_state": pl.String(),
                "new_state": pl.String(),
                "reason": pl.String(),
                "watches": pl.String(),  # "Namespace/Metric{dims}", "slo:<name>" or the composite rule
            },
            {"timestamp", "alarm_name", "new_state"},
            ("timestamp", "alarm_name", "new_state"),
            "timestamp",
            False,
            "One alarm state change (DescribeAlarmHistory StateUpdate).",
        ),
        _frame(
            "deployments",
            {
                "id": pl.String(),
                "service": pl.String(),
                "started_at": UTC_MS,
                "finished_at": UTC_MS,
                "status": pl.String(),
                "version_from": pl.String(),
                "version_to": pl.String(),
                "source": pl.String(),  # codedeploy | ecs | lambda | cloudtrail | file
                "actor": pl.String(),
                "description": pl.String(),
            },
            {"id", "service", "started_at", "status", "source"},
            ("source", "id"),
            "started_at",
            False,
            "One change: a deployment, a rollback or a configuration change.",
        ),
        _frame(
            "slos",
            {
                "name": pl.String(),
                "service": pl.String(),
                "operation": pl.String(),
                "environment": pl.String(),
                "sli_kind": pl.String(),  # availability | latency | ratio | threshold
                "method": pl.String(),  # request | period
                "metric": pl.String(),  # "Namespace/Metric" or a description of the SLI source
                "statistic": pl.String(),
                "threshold": pl.Float64(),
                "comparison": pl.String(),  # LessThan | LessThanOrEqualTo | GreaterThan | ...
                "target": pl.Float64(),  # attainment goal as a fraction, 0.999
                "warning_threshold": pl.Float64(),  # remaining-budget fraction for WARNING, 0.5
                "interval_kind": pl.String(),  # rolling | calendar
                "interval_duration": pl.Int64(),
                "interval_unit": pl.String(),  # MINUTE | HOUR | DAY | MONTH
                "calendar_start": UTC_MS,
                "period_s": pl.Int64(),  # period-based SLOs only
                "source": pl.String(),  # application-signals | openslo | python
                "definition": pl.String(),  # the original definition as JSON, for the SLO engine
            },
            {"name", "sli_kind", "method", "target", "interval_kind", "interval_duration",
             "interval_unit", "source", "definition"},
            ("name", "source"),
            None,
            False,
            "One SLO definition.",
        ),
    ]
}

# Small frames that support a canonical one (kept in the same store, same rules).
SCHEMAS["alarm_definitions"] = _frame(
    "alarm_definitions",
    {
        "alarm_name": pl.String(),
        "alarm_type": pl.String(),
        "watches": pl.String(),
        "namespace": pl.String(),
        "metric": pl.String(),
        "dimensions": pl.String(),
        "statistic": pl.String(),
        "period_s": pl.Int64(),
        "threshold": pl.Float64(),
        "comparison": pl.String(),
        "evaluation_periods": pl.Int64(),
        "datapoints_to_alarm": pl.Int64(),
        "actions_enabled": pl.Boolean(),
        "description": pl.String(),
    },
    {"alarm_name", "alarm_type"},
    ("alarm_name",),
    None,
    False,
    "One CloudWatch alarm definition (DescribeAlarms), to say what an alarm watches.",
)

FRAME_NAMES: tuple[str, ...] = tuple(SCHEMAS)


def schema(frame: str) -> FrameSchema:
    """The schema of frame type ``frame``; raises ``KeyError`` naming the known types."""
    try:
        return SCHEMAS[frame]
    except KeyError:
        raise KeyError(f"unknown frame type {frame!r}; known: {', '.join(FRAME_NAMES)}") from None


def empty(frame: str) -> pl.DataFrame:
    """An empty frame of type ``frame`` with every column typed."""
    return pl.DataFrame(schema=schema(frame).polars_schema)


def validate(df: pl.DataFrame, frame: str) -> pl.DataFrame:
    """Check ``df`` against the schema of ``frame`` and return it unchanged.

    Raises
    ------
    FrameValidationError
        naming the frame, the column and what was wrong: missing, mistyped, or null where a value
        is required. Extra columns are allowed.
    """
    s = schema(frame)
    for col, dtype in s.columns.items():
        if col not in df.columns:
            raise FrameValidationError(frame, col, "missing")
        found = df.schema[col]
        if found != dtype:
            raise FrameValidationError(frame, col, f"expected {dtype!r}, found {found!r}")
    for col in sorted(s.non_null):
        nulls = df[col].null_count()
        if nulls:
            raise FrameValidationError(frame, col, f"{nulls} null value(s) in a required column")
    return df


def conform(df: pl.DataFrame, frame: str) -> pl.DataFrame:
    """Reorder ``df`` to the schema, add missing nullable columns as nulls, cast, then validate.

    Loaders build their rows loosely and finish with ``conform``; a required column that is
    missing or cannot be cast still raises :class:`FrameValidationError`.
    """
    s = schema(frame)
    exprs = []
    for col, dtype in s.columns.items():
        if col in df.columns:
            try:
                exprs.append(df[col].cast(dtype, strict=True).alias(col))
            except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
                raise FrameValidationError(frame, col, f"cannot cast {df.schema[col]!r} to {dtype!r}: "
                                           f"{exc}") from exc
        elif col in s.non_null:
            raise FrameValidationError(frame, col, "missing")
        else:
            exprs.append(pl.repeat(None, df.height, dtype=dtype, eager=True).alias(col))
    out = pl.DataFrame(exprs) if exprs else empty(frame)
    return validate(out, frame)


def format_dimensions(dims: Mapping[str, str] | list[dict[str, str]] | None) -> str:
    """Canonical dimension string: ``Name=Value`` pairs sorted by name, joined by commas.

    Accepts a mapping or CloudWatch's ``[{"Name": ..., "Value": ...}]`` list.

    >>> format_dimensions([{"Name": "Service", "Value": "ticket-api"}, {"Name": "Environment", "Value": "prod"}])
    'Environment=prod,Service=ticket-api'
    """
    if not dims:
        return ""
    pairs = dims.items() if isinstance(dims, Mapping) else ((d["Name"], d["Value"]) for d in dims)
    return ",".join(f"{k}={v}" for k, v in sorted(pairs))


def key_values(mapping: Mapping[str, object] | None) -> list[dict[str, str]]:
    """A ``{key, value}`` list for the ``attributes``/``annotations`` columns (values as strings)."""
    if not mapping:
        return []
    return [{"key": str(k), "value": str(v)} for k, v in sorted(mapping.items())]
