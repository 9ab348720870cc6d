"""The core stays pure: no I/O, no clock, no environment, no logging set-up, no unseeded randomness.

Every module of ``slo_analysis/core`` is parsed (docstrings and comments are not code, so doctests may open
the demo snapshot) and checked for imports outside an allowlist and for calls that read the clock, files,
the environment or an unseeded random generator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import slo_analysis.core

CORE = Path(slo_analysis.core.__file__).parent
MODULES = sorted(CORE.glob("*.py"))

# pure standard-library modules, the numeric stack, and the core's own layer
ALLOWED_IMPORTS = {
    "__future__", "bisect", "collections", "collections.abc", "dataclasses", "datetime", "decimal", "enum",
    "functools", "heapq", "itertools", "json", "math", "numbers", "operator", "re", "statistics", "typing",
    "numpy", "polars", "slo_analysis.exceptions",
}
# attribute calls that read the clock, files or data sets, or configure logging
FORBIDDEN_CALLS = {
    "now", "utcnow", "today", "time", "time_ns", "monotonic", "perf_counter",
    "read_parquet", "scan_parquet", "read_csv", "scan_csv", "read_ndjson", "scan_ndjson", "read_json",
    "read_ipc", "scan_ipc", "read_text", "read_bytes", "write_parquet", "write_csv", "write_text", "sink_parquet",
    "basicConfig", "getLogger", "dictConfig", "fileConfig", "getenv", "urandom",
}
# numpy.random functions that draw from the global, unseeded state
_SEEDABLE = {"default_rng", "Generator", "PCG64", "SeedSequence"}
# grid arithmetic is in integer milliseconds: no banker's rounding of floats in these two
NO_ROUND = {"model.py", "sli.py"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def violations(source: str, filename: str = "<module>") -> list[str]:
    """The impure constructs of ``source``, as ``line: what`` strings."""
    out: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name not in ALLOWED_IMPORTS and not name.startswith("slo_analysis.core"):
                    out.append(f"{line}: import {name}")
        elif isinstance(node, ast.Attribute) and node.attr == "environ":
            out.append(f"{line}: {_dotted(node)}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = _dotted(func)
            if isinstance(func, ast.Name) and func.id in ("open", "input", "print", "eval", "exec", "__import__"):
                out.append(f"{line}: {func.id}()")
            elif isinstance(func, ast.Name) and func.id == "round" and Path(filename).name in NO_ROUND:
                out.append(f"{line}: round()")
            elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_CALLS:
                out.append(f"{line}: {name}()")
            elif (isinstance(func, ast.Attribute) and _dotted(func.value).split(".")[-1] == "random"
                  and func.attr not in _SEEDABLE):
                out.append(f"{line}: {name}() (global random state)")
            elif name.endswith("default_rng") and not node.args and not node.keywords:
                out.append(f"{line}: {name}() without a seed")
            elif (isinstance(func, ast.Attribute) and func.attr in ("sample", "shuffle")
                  and not any(k.arg == "seed" for k in node.keywords)):
                out.append(f"{line}: {name}() without seed=")
    return out


def test_every_core_module_is_checked() -> None:
    names = {p.name for p in MODULES}
    assert {"__init__.py", "model.py", "sli.py", "budget.py", "windows.py", "alerts.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_core_module_stays_pure(path: Path) -> None:
    assert violations(path.read_text(), str(path)) == []


@pytest.mark.parametrize(("snippet", "found"), [
    ("from datetime import datetime\nt = datetime.now()", "datetime.now()"),
    ("import datetime\nt = datetime.datetime.utcnow()", "datetime.datetime.utcnow()"),
    ("from datetime import date\nd = date.today()", "date.today()"),
    ("import time\nt = time.time()", "import time"),
    ("f = open('x')", "open()"),
    ("import polars as pl\ndf = pl.read_parquet('x')", "pl.read_parquet()"),
    ("import polars as pl\ndf = pl.scan_parquet('x')", "pl.scan_parquet()"),
    ("import polars as pl\ndf = pl.read_csv('x')", "pl.read_csv()"),
    ("import boto3", "import boto3"),
    ("from os import environ", "import os"),
    ("import slo_analysis.core as c\nx = c.os.environ['A']", "c.os.environ"),
    ("import logging", "import logging"),
    ("import random", "import random"),
    ("import numpy as np\nx = np.random.rand(3)", "np.random.rand() (global random state)"),
    ("import numpy as np\nr = np.random.default_rng()", "np.random.default_rng() without a seed"),
    ("import polars as pl\ns = pl.Series([1]).sample(1)", "?.sample() without seed="),
    ("from slo_analysis.store import Snapshot", "import slo_analysis.store"),
])
def test_the_checker_catches(snippet: str, found: str) -> None:
    assert any(v.endswith(found) for v in violations(snippet)), violations(snippet)


def test_the_checker_allows_pure_code() -> None:
    ok = ("import numpy as np\nimport polars as pl\nfrom datetime import UTC, datetime\n"
          "r = np.random.default_rng(3)\ny = r.random(2)\nx = pl.Series([1.0]).sample(1, seed=3)\n"
          "t = datetime(2026, 1, 1, tzinfo=UTC)\n"
          'def f():\n    """>>> open("doctest only")"""\n')
    assert violations(ok) == []
    assert violations("x = round(1.5)", "sli.py") == ["1: round()"]
    assert violations("x = round(1.5)", "alerts.py") == []
