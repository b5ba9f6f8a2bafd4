"""FC 3.0 event parsing, responses and credentials resolution."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from ram_delegate.errors import ConfigurationError, InvalidInputError, PayloadTooLargeError
from ram_delegate.fc import HttpRequest, TimerEvent, http_response, resolve_credentials

CAP = 1024
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


def http_event(body: str | None = "hello", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "v1",
        "rawPath": "/hook",
        "body": body,
        "isBase64Encoded": False,
        "headers": {"Webhook-Id": "evt-1", "Content-Type": "application/json"},
        "queryParameters": {},
        "requestContext": {
            "accountId": "1111111111111111",
            "http": {"method": "post", "path": "/hook", "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1"},
            "requestId": "1-abc",
            "time": "2023-09-05T06:41:11Z",
            "timeEpoch": "1693896071895",
        },
    }
    event.update(overrides)
    return event


def as_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_http_event_is_parsed_with_lowercase_headers() -> None:
    request = HttpRequest.parse(as_bytes(http_event()), max_body_bytes=CAP, now=NOW)
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.headers == {"webhook-id": "evt-1", "content-type": "application/json"}
    assert request.body == b"hello"
    assert request.request_id == "1-abc"
    assert request.source_ip == "10.0.0.1"


def test_base64_body_is_decoded_to_the_raw_bytes() -> None:
    raw = b"\x00\xffbinary"
    event = http_event(base64.b64encode(raw).decode(), isBase64Encoded=True)
    assert HttpRequest.parse(as_bytes(event), max_body_bytes=CAP, now=NOW).body == raw


def test_non_ascii_body_is_utf8() -> None:
    assert HttpRequest.parse(http_event("żółw"), max_body_bytes=CAP, now=NOW).body == "żółw".encode()


def test_missing_body_is_empty() -> None:
    assert HttpRequest.parse(http_event(None), max_body_bytes=CAP, now=NOW).body == b""


@pytest.mark.parametrize(
    "event",
    [
        http_event("x" * (CAP + 1)),
        http_event("é" * (CAP // 2 + 1)),
        http_event(base64.b64encode(b"x" * (CAP + 1)).decode(), isBase64Encoded=True),
        http_event("x" * (70 * CAP)),
    ],
    ids=["plain", "multibyte", "base64", "huge"],
)
def test_oversized_bodies_are_refused_before_decoding(event: dict[str, Any]) -> None:
    with pytest.raises(PayloadTooLargeError):
        HttpRequest.parse(as_bytes(event), max_body_bytes=CAP, now=NOW)


def test_a_body_exactly_at_the_cap_is_accepted() -> None:
    assert len(HttpRequest.parse(http_event("x" * CAP), max_body_bytes=CAP, now=NOW).body) == CAP


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        as_bytes({"body": "x"}),
        as_bytes(http_event(headers=["a"])),
        as_bytes(http_event(body=42)),
        as_bytes(http_event("%%%", isBase64Encoded=True)),
        b'{"body": "\\ud800", "requestContext": {"time": "2023-09-05T06:41:11Z"}}',
    ],
    ids=[
        "not-json",
        "array",
        "no-context",
        "headers-list",
        "body-number",
        "bad-base64",
        "lone-surrogate",
    ],
)
def test_malformed_events_are_invalid_input(raw: bytes) -> None:
    with pytest.raises(InvalidInputError):
        HttpRequest.parse(raw, max_body_bytes=CAP, now=NOW)


def test_timer_event_carries_its_trigger_and_payload_but_no_time() -> None:
    timer = TimerEvent.parse(b'{"triggerTime": "2018-02-09T05:49:00Z", "triggerName": "t", "payload": "p"}')
    assert (timer.trigger_name, timer.payload) == ("t", "p")
    assert not hasattr(timer, "now")  # the caller's word through InvokeFunction: the clock comes from the platform


@pytest.mark.parametrize("raw", [b"", b"  ", b"{}"])
def test_manual_invocations_are_timers_without_a_name(raw: bytes) -> None:
    assert TimerEvent.parse(raw).trigger_name == ""


def test_a_timer_event_that_is_not_an_object_is_invalid() -> None:
    with pytest.raises(InvalidInputError):
        TimerEvent.parse(b"[1]")


def test_http_response_shape() -> None:
    response = http_response(503, {"code": "CloudUnavailable"}, {"retry-after": "5"})
    assert response == {
        "statusCode": 503,
        "headers": {"content-type": "application/json", "retry-after": "5"},
        "isBase64Encoded": False,
        "body": '{"code":"CloudUnavailable"}',
    }


ENV_CREDENTIALS = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "AKIDFROMENV",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret",
    "ALIBABA_CLOUD_SECURITY_TOKEN": "env-token",
}
CONTEXT = SimpleNamespace(
    credentials=SimpleNamespace(access_key_id="AKIDFROMCTX", access_key_secret="ctx-secret", security_token="t")
)


def test_credentials_come_from_the_environment_first() -> None:
    credentials = resolve_credentials(ENV_CREDENTIALS, CONTEXT)
    assert (credentials.access_key_id, credentials.security_token) == ("AKIDFROMENV", "env-token")
    assert "env-secret" not in repr(credentials)


def test_credentials_fall_back_to_the_fc_context() -> None:
    assert resolve_credentials({}, CONTEXT).access_key_id == "AKIDFROMCTX"


def test_no_credentials_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        resolve_credentials({}, SimpleNamespace())
