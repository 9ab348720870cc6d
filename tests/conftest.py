"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

AWS_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "aws"


@pytest.fixture(scope="session")
def aws_fixtures() -> Path:
    """``../shared/fixtures/aws``: real AWS response shapes (CLI examples, X-Ray samples)."""
    if not AWS_FIXTURES.is_dir():
        pytest.skip(f"AWS fixtures not found at {AWS_FIXTURES}")
    return AWS_FIXTURES
