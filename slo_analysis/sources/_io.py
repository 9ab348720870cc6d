"""Shared low-level reading for the file loaders: bytes, gzip, JSON, required keys, timestamps,
and the load report that records bad records instead of dropping them.

Private to ``slo_analysis.sources``; loaders take parsed documents so the live boto3 path can
reuse them unchanged, and only use these helpers for files.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slo_analysis.exceptions import InputError, MissingKeyError, TruncatedInputError
from slo_analysis.frames import format_dimensions

__all__ = [
    "GZIP_MAGIC",
    "read_bytes",
    "gunzip_if_gzip",
    "decode_json",
    "read_json",
    "require",
    "to_datetime",
    "as_list",
    "as_map",
    "as_str",
    "as_float",
    "as_int",
    "as_time",
    "dimensions",
    "BadRecord",
    "LoadReport",
]

GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic number.

    Raises :class:`TruncatedInputError` naming the file when the gzip stream is cut off or corrupt.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(p, f"cannot read: {exc.strerror or exc}") from exc
    return gunzip_if_gzip(data, p)


def gunzip_if_gzip(data: bytes, file: str | Path) -> bytes:
    """``data`` gunzipped when it starts with the gzip magic number, else unchanged.

    Raises :class:`TruncatedInputError` naming ``file`` when the gzip stream is cut off or corrupt.
    """
    if data[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise TruncatedInputError(file, f"truncated or corrupt gzip: {exc}") from exc
    return data


def decode_json(data: bytes | str, file: str | Path) -> Any:
    """Parse a JSON document, raising :class:`InputError` (or ``TruncatedInputError`` when the
    document simply ends early) with the file, line and column."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise InputError(file, f"not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        text = exc.doc
        cls = TruncatedInputError if exc.pos >= len(text.rstrip()) else InputError
        raise cls(file, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc


def read_json(path: str | Path) -> Any:
    """Read a (possibly gzipped) JSON file."""
    return decode_json(read_bytes(path), path)


def require(doc: Any, key: str, file: str | Path, context: str = "") -> Any:
    """``doc[key]``, or :class:`MissingKeyError` naming the file, the key and where it was expected."""
    if not isinstance(doc, Mapping):
        raise InputError(file, f"expected a JSON object{' in ' + context if context else ''}, "
                               f"found {type(doc).__name__}", key=key)
    if key not in doc:
        raise MissingKeyError(file, key, context=context)
    return doc[key]


def to_datetime(value: Any) -> datetime:
    """A UTC ``datetime`` from what AWS returns: ISO 8601 strings (with ``Z``, offsets, or none,
    read as UTC), epoch seconds as numbers (CLI output of CodeDeploy/ECS), or datetimes (boto3).

    Raises ``ValueError`` for anything else; callers wrap it with the file and key.
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        # Insights writes "2024-05-19 06:10:35.743"; alarm history "2014-04-09T18:59:06.419+0000"
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and ":" not in text[-5:]:
            text = text[:-2] + ":" + text[-2:]
        dt = datetime.fromisoformat(text)
        return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


# Typed readers: the value at ``key`` as the expected JSON type, or InputError naming file and key.
def as_list(value: Any, file: str, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(file, f"{key!r} must be a list, found {type(value).__name__}", key=key)
    return value


def as_map(value: Any, file: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(file, f"{key!r} must be an object, found {type(value).__name__}", key=key)
    return value


def as_str(value: Any, file: str, key: str) -> str:
    if not isinstance(value, str):
        raise InputError(file, f"{key!r} must be a string, found {type(value).__name__}", key=key)
    return value


def as_float(value: Any, file: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(file, f"{key!r} must be a number, found {value!r}", key=key)
    return float(value)


def as_int(value: Any, file: str, key: str) -> int:
    # isfinite first: int() of inf or nan raises OverflowError / ValueError rather than saying which key
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value)) or value != int(value)):
        raise InputError(file, f"{key!r} must be an integer, found {value!r}", key=key)
    return int(value)


def as_time(value: Any, file: str, key: str) -> datetime:
    try:
        return to_datetime(value)
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        raise InputError(file, f"{key!r}: unparseable timestamp {value!r} ({exc})", key=key) from exc


def dimensions(value: Any, file: str, key: str) -> str:
    if value is None:
        return ""
    items = as_list(value, file, key)
    pairs = {}
    for d in items:
        d = as_map(d, file, key)
        pairs[as_str(require(d, "Name", file, key), file, f"{key}.Name")] = \
            as_str(require(d, "Value", file, key), file, f"{key}.Value")
    return format_dimensions(pairs)


@dataclass(frozen=True)
class BadRecord:
    """One input record that could not be loaded, kept for the quarantine file."""

    file: str
    line: int | None
    reason: str
    content: str


@dataclass
class LoadReport:
    """What a load read, produced, skipped and quarantined. Loaders append; nothing is dropped silently."""

    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # frame name -> rows produced
    bad: list[BadRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def add_rows(self, frame: str, n: int) -> None:
        self.rows[frame] = self.rows.get(frame, 0) + n

    def add_bad(self, file: str | Path, line: int | None, reason: str, content: str) -> None:
        self.bad.append(BadRecord(str(file), line, reason, content))

    def skip(self, file: str | Path, reason: str) -> None:
        self.skipped.append((str(file), reason))

    def merge(self, other: LoadReport) -> None:
        self.files.extend(other.files)
        for k, v in other.rows.items():
            self.add_rows(k, v)
        self.bad.extend(other.bad)
        self.skipped.extend(other.skipped)

    def bad_by_file(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for b in self.bad:
            counts[b.file] = counts.get(b.file, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "rows": dict(self.rows),
            "bad_records": len(self.bad),
            "bad_by_file": self.bad_by_file(),
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
        }
