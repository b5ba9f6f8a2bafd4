"""Outgoing signed events and alerts (against a local HTTP receiver), the audit line, and log redaction."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ram_delegate.audit import AUDIT_LOGGER, AuditLog, install_redaction, redact
from ram_delegate.events import parse_event
from ram_delegate.notify import HttpNotifier, alert_body
from ram_delegate.webhook import generate_secret, verify_standard_webhook

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Receiver:
    """A loopback HTTP server that records what it receives and answers with a chosen status."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


GRANTED = {
    "specversion": "1.0",
    "id": "evt-granted-1",
    "source": "ram-delegate/owner/1111111111111111",
    "type": "partner.access.granted",
    "time": "2026-03-01T12:00:00Z",
    "data": {
        "ticket": "OPS-1234",
        "owner_account_id": "1111111111111111",
        "partner": {"name": "Enterprise B", "account_id": "2222222222222222", "user": "alice"},
        "access": {"profile": "slb-readonly", "region": "cn-hangzhou", "resource_group_id": None},
        "role_arn": "acs:ram::1111111111111111:role/rd-ops-1234",
        "external_id": "ext-abcdefgh",
        "expires_at": "2026-03-08T12:00:00Z",
    },
}


def test_send_event_posts_a_body_the_receiver_can_verify(receiver: Receiver) -> None:
    secret = generate_secret()
    status = HttpNotifier().send_event(receiver.url + "/hook", secret, parse_event(GRANTED), now=NOW)
    assert status == 200
    path, headers, body = receiver.received[0]
    assert path == "/hook"
    assert headers["content-type"] == "application/json"
    assert verify_standard_webhook(headers, body, [secret], now=NOW) == "evt-granted-1"
    assert parse_event(body) == parse_event(GRANTED)


def test_send_event_reports_the_receivers_status_and_no_answer_as_zero(receiver: Receiver) -> None:
    receiver.status = 503
    notifier = HttpNotifier(timeout=2)
    assert notifier.send_event(receiver.url, generate_secret(), parse_event(GRANTED), now=NOW) == 503
    receiver.server.shutdown()
    receiver.server.server_close()
    assert notifier.send_event(receiver.url, generate_secret(), parse_event(GRANTED), now=NOW) == 0
    assert notifier.send_event("file:///etc/passwd", generate_secret(), parse_event(GRANTED), now=NOW) == 0


@pytest.mark.parametrize("critical", [True, False])
def test_alert_bodies_follow_the_receiving_host(critical: bool) -> None:
    dingtalk = alert_body(
        "https://oapi.dingtalk.com/robot/send?access_token=t", "Grant check", "1 unexpected", critical=critical
    )
    slack = alert_body("https://hooks.slack.com/services/T/B/X", "Grant check", "1 unexpected", critical=critical)
    prefix = "[CRITICAL] " if critical else ""
    assert dingtalk == {
        "msgtype": "markdown",
        "markdown": {"title": f"{prefix}Grant check", "text": f"### {prefix}Grant check\n\n1 unexpected"},
    }
    assert slack == {"text": f"*{prefix}Grant check*\n1 unexpected"}


def test_alert_is_posted_and_a_failed_alert_only_logs_the_host(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    HttpNotifier().alert(receiver.url + "/services/T/B/SECRETPATH", "t", "x", critical=True)
    assert json.loads(receiver.received[0][2]) == {"text": "*[CRITICAL] t*\nx"}
    receiver.status = 500
    with caplog.at_level(logging.WARNING):
        HttpNotifier().alert(receiver.url + "/services/T/B/SECRETPATH?access_token=abc", "t", "x", critical=False)
    assert "not delivered" in caplog.text
    assert "SECRETPATH" not in caplog.text
    assert "abc" not in caplog.text


def test_audit_change_is_one_json_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER):
        AuditLog().change(
            event_id="evt-1",
            ticket="OPS-1",
            action="CreateRole",
            resource="acs:ram::1111111111111111:role/rd-ops-1",
            result="ok",
            request_id="req-1",
            dry_run=False,
        )
    [record] = [r for r in caplog.records if r.name == AUDIT_LOGGER]
    assert json.loads(record.getMessage()) == {
        "audit": "change",
        "event_id": "evt-1",
        "ticket": "OPS-1",
        "action": "CreateRole",
        "resource": "acs:ram::1111111111111111:role/rd-ops-1",
        "result": "ok",
        "request_id": "req-1",
        "dry_run": False,
    }


SECRET_SAMPLES = [
    "key LTAI5tQ3x9Yz8AbCdEfGhIjK used",
    "token STS.NUgYrLnoC37mZZCNnAbez2kHo",
    "secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    '{"AccessKeySecret": "s3cr3t-value", "SecurityToken": "tok-value"}',
    "x-acs-security-token: tok-value",
    "webhook-signature=v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    "got v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= from sender",
    "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123",
]
LEAKS = ["LTAI5t", "NUgYrLno", "whsec_", "MfKQ9r8G", "s3cr3t", "tok-value", "g0hM9SsE", "757107ea", "abcdef0123"]


@pytest.mark.parametrize("text", SECRET_SAMPLES)
def test_redact_removes_secret_values(text: str) -> None:
    cleaned = redact(text)
    assert not [leak for leak in LEAKS if leak in cleaned]
    assert "AccessKeySecret" not in cleaned
    assert "SecurityToken" not in cleaned


def test_redact_keeps_ordinary_text() -> None:
    text = "CreateRole acs:ram::1111111111111111:role/rd-ops-1 ok sts.cn-hangzhou.aliyuncs.com"
    assert redact(text) == text


def test_library_log_records_are_redacted_before_any_handler(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("ram_delegate.owner").info("creds %s", SECRET_SAMPLES[3])
        try:
            raise ValueError("boom whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        except ValueError:
            logging.getLogger("ram_delegate.app").exception("failed")
        logging.getLogger("some.other").info("untouched %s", "LTAI5tQ3x9Yz8AbCdEfGhIjK")
    library = [r for r in caplog.records if r.name.startswith("ram_delegate")]
    rendered = "\n".join(logging.Formatter().format(r) for r in library)
    assert "s3cr3t" not in rendered
    assert "whsec_" not in rendered
    assert "[redacted]" in rendered
    assert "ValueError" in rendered
    assert "LTAI5tQ3x9Yz8AbCdEfGhIjK" in caplog.records[-1].getMessage()
