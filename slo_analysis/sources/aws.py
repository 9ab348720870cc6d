"""boto3 clients for the live sources: one factory, bounded retries, read-only by construction.

Every live source takes ``session: boto3.Session | None`` (the standard credential chain: profiles,
SSO, environment) and builds its clients here, so retry policy, endpoint override and the
operation-recording hook (used by the least-privilege test) are the same everywhere. Credentials are
never logged or returned.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import boto3
import polars as pl
from botocore.client import BaseClient
from botocore.config import Config

from slo_analysis.exceptions import AwsSourceError

__all__ = [
    "AwsSettings",
    "Fetched",
    "Fetcher",
    "Stored",
    "pages",
    "Window",
    "digest",
    "check_window",
    "iso_z",
    "client",
    "add_operation_observer",
    "remove_operation_observer",
    "to_jsonable",
    "USER_AGENT",
    "RETRY_MODES",
    "MAX_ATTEMPTS_BOUND",
]

log = logging.getLogger(__name__)

USER_AGENT = "slo-analysis/0.1"
RETRY_MODES = ("standard", "adaptive")  # botocore's bounded modes ("legacy" is not offered)
MAX_ATTEMPTS_BOUND = 20  # standard backoff caps at 20 s a wait: 20 attempts are minutes, not forever
_OBSERVERS: list[Callable[[str, str], None]] = []


@dataclass(frozen=True)
class AwsSettings:
    """Where and how to call AWS. ``endpoint_url`` points every client at another endpoint (moto)."""

    session: boto3.Session | None = None
    region: str | None = None
    endpoint_url: str | None = None
    retry_mode: Literal["standard", "adaptive"] = "standard"  # botocore modes: backoff with jitter
    max_attempts: int = 8  # total attempts per call, the first included (as AWS_MAX_ATTEMPTS): a bound
    read_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.retry_mode not in RETRY_MODES:
            raise AwsSourceError(f"AwsSettings.retry_mode must be one of {', '.join(RETRY_MODES)}, "
                                 f"got {self.retry_mode!r}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or not 1 <= self.max_attempts <= MAX_ATTEMPTS_BOUND:
            raise AwsSourceError(f"AwsSettings.max_attempts must be 1..{MAX_ATTEMPTS_BOUND} (total attempts per "
                                 f"call), got {self.max_attempts!r}")


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
    """A boto3 client for ``service`` with bounded standard/adaptive retries and the settings' endpoint.

    Throttling (``ThrottlingException``, ``LimitExceededException``, HTTP 429, ...), 5xx and
    connection errors are retried by botocore with exponential backoff and jitter; after
    ``settings.max_attempts`` attempts in all, the last error is raised as botocore's ``ClientError``
    (its message ends ``(reached max retries: <max_attempts - 1>)``).
    """
    s = settings or AwsSettings()
    session = s.session or boto3.Session()
    config = Config(
        # total_max_attempts counts the first call (botocore's max_attempts would not)
        retries={"mode": s.retry_mode, "total_max_attempts": s.max_attempts},
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


Fetcher = Callable[[set[str]], Iterator[Fetched]]
"""A live source: given the units a previous run finished, yields the others (see docs/live-sources.md)."""

Stored = Callable[[str], Mapping[str, Any] | None]
"""The stored response of a finished unit, or None: lets a resumed listing skip pages it already has."""


def pages(call: Callable[..., Any], request: Mapping[str, Any], *, unit_prefix: str, done: set[str],
          stored: Stored | None, max_pages: int, token_in: str = "NextToken", token_out: str | None = None) \
        -> Iterator[tuple[str, dict[str, Any], Mapping[str, Any], bool]]:
    """Pages of a listing as ``(unit, request, response, new)``, units ``<unit_prefix>/page-NNNN``.

    ``new`` is False for a page a previous run finished: its response comes from ``stored`` (or, when
    that is not at hand, is read again only for its token). At most ``max_pages`` pages.

    Raises
    ------
    AwsSourceError
        when the listing has more than ``max_pages`` pages.
    """
    out_key = token_out or token_in
    token: str | None = None
    for page in range(max_pages):
        unit = f"{unit_prefix}/page-{page:04d}"
        req = dict(request)
        if token:
            req[token_in] = token
        response = stored(unit) if (unit in done and stored is not None) else None
        if response is None:
            if unit in done:
                log.info("%s: finished, but its response is not at hand; reading it again for its token", unit)
            response = call(**req)
        yield unit, req, response, unit not in done
        token = response.get(out_key)
        if not token:
            return
    raise AwsSourceError(f"{unit_prefix}: more than {max_pages} pages; raise max_pages or narrow the request")


Window = tuple[datetime, datetime]
"""A half-open ``[start, end)`` time window."""


def digest(obj: Any) -> str:
    """A short stable hash of a request part, for unit keys (independent of dict order)."""
    return hashlib.sha256(json.dumps(to_jsonable(obj), sort_keys=True).encode()).hexdigest()[:12]


def iso_z(t: datetime) -> str:
    """``2026-11-11T14:07:00Z``: a UTC instant to the second, as unit keys and messages show it."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_window(window: Window) -> Window:
    """``window`` itself when both ends are timezone-aware and it is not empty; else AwsSourceError."""
    start, end = window
    if start.tzinfo is None or end.tzinfo is None:
        raise AwsSourceError(f"window {window!r}: start and end must be timezone-aware datetimes")
    if end <= start:
        raise AwsSourceError(f"window {iso_z(start)}..{iso_z(end)}: end must be after start")
    return start, end
