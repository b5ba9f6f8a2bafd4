"""The local FC host with functions of our own: the HTTP trigger event and answer, the context, and timers."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import textwrap
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from ram_delegate.local.stack import LocalStack

HANDLER = """
import base64, json, os

def handler(event, context):
    body = {
        "event": json.loads(event),
        "request_id": context.request_id,
        "account_id": context.account_id,
        "function": context.function.name,
        "memory": context.function.memory,
        "access_key_id": context.credentials.access_key_id,
        "has_token": bool(context.credentials.security_token),
        "credentials_in_environ": any(name.startswith("ALIBABA_CLOUD_ACCESS") for name in os.environ),
    }
    if "triggerTime" in body["event"]:
        return body
    text = json.dumps(body).encode()
    return {"statusCode": 201, "headers": {"X-Echo": "yes"}, "isBase64Encoded": True,
            "body": base64.b64encode(text).decode()}
"""

TEMPLATE = """
edition: 3.0.0
name: host-test
resources:
  echo:
    component: fc3
    props:
      region: cn-shanghai
      functionName: echo
      runtime: python3.10
      handler: index.handler
      code: ./code
      memorySize: 512
      role: acs:ram::${env('OWNER_ACCOUNT_ID')}:role/ram-delegate-owner
      environmentVariables: {RAM_DELEGATE_SIDE: owner}
      triggers:
        - {triggerName: web, triggerType: http, triggerConfig: {authType: anonymous, methods: [GET, POST]}}
  five:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: every-five-minutes
      runtime: python3.10
      handler: index.handler
      code: ./code
      role: acs:ram::${env('OWNER_ACCOUNT_ID')}:role/ram-delegate-owner
      environmentVariables: {RAM_DELEGATE_SIDE: owner}
      triggers:
        - triggerName: five
          triggerType: timer
          triggerConfig: {cronExpression: '0 */5 * * * *', enable: true, payload: p5}
  hourly:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: hourly
      runtime: python3.10
      handler: index.handler
      code: ./code
      role: acs:ram::${env('PARTNER_ACCOUNT_ID')}:role/ram-delegate-partner
      environmentVariables: {RAM_DELEGATE_SIDE: partner}
      triggers:
        - triggerName: hour
          triggerType: timer
          triggerConfig: {cronExpression: '0 0 * * * *', enable: true, payload: ph}
        - {triggerName: off, triggerType: timer, triggerConfig: {cronExpression: '* * * * * *', enable: false}}
  minutely:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: minutely
      runtime: python3.10
      handler: index.handler
      code: ./code
      role: acs:ram::${env('PARTNER_ACCOUNT_ID')}:role/ram-delegate-verifier
      environmentVariables: {RAM_DELEGATE_SIDE: partner}
      triggers:
        - {triggerName: half, triggerType: timer, triggerConfig: {cronExpression: '30 * * * * *', enable: true}}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("host")
    (root / "code").mkdir()
    (root / "code" / "index.py").write_text(textwrap.dedent(HANDLER), encoding="utf-8")
    (root / "template.yml").write_text(textwrap.dedent(TEMPLATE), encoding="utf-8")
    with LocalStack(template=root / "template.yml", env={}) as running:
        yield running


def request(url: str, *, method: str = "GET", body: bytes | None = None, headers: Any = ()) -> tuple[int, Any, bytes]:
    """A raw HTTP request (http.client keeps repeated headers, which urllib would merge)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest(method, parts.path + (f"?{parts.query}" if parts.query else ""))
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_http_trigger_event_and_answer(stack: LocalStack) -> None:
    raw = b"\xff\xfe not utf-8"
    status, headers, body = request(
        stack.function_url("echo") + "/sub/p%20ath?a=1&a=2&empty=",
        method="POST",
        body=raw,
        headers=[("X-Multi", "one"), ("X-Multi", "two"), ("User-Agent", "pytest-agent")],
    )
    assert status == 201
    assert headers["x-echo"] == "yes"
    assert headers["x-fc-request-id"]
    answer = json.loads(body)
    event = answer["event"]
    assert event["version"] == "v1"
    assert event["rawPath"] == "/sub/p%20ath"
    assert event["headers"]["x-multi"] == "one,two"
    assert all(name == name.lower() for name in event["headers"])
    assert event["queryParameters"] == {"a": "1,2", "empty": ""}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    context = event["requestContext"]
    assert context["accountId"] == stack.owner.uid
    assert context["http"] == {
        "method": "POST",
        "path": "/sub/p ath",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest-agent",
    }
    assert context["requestId"] == headers["x-fc-request-id"] == answer["request_id"]
    emulator_now = stack.emulator.clock.now()
    event_time = at(context["time"])
    assert abs((emulator_now - event_time).total_seconds()) < 5
    assert int(context["timeEpoch"]) // 1000 == int(event_time.timestamp())


def test_text_body_is_passed_as_text_and_the_time_follows_the_emulator_clock(stack: LocalStack) -> None:
    stack.emulator.clock.set(at("2040-06-01T12:00:00Z"))
    status, _, body = request(stack.function_url("echo"), method="POST", body=b'{"hello": "world"}')
    assert status == 201
    event = json.loads(body)["event"]
    assert event["rawPath"] == "/"
    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"hello": "world"}'
    assert event["requestContext"]["time"].startswith("2040-06-01T12:00:")


def test_each_function_runs_with_its_own_role_session_and_context(stack: LocalStack) -> None:
    _, _, body = request(stack.function_url("echo"))
    answer = json.loads(body)
    assert answer["function"] == "echo"
    assert answer["memory"] == 512
    assert answer["account_id"] == stack.owner.uid
    assert answer["has_token"] is True
    assert answer["credentials_in_environ"] is False
    credential = stack.emulator.state.resolve_access_key(answer["access_key_id"])
    assert credential is not None
    assert credential.principal.kind == "role_session"
    assert credential.principal.account_id == stack.owner.uid
    assert credential.principal.name == "ram-delegate-owner"
    verifier = stack.invoke("minutely", b'{"triggerTime": "2040-01-01T00:00:00Z", "triggerName": "t", "payload": ""}')
    partner_credential = stack.emulator.state.resolve_access_key(verifier["access_key_id"])
    assert partner_credential is not None
    assert (partner_credential.principal.account_id, partner_credential.principal.name) == (
        stack.partner.uid,
        "ram-delegate-verifier",
    )


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/every-five-minutes", "POST", 404, "FunctionNotFound"),  # no HTTP trigger
        ("/nothing-here", "GET", 404, "FunctionNotFound"),
        ("/echo", "DELETE", 405, "MethodNotAllowed"),
    ],
)
def test_requests_nothing_answers(stack: LocalStack, path: str, method: str, status: int, code: str) -> None:
    answer_status, _, body = request(stack.url + path, method=method, body=b"" if method != "GET" else None)
    assert answer_status == status
    assert json.loads(body)["Code"] == code


def test_timers_fire_once_per_move_at_their_latest_due_time_in_time_order(stack: LocalStack) -> None:
    def runs_of(move: Any) -> list[tuple[str, str, str]]:
        before = len(stack.timer_runs)
        move()
        return [(r.function, r.trigger, r.due.strftime("%H:%M:%S")) for r in stack.timer_runs[before:]]

    # forward from wherever the clock was: every enabled trigger once (the disabled one never)
    first = runs_of(lambda: stack.emulator.clock.set(at("2050-01-01T00:00:30Z")))
    assert first == [
        ("every-five-minutes", "five", "00:00:00"),
        ("hourly", "hour", "00:00:00"),
        ("minutely", "half", "00:00:30"),
    ]
    # 4.5 minutes: four ticks of the minutely trigger coalesce into the latest, then the 5-minute one
    assert runs_of(lambda: stack.advance_clock(270)) == [
        ("minutely", "half", "00:04:30"),
        ("every-five-minutes", "five", "00:05:00"),
    ]
    # three hours: each trigger once, ordered by due time across triggers
    assert runs_of(lambda: stack.advance_clock(3 * 3600)) == [
        ("hourly", "hour", "03:00:00"),
        ("minutely", "half", "03:04:30"),
        ("every-five-minutes", "five", "03:05:00"),
    ]
    assert runs_of(lambda: stack.advance_clock(1)) == []
    assert runs_of(lambda: stack.emulator.clock.set(at("2049-12-31T00:00:00Z"))) == []  # backwards: nothing
    assert all(run.ok for run in stack.timer_runs)


def test_moving_the_clock_through_the_control_interface_fires_timers(stack: LocalStack) -> None:
    stack.emulator.clock.set(at("2060-01-01T00:59:59Z"))
    before = len(stack.timer_runs)
    status, _, body = request(
        stack.emulator.url + "/_emulator/clock",
        method="POST",
        body=json.dumps({"advance_seconds": 1}).encode(),
        headers=[("Content-Type", "application/json")],
    )
    assert status == 200, body
    fired = stack.timer_runs[before:]
    assert [(r.function, r.due) for r in fired] == [
        ("every-five-minutes", at("2060-01-01T01:00:00Z")),
        ("hourly", at("2060-01-01T01:00:00Z")),
    ]
    event = fired[1].result["event"]
    assert event == {"triggerTime": "2060-01-01T01:00:00Z", "triggerName": "hour", "payload": "ph"}
    assert datetime.now(timezone.utc) < at("2060-01-01T00:00:00Z")  # the host clock did not move


@pytest.mark.parametrize(
    ("head", "status", "code"),
    [
        (b"POST /echo HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400, "InvalidRequest"),
        (b"POST /echo HTTP/1.1\r\nContent-Length: 7000000\r\n\r\n", 413, "RequestEntityTooLarge"),
        (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411, "MissingContentLength"),
        (b"BREW /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "MethodNotAllowed"),
    ],
)
def test_unreadable_requests_are_refused_in_fc_error_format_before_the_body_is_read(
    stack: LocalStack, head: bytes, status: int, code: str
) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as connection:
        connection.sendall(head)
        response = http.client.HTTPResponse(connection)
        response.begin()
        body = json.loads(response.read())
    assert response.status == status
    assert response.getheader("Connection") == "close"
    assert body["Code"] == code
    assert body["RequestId"]
