"""Run live fetchers into a snapshot, one resumable unit at a time (``slo-analysis snapshot``).

A fetcher is a callable ``fetcher(done) -> Iterator[Fetched]`` (see :class:`slo_analysis.sources.aws.
Fetched`) that skips the units in ``done`` without calling AWS. For each unit the runner stores the
request and the response in ``raw/`` (so ``slo-analysis import`` of that folder rebuilds the same
frames), merges the unit's frames (rows de-duplicate on each frame's key), records the unit in
``manifest.json`` and saves the manifest. Kill it at any point and run it again: finished units are
skipped, a unit cut off half-way is fetched again and its rows merge without duplicates.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from slo_analysis.sources._io import LoadReport
from slo_analysis.sources.aws import Fetched, Fetcher, Stored, to_jsonable
from slo_analysis.sources.requests import requests_from_logs
from slo_analysis.store.snapshot import Snapshot

__all__ = ["Fetcher", "FetchResult", "run_fetchers", "done_units", "stored_responses"]

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


@dataclass
class FetchResult:
    """What one run fetched, skipped as already done, and added."""

    units_fetched: list[str] = field(default_factory=list)
    units_skipped: int = 0
    rows_added: dict[str, int] = field(default_factory=dict)


def done_units(snap: Snapshot) -> set[str]:
    """Units a previous run finished."""
    return set(snap.manifest.setdefault("fetch", {}).setdefault("units", {}))


def stored_responses(snap: Snapshot) -> Stored:
    """Look up the stored response of a finished unit (for fetchers that resume a listing by its token)."""

    def lookup(unit: str) -> Mapping[str, Any] | None:
        entry = snap.manifest.get("fetch", {}).get("units", {}).get(unit)
        if not entry:
            return None
        path = snap.path / entry["response"]
        if not path.exists():
            return None
        doc = json.loads(gzip.decompress(path.read_bytes()))
        return doc if isinstance(doc, dict) else None

    return lookup


def _file_name(unit: str) -> str:
    return _UNSAFE.sub("_", unit).strip("_")[:150] or "unit"


def run_fetchers(snap: Snapshot, fetchers: Iterable[tuple[str, Fetcher]], *,
                 params: dict[str, Any] | None = None,
                 progress: Callable[[Iterator[Fetched], str], Iterator[Fetched]] | None = None) -> FetchResult:
    """Run each named fetcher into ``snap``; ``params`` (window, services, region, ...) go to the manifest.

    ``progress(iterator, name)`` may wrap each fetcher's stream (e.g. a tqdm bar per source).
    """
    result = FetchResult()
    fetch_meta = snap.manifest.setdefault("fetch", {})
    fetch_meta.setdefault("units", {})
    result.units_skipped = len(fetch_meta["units"])  # finished by earlier runs
    if params:
        fetch_meta.setdefault("runs", []).append(to_jsonable(params))
        snap.save_manifest()
    for name, fetcher in fetchers:
        stream = fetcher(done_units(snap))
        for unit in progress(stream, name) if progress else stream:
            if unit.unit in fetch_meta["units"]:  # a fetcher that could not skip it cheaply
                result.units_skipped += 1
                continue
            base = _file_name(unit.unit)
            request_raw = snap.add_raw(json.dumps(to_jsonable(unit.request), sort_keys=True, indent=1).encode(),
                                       name=f"{base}.request.json", kind=unit.kind)
            response_raw = snap.add_raw(json.dumps(to_jsonable(unit.response), sort_keys=True, indent=1).encode(),
                                        name=f"{base}.json", kind=unit.kind)
            rows: dict[str, int] = {}
            frames_ = dict(unit.frames)
            if "logs" in frames_ and "requests" not in frames_:  # as `import` does: request logs -> requests
                report = LoadReport()
                frames_["requests"] = requests_from_logs(frames_["logs"], report=report)
                if report.bad:
                    snap.add_quarantine(report.bad, name=f"{base}-requests")
            for frame, df in frames_.items():
                added = snap.write_frame(frame, df)
                rows[frame] = df.height
                result.rows_added[frame] = result.rows_added.get(frame, 0) + added
            fetch_meta["units"][unit.unit] = {"source": name, "kind": unit.kind, "request": request_raw,
                                              "response": response_raw, "rows": rows}
            snap.save_manifest()  # the unit is done only once the manifest says so
            result.units_fetched.append(unit.unit)
        log.info("%s: %d unit(s) fetched", name, sum(1 for u in result.units_fetched
                                                     if fetch_meta["units"][u]["source"] == name))
    return result
