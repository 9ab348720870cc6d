"""Errors raised by slo_analysis.

Every error the package raises on purpose derives from :class:`SloAnalysisError` and carries the
context needed to act on it (frame, column, file, line, key)::

    SloAnalysisError
    ├── FrameValidationError      a frame misses a column, has the wrong dtype or nulls where none belong
    ├── InputError                a saved input file cannot be read (always names the file)
    │   ├── TruncatedInputError       truncated gzip or cut-off JSON
    │   ├── MissingKeyError           a JSON document lacks a key its format requires (names the key)
    │   └── UnrecognizedInputError    content matches no supported format
    ├── SnapshotError             an incident snapshot folder is unusable (names the path)
    │   └── ChecksumError             a stored file no longer matches the sha256 in manifest.json
    └── AwsSourceError            a live AWS source could not deliver complete data (names the operation)
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "SloAnalysisError",
    "FrameValidationError",
    "InputError",
    "TruncatedInputError",
    "MissingKeyError",
    "UnrecognizedInputError",
    "SnapshotError",
    "ChecksumError",
    "AwsSourceError",
]


class SloAnalysisError(Exception):
    """Base class of every error slo_analysis raises on purpose."""


class FrameValidationError(SloAnalysisError):
    """A frame does not match its canonical schema."""

    def __init__(self, frame: str, column: str, problem: str) -> None:
        self.frame = frame
        self.column = column
        self.problem = problem
        super().__init__(f"{frame} frame, column {column!r}: {problem}")


class InputError(SloAnalysisError):
    """A saved input file cannot be loaded."""

    def __init__(
        self, file: str | Path, problem: str, *, line: int | None = None, key: str | None = None
    ) -> None:
        self.file = str(file)
        self.line = line
        self.key = key
        self.problem = problem
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(f"{where}: {problem}")


class TruncatedInputError(InputError):
    """The file ends early: a truncated gzip stream or a cut-off JSON document."""


class MissingKeyError(InputError):
    """A JSON document lacks a key its format requires."""

    def __init__(self, file: str | Path, key: str, *, line: int | None = None, context: str = "") -> None:
        where = f" in {context}" if context else ""
        super().__init__(file, f"missing required key {key!r}{where}", line=line, key=key)


class UnrecognizedInputError(InputError):
    """The file's content matches none of the supported formats."""


class SnapshotError(SloAnalysisError):
    """An incident snapshot folder cannot be used."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ChecksumError(SnapshotError):
    """A stored file's sha256 differs from the one recorded in manifest.json."""


class AwsSourceError(SloAnalysisError):
    """A live AWS source could not deliver complete data (names the operation and the request)."""
