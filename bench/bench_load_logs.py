"""Loading request logs from CreateExportTask objects: our loader against a floor and a pandas baseline.

Each function takes a list of export object paths (``.../<taskId>/<stream>/000000.gz``) and returns the
number of request events parsed (JSON messages with ``status`` and ``latency_ms``). ``bench/run.py``
times them in fresh processes.

- :func:`floor_polars`: polars reads the lines, splits timestamp and message, and ``str.json_decode``s
  the message with an explicit dtype (in parallel chunks of 4,096 rows, the fastest way to call it:
  polars' decoder is superlinear in the column's size); no error handling, no canonical frame.
- :func:`floor_polars_naive`: the same with one ``str.json_decode`` call over the whole column.
- :func:`pandas_baseline`: ``pd.read_csv`` one line per row, ``json.loads`` per message.
- :func:`ours`: ``logs_from_export_file`` + ``requests_from_logs``, the path ``slo-analysis import`` takes.

Run one by hand: ``.venv/bin/python -c "import sys; sys.path.insert(0, 'bench'); import bench_load_logs as b;
print(b.ours(['path/000000.gz']))"``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pandas as pd
import polars as pl

from slo_analysis.sources._io import LoadReport, read_bytes, read_json
from slo_analysis.sources.cloudwatch_logs import (
    export_task_log_groups,
    locate_export_object,
    logs_from_export_file,
)
from slo_analysis.sources.requests import requests_from_logs

__all__ = ["floor_polars", "floor_polars_naive", "pandas_baseline", "ours"]

_DTYPE = pl.Struct({"ts": pl.String, "service": pl.String, "operation": pl.String, "route": pl.String,
                    "request_id": pl.String, "trace_id": pl.String, "status": pl.Int64,
                    "latency_ms": pl.Float64, "customer_tier": pl.String, "region": pl.String,
                    "az": pl.String, "version": pl.String})


def _lines(path: str) -> pl.Series:
    data = gzip.decompress(Path(path).read_bytes())
    df = pl.read_csv(io.BytesIO(data), has_header=False, separator="\x01", quote_char=None,
                     schema={"line": pl.String}, encoding="utf8-lossy")
    return df["line"].fill_null("")


def _split(lines: pl.Series) -> pl.DataFrame:
    pos = lines.str.find(" ", literal=True)
    return pl.DataFrame({
        "ts": lines.str.slice(0, pos).str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", strict=False, time_unit="ms"),
        "message": lines.str.slice(pos + 1),
    })


def _count_requests(decoded: pl.Series) -> int:
    f = decoded.struct.unnest()
    return int((f["status"].is_not_null() & f["latency_ms"].is_not_null()).sum())


def floor_polars(paths: list[str]) -> int:
    """Lines with polars, split, chunked parallel ``str.json_decode`` of messages that look like JSON
    objects (start with ``{``, end with ``}``: the only filter that keeps it from failing on truncated
    lines; a file with other invalid JSON makes it raise, it is a floor, not a loader)."""
    n = 0
    for path in paths:
        df = _split(_lines(path))
        msg = df.select(pl.when(pl.col("message").str.starts_with("{") & pl.col("message").str.ends_with("}"))
                        .then(pl.col("message"))
                        .alias("m")).lazy()  # materialised: slices of a lazy select recompute it all
        height = df.height
        lfs = [msg.slice(i, 4096).select(pl.col("m").str.json_decode(_DTYPE)) for i in range(0, height, 4096)]
        n += sum(_count_requests(d.to_series()) for d in pl.collect_all(lfs))
    return n


def floor_polars_naive(paths: list[str]) -> int:
    """Lines with polars, split, one ``str.json_decode`` over the whole message column."""
    n = 0
    for path in paths:
        df = _split(_lines(path))
        msg = df.select(pl.when(pl.col("message").str.starts_with("{") & pl.col("message").str.ends_with("}"))
                        .then(pl.col("message"))).to_series()
        n += _count_requests(msg.str.json_decode(_DTYPE))
    return n


def pandas_baseline(paths: list[str]) -> int:
    """``pd.read_csv`` one line per row, split on the first space, ``json.loads`` per message."""
    n = 0
    for path in paths:
        df = pd.read_csv(path, sep="\x01", header=None, names=["line"], quoting=csv.QUOTE_NONE,
                         dtype=str, keep_default_na=False, skip_blank_lines=False, encoding_errors="replace")
        parts = df["line"].str.split(" ", n=1, expand=True)
        ts = pd.to_datetime(parts[0], format="%Y-%m-%dT%H:%M:%S.%fZ", errors="coerce", utc=True)

        def parse(text: object) -> dict | None:
            if not isinstance(text, str) or not text.startswith("{"):
                return None
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                return None
            return doc if isinstance(doc, dict) else None

        docs = parts[1].map(parse)
        requests = [d for d, t in zip(docs, ts, strict=True)
                    if d is not None and t is not pd.NaT and "status" in d and "latency_ms" in d]
        n += len(pd.DataFrame(requests))
    return n


def _locations(paths: list[str]) -> dict[str, tuple[str, str]]:
    """Log group and stream of each path, from a describe-export-tasks.json in an ancestor folder."""
    out: dict[str, tuple[str, str]] = {}
    tasks: dict[str, str] = {}
    for path in paths:
        p = Path(path).resolve()
        if not tasks:
            for parent in p.parents:
                for cand in (parent / "describe-export-tasks.json", parent / "logs" / "describe-export-tasks.json"):
                    if cand.exists():
                        tasks = export_task_log_groups(read_json(cand), file=str(cand))
                        break
                if tasks:
                    break
        out[path] = locate_export_object(p, tasks) or ("bench", p.parent.name)
    return out


def ours(paths: list[str]) -> int:
    """``logs_from_export_file`` + ``requests_from_logs``."""
    report = LoadReport()
    n = 0
    for path, (group, stream) in _locations(paths).items():
        logs = logs_from_export_file(read_bytes(path), file=path, log_group=group, log_stream=stream,
                                     report=report)
        n += requests_from_logs(logs, report=report).height
    return n
