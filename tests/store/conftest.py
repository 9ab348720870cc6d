from __future__ import annotations

from pathlib import Path

import pytest

from slo_analysis import demo

AWS_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "aws"


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo incident (3 days at a fifth of the default traffic), generated once per run."""
    return demo.generate(tmp_path_factory.mktemp("demo") / "incident", seed=11, days=3, scale=0.2)
