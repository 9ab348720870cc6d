"""Canonical frames: one schema per frame type, and the validator that checks them.

Every loader returns one of these frames and every analysis reads them. Timestamps are
``Datetime("ms", "UTC")``; windows are half-open ``[start, end)``. Free-form attributes and
annotations are lists of ``{key, value}`` string pairs, so frames from different files concatenate
without schema drift.

Rows equal on a frame's key are one row when a snapshot merges an import. Two CloudWatch events (or
two requests) can be equal on every field and still be two events, so ``logs`` and ``requests`` carry
an ``occurrence`` column in their key: the 0-based rank of the row among the rows of its input that
are equal on the other key columns. Re-importing the same input adds nothing; two identical lines of
one file are both kept.

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

from collections.abc import Mapping, Sequence
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
    "occurrence",
    "OCCURRENCE",
]

UTC_MS = pl.Datetime("ms", "UTC")
KEY_VALUES = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))
OCCURRENCE = "occurrence"  # see the module docstring


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
    def counted_on(self) -> tuple[str, ...]:
        """The key columns ``occurrence`` counts over (empty when the frame has no ``occurrence``)."""
        if OCCURRENCE not in self.columns:
            return ()
        return tuple(c for c in self.key if c != OCCURRENCE)

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
                OCCURRENCE: pl.Int32(),  # n-th request of its input equal on the other key columns
            },
            {"timestamp", "service", "operation", "latency_ms", "fault", "error", OCCURRENCE},
            ("timestamp", "service", "operation", "request_id", "trace_id", "status_code", "latency_ms",
             OCCURRENCE),
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
                OCCURRENCE: pl.Int32(),  # n-th event of its input equal on the four columns above
            },
            {"timestamp", "log_group", "log_stream", "message", OCCURRENCE},
            ("timestamp", "log_group", "log_stream", "message", OCCURRENCE),
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


def occurrence(df: pl.DataFrame, columns: Sequence[str]) -> pl.Series:
    """The 0-based rank (``Int32``, in row order) of each row among the rows equal on ``columns``.

    Counting over every row costs a hash group-by over the messages (seconds per million rows),
    so it runs only on the rows whose combined hash repeats; usually there are none.

    >>> df = pl.DataFrame({"m": ["a", "b", "a", "a"]})
    >>> occurrence(df, ["m"]).to_list()
    [0, 0, 1, 2]
    """
    n = df.height
    zeros = pl.zeros(n, dtype=pl.Int32, eager=True).alias(OCCURRENCE)
    if n < 2:
        return zeros
    combined = pl.lit(0, dtype=pl.UInt64)
    for seed, col in enumerate(columns):
        combined = combined ^ pl.col(col).hash(seed=seed + 1)
    hashed = df.select(combined.alias("h")).to_series()
    if hashed.n_unique() == n:
        return zeros
    candidates = hashed.is_duplicated().arg_true()
    ranks = (df.select(columns)[candidates]
             .select(pl.int_range(pl.len(), dtype=pl.Int32).over(list(columns))).to_series())
    return zeros.scatter(candidates, ranks)


def validate(df: pl.DataFrame, frame: str) -> pl.DataFrame:
    """Check ``df`` against the schema of ``frame`` and return it.

    The only change ever made: a frame with an ``occurrence`` column (``logs``, ``requests``) that
    lacks it gets it, counted over ``df`` (see :func:`occurrence`); a loader that merges several
    inputs numbers each input before concatenating them.

    Raises
    ------
    FrameValidationError
        naming the frame, the column and what was wrong: missing, mistyped, or null where a value
        is required. Extra columns are allowed.
    """
    s = schema(frame)
    if s.counted_on and OCCURRENCE not in df.columns and all(c in df.columns for c in s.counted_on):
        df = df.with_columns(occurrence(df, s.counted_on))
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
    missing or cannot be cast still raises :class:`FrameValidationError`. A missing ``occurrence``
    is counted (see :func:`validate`).
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
        elif col == OCCURRENCE:
            continue  # validate counts it, once the key columns are cast
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
