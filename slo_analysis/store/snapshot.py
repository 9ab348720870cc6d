"""The incident snapshot: one folder that holds everything a review needs, independent of AWS.

Layout::

    SNAPSHOT/
      manifest.json                       what was imported or fetched, when, with which parameters;
                                          window, region, account id (never credentials), schema
                                          version, row counts, and the sha256 of every stored file
      raw/<kind>/<sha>-<name>.gz          every input exactly as received, gzipped
      frames/<frame>.<sha>.parquet        small frames (slos, deployments, alarms, ...)
      frames/<frame>/<day>.<sha>.parquet  large frames partitioned by UTC day (metrics, requests, logs, spans)
      quarantine/<sha>-<name>.jsonl       records that could not be loaded (file, line, reason, content)

``manifest.json`` is the commit point. A changed frame file is written under a new name (``<sha>`` is
the first 16 hex digits of its content's sha256) beside the version it replaces; the manifest then
names the new version, and only after the manifest is saved is the old version deleted. Readers read
only the files the manifest lists, so a crash at any step leaves the previous state readable and
``verify`` passing (files written after the last saved manifest are unlisted, ignored, and deleted by
the next save). Every file write is atomic (temporary name, then rename). Rows are de-duplicated on
each frame's key when merged, so importing the same input twice adds nothing. Reading is lazy
(``scan_parquet``). One writer at a time; a reader that opened the snapshot before a change should
reopen it after (the versions it lists are deleted).

Snapshots written before versioned names (``frames/<frame>.parquet``, ``frames/<frame>/<day>.parquet``)
read the same way; a change to such a file writes a versioned one in its place.

Examples
--------
>>> import tempfile, polars as pl
>>> from slo_analysis.store import Snapshot
>>> snap = Snapshot.create(tempfile.mkdtemp() + "/incident")
>>> snap.read("deployments").height
0
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.exceptions import ChecksumError, SnapshotError
from slo_analysis.sources._io import GZIP_MAGIC, BadRecord
from slo_analysis.store.atomic import atomic_write_bytes, sha256_bytes, sha256_file, write_parquet_versioned

__all__ = ["Snapshot", "SCHEMA_VERSION", "MANIFEST_NAME"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: logs and requests gained `occurrence` (identical events are kept)
MANIFEST_NAME = "manifest.json"
_VERSION = re.compile(r"(?:\.[0-9a-f]{16})?\.parquet$")  # <stem>[.<sha16>].parquet
_FORBIDDEN_MANIFEST_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token",
                            "SecretAccessKey", "SessionToken")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="milliseconds")


class Snapshot:
    """An incident snapshot folder. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, *, exist_ok: bool = True) -> Snapshot:
        """Open the snapshot at ``path``, creating an empty one when there is none."""
        p = Path(path)
        if (p / MANIFEST_NAME).exists():
            if not exist_ok:
                raise SnapshotError(p, "a snapshot already exists here")
            return cls.open(p)
        if p.exists() and any(p.iterdir()):
            raise SnapshotError(p, "folder exists, is not empty and holds no manifest.json")
        p.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "created_at": _now(),
            "updated_at": _now(),
            "region": None,
            "account_id": None,
            "window": {"start": None, "end": None},
            "inputs": [],
            "skipped": [],
            "frames": {},
            "files": {},
            "load_report": {"bad_records": 0, "bad_by_file": {}},
        }
        snap = cls(p, manifest)
        snap.save_manifest()
        return snap

    @classmethod
    def open(cls, path: str | Path) -> Snapshot:
        """Open an existing snapshot; raises :class:`SnapshotError` naming what is wrong."""
        p = Path(path)
        mpath = p / MANIFEST_NAME
        if not mpath.exists():
            raise SnapshotError(p, "no manifest.json: not a snapshot (create one with `slo-analysis import`)")
        try:
            manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            raise SnapshotError(mpath, f"manifest is not valid JSON: {exc}") from exc
        version = manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SnapshotError(mpath, f"schema_version {version!r}; this slo_analysis reads {SCHEMA_VERSION}: "
                                       f"rebuild it from its inputs (`slo-analysis import {p / 'raw'} --out NEW`)")
        return cls(p, manifest)

    # -- manifest ------------------------------------------------------------------------------
    def save_manifest(self) -> None:
        """Write manifest.json atomically (always the last step of a change)."""
        self.manifest["updated_at"] = _now()
        text = json.dumps(self.manifest, indent=2, sort_keys=True)
        for key in _FORBIDDEN_MANIFEST_KEYS:  # credentials never reach the snapshot
            if key in text:
                raise SnapshotError(self.path, f"refusing to write a manifest containing {key!r}")
        atomic_write_bytes(self.path / MANIFEST_NAME, text.encode())
        self._remove_unlisted_frame_files()

    def _remove_unlisted_frame_files(self) -> None:
        """Delete frame files the saved manifest does not list: versions it replaced, and files
        (or temporary files) a crashed change wrote before its manifest."""
        root = self.path / "frames"
        if not root.is_dir():
            return
        listed = self.manifest["files"]
        for p in sorted(root.rglob("*")):  # bounded by the folder's contents
            if p.is_file() and p.relative_to(self.path).as_posix() not in listed:
                p.unlink(missing_ok=True)

    def has_input(self, sha256: str) -> bool:
        """Whether an input with this sha256 was already imported."""
        return any(i["sha256"] == sha256 for i in self.manifest["inputs"])

    def record_input(self, entry: dict[str, Any]) -> None:
        self.manifest["inputs"].append(entry)

    def record_skipped(self, file: str, reason: str) -> None:
        entry = {"file": file, "reason": reason}
        if entry not in self.manifest["skipped"]:
            self.manifest["skipped"].append(entry)

    def set_origin(self, *, region: str | None = None, account_id: str | None = None) -> None:
        """Record the AWS region and account id the data came from (first value wins)."""
        if region and not self.manifest.get("region"):
            self.manifest["region"] = region
        if account_id and not self.manifest.get("account_id"):
            self.manifest["account_id"] = account_id

    @property
    def window(self) -> tuple[datetime | None, datetime | None]:
        """Half-open ``[start, end)`` covering every telemetry row (metrics, requests, logs, spans)."""
        w = self.manifest["window"]
        return (
            datetime.fromisoformat(w["start"]) if w["start"] else None,
            datetime.fromisoformat(w["end"]) if w["end"] else None,
        )

    def _track(self, path: Path) -> None:
        self.manifest["files"][path.relative_to(self.path).as_posix()] = sha256_file(path)

    # -- raw inputs ----------------------------------------------------------------------------
    def add_raw(self, data: bytes, *, name: str, kind: str) -> str:
        """Keep an input exactly as received (gzipped when it was not); returns its relative path."""
        sha = sha256_bytes(data)
        stored = data if data[:2] == GZIP_MAGIC else gzip.compress(data, compresslevel=6, mtime=0)
        base = name[:-3] if name.endswith(".gz") else name
        target = self.path / "raw" / kind / f"{sha[:16]}-{base}.gz"
        if not target.exists():
            atomic_write_bytes(target, stored)
        self._track(target)
        return target.relative_to(self.path).as_posix()

    def add_quarantine(self, bad: Iterable[BadRecord], *, name: str) -> str | None:
        """Write bad records to a quarantine file; returns its relative path (None when none)."""
        lines = [json.dumps({"file": b.file, "line": b.line, "reason": b.reason, "content": b.content},
                            ensure_ascii=False) for b in bad]
        if not lines:
            return None
        data = ("\n".join(lines) + "\n").encode()
        target = self.path / "quarantine" / f"{sha256_bytes(data)[:16]}-{name}.jsonl"
        atomic_write_bytes(target, data)
        self._track(target)
        return target.relative_to(self.path).as_posix()

    # -- frames --------------------------------------------------------------------------------
    def _frame_parts(self, name: str) -> dict[str, str]:
        """The files of frame ``name`` the manifest lists: part -> path relative to the snapshot.

        A part is a UTC day (``frames/<name>/<day>[.<sha>].parquet``) or, for a frame that is not
        partitioned, the frame itself (``frames/<name>[.<sha>].parquet``).
        """
        partitioned = frames.schema(name).partitioned
        folder = f"frames/{name}/" if partitioned else "frames/"
        out: dict[str, str] = {}
        for rel in sorted(self.manifest["files"]):
            fname = rel[len(folder):]
            if not rel.startswith(folder) or "/" in fname or not _VERSION.search(fname):
                continue
            part = _VERSION.sub("", fname)
            if partitioned or part == name:
                out[part] = rel
        return out

    def _frame_files(self, name: str) -> list[Path]:
        return [self.path / rel for _, rel in sorted(self._frame_parts(name).items())]

    def write_frame(self, name: str, df: pl.DataFrame) -> int:
        """Merge ``df`` into the stored frame ``name``; returns the number of rows actually added.

        Rows equal on the frame's key to a stored row are dropped (the stored row wins), so
        re-importing an input is a no-op. Large frames only rewrite the days ``df`` touches. Each
        rewritten part is a new file; the manifest (in memory) names it only once every part is
        written, and the version it replaces stays on disk until :meth:`save_manifest`.
        """
        s = frames.schema(name)
        df = frames.validate(df, name).select(list(s.columns))
        if df.is_empty():
            return 0
        if s.partitioned:
            assert s.time_column is not None
            day = pl.col(s.time_column).dt.date()
            parts = df.with_columns(day.alias("__day")).partition_by("__day", as_dict=True)
            folder = self.path / "frames" / name
            targets = [(str(key[0]), part.drop("__day"))
                       for key, part in sorted(parts.items(), key=lambda kv: str(kv[0][0]))]
        else:
            folder = self.path / "frames"
            targets = [(name, df)]
        stored = self._frame_parts(name)
        added = 0
        staged: list[tuple[str | None, Path, str]] = []  # (version replaced, new file, its sha256)
        for part, new in targets:
            old_rel = stored.get(part)
            old = pl.read_parquet(self.path / old_rel) if old_rel else frames.empty(name)
            merged = pl.concat([old, new], how="vertical").unique(subset=list(s.key), keep="first",
                                                                   maintain_order=True)
            if s.time_column:
                merged = merged.sort(s.time_column, maintain_order=True)
            if merged.height != old.height:
                added += merged.height - old.height
                path, digest = write_parquet_versioned(merged, folder, part)
                staged.append((old_rel, path, digest))
        files = self.manifest["files"]
        for old_rel, path, digest in staged:  # every part is on disk: now the manifest may name them
            if old_rel is not None:
                files.pop(old_rel, None)
            files[path.relative_to(self.path).as_posix()] = digest
        info = self.manifest["frames"].setdefault(name, {"rows": 0})
        info["rows"] = int(info["rows"]) + added
        if s.partitioned:  # telemetry frames bound the window; a months-old baseline deployment does not
            assert s.time_column is not None
            self._widen_window(df[s.time_column].min(), df[s.time_column].max())
        return added

    def _widen_window(self, lo: Any, hi: Any) -> None:
        if lo is None or hi is None:
            return
        w = self.manifest["window"]
        start, end = self.window
        end_candidate = hi + timedelta(milliseconds=1)  # half-open: one tick past the last row
        w["start"] = _iso(lo if start is None else min(start, lo))
        w["end"] = _iso(end_candidate if end is None else max(end, end_candidate))

    def scan(self, name: str) -> pl.LazyFrame:
        """A lazy frame over the stored rows of ``name`` (empty, typed, when nothing is stored)."""
        files = self._frame_files(name)
        if not files:
            return frames.empty(name).lazy()
        return pl.scan_parquet(files, schema=frames.schema(name).polars_schema)

    def read(self, name: str) -> pl.DataFrame:
        """The stored frame ``name``, collected."""
        return self.scan(name).collect()

    def rows(self, name: str) -> int:
        return int(self.manifest["frames"].get(name, {}).get("rows", 0))

    # -- integrity -----------------------------------------------------------------------------
    def verify(self) -> None:
        """Check every file listed in the manifest against its sha256.

        Raises :class:`ChecksumError` naming the first missing or changed file.
        """
        for rel, expected in sorted(self.manifest["files"].items()):
            path = self.path / rel
            if not path.exists():
                raise ChecksumError(path, "listed in manifest.json but missing")
            if sha256_file(path) != expected:
                raise ChecksumError(path, "sha256 differs from manifest.json: the file changed after import")

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v['rows']}" for k, v in sorted(self.manifest["frames"].items()))
        return f"Snapshot({str(self.path)!r}, {counts or 'empty'})"
