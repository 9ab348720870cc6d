"""Shared test fixtures."""

from __future__ import annotations

import os
import socket
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import slo_analysis
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


# ----------------------------------------------------------------------------- least-privilege recorder
# Every AWS operation the package's own code makes through slo_analysis.sources.aws.client during the
# run is recorded here; tests/test_iam_policy.py (moved to the end of the run) checks each one against
# iam/*.json. Tests create their set-up data (PutMetricData, CreateDeployment, ...) with plain boto3
# clients, which are not recorded; a test that calls a method of a package client itself (to test the
# client's retries, say) is not a code path of the package either: only calls made from a frame of
# the package (other than the client factory's hook) are recorded.
IAM_POLICY_TESTS = "test_iam_policy.py"
_RECORDED_OPERATIONS: set[tuple[str, str]] = set()
_COLLECTED_FILES: set[str] = set()
# As the interpreter names the package's code objects (the path it was imported from, unresolved).
_PACKAGE_DIR = os.path.dirname(slo_analysis.__file__) + os.sep
_CLIENT_FACTORY = os.path.join(_PACKAGE_DIR, "sources", "aws.py")
_MAX_FRAMES = 400  # a bound on the stack walk (a botocore call is a few dozen frames deep)


def _called_from_package() -> bool:
    frame = sys._getframe(1)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return False
        name = frame.f_code.co_filename
        if name.startswith(_PACKAGE_DIR) and name != _CLIENT_FACTORY:
            return True
        frame = frame.f_back
    return False


def _record_operation(service: str, operation: str) -> None:
    if _called_from_package():
        _RECORDED_OPERATIONS.add((service, operation))


@pytest.fixture(scope="session", autouse=True)
def _aws_operation_recorder() -> Iterator[None]:
    """Record (service, operation) of every call the package makes through ``slo_analysis.sources.aws.client``."""
    from slo_analysis.sources import aws

    aws.add_operation_observer(_record_operation)
    try:
        yield
    finally:
        aws.remove_operation_observer(_record_operation)


@pytest.fixture(scope="session")
def recorded_operations() -> set[tuple[str, str]]:
    """The (boto3 service name, operation name) pairs the package's code called so far in this run."""
    return _RECORDED_OPERATIONS


@pytest.fixture(scope="session")
def collected_test_files() -> set[str]:
    """File names of every test module collected in this run."""
    return _COLLECTED_FILES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the IAM policy tests last, once every other test has made its AWS calls."""
    _COLLECTED_FILES.update(item.path.name for item in items)
    items.sort(key=lambda item: item.path.name == IAM_POLICY_TESTS)  # stable: others keep their order


@pytest.fixture()
def calls() -> Iterator[Counter[str]]:
    """Counts ``service:Operation`` of every call made through slo_analysis.sources.aws.client."""
    from slo_analysis.sources import aws

    seen: Counter[str] = Counter()

    def observe(service: str, operation: str) -> None:
        seen[f"{service}:{operation}"] += 1

    aws.add_operation_observer(observe)
    yield seen
    aws.remove_operation_observer(observe)
