"""The incident snapshot: one folder that holds everything a review needs, independent of AWS.

Layout::

    SNAPSHOT/
      manifest.json                 what was imported or fetched, when, with which parameters; window,
                                    region, account id (never credentials), schema version, row counts,
                                    and the sha256 of every stored file
      raw/<kind>/<sha>-<name>.gz    every input exactly as received, gzipped
      frames/<frame>.parquet        small frames (slos, deployments, alarms, ...)
      frames/<frame>/<day>.parquet  large frames partitioned by UTC day (metrics, requests, logs, spans)
      quarantine/<sha>-<name>.jsonl records that could not be loaded (file, line, reason, content)

Every write is atomic (temporary name, then rename) and ``manifest.json`` is written last, so a crash
leaves the previous state readable. Rows are de-duplicated on each frame's key when merged, so
importing the same input twice adds nothing. Reading is lazy (``scan_parquet``). One writer at a time.

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
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from slo_analysis import frames
from slo_analysis.exceptions import ChecksumError, SnapshotError
from slo_analysis.sources._io import GZIP_MAGIC, BadRecord
from slo_analysis.store.atomic import atomic_write_bytes, atomic_write_parquet, sha256_bytes, sha256_file

__all__ = ["Snapshot", "SCHEMA_VERSION", "MANIFEST_NAME"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
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
            raise SnapshotError(mpath, f"schema_version {version!r}; this slo_analysis reads {SCHEMA_VERSION}")
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

    def _untrack(self, path: Path) -> None:
        self.manifest["files"].pop(path.relative_to(self.path).as_posix(), None)

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
    def _frame_files(self, name: str) -> list[Path]:
        s = frames.schema(name)
        if s.partitioned:
            return sorted((self.path / "frames" / name).glob("*.parquet"))
        single = self.path / "frames" / f"{name}.parquet"
        return [single] if single.exists() else []

    def write_frame(self, name: str, df: pl.DataFrame) -> int:
        """Merge ``df`` into the stored frame ``name``; returns the number of rows actually added.

        Rows equal on the frame's key to a stored row are dropped (the stored row wins), so
        re-importing an input is a no-op. Large frames only rewrite the days ``df`` touches.
        """
        s = frames.schema(name)
        df = frames.validate(df, name).select(list(s.columns))
        if df.is_empty():
            return 0
        if s.partitioned:
            assert s.time_column is not None
            day = pl.col(s.time_column).dt.date()
            parts = df.with_columns(day.alias("__day")).partition_by("__day", as_dict=True)
            targets = [(self.path / "frames" / name / f"{key[0]}.parquet", part.drop("__day"))
                       for key, part in sorted(parts.items(), key=lambda kv: str(kv[0][0]))]
        else:
            targets = [(self.path / "frames" / f"{name}.parquet", df)]
        added = 0
        for target, new in targets:
            old = pl.read_parquet(target) if target.exists() else frames.empty(name)
            merged = pl.concat([old, new], how="vertical").unique(subset=list(s.key), keep="first",
                                                                   maintain_order=True)
            if s.time_column:
                merged = merged.sort(s.time_column, maintain_order=True)
            added += merged.height - old.height
            if merged.height != old.height:
                atomic_write_parquet(merged, target)
                self._track(target)
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
