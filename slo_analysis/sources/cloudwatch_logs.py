"""CloudWatch Logs loaders: export objects, Insights results, FilterLogEvents/GetLogEvents pages.

Every loader returns the canonical ``logs`` frame (see :mod:`slo_analysis.frames`) and records what
it could not load in a :class:`~slo_analysis.sources._io.LoadReport` instead of dropping it. The
loaders take bytes or parsed documents, not paths, so the live boto3 path reuses them unchanged.

The export-file loader is the hot path (CreateExportTask objects hold millions of lines); it is
vectorised with polars and only falls back to Python for the lines that are bad.

Examples
--------
>>> from slo_analysis.sources._io import LoadReport
>>> report = LoadReport()
>>> data = b"2026-11-02T00:00:00.123Z hello\\n  at line 2\\n2026-11-02T00:00:01.000Z {}\\n"
>>> df = logs_from_export_file(data, file="x.gz", log_group="/ecs/ticket-api", log_stream="s",
...                            report=report)
>>> df["message"].to_list()
['hello\\n  at line 2', '{}']
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.exceptions import InputError
from slo_analysis.sources._io import LoadReport, require
from slo_analysis.sources._json import decode_json_column

__all__ = [
    "logs_from_export_file",
    "export_task_log_groups",
    "locate_export_object",
    "logs_from_insights_results",
    "insights_query_log_groups",
    "logs_from_events",
    "parse_json_fields",
    "looks_like_export_lines",
    "looks_like_insights_results",
    "looks_like_start_query",
    "looks_like_log_events",
    "looks_like_export_tasks",
]

_EXPORT_TS_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"  # what CreateExportTask writes: 2026-11-02T00:00:00.123Z
_EXPORT_TS_OFFSET_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%z"
_TS_LIKE = r"^\d{4}-\d{2}-\d{2}T"  # a line that starts like a timestamp starts a new event
_TS_LINE_BYTES = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2}) ")
_SEPARATORS = [chr(c) for c in (1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                                 26, 27, 28, 29, 30, 31)]
_INSIGHTS_TS_FORMAT = "%Y-%m-%d %H:%M:%S%.f"


def _split_lines(data: bytes) -> tuple[pl.Series, bool]:
    """The lines of ``data`` (without ``\\n``/``\\r\\n``) and whether some bytes were not UTF-8.

    Uses polars' multi-threaded CSV reader with a separator byte absent from the data and no
    quoting, so each line is one field (it splits on ``\n`` only, strips a ``\r`` before it and keeps
    empty lines, exactly like ``bytes.split``; the tests check this); falls back to ``bytes.split``
    when every candidate separator byte occurs in the data.
    """
    sep = next((s for s in _SEPARATORS if s.encode() not in data), None)
    # polars' reader sniffs gzip/zlib/zstd magic bytes and would decompress: never let it.
    # It also drops a leading UTF-8 BOM, which would lose a line; both cases take the slow path.
    if sep is not None and data[:1] not in (b"\x1f", b"\x78", b"\x28", b"\xef"):
        for encoding in ("utf8", "utf8-lossy"):
            try:
                df = pl.read_csv(io.BytesIO(data), has_header=False, separator=sep, quote_char=None,
                                 schema={"line": pl.String}, encoding=encoding,  # type: ignore[arg-type]
                                 comment_prefix=None)
            except (pl.exceptions.ComputeError, OSError):
                continue
            return df["line"].fill_null(""), encoding != "utf8"
    raw = data.split(b"\n")
    if data.endswith(b"\n"):
        raw.pop()
    text = [r.decode("utf-8", errors="replace").removesuffix("\r") for r in raw]
    return pl.Series("line", text, dtype=pl.String), any("\ufffd" in t for t in text)


def _undecodable_lines(data: bytes, lines: pl.Series) -> list[int]:
    """0-based indices of lines whose bytes are not UTF-8 (checked only where polars replaced bytes)."""
    candidates = lines.str.contains("\ufffd", literal=True).arg_true().to_list()
    if not candidates:
        return []
    raw = data.split(b"\n")
    bad = []
    for i in candidates:
        try:
            raw[i].decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    return bad


def _parse_export_timestamps(first: pl.Series) -> pl.Series:
    # "%+" (RFC 3339, Z or offset) is polars' fastest timestamp parser, and what exports write
    ts = first.str.to_datetime("%+", strict=False, time_unit="ms").dt.convert_time_zone("UTC")
    if ts.null_count():  # continuation lines, or (rarely) offsets instead of Z
        missing = ts.is_null().arg_true()
        alt = (first.gather(missing).str.to_datetime(_EXPORT_TS_OFFSET_FORMAT, strict=False, time_unit="ms")
               .dt.convert_time_zone("UTC"))
        if alt.null_count() < len(alt):
            ts = ts.scatter(missing, alt)
    return ts


def logs_from_export_file(data: bytes, *, file: str, log_group: str, log_stream: str,
                          report: LoadReport, with_line: bool = False) -> pl.DataFrame:
    """Load one CreateExportTask object (already gunzipped) into a ``logs`` frame.

    Each event is one line ``<ISO 8601 timestamp> <message>``; lines that do not start with a
    timestamp continue the previous event's message (multi-line stack traces) and are joined with
    ``\\n``.

    Parameters
    ----------
    data
        The object's bytes, gunzipped (see :func:`slo_analysis.sources._io.read_bytes`).
    file
        Name used in the report (the S3 key or local path).
    log_group, log_stream
        Where the object came from (see :func:`locate_export_object`).
    report
        Receives one bad record per line that cannot be loaded: a continuation line with no event
        before it, a line whose timestamp does not parse, a line that is not UTF-8, and the
        continuation lines of such a bad line. Line numbers are 1-based.
    with_line
        Add a ``line`` column: the 1-based line each event starts on, so that what is later found
        wrong in a message (:func:`~slo_analysis.sources.requests.requests_from_logs`) names its line.

    Returns
    -------
    pl.DataFrame
        The ``logs`` frame, in file order.
    """
    report.files.append(str(file))
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data:
        return _with_line(frames.empty("logs"), [] if with_line else None)
    lines, lossy = _split_lines(data)
    bad_utf8 = _undecodable_lines(data, lines) if lossy else []

    split = (pl.DataFrame({"line": lines})
             .with_columns(pos=pl.col("line").str.find(" ", literal=True)
                           .fill_null(pl.col("line").str.len_bytes()).cast(pl.Int64))
             # pos is a byte offset; head/slice count characters: equal on the ASCII timestamp,
             # and continuation lines use the whole line, not these two parts
             .select(first=pl.col("line").str.head(pl.col("pos")),
                     message=pl.col("line").str.slice(pl.col("pos") + 1)))
    ts = _parse_export_timestamps(split["first"])
    message = split["message"]
    is_event = ts.is_not_null()
    if bad_utf8:
        is_event = is_event.scatter(bad_utf8, False)

    n_cont = len(lines) - int(is_event.sum())
    if n_cont == 0:
        out = pl.DataFrame({"timestamp": ts, "message": message,
                            "line": pl.int_range(1, len(lines) + 1, dtype=pl.Int64, eager=True)})
    else:
        out = _with_continuations(lines, ts, message, is_event, bad_utf8, data, file, report)
    logs = frames.validate(out.select(
        pl.col("timestamp").cast(frames.UTC_MS),
        pl.lit(log_group, dtype=pl.String).alias("log_group"),
        pl.lit(log_stream, dtype=pl.String).alias("log_stream"),
        pl.col("message").cast(pl.String),
    ), "logs")
    report.add_rows("logs", logs.height)
    return _with_line(logs, out["line"] if with_line else None)


def _with_line(df: pl.DataFrame, line: Sequence[int] | pl.Series | None) -> pl.DataFrame:
    """``df`` plus the ``line`` column (Int64) when ``line`` is given."""
    if line is None:
        return df
    return df.with_columns(pl.Series("line", line, dtype=pl.Int64))


def _with_continuations(lines: pl.Series, ts: pl.Series, message: pl.Series, is_event: pl.Series,
                        bad_utf8: list[int], data: bytes, file: str, report: LoadReport) -> pl.DataFrame:
    """Join continuation lines to their event and report bad lines.

    Linear and mostly proportional to the continuation and bad lines: the regex runs only on
    lines that are not events, and only events followed by continuation lines are aggregated.
    """
    n = len(lines)
    not_event = (~is_event).arg_true()
    looks_ts = lines.gather(not_event).str.contains(_TS_LIKE).fill_null(False)
    bad_head = pl.zeros(n, dtype=pl.Boolean, eager=True).scatter(not_event.filter(looks_ts), True)
    if bad_utf8:
        bad_head = bad_head.scatter(bad_utf8, True)
    head = is_event | bad_head
    df = pl.DataFrame({"line": lines, "message": message, "head": head, "bad_head": bad_head}).with_columns(
        idx=pl.int_range(0, n, dtype=pl.Int64),
        gid=pl.col("head").cum_sum(),
        has_cont=~pl.col("head").shift(-1, fill_value=True),
    ).with_columns(
        head_idx=pl.when(pl.col("head")).then(pl.col("idx")).forward_fill(),
        group_bad=pl.when(pl.col("head")).then(pl.col("bad_head")).forward_fill().fill_null(False),
        in_multi=pl.when(pl.col("head")).then(pl.col("has_cont")).forward_fill().fill_null(False),
    )
    bad_rows = df.filter((pl.col("gid") == 0) | pl.col("group_bad"))
    if bad_rows.height:
        raw = data.split(b"\n") if bad_utf8 else None
        bad_utf8_set = set(bad_utf8)
        for idx, line, gid, head_idx, is_head in bad_rows.select(
                "idx", "line", "gid", "head_idx", "head").iter_rows():
            if gid == 0:
                reason, content = "continuation line before the first event", line
            elif not is_head:
                reason, content = f"continuation of bad record at line {head_idx + 1}", line
            elif idx in bad_utf8_set:
                assert raw is not None
                reason = "undecodable bytes (not UTF-8)"
                content = raw[idx].decode("utf-8", errors="backslashreplace")
            else:
                reason = f"unparseable timestamp {line.split(' ', 1)[0][:40]!r}"
                content = line
            report.add_bad(file, idx + 1, reason, content)
    events = df.filter(pl.col("head") & ~pl.col("bad_head")).select(
        pl.col("idx"), pl.col("message"), pl.col("has_cont"))
    out = pl.DataFrame({"timestamp": ts.gather(events["idx"]), "message": events["message"],
                        "line": events["idx"] + 1})
    multi_pos = events["has_cont"].arg_true()
    if len(multi_pos):
        part = pl.when(pl.col("head")).then(pl.col("message")).otherwise(pl.col("line"))
        joined = (df.filter(pl.col("in_multi") & ~pl.col("group_bad") & (pl.col("gid") > 0))
                  .group_by("gid", maintain_order=True).agg(part.str.join("\n").alias("message")))
        out = out.with_columns(out["message"].scatter(multi_pos, joined["message"]))
    return out


def export_task_log_groups(doc: Any, *, file: str) -> dict[str, str]:
    """``{taskId: logGroupName}`` from a DescribeExportTasks response."""
    tasks = require(doc, "exportTasks", file)
    out: dict[str, str] = {}
    for i, task in enumerate(tasks):
        ctx = f"exportTasks[{i}]"
        out[str(require(task, "taskId", file, ctx))] = str(require(task, "logGroupName", file, ctx))
    return out


def locate_export_object(path: Path, tasks: Mapping[str, str]) -> tuple[str, str] | None:
    """``(log_group, log_stream)`` for an export object ``.../<taskId>/<stream parts...>/000000.gz``.

    Stream names may contain ``/`` and then span several path parts. Returns ``None`` when no part
    of the path is a known task id or no stream part follows it.

    >>> locate_export_object(Path("x/t-1/2026/11/02/[$LATEST]ab/000000.gz"), {"t-1": "/aws/lambda/f"})
    ('/aws/lambda/f', '2026/11/02/[$LATEST]ab')
    """
    parts = Path(path).parts
    for i, part in enumerate(parts[:-1]):
        if part in tasks:
            stream = parts[i + 1:-1]
            if not stream:
                return None
            return tasks[part], "/".join(stream)
    return None


# --------------------------------------------------------------------------------------------------
# Logs Insights


def _group_from_identifier(ident: str) -> str:
    # arn:aws:logs:region:account:log-group:NAME[:*]
    if ident.startswith("arn:"):
        name = ident.split(":log-group:", 1)[-1]
        return name[:-2] if name.endswith(":*") else name
    return ident


def insights_query_log_groups(doc: Any) -> list[str]:
    """Log group names a StartQuery request targets (``logGroupNames``, ``logGroupName`` or
    ``logGroupIdentifiers``, ARNs reduced to names)."""
    if not isinstance(doc, Mapping):
        return []
    if doc.get("logGroupNames"):
        return [str(g) for g in doc["logGroupNames"]]
    if doc.get("logGroupName"):
        return [str(doc["logGroupName"])]
    return [_group_from_identifier(str(g)) for g in doc.get("logGroupIdentifiers") or []]


def logs_from_insights_results(doc: Any, *, file: str, log_group: str | None = None,
                               report: LoadReport, with_line: bool = False) -> pl.DataFrame:
    """Log events from a GetQueryResults response of a raw-row query.

    Rows with ``@timestamp`` and ``@message`` become events; the log group comes from ``@log``
    (``"<account>:<group>"``), else ``log_group``; the stream from ``@logStream`` (``""`` when the
    query did not return it). Aggregate results (no ``@message``) return an empty frame and are
    noted in ``report.skipped``; raw rows missing ``@timestamp``/``@message`` or with an unparseable
    timestamp are bad records (line = the 1-based result row). ``with_line`` adds that row number
    as a ``line`` column.

    Raises
    ------
    InputError
        when rows lack ``@log`` and no ``log_group`` is given.
    """
    report.files.append(str(file))
    results = require(doc, "results", file)
    rows: list[dict[str, Any]] = []
    for row in results:
        if not isinstance(row, list):
            raise InputError(file, f"results row is {type(row).__name__}, expected a list of fields")
        rows.append({str(f.get("field")): f.get("value") for f in row if isinstance(f, Mapping)})
    no_events = _with_line(frames.empty("logs"), [] if with_line else None)
    if not rows:
        return no_events
    if not any("@message" in r for r in rows):
        fields = sorted({k for r in rows for k in r})
        report.skip(file, f"aggregate Insights result ({', '.join(fields)}); kept raw only")
        return no_events
    out: dict[str, list[Any]] = {"line": [], "ts": [], "log_group": [], "log_stream": [], "message": []}
    for i, r in enumerate(rows, start=1):
        if "@timestamp" not in r or "@message" not in r:
            report.add_bad(file, i, "Insights row without @timestamp or @message", json.dumps(r))
            continue
        group = r.get("@log")
        if group:
            head, sep, tail = str(group).partition(":")
            group = tail if sep and head.isdigit() else group
        else:
            group = log_group
        if group is None:
            raise InputError(file, "Insights results carry no @log field: pass the StartQuery request "
                                   "or --log-group")
        out["line"].append(i)
        out["ts"].append(r["@timestamp"])
        out["log_group"].append(group)
        out["log_stream"].append(r.get("@logStream") or "")
        out["message"].append(r["@message"] if r["@message"] is not None else "")
    df = pl.DataFrame(out, schema={"line": pl.Int64, "ts": pl.String, "log_group": pl.String,
                                   "log_stream": pl.String, "message": pl.String})
    ts = df["ts"].str.strip_chars()
    parsed = ts.str.to_datetime(_INSIGHTS_TS_FORMAT, strict=False, time_unit="ms")
    parsed = parsed.fill_null(ts.str.to_datetime(_EXPORT_TS_FORMAT.removesuffix("Z"), strict=False,
                                                 time_unit="ms")
                              .fill_null(ts.str.strip_suffix("Z").str.to_datetime(
                                  "%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="ms")))
    df = df.with_columns(timestamp=parsed.dt.replace_time_zone("UTC"))
    for line, raw in df.filter(pl.col("timestamp").is_null()).select("line", "ts").iter_rows():
        report.add_bad(file, line, f"unparseable @timestamp {raw!r}", raw)
    df = df.filter(pl.col("timestamp").is_not_null())
    loaded = _with_line(frames.conform(df, "logs"), df["line"] if with_line else None)
    report.add_rows("logs", loaded.height)
    return loaded


# --------------------------------------------------------------------------------------------------
# FilterLogEvents / GetLogEvents


def logs_from_events(doc: Any, *, file: str, log_group: str, log_stream: str | None = None,
                     report: LoadReport, with_line: bool = False) -> pl.DataFrame:
    """Log events from a FilterLogEvents (events carry ``logStreamName``) or GetLogEvents response
    (they do not: pass ``log_stream``). ``timestamp`` is epoch milliseconds.

    Events without ``timestamp`` or with a non-integer one are bad records (line = 1-based index);
    ``with_line`` adds that index as a ``line`` column.

    Raises
    ------
    InputError
        when an event has no ``logStreamName`` and ``log_stream`` is not given.
    """
    report.files.append(str(file))
    events = require(doc, "events", file)
    cols: dict[str, list[Any]] = {"timestamp": [], "log_stream": [], "message": []}
    lines: list[int] = []
    for i, ev in enumerate(events, start=1):
        if not isinstance(ev, Mapping):
            report.add_bad(file, i, "event is not an object", repr(ev)[:500])
            continue
        stamp = ev.get("timestamp")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            report.add_bad(file, i, f"event timestamp {stamp!r} is not epoch milliseconds", json.dumps(ev))
            continue
        stream = ev.get("logStreamName", log_stream)
        if stream is None:
            raise InputError(file, "GetLogEvents events carry no logStreamName: pass log_stream",
                             line=i)
        lines.append(i)
        cols["timestamp"].append(int(stamp))
        cols["log_stream"].append(str(stream))
        cols["message"].append(str(ev.get("message") or ""))
    df = pl.DataFrame(cols, schema={"timestamp": pl.Int64, "log_stream": pl.String,
                                    "message": pl.String})
    df = df.with_columns(pl.from_epoch("timestamp", time_unit="ms").dt.replace_time_zone("UTC"),
                         log_group=pl.lit(log_group, dtype=pl.String))
    df = _with_line(frames.conform(df, "logs"), lines if with_line else None)
    report.add_rows("logs", df.height)
    return df


# --------------------------------------------------------------------------------------------------
# exploration


def _infer_dtype(values: list[Any]) -> pl.DataType:
    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return pl.Boolean()
    if kinds == {int}:
        return pl.Int64()
    if kinds and kinds <= {int, float}:
        return pl.Float64()
    return pl.String()


def parse_json_fields(logs: pl.DataFrame, fields: Sequence[str] | None = None) -> pl.DataFrame:
    """The logs frame plus one column per top-level JSON field of the messages, for exploration.

    Parameters
    ----------
    logs
        A ``logs`` frame.
    fields
        The fields to extract (as strings, nested values as JSON text). ``None`` infers the fields
        and their types from up to 1,000 JSON messages. A field that collides with a logs column is
        named ``json_<field>``.

    Non-JSON or invalid messages give nulls; this never raises on bad JSON.
    """
    msg = logs["message"]
    is_obj = msg.str.starts_with("{")
    if fields is None:
        seen: dict[str, list[Any]] = {}
        for text in msg.filter(is_obj).head(1000).to_list():
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict):
                for k, v in doc.items():
                    seen.setdefault(k, []).append(v)
        dtype = pl.Struct({k: _infer_dtype(v) for k, v in seen.items()})
    else:
        dtype = pl.Struct({f: pl.String() for f in fields})
    if not dtype.fields:
        return logs
    decoded, _ = decode_json_column(pl.select(pl.when(is_obj).then(msg)).to_series(), dtype)
    names = {f.name: (f"json_{f.name}" if f.name in logs.columns else f.name) for f in dtype.fields}
    unnested = decoded.struct.unnest().rename(names)
    return pl.concat([logs, unnested], how="horizontal")


# --------------------------------------------------------------------------------------------------
# content detection


def looks_like_export_lines(first_bytes: bytes) -> bool:
    """True when the first non-empty line is ``<ISO 8601 timestamp> <message>``."""
    for line in first_bytes.lstrip(b"\xef\xbb\xbf").splitlines():
        if line.strip():
            return bool(_TS_LINE_BYTES.match(line))
    return False


def _first(seq: Any) -> Any:
    return seq[0] if isinstance(seq, list) and seq else None


def looks_like_insights_results(doc: Any) -> bool:
    """A GetQueryResults response: ``results`` (rows of ``{field, value}``) plus ``status``."""
    if not (isinstance(doc, Mapping) and isinstance(doc.get("results"), list)):
        return False
    if "status" not in doc and "statistics" not in doc:
        return False
    row = _first(doc["results"])
    return row is None or (isinstance(row, list) and all(isinstance(f, Mapping) and "field" in f
                                                         for f in row))


def looks_like_start_query(doc: Any) -> bool:
    """A StartQuery request: ``queryString`` and a log group selector."""
    return (isinstance(doc, Mapping) and "queryString" in doc
            and any(k in doc for k in ("logGroupNames", "logGroupName", "logGroupIdentifiers")))


def looks_like_log_events(doc: Any) -> bool:
    """A FilterLogEvents or GetLogEvents response."""
    if not (isinstance(doc, Mapping) and isinstance(doc.get("events"), list)):
        return False
    ev = _first(doc["events"])
    if ev is None:
        return any(k in doc for k in ("nextForwardToken", "searchedLogStreams", "nextToken"))
    return isinstance(ev, Mapping) and "timestamp" in ev and "message" in ev


def looks_like_export_tasks(doc: Any) -> bool:
    """A DescribeExportTasks response."""
    return isinstance(doc, Mapping) and isinstance(doc.get("exportTasks"), list)
