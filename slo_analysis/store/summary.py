"""A readable summary of a snapshot: rows per frame, time range, services, SLOs, changes, load report."""

from __future__ import annotations

from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.sources.deployment_merge import merge_deployments
from slo_analysis.store.snapshot import Snapshot

__all__ = ["snapshot_summary", "format_summary"]


def snapshot_summary(snap: Snapshot) -> dict[str, Any]:
    """Key facts of ``snap`` as plain data (what `slo-analysis demo` and `summary` print)."""
    start, end = snap.window
    services: set[str] = set()
    for name in ("requests", "spans"):
        services.update(s for s in snap.scan(name).select("service").unique().collect()["service"] if s)
    dims = snap.scan("metrics").select("dimensions").unique().collect()["dimensions"]
    for d in dims:
        for pair in (d or "").split(","):
            if pair.startswith("Service="):
                services.add(pair.split("=", 1)[1])
    slos = snap.read("slos").sort("name")
    deps = snap.read("deployments")
    merged = merge_deployments([deps]) if deps.height else deps
    alarms = snap.read("alarms").filter(pl.col("new_state") == "ALARM").sort("timestamp")
    report = snap.manifest["load_report"]
    return {
        "path": str(snap.path),
        "region": snap.manifest.get("region"),
        "account_id": snap.manifest.get("account_id"),
        "window": (start, end),
        "rows": {name: snap.rows(name) for name in frames.FRAME_NAMES},
        "inputs": len(snap.manifest["inputs"]),
        "services": sorted(services),
        "slos": [
            {"name": r["name"], "source": r["source"], "target": r["target"], "sli_kind": r["sli_kind"],
             "method": r["method"]}
            for r in slos.iter_rows(named=True)
        ],
        "deployments": [
            {"id": r["id"], "service": r["service"], "started_at": r["started_at"], "status": r["status"],
             "version_to": r["version_to"], "source": r["source"]}
            for r in merged.sort("started_at").iter_rows(named=True)
        ],
        "alarms_fired": [
            {"alarm_name": r["alarm_name"], "timestamp": r["timestamp"]} for r in alarms.iter_rows(named=True)
        ],
        "bad_records": report.get("bad_records", 0),
        "bad_by_file": report.get("bad_by_file", {}),
        "skipped": snap.manifest.get("skipped", []),
    }


def _ts(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_summary(summary: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`snapshot_summary` for the terminal."""
    start, end = summary["window"]
    lines = [
        f"Snapshot {summary['path']}",
        f"  window    {_ts(start)}  ->  {_ts(end)}  (half-open)",
        f"  origin    region {summary['region'] or '-'}, account {summary['account_id'] or '-'}; "
        f"{summary['inputs']} input files",
        "  rows per frame:",
    ]
    lines += [f"    {name:<18} {n:>12,}" for name, n in summary["rows"].items()]
    lines.append(f"  services  {', '.join(summary['services']) or '-'}")
    lines.append(f"  SLOs ({len(summary['slos'])}):")
    lines += [f"    {s['name']:<40} target {s['target']:.4%}  {s['sli_kind']}, {s['method']}-based  "
              f"[{s['source']}]" for s in summary["slos"]]
    lines.append(f"  changes ({len(summary['deployments'])}, merged across sources):")
    lines += [f"    {_ts(d['started_at'])}  {d['service']:<18} {d['status'] or '-':<12} "
              f"-> {d['version_to'] or '-':<24} [{d['source']}] {d['id']}" for d in summary["deployments"]]
    lines.append(f"  alarms fired ({len(summary['alarms_fired'])}):")
    lines += [f"    {_ts(a['timestamp'])}  {a['alarm_name']}" for a in summary["alarms_fired"]]
    lines.append(f"  load report: {summary['bad_records']} bad record(s) quarantined, "
                 f"{len(summary['skipped'])} file(s) skipped")
    lines += [f"    bad   {n:>5}  {f}" for f, n in sorted(summary["bad_by_file"].items())]
    lines += [f"    skip  {s['file']}: {s['reason']}" for s in summary["skipped"]]
    return "\n".join(lines)
