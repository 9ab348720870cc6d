"""Loading request logs from CreateExportTask objects: our loader against a floor and a pandas baseline.

Each function takes a list of export object paths (``.../<taskId>/<stream>/000000.gz``, one event per
line, ``<ISO 8601 timestamp> <message>``) and returns the number of request events it found (JSON
messages with ``status`` and ``latency_ms``). ``bench/bench_logs.py`` times them in fresh processes.

- :func:`floor_ndjson`: the floor, a bare ``polars.read_ndjson`` of the messages. Every step it needs
  is timed: gunzip, then one C-level regex pass that strips the ``<timestamp> `` prefix and keeps the
  lines whose message is a JSON object (``{...}``), then ``read_ndjson`` with the request fields as
  schema, which *is* the decode of the message JSON. No timestamp parsing, no error handling (a
  message that ends in ``}`` but is not JSON makes it raise), no canonical frame. The time spent in
  ``read_ndjson`` alone is reported too (:data:`SPLITS`).
- :func:`pandas_baseline`: the straightforward pandas approach: read the gzip text line by line,
  ``json.loads`` each message that starts with ``{`` (skipping what does not parse), keep the requests,
  ``pd.DataFrame`` of the records and ``pd.to_datetime`` of the event timestamps.
- :func:`ours`: ``logs_from_export_file`` + ``requests_from_logs``, the path ``slo-analysis import``
  takes (multi-line events joined, bad lines reported with file and line, canonical frames).

Run one by hand: ``.venv/bin/python -c "import sys; sys.path.insert(0, 'bench'); import bench_load_logs as b;
print(b.ours(['path/000000.gz']))"``.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import time
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

__all__ = ["SPLITS", "floor_ndjson", "pandas_baseline", "ours"]

#: the fields of a request record (docs/demo-layout.md), as read_ndjson's schema
_SCHEMA = pl.Schema({"ts": pl.String, "service": pl.String, "operation": pl.String, "route": pl.String,
                     "request_id": pl.String, "trace_id": pl.String, "status": pl.Int64,
                     "latency_ms": pl.Float64, "customer_tier": pl.String, "region": pl.String,
                     "az": pl.String, "version": pl.String})
#: "<timestamp> {...}": group 1 is a message that looks like a JSON object (continuation lines of
#: stack traces, plain text and truncated JSON do not match)
_JSON_MESSAGE = re.compile(rb"^\d{4}-\d\d-\d\dT[^ \n]* (\{[^\n]*\})\r?$", re.MULTILINE)

#: seconds spent in parts of the last call, by name (printed by bench_logs.py)
SPLITS: dict[str, float] = {}


def floor_ndjson(paths: list[str]) -> int:
    """gunzip, strip the timestamp prefix (regex), ``pl.read_ndjson`` of the JSON messages."""
    n = 0
    SPLITS.clear()
    SPLITS["read_ndjson"] = 0.0
    for path in paths:
        data = gzip.decompress(Path(path).read_bytes())
        ndjson = b"\n".join(_JSON_MESSAGE.findall(data))
        t0 = time.perf_counter()
        df = pl.read_ndjson(io.BytesIO(ndjson), schema=_SCHEMA, ignore_errors=True)
        SPLITS["read_ndjson"] += time.perf_counter() - t0
        n += df.select((pl.col("status").is_not_null() & pl.col("latency_ms").is_not_null()).sum()).item()
    return n


def pandas_baseline(paths: list[str]) -> int:
    """Line by line: ``json.loads`` of each message, the requests into a ``pd.DataFrame``."""
    n = 0
    for path in paths:
        records = []
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                ts, _, message = line.rstrip("\r\n").partition(" ")
                if not message.startswith("{"):
                    continue
                try:
                    doc = json.loads(message)
                except json.JSONDecodeError:
                    continue
                if isinstance(doc, dict) and "status" in doc and "latency_ms" in doc:
                    doc["timestamp"] = ts
                    records.append(doc)
        df = pd.DataFrame.from_records(records)
        if not df.empty:
            df["timestamp"] = pd.to_datetime(df["timestamp"], format="%Y-%m-%dT%H:%M:%S.%fZ", errors="coerce",
                                             utc=True)
        n += len(df)
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
    """``logs_from_export_file`` + ``requests_from_logs`` (parts timed in :data:`SPLITS`)."""
    report = LoadReport()
    n = 0
    SPLITS.clear()
    SPLITS.update(gunzip=0.0, logs_from_export_file=0.0, requests_from_logs=0.0)
    for path, (group, stream) in _locations(paths).items():
        t0 = time.perf_counter()
        data = read_bytes(path)
        t1 = time.perf_counter()
        logs = logs_from_export_file(data, file=path, log_group=group, log_stream=stream, report=report)
        t2 = time.perf_counter()
        n += requests_from_logs(logs, report=report).height
        t3 = time.perf_counter()
        SPLITS["gunzip"] += t1 - t0
        SPLITS["logs_from_export_file"] += t2 - t1
        SPLITS["requests_from_logs"] += t3 - t2
    return n
