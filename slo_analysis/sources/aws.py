"""boto3 clients for the live sources: one factory, bounded retries, read-only by construction.

Every live source takes ``session: boto3.Session | None`` (the standard credential chain: profiles,
SSO, environment) and builds its clients here, so retry policy, endpoint override and the
operation-recording hook (used by the least-privilege test) are the same everywhere. Credentials are
never logged or returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import boto3
import polars as pl
from botocore.client import BaseClient
from botocore.config import Config

__all__ = [
    "AwsSettings",
    "Fetched",
    "client",
    "add_operation_observer",
    "remove_operation_observer",
    "to_jsonable",
    "USER_AGENT",
]

log = logging.getLogger(__name__)

USER_AGENT = "slo-analysis/0.1"
_OBSERVERS: list[Callable[[str, str], None]] = []


@dataclass(frozen=True)
class AwsSettings:
    """Where and how to call AWS. ``endpoint_url`` points every client at another endpoint (moto)."""

    session: boto3.Session | None = None
    region: str | None = None
    endpoint_url: str | None = None
    retry_mode: Literal["standard", "adaptive"] = "standard"  # botocore modes: backoff with jitter
    max_attempts: int = 8  # a bound: never retry forever
    read_timeout_s: float = 60.0


def add_operation_observer(observer: Callable[[str, str], None]) -> None:
    """Call ``observer(service, operation)`` before every AWS call made through :func:`client`."""
    _OBSERVERS.append(observer)


def remove_operation_observer(observer: Callable[[str, str], None]) -> None:
    _OBSERVERS.remove(observer)


def _observe(service: str) -> Callable[..., None]:
    # boto3's client names are the IAM action prefixes for every service used here (cloudwatch, logs,
    # xray, codedeploy, ecs, lambda, cloudtrail, s3, application-signals), unlike signing names.
    def notify(model: Any, **_: Any) -> None:
        for observer in list(_OBSERVERS):
            observer(service, model.name)

    return notify


def client(service: str, settings: AwsSettings | None = None) -> BaseClient:
    """A boto3 client for ``service`` with bounded standard/adaptive retries and the settings' endpoint."""
    s = settings or AwsSettings()
    session = s.session or boto3.Session()
    config = Config(
        retries={"mode": s.retry_mode, "max_attempts": s.max_attempts},
        user_agent_extra=USER_AGENT,
        read_timeout=s.read_timeout_s,
    )
    c = session.client(service, region_name=s.region, endpoint_url=s.endpoint_url, config=config)  # type: ignore[call-overload]
    c.meta.events.register("before-call.*.*", _observe(service))
    return c


@dataclass(frozen=True)
class Fetched:
    """One unit of a live fetch: a request, AWS's response as received, and the frames parsed from it.

    ``unit`` is a stable key derived from the request (service, query, time chunk, page); the
    snapshot records finished units so an interrupted fetch resumes where it stopped. Live fetchers
    are generators of ``Fetched`` that take ``done: set[str]`` and skip those units without calling
    AWS. ``kind`` is the :mod:`slo_analysis.sources.detect` kind of ``response``.
    """

    kind: str
    unit: str
    request: dict[str, Any]
    response: dict[str, Any]
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)


def to_jsonable(value: Any) -> Any:
    """A boto3 response made JSON-serialisable the way the AWS CLI prints it (datetimes as ISO 8601,
    bytes as text), with ``ResponseMetadata`` dropped (request ids and retry counts, not data)."""
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
