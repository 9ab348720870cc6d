"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename.

A crash never leaves a half-written file under the final name; readers see the old file or the new.
Files get the mode an ordinary ``open(path, "w")`` would give them (``0o666`` less the umask), not the
``0o600`` of :func:`tempfile.mkstemp`, so teammates sharing a snapshot folder can read it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import polars as pl

__all__ = [
    "atomic_write_bytes",
    "write_parquet_versioned",
    "file_mode",
    "sha256_file",
    "sha256_bytes",
]

_UMASK_LINE = re.compile(r"^Umask:\s*([0-7]+)\s*$", re.MULTILINE)


def _umask() -> int:
    """The process umask, read without changing it where the OS tells it (Linux ``/proc``)."""
    try:
        m = _UMASK_LINE.search(Path("/proc/self/status").read_text())
    except OSError:
        m = None
    if m:
        return int(m.group(1), 8)
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it (and put it back at once)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a newly written file: ``0o666`` less the umask (``0o644`` under the usual ``022``)."""
    return 0o666 & ~_umask()


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, file_mode())  # mkstemp made it 0600
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    target = Path(path)
    tmp = _temp_beside(target)
    try:
        tmp.write_bytes(data)
        _commit(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet_versioned(df: pl.DataFrame, folder: str | Path, stem: str) -> tuple[Path, str]:
    """Write ``df`` as parquet (zstd) to ``folder/<stem>.<sha16>.parquet`` atomically, named by its content.

    A new version never overwrites the file it replaces, so a reader that follows a list of names
    (the snapshot's manifest) keeps reading the old version until the list changes.

    Returns
    -------
    (Path, str)
        the file written and its sha256.
    """
    placeholder = Path(folder) / f"{stem}.parquet"
    tmp = _temp_beside(placeholder)
    try:
        df.write_parquet(tmp, compression="zstd", statistics=True)
        digest = sha256_file(tmp)
        target = placeholder.with_name(f"{stem}.{digest[:16]}.parquet")
        _commit(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target, digest


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
