"""The ``requests`` frame: served requests from structured request logs or from X-Ray segments.

A request log is a JSON message with both ``status`` and ``latency_ms`` (see docs/demo-layout.md).
Decoding is vectorised (``str.json_decode`` with an explicit dtype); only messages that polars
refuses are read one by one, so the cost grows with the bad messages, not with the file.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> from slo_analysis.sources._io import LoadReport
>>> logs = pl.DataFrame({"timestamp": [datetime(2026, 11, 2, tzinfo=UTC)], "log_group": ["/ecs/ticket-api"],
...                      "log_stream": ["s"], "message": ['{"status": 503, "latency_ms": 12.5, "route": "GET /t"}']})
>>> req = requests_from_logs(logs, report=LoadReport())
>>> req.select("service", "operation", "status_code", "fault").row(0)
('ticket-api', 'GET /t', 503, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from slo_analysis import frames
from slo_analysis.sources._io import LoadReport
from slo_analysis.sources._json import decode_json_column

__all__ = ["DEFAULT_ATTRIBUTES", "UNKNOWN_OPERATION", "requests_from_logs", "requests_from_spans"]

# Each extra field costs decode time on every request record: keep this list short.
DEFAULT_ATTRIBUTES: tuple[str, ...] = ("customer_tier", "region", "az", "version", "route", "environment")
UNKNOWN_OPERATION = "unknown"  # a request record with neither "operation" nor "route"

_CORE_FIELDS = {
    "ts": pl.String(), "service": pl.String(), "operation": pl.String(), "route": pl.String(),
    "request_id": pl.String(), "trace_id": pl.String(), "status": pl.Int64(),
    "latency_ms": pl.Float64(),
}
_TS_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"


def _service_from_group(groups: pl.Series) -> pl.Series:
    """Last non-empty path part of each log group (``/ecs/prod/ticket-api`` -> ``ticket-api``)."""
    uniq = groups.unique().drop_nulls().to_list()
    mapping = {g: next((p for p in reversed(g.split("/")) if p), g) for g in uniq}
    return groups.replace_strict(mapping, default=None, return_dtype=pl.String)


def _fill_unparsed_ts(parsed: pl.Series, raw: pl.Series) -> pl.Series:
    """Second chance, only for the rows ``%+`` missed: ISO without zone (read as UTC)."""
    missing = (parsed.is_null() & raw.is_not_null()).arg_true()
    if len(missing) == 0:
        return parsed
    alt = (raw.gather(missing).str.strip_suffix("Z")
           .str.to_datetime(_TS_NAIVE, strict=False, time_unit="ms").dt.replace_time_zone("UTC"))
    return parsed.scatter(missing, alt)


def _attributes(df: pl.DataFrame, names: Sequence[str]) -> pl.Expr | pl.Series:
    """The ``attributes`` column: ``{key, value}`` for each non-null ``a.<name>`` column, per row.

    Built without ``concat_list``/``list.drop_nulls`` (slow in polars 2.x): an expression over a
    fixed-size array when every row has every attribute present in the data (the usual case),
    else a long table of the non-null values cut into rows by a group-by on the sorted row number.
    """
    n = df.height
    cols = [a for a in names if df[f"a.{a}"].null_count() < n]
    if not cols:
        return pl.Series("attributes", [[]], dtype=frames.KEY_VALUES).gather(
            pl.zeros(n, dtype=pl.UInt32, eager=True))
    if all(df[f"a.{a}"].null_count() == 0 for a in cols):
        return (pl.concat_arr([pl.struct(key=pl.lit(a, dtype=pl.String), value=pl.col(f"a.{a}"))
                               for a in cols]).arr.to_list().cast(frames.KEY_VALUES))
    k = len(cols)
    pos = pl.int_range(0, n * k, dtype=pl.Int64, eager=True)
    values = pl.concat([df[f"a.{a}"] for a in cols]).gather((pos % k) * n + pos // k)
    keys = pl.Series(cols, dtype=pl.String).gather(pos % k)
    long = (pl.DataFrame({"row": pos // k, "key": keys, "value": values})
            .filter(pl.col("value").is_not_null())
            .with_columns(pl.col("row").set_sorted()))
    grouped = long.group_by("row", maintain_order=True).agg(pl.struct("key", "value").alias("kv"))
    if grouped.height < n:
        grouped = (pl.DataFrame({"row": pl.int_range(0, n, dtype=pl.Int64, eager=True)})
                   .join(grouped, on="row", how="left", maintain_order="left")
                   .with_columns(pl.col("kv").fill_null(pl.lit([], dtype=frames.KEY_VALUES))))
    return grouped["kv"].cast(frames.KEY_VALUES)


def requests_from_logs(logs: pl.DataFrame, *, report: LoadReport,
                       attributes: Sequence[str] = DEFAULT_ATTRIBUTES) -> pl.DataFrame:
    """Requests from the request records in a ``logs`` frame.

    Parameters
    ----------
    logs
        A ``logs`` frame (any mix of groups and streams, from one or several inputs). Optional
        ``file`` (String) and ``line`` (Int64) columns say where each event was read (see
        ``with_line`` in :mod:`slo_analysis.sources.cloudwatch_logs`).
    report
        Messages that start with ``{`` but are not valid JSON (truncated lines) become bad records
        naming the ``file`` and ``line`` columns (without them: ``"<log group>/<log stream>"`` and
        no line); the rest loads.
    attributes
        JSON fields kept as ``{key, value}`` pairs in ``attributes`` (when present in a record).

    Returns
    -------
    pl.DataFrame
        The ``requests`` frame, in log order: ``timestamp`` from the record's ``ts`` when it parses,
        else the event's; ``service`` from ``service`` else the log group's last path part;
        ``operation`` from ``operation`` else ``route`` else ``"unknown"``; ``fault`` = status >= 500,
        ``error`` = 400 <= status < 500. A log event present twice in ``logs`` (equal on the logs
        key, ``occurrence`` included: an export object and Insights results of the same hour) gives
        one request; two identical events give two requests, with ``occurrence`` 0 and 1.
    """
    attrs = list(dict.fromkeys(attributes))
    fields = dict(_CORE_FIELDS)
    for a in attrs:
        fields.setdefault(a, pl.String())
    dtype = pl.Struct(fields)
    key = frames.schema("logs").key
    if frames.OCCURRENCE not in logs.columns:  # number the events when the caller did not
        logs = logs.with_columns(frames.occurrence(logs, frames.schema("logs").counted_on))
    msg = logs["message"]
    # null out what cannot be an object (no copy of the strings, unlike a filter)
    candidates = pl.select(pl.when(msg.str.starts_with("{")).then(msg)).to_series()
    decoded, bad = decode_json_column(candidates, dtype)
    if bad:
        _report_bad(logs[bad], report)
    flat = decoded.struct.rename_fields([f"a.{f}" for f in fields]).struct.unnest()
    first_copy = frames.occurrence(logs, key) == 0
    df = pl.concat([logs.select("timestamp", "log_group"), flat], how="horizontal")
    df = df.filter(pl.col("a.status").is_not_null() & pl.col("a.latency_ms").is_not_null() & first_copy)
    if df.is_empty():
        return frames.empty("requests")
    status = pl.col("a.status")
    attr_column = _attributes(df, attrs)
    # one select: polars evaluates these expressions in parallel
    out = df.select(
        timestamp=pl.col("a.ts").str.to_datetime("%+", strict=False, time_unit="ms")
        .dt.convert_time_zone("UTC"),
        service=pl.col("a.service").fill_null(_service_from_group(df["log_group"])),
        operation=pl.coalesce("a.operation", "a.route", pl.lit(UNKNOWN_OPERATION)),
        status_code=status.cast(pl.Int32, strict=False),
        latency_ms=pl.col("a.latency_ms"),
        fault=status >= 500,
        error=(status >= 400) & (status < 500),
        request_id=pl.col("a.request_id"),
        trace_id=pl.col("a.trace_id"),
        attributes=attr_column,
    )
    ts = _fill_unparsed_ts(out["timestamp"], df["a.ts"]).fill_null(df["timestamp"].cast(frames.UTC_MS))
    out = out.with_columns(ts.alias("timestamp"))
    out = frames.validate(out, "requests")  # counts occurrence on the final timestamps
    report.add_rows("requests", out.height)
    return out


def _report_bad(rows: pl.DataFrame, report: LoadReport) -> None:
    """One bad record per row of ``rows`` (logs rows whose message is broken JSON)."""
    reason = "message starts with '{' but is not valid JSON"
    where = (rows["file"] if "file" in rows.columns
             else rows.select(pl.format("{}/{}", "log_group", "log_stream")).to_series())
    lines = rows["line"] if "line" in rows.columns else pl.repeat(None, rows.height, dtype=pl.Int64, eager=True)
    for file, line, text in zip(where, lines, rows["message"], strict=True):
        report.add_bad(file, line, reason, text)


def _url_path() -> pl.Expr:
    url = pl.col("http_url")
    path = url.str.extract(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*([^?#]*)").fill_null(
        url.str.extract(r"^([^?#]*)"))
    return pl.when(path == "").then(pl.lit("/")).otherwise(path)


def requests_from_spans(spans: pl.DataFrame, *, report: LoadReport | None = None) -> pl.DataFrame:
    """Requests from the segments (``kind == "segment"``) of a ``spans`` frame.

    ``operation`` is the annotation ``operation`` when present, else ``"<METHOD> <url path>"``
    (``"<url path>"`` without a method), else the segment name; ``latency_ms`` is the segment's
    duration; ``fault``/``error`` are the segment's flags or its HTTP status class; ``attributes``
    are its annotations. Segments still in progress (no end) have no latency and are skipped
    (counted in ``report.skipped`` when a report is given).
    """
    seg = spans.filter(pl.col("kind") == "segment")
    in_progress = seg.filter(pl.col("duration_ms").is_null()).height
    if in_progress and report is not None:
        report.skip("spans", f"{in_progress} in-progress segment(s) without an end: no latency")
    seg = seg.filter(pl.col("duration_ms").is_not_null())
    if seg.is_empty():
        return frames.empty("requests")
    annotated = (pl.col("annotations").list.eval(
        pl.element().filter(pl.element().struct.field("key") == "operation").struct.field("value"))
        .list.first())
    path = _url_path()
    from_url = pl.when(pl.col("http_method").is_not_null()).then(
        pl.concat_str(pl.col("http_method"), pl.lit(" "), path)).otherwise(path)
    status = pl.col("http_status")
    out = seg.select(
        timestamp=pl.col("start"),
        service=pl.col("service"),
        operation=pl.coalesce(annotated, from_url, pl.col("name")),
        status_code=status.cast(pl.Int32),
        latency_ms=pl.col("duration_ms"),
        fault=pl.col("fault") | (status >= 500).fill_null(False),
        error=pl.col("error") | ((status >= 400) & (status < 500)).fill_null(False),
        request_id=pl.lit(None, dtype=pl.String),
        trace_id=pl.col("trace_id"),
        attributes=pl.col("annotations"),
    )
    out = frames.conform(out, "requests")
    if report is not None:
        report.add_rows("requests", out.height)
    return out
