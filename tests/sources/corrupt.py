"""Hypothesis strategies that corrupt parsed JSON documents (shared by the loader property tests)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

_REPLACEMENTS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                          st.text(max_size=8), st.just([]), st.just({}), st.just([1, "x"]),
                          st.just({"x": 1}))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def corrupted(draw: st.DrawFn, doc: Any, max_edits: int = 3) -> Any:
    """``doc`` with 1..max_edits random edits: delete a key or item, truncate a list or string,
    or replace a value with one of another type."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_edits))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        action = draw(st.sampled_from(["delete", "truncate", "replace"]))
        value = parent[key]
        if action == "delete":
            del parent[key]
        elif action == "truncate" and isinstance(value, str | list) and value:
            parent[key] = value[: draw(st.integers(0, len(value) - 1))]
        else:
            parent[key] = copy.deepcopy(draw(_REPLACEMENTS))
    return doc
