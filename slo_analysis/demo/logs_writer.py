"""Write the demo's CloudWatch Logs: CreateExportTask objects, DescribeExportTasks, Insights results.

A handful of deliberately malformed lines (torn JSON writes and one line of binary garbage) are
injected so loaders must report them; their file and line are returned for ``scenario.json``.

Examples
--------
>>> from slo_analysis.demo.logs_writer import log_group, stream_name
>>> log_group("kb-search"), stream_name("kb-search", "abc")
('/ecs/prod/kb-search', 'ecs/kb-search/abc')
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from slo_analysis.demo.log_events import iso_expr
from slo_analysis.demo.output import gzip_bytes, write_json
from slo_analysis.demo.story import ACCOUNT, ENVIRONMENT, SERVICES, Story

__all__ = [
    "log_group",
    "stream_name",
    "export_task_id",
    "inject_malformed",
    "write_exports",
    "write_insights",
    "BUCKET",
    "PREFIX",
]

logger = logging.getLogger(__name__)

BUCKET = "supportdesk-log-exports-123456789012"
PREFIX = "exports/prod-incident-review"
_GARBAGE_TOKEN = "\x00GARBAGE\x00"
_GARBAGE = b"\x00\x9c\xff\xfe\x13\x87\xd2\x00\xc3(\x80\x80\x1f\x8b\x08\xfa"


def log_group(service: str) -> str:
    return f"/ecs/{ENVIRONMENT}/{service}"


def stream_name(service: str, task_id: str) -> str:
    return f"ecs/{service}/{task_id}"


def export_task_id(service: str) -> str:
    """A stable UUID-shaped export task id per log group."""
    h = hashlib.sha256(f"export:{service}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _path(service: str, task_id: str) -> str:
    return f"logs/export/{PREFIX}/{export_task_id(service)}/{stream_name(service, task_id)}/000000.gz"


def inject_malformed(ev: pl.DataFrame) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Add three torn JSON request lines and one binary line; return the events and where they landed."""
    picks: list[tuple[str, float, str]] = [
        ("support-web", 0.31, "truncated JSON (torn write; the complete record follows on the next line)"),
        ("ticket-api", 0.52, "truncated JSON (torn write; the complete record follows on the next line)"),
        ("kb-search", 0.77, "truncated JSON (torn write; the complete record follows on the next line)"),
        ("notify-worker", 0.44, "binary garbage after the timestamp (not UTF-8)"),
    ]
    extra = []
    for service, frac, reason in picks:
        mine = ev.filter(pl.col("service") == service)
        rows = mine.filter(pl.col("message").str.contains('"latency_ms"', literal=True))
        row = rows.row(int(rows.height * frac), named=True)
        msg = _GARBAGE_TOKEN if "binary" in reason else row["message"][: len(row["message"]) // 2]
        extra.append(
            {
                "service": service,
                "task_id": row["task_id"],
                "ts_ms": row["ts_ms"],
                "seq": -1,
                "message": msg,
                "reason": reason,
            }
        )
    add = pl.DataFrame(extra).with_columns(pl.col("seq").cast(pl.Int32))
    ev = pl.concat([ev.with_columns(reason=pl.lit(None, pl.String)), add], how="vertical_relaxed")
    order = {s: i for i, s in enumerate(SERVICES)}
    ev = (
        ev.with_columns(svc=pl.col("service").replace_strict(order))
        .sort(["svc", "task_id", "ts_ms", "seq"], maintain_order=True)
        .drop("svc")
        .with_columns(lines=pl.col("message").str.count_matches("\n") + 1)
        .with_columns(line_no=pl.col("lines").cum_sum().over(["service", "task_id"]) - pl.col("lines") + 1)
    )
    bad = ev.filter(pl.col("reason").is_not_null())
    where = [
        {"file": _path(s, t), "line": int(n), "log_group": log_group(s), "log_stream": stream_name(s, t), "reason": r}
        for s, t, n, r in bad.select("service", "task_id", "line_no", "reason").iter_rows()
    ]
    return ev.drop("reason", "lines", "line_no"), where


def write_exports(out: Path, ev: pl.DataFrame, story: Story) -> list[Path]:
    """One gzip object per log stream under its export task, plus ``describe-export-tasks.json``."""
    lines = ev.select("service", "task_id", pl.format("{} {}", iso_expr("ts_ms"), pl.col("message")).alias("line"))
    parts = lines.partition_by(["service", "task_id"], maintain_order=True, as_dict=True)

    def one(item: tuple[tuple[object, ...], pl.DataFrame]) -> Path:
        (service, task), df = item
        buf = io.BytesIO()
        df.select("line").write_csv(buf, include_header=False, quote_style="never", line_terminator="\n")
        data = buf.getvalue().replace(_GARBAGE_TOKEN.encode(), _GARBAGE)
        path = out / _path(str(service), str(task))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip_bytes(data, level=4))
        return path

    with ThreadPoolExecutor(max_workers=2) as pool:  # zlib releases the GIL
        written = list(pool.map(one, parts.items()))
    tasks = [
        {
            "taskId": export_task_id(s),
            "taskName": f"incident-review-{s}",
            "logGroupName": log_group(s),
            "from": story.start_ms,
            "to": story.end_ms,
            "destination": BUCKET,
            "destinationPrefix": PREFIX,
            "status": {"code": "COMPLETED", "message": "Completed successfully"},
            "executionInfo": {"creationTime": story.end_ms + 3_600_000, "completionTime": story.end_ms + 3_912_000},
        }
        for s in SERVICES
    ]
    written.append(write_json(out / "logs" / "describe-export-tasks.json", {"exportTasks": tasks}))
    return written


def _insights_rows(rows: pl.DataFrame, rng: np.random.Generator) -> list[list[dict[str, str]]]:
    ptr = [hashlib.sha256(f"{m}{t}".encode()).digest() for m, t in zip(rows["message"], rows["ts_ms"], strict=True)]
    out = []
    for (ts, msg, stream, grp), p in zip(
        rows.select(
            pl.col("ts_ms").cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%d %H:%M:%S%.3f"),
            "message",
            pl.struct(["service", "task_id"]).map_elements(
                lambda s: stream_name(s["service"], s["task_id"]), return_dtype=pl.String
            ),
            pl.format("{}:{}", pl.lit(ACCOUNT), pl.format("/ecs/{}/{}", pl.lit(ENVIRONMENT), pl.col("service"))),
        ).iter_rows(),
        ptr,
        strict=True,
    ):
        out.append(
            [
                {"field": "@timestamp", "value": ts},
                {"field": "@message", "value": msg},
                {"field": "@logStream", "value": stream},
                {"field": "@log", "value": grp},
                {"field": "@ptr", "value": base64.b64encode(p + p[:8]).decode()},
            ]
        )
    return out


def write_insights(out: Path, ev: pl.DataFrame, story: Story, rng: np.random.Generator) -> list[Path]:
    """Two raw-row Logs Insights queries over the incident hour, each with its StartQuery request."""
    a = (story.onset_ms // 3_600_000) * 3_600_000
    b = a + 2 * 3_600_000
    queries = [
        (
            ["routing-service", "ticket-api"],
            "fields @timestamp, @message, @logStream, @log | filter @message like /ERROR/ "
            "| sort @timestamp desc | limit 10000",
            pl.col("message").str.contains("ERROR"),
        ),
        (
            ["routing-service"],
            'fields @timestamp, @message, @logStream, @log | filter event = "agent_assigned" and queue = "overflow" '
            "| sort @timestamp desc | limit 10000",
            pl.col("message").str.contains('"event":"agent_assigned"')
            & pl.col("message").str.contains('"queue":"overflow"'),
        ),
    ]
    written = []
    for i, (services, q, cond) in enumerate(queries, start=1):
        scanned = ev.filter(
            pl.col("service").is_in(services) & (pl.col("ts_ms") >= a) & (pl.col("ts_ms") < b) & (pl.col("seq") >= 0)
        )
        hits = scanned.filter(cond).sort(["ts_ms", "message"], descending=True).head(10000)
        written.append(
            write_json(
                out / "logs" / "insights" / f"start-query-{i:04d}.json",
                {
                    "logGroupNames": [log_group(s) for s in services],
                    "queryString": q,
                    "startTime": a // 1000,
                    "endTime": b // 1000 - 1,
                },
            )
        )
        written.append(
            write_json(
                out / "logs" / "insights" / f"get-query-results-{i:04d}.json",
                {
                    "results": _insights_rows(hits, rng),
                    "statistics": {
                        "recordsMatched": float(hits.height),
                        "recordsScanned": float(scanned.height),
                        "bytesScanned": float(scanned["message"].str.len_bytes().sum() + 30 * scanned.height),
                    },
                    "status": "Complete",
                },
            )
        )
    return written


def write_logs(
    out: Path, ev: pl.DataFrame, story: Story, rng: np.random.Generator
) -> tuple[list[Path], list[dict[str, Any]]]:
    """Export objects, export tasks and Insights results; returns the files and the malformed lines."""
    ev, malformed = inject_malformed(ev)
    written = write_exports(out, ev, story)
    written += write_insights(out, ev, story, rng)
    logger.debug("logs: %d events in %d files", ev.height, len(written))
    return written, malformed


__all__ += ["write_logs"]
