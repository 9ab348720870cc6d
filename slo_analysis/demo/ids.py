"""Vectorised identifiers for the demo: hex strings, X-Ray trace ids, request ids.

Building millions of ids with Python string formatting would dominate the generator's run time, so
bytes are turned into hex with a lookup table in numpy and handed to polars as one column.

Examples
--------
>>> import numpy as np
>>> from slo_analysis.demo.ids import hex_strings
>>> hex_strings(np.random.default_rng(0), 2, 4).to_list()
['5f82c2d9', 'cfeb0fa3']
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["hex_of_bytes", "hex_strings", "trace_ids", "request_ids"]

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_of_bytes(b: np.ndarray) -> pl.Series:
    """Lower-case hex of each row of a 2-D ``uint8`` array, as a polars String series."""
    n, w = b.shape
    out = np.empty((n, 2 * w), dtype=np.uint8)
    out[:, 0::2] = _HEX[b >> 4]
    out[:, 1::2] = _HEX[b & 15]
    return pl.Series(out.view(f"S{2 * w}").ravel()).cast(pl.String)


def hex_strings(rng: np.random.Generator, n: int, nbytes: int) -> pl.Series:
    """``n`` random hex strings of ``2 * nbytes`` characters."""
    return hex_of_bytes(rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8))


def trace_ids(rng: np.random.Generator, start_ms: np.ndarray) -> pl.Series:
    """X-Ray trace ids ``1-<8 hex epoch seconds>-<24 hex>`` for requests starting at ``start_ms``."""
    secs = (np.asarray(start_ms) // 1000).astype(">u4")
    epoch = hex_of_bytes(secs.view(np.uint8).reshape(-1, 4))
    rand = hex_strings(rng, len(secs), 12)
    return pl.select(pl.format("1-{}-{}", pl.lit(epoch), pl.lit(rand))).to_series().alias("trace_id")


def request_ids(rng: np.random.Generator, n: int) -> pl.Series:
    """UUID-shaped request ids (8-4-4-4-12 hex)."""
    h = hex_strings(rng, n, 16)
    return (
        pl.select(
            pl.format(
                "{}-{}-{}-{}-{}", *(pl.lit(h).str.slice(a, b) for a, b in ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12)))
            )
        )
        .to_series()
        .alias("request_id")
    )
