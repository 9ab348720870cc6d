"""Deterministic file writing for the demo: JSON with sorted keys, gzip without name or time.

Examples
--------
>>> import gzip, tempfile, pathlib
>>> from slo_analysis.demo.output import write_json
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = write_json(d / "a.json.gz", {"b": 1, "a": [1.5]})
>>> gzip.decompress(p.read_bytes())
b'{"a": [1.5], "b": 1}'
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

__all__ = ["gzip_bytes", "write_bytes", "write_json", "dumps"]


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """gzip ``data`` with mtime 0 and no file name, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=level, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (gzipped when the name ends in ``.gz``), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_bytes(data) if path.name.endswith(".gz") else data)
    return path


def dumps(doc: Any, indent: int | None = None) -> str:
    """JSON text with sorted keys (the only ordering that is the same on every run)."""
    return json.dumps(doc, sort_keys=True, indent=indent, ensure_ascii=False, allow_nan=False)


def write_json(path: Path, doc: Any) -> Path:
    """Write ``doc`` as JSON: indented for small plain files, compact when gzipped."""
    text = dumps(doc, indent=None if path.name.endswith(".gz") else 2)
    return write_bytes(path, text.encode())
