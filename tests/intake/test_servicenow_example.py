"""The ServiceNow example runs (with Node, a stand-in for GlideCertificateEncryption.generateMac on Node's HMAC) and
what it sends passes ram-delegate's own Standard Webhooks verifier and event parser."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ram_delegate.errors import SignatureError
from ram_delegate.events import ApprovedEvent, RevokedEvent, parse_event
from ram_delegate.webhook import generate_secret, verify_standard_webhook

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "servicenow" / "ram_delegate_outbound.js"
NODE = shutil.which("node")

HARNESS = """
const crypto = require('crypto');
const RamDelegate = require(process.argv[1]);
const input = JSON.parse(process.argv[2]);
const record = { get: (name) => (input.record[name] === undefined ? '' : String(input.record[name])) };
// GlideCertificateEncryption.generateMac(base64Key, 'HmacSHA256', data) -> base64 MAC
const generateMac = (key, alg, data) => {
  if (alg !== 'HmacSHA256') throw new Error('unexpected algorithm ' + alg);
  return crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(data, 'utf8').digest('base64');
};
const event = RamDelegate.buildEvent(record, input.state, input.nowMs);
if (!event) { console.log('null'); process.exit(0); }
const body = JSON.stringify(event);
const headers = RamDelegate.signHeaders(input.secret, RamDelegate.webhookId(event.id), input.ts, body, generateMac);
console.log(JSON.stringify({ body, headers }));
"""

RECORD = {
    "number": "RITM0010042",
    "sys_id": "6816f79cc0a8016401c5a33be04be441",
    "sys_mod_count": 7,
    "u_partner_name": "Enterprise B",
    "u_partner_account_id": "2222222222222222",
    "u_partner_ram_user": "alice",
    "u_access_profile": "slb-readonly",
    "u_region": "cn-hangzhou",
    "u_expires_at": "2030-01-08T00:00:00Z",
    "opened_by": "bob.requester",
    "sys_updated_by": "carol.approver",
}
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


def run(state: str, secret: str, record: dict[str, object] = RECORD) -> dict[str, object] | None:
    assert NODE is not None
    payload = {"record": record, "state": state, "secret": secret, "nowMs": int(NOW.timestamp() * 1000)}
    payload["ts"] = int(NOW.timestamp())
    done = subprocess.run(
        [NODE, "-e", HARNESS, str(SCRIPT), json.dumps(payload)], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] | None = json.loads(done.stdout)
    return result


pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def test_an_approval_from_servicenow_verifies_and_parses() -> None:
    secret = generate_secret()
    sent = run("approved", secret)
    assert sent is not None
    body = str(sent["body"]).encode()
    headers = sent["headers"]
    assert isinstance(headers, dict)
    assert verify_standard_webhook(headers, body, [secret], now=NOW) == headers["webhook-id"]
    event = parse_event(body)
    assert isinstance(event, ApprovedEvent)
    assert event.data.ticket == "RITM0010042"
    assert event.id == "snow-6816f79cc0a8016401c5a33be04be441-7"
    assert event.data.partner.user == "alice"


def test_a_revocation_needs_only_the_ticket_and_a_wrong_secret_fails() -> None:
    secret = generate_secret()
    sent = run("revoked", secret, {"number": "RITM0010042", "sys_id": "x1", "sys_mod_count": 8})
    assert sent is not None
    event = parse_event(str(sent["body"]))
    assert isinstance(event, RevokedEvent)
    headers = sent["headers"]
    assert isinstance(headers, dict)
    with pytest.raises(SignatureError):
        verify_standard_webhook(headers, str(sent["body"]).encode(), [generate_secret()], now=NOW)
    assert run("work_in_progress", secret) is None
