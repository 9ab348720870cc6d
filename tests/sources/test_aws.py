"""The client factory's retry policy: bounded standard/adaptive retries, checked on the wire.

Every HTTP send goes through botocore's ``before-send`` event; the hook here answers it with an error
response (so the whole client stack runs: signing, retry handler, backoff, response parsing) and counts
the attempts. botocore's backoff sleeps are recorded instead of slept.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

from slo_analysis.exceptions import AwsSourceError
from slo_analysis.sources import aws
from slo_analysis.sources.aws import MAX_ATTEMPTS_BOUND, AwsSettings


class _Raw:
    """The ``raw`` of an :class:`AWSResponse`: what urllib3 would have streamed."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _json_response(status: int, body: dict[str, Any]) -> AWSResponse:
    headers = HTTPHeaders()
    headers["x-amzn-RequestId"] = "req-1"
    headers["Content-Type"] = "application/x-amz-json-1.1"
    return AWSResponse("https://logs.eu-west-1.amazonaws.com/", status, headers, _Raw(json.dumps(body).encode()))


class _Wire:
    """Answers every send with ``answers[i]`` (the last one repeated) and records the attempts."""

    def __init__(self, answers: list[AWSResponse]) -> None:
        self.answers = answers
        self.sent = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        answer = self.answers[min(self.sent, len(self.answers) - 1)]
        self.sent += 1
        return answer


@pytest.fixture()
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's backoff waits, recorded instead of slept (only botocore.endpoint's view of time)."""
    waits: list[float] = []
    fake_time = types.SimpleNamespace(sleep=waits.append)
    monkeypatch.setattr(botocore.endpoint, "time", fake_time)
    return waits


def _logs(fake_session: Any, wire: _Wire, **settings: Any) -> Any:
    c: Any = aws.client("logs", AwsSettings(session=fake_session, region="eu-west-1", **settings))
    c.meta.events.register("before-send.cloudwatch-logs.*", wire)
    return c


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_client_config_has_a_bounded_retry_mode(fake_session: Any, mode: str) -> None:
    c: Any = aws.client("xray", AwsSettings(session=fake_session, region="eu-west-1", retry_mode=mode,  # type: ignore[arg-type]
                                       max_attempts=5))
    assert c.meta.config.retries == {"mode": mode, "total_max_attempts": 5}
    assert aws.USER_AGENT in c.meta.config.user_agent_extra
    logs: Any = aws.client("logs", AwsSettings(session=fake_session, region="eu-west-1"))
    default = logs.meta.config.retries
    assert default["mode"] in aws.RETRY_MODES and 1 <= default["total_max_attempts"] <= MAX_ATTEMPTS_BOUND


@pytest.mark.parametrize(("mode", "status", "code"), [
    ("standard", 400, "ThrottlingException"), ("standard", 400, "LimitExceededException"),
    ("standard", 429, "TooManyRequestsException"), ("standard", 503, "ServiceUnavailableException"),
    ("adaptive", 400, "ThrottlingException"),  # adaptive also rate-limits itself: a few real seconds
])
def test_retries_stop_at_max_attempts_with_a_clear_error(fake_session: Any, slept: list[float], mode: str,
                                                         status: int, code: str) -> None:
    wire = _Wire([_json_response(status, {"__type": code, "message": "Rate exceeded"})])
    c = _logs(fake_session, wire, retry_mode=mode, max_attempts=4)
    with pytest.raises(ClientError) as info:
        c.describe_log_groups()
    assert wire.sent == 4  # the first call and three retries, no more
    assert len(slept) == 3 and all(0 <= s <= 20 for s in slept)  # backoff between attempts, capped by botocore
    assert info.value.response["Error"]["Code"] == code
    assert "DescribeLogGroups" in str(info.value) and "reached max retries: 3" in str(info.value)


def test_a_single_attempt_is_not_retried(fake_session: Any, slept: list[float]) -> None:
    wire = _Wire([_json_response(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})])
    with pytest.raises(ClientError, match="ThrottlingException"):
        _logs(fake_session, wire, max_attempts=1).describe_log_groups()
    assert wire.sent == 1 and slept == []


def test_throttling_then_success_returns_the_answer(fake_session: Any, slept: list[float]) -> None:
    throttled = _json_response(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
    ok = _json_response(200, {"logGroups": [{"logGroupName": "/ecs/ticket-api"}]})
    wire = _Wire([throttled, throttled, ok])
    got = _logs(fake_session, wire, max_attempts=8).describe_log_groups()
    assert [g["logGroupName"] for g in got["logGroups"]] == ["/ecs/ticket-api"]
    assert wire.sent == 3 and len(slept) == 2 and got["ResponseMetadata"]["RetryAttempts"] == 2


def test_client_errors_that_are_not_transient_are_not_retried(fake_session: Any, slept: list[float]) -> None:
    wire = _Wire([_json_response(400, {"__type": "ResourceNotFoundException", "message": "no such group"})])
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        _logs(fake_session, wire, max_attempts=8).describe_log_groups()
    assert wire.sent == 1 and slept == []


@pytest.mark.parametrize(("field", "value"), [("max_attempts", 0), ("max_attempts", MAX_ATTEMPTS_BOUND + 1),
                                              ("max_attempts", True), ("retry_mode", "legacy")])
def test_unbounded_or_unknown_retry_settings_are_refused(field: str, value: Any) -> None:
    with pytest.raises(AwsSourceError, match=f"AwsSettings.{field}"):
        AwsSettings(**{field: value})
