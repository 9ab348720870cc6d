"""Shared test fixtures."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slo_analysis import demo
from slo_analysis.store import import_files

AWS_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "aws"


@pytest.fixture(scope="session")
def aws_fixtures() -> Path:
    """``../shared/fixtures/aws``: real AWS response shapes (CLI examples, X-Ray samples)."""
    if not AWS_FIXTURES.is_dir():  # CI clones beside ../shared; a missing folder is a broken set-up
        pytest.fail(f"AWS fixtures not found at {AWS_FIXTURES}: clone next to ../shared")
    return AWS_FIXTURES


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo incident (3 days at a fifth of the default traffic), generated once per run."""
    return demo.generate(tmp_path_factory.mktemp("demo") / "incident", seed=11, days=3, scale=0.2)


@pytest.fixture(scope="session")
def demo_snapshot(small_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo imported into a snapshot; read-only for tests (copy it to change it)."""
    snap = tmp_path_factory.mktemp("snapshot") / "demo"
    import_files([p for p in small_demo.iterdir() if p.name != "scenario.json"], snap)
    return snap


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 (real HTTP) for boto3 clients; its URL."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture()
def fake_session() -> Any:
    """A boto3 session with moto's dummy credentials (never real ones) in eu-west-1."""
    import boto3

    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         aws_session_token="testing", region_name="eu-west-1")
