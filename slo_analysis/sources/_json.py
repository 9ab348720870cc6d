"""Tolerant, fast JSON decoding of a string column (log messages), shared by the log and request loaders.

polars' ``str.json_decode`` is fast but all-or-nothing: one invalid row fails the whole column. Here
the column is decoded in chunks, in parallel; a failing chunk is bisected down to the rows polars
refuses, and only those rows are read one by one with :mod:`json`, so the cost grows with the bad rows,
not the total rows.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

__all__ = ["decode_json_column"]

_CHUNK = 4096  # rows per json_decode call: polars' decoder is superlinear in the column's size
_BATCH = 16  # chunks decoded in parallel by one collect_all; a failing batch is bisected


def _coerce(value: Any, dtype: Any) -> Any:  # a polars DataType (class or instance)
    if value is None:
        return None
    if dtype == pl.String:
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value) if isinstance(value, dict | list) else str(value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if dtype == pl.Boolean:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        as_float = float(value)
    except OverflowError:
        return None
    if dtype.is_integer():
        if not as_float.is_integer():
            return None
        as_int = int(value)
        return as_int if -(2**63) <= as_int < 2**63 else None
    return as_float


def _decode_rows(s: pl.Series, dtype: pl.Struct, offset: int, bad: list[int]) -> pl.Series:
    """Per-row fallback for the few rows polars refused: invalid JSON goes to ``bad``; valid JSON with
    unexpected types is coerced field by field (nulls where it does not fit)."""
    out: list[dict[str, Any] | None] = []
    for i, text in enumerate(s.to_list()):
        if text is None:
            out.append(None)
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            bad.append(offset + i)
            out.append(None)
            continue
        if not isinstance(doc, dict):
            out.append(None)
            continue
        out.append({f.name: _coerce(doc.get(f.name), f.dtype) for f in dtype.fields})
    return pl.Series(s.name, out, dtype=dtype)


def _bisect(s: pl.Series, dtype: pl.Struct, offset: int, bad: list[int]) -> list[pl.Series]:
    try:
        return [s.str.json_decode(dtype)]
    except pl.exceptions.ComputeError:
        pass
    if len(s) <= 16:
        return [_decode_rows(s, dtype, offset, bad)]
    mid = len(s) // 2
    return _bisect(s[:mid], dtype, offset, bad) + _bisect(s[mid:], dtype, offset + mid, bad)


def decode_json_column(messages: pl.Series, dtype: pl.Struct) -> tuple[pl.Series, list[int]]:
    """Decode a column of JSON objects into ``dtype`` without ever raising on bad JSON.

    Null rows stay null. Chunks of the column are decoded in parallel with ``str.json_decode``;
    only a chunk that fails is bisected down to the rows polars refuses, and only those rows are
    read with :func:`json.loads`: invalid JSON gives a null and its 0-based index in the returned
    list; valid JSON that does not fit ``dtype`` (a nested value, a string for a number, a
    non-object) is coerced field by field. The cost therefore grows with the bad rows, not with
    the column.

    Returns
    -------
    (pl.Series, list[int])
        The struct column (same length and order) and the indices of invalid JSON rows.
    """
    n = len(messages)
    s = messages.rename("m")
    bad: list[int] = []
    if n == 0:
        return pl.Series("m", [], dtype=dtype), bad
    # Cheap likely failures first: an object ends with "}" (truncated lines do not); the rare valid
    # object followed by whitespace is read by the per-row path too, and loads.
    suspect = s.is_not_null() & ~s.str.ends_with("}")
    suspect_idx = suspect.arg_true().to_list() if suspect.any() else []
    if suspect_idx:
        suspect_rows = s.gather(suspect_idx)
        s = s.scatter(suspect_idx, None)
    frame = pl.DataFrame({"m": s}).lazy()
    starts = list(range(0, n, _CHUNK))
    parts: list[pl.Series] = []
    for b in range(0, len(starts), _BATCH):
        batch = starts[b:b + _BATCH]
        lfs = [frame.slice(i, _CHUNK).select(pl.col("m").str.json_decode(dtype)) for i in batch]
        try:
            parts.extend(df.to_series() for df in pl.collect_all(lfs))
        except pl.exceptions.ComputeError:
            for i in batch:
                parts.extend(_bisect(s.slice(i, _CHUNK), dtype, i, bad))
    decoded = pl.concat(parts).rename("m")
    if suspect_idx:
        sub_bad: list[int] = []
        fixed = _decode_rows(suspect_rows, dtype, 0, sub_bad)
        order = pl.int_range(0, n, dtype=pl.Int64, eager=True)
        order = order.scatter(suspect_idx, pl.int_range(n, n + len(suspect_idx), dtype=pl.Int64,
                                                        eager=True))
        decoded = pl.concat([decoded, fixed.rename("m")]).gather(order)
        bad.extend(suspect_idx[j] for j in sub_bad)
    return decoded, sorted(bad)


# --------------------------------------------------------------------------------------------------
# export objects
