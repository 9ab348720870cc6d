"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename.

A crash never leaves a half-written file under the final name; readers see the old file or the new.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import polars as pl

__all__ = ["atomic_write_bytes", "atomic_write_parquet", "sha256_file", "sha256_bytes"]


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def _commit(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    target = Path(path)
    tmp = _temp_beside(target)
    try:
        tmp.write_bytes(data)
        _commit(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_parquet(df: pl.DataFrame, path: str | Path) -> None:
    """Write ``df`` as parquet (zstd) to ``path`` atomically."""
    target = Path(path)
    tmp = _temp_beside(target)
    try:
        df.write_parquet(tmp, compression="zstd", statistics=True)
        _commit(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
