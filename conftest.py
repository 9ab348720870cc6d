"""Doctests in the package run on a small demo snapshot: ``demo_snapshot()`` in their namespace builds it
once per test session (3 days at a fifth of the default traffic) and returns its path.

Property tests explore new random inputs on every local run; under CI (``CI`` set, as .ci/run does) they
replay a fixed, derandomised set, so a red CI always reproduces.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def _demo_snapshot_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    cache: list[Path] = []

    def build() -> Path:
        if not cache:
            from slo_analysis import demo
            from slo_analysis.store import import_files

            root = tmp_path_factory.mktemp("doctest-demo")
            incident = demo.generate(root / "incident", seed=11, days=3, scale=0.2)
            import_files([p for p in incident.iterdir() if p.name != "scenario.json"], root / "snapshot")
            cache.append(root / "snapshot")
        return cache[0]

    return build


@pytest.fixture(autouse=True)
def _doctest_demo(doctest_namespace: dict[str, object], _demo_snapshot_factory: Callable[[], Path]) -> None:
    doctest_namespace["demo_snapshot"] = _demo_snapshot_factory
