"""slo_analysis: an incident analysis workbench for SREs on AWS.

>>> import slo_analysis as sa
>>> sa.frames.empty("metrics").columns[:3]
['timestamp', 'namespace', 'metric']

Sub-packages load on first use, so ``import slo_analysis.core`` never pulls in boto3.
"""

from __future__ import annotations

import importlib
from typing import Any

from slo_analysis.exceptions import SloAnalysisError

__version__ = "0.1.0"
__all__ = [
    "SloAnalysisError", "frames", "exceptions", "sources", "store", "core", "analysis", "viz", "reports", "demo",
    "__version__",
]

_LAZY = {"frames", "exceptions", "sources", "store", "core", "analysis", "viz", "reports", "demo"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"slo_analysis.{name}")
    raise AttributeError(f"module 'slo_analysis' has no attribute {name!r}")
