"""Deliveries as the vendors make them: a native payload signed or encrypted by the vendor's algorithm.

Used by ``ram-delegate send --source`` (an operator testing a deployment by hand), the tests and the bench.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as random_source
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ram_delegate.intake.crypto import dingtalk_encrypt, dingtalk_signature, feishu_encrypt, feishu_signature


@dataclass(frozen=True)
class Delivery:
    """What to POST: query parameters, headers and the raw body."""

    body: bytes
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


def _hub(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def jira(body: bytes, secret: str, *, delivery_id: str | None = None) -> Delivery:
    headers = {
        "content-type": "application/json",
        "x-hub-signature": _hub(secret, body),
        "x-atlassian-webhook-identifier": delivery_id or str(uuid.uuid4().int)[:19],
    }
    return Delivery(body, headers)


def github(body: bytes, secret: str, *, delivery_id: str | None = None, event: str = "issues") -> Delivery:
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery_id or str(uuid.uuid4()),
        "x-github-hook-id": "1",
        "x-hub-signature-256": _hub(secret, body),
    }
    return Delivery(body, headers)


def dingtalk(message: bytes, *, token: str, aes_key: str, receiver_id: str, now: datetime) -> Delivery:
    timestamp = str(int(now.timestamp() * 1000))
    nonce = random_source.token_hex(4)
    encrypt = dingtalk_encrypt(aes_key, receiver_id, message)
    query = {
        "msg_signature": dingtalk_signature(token, timestamp, nonce, encrypt),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    return Delivery(json.dumps({"encrypt": encrypt}).encode(), {"content-type": "application/json"}, query)


def feishu(document: Mapping[str, Any], *, verification_token: str, encrypt_key: str | None, now: datetime) -> Delivery:
    """The event with its token set; encrypted and signed when an Encrypt Key is given."""
    filled = dict(document)
    if isinstance(filled.get("header"), Mapping):
        filled["header"] = {**filled["header"], "token": verification_token}
    else:
        filled["token"] = verification_token
    plain = json.dumps(filled).encode()
    if not encrypt_key:
        return Delivery(plain, {"content-type": "application/json"})
    body = json.dumps({"encrypt": feishu_encrypt(encrypt_key, plain)}).encode()
    timestamp, nonce = str(int(now.timestamp())), random_source.token_hex(8)
    headers = {
        "content-type": "application/json",
        "x-lark-request-timestamp": timestamp,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": feishu_signature(timestamp, nonce, encrypt_key, body),
    }
    return Delivery(body, headers)


def token(body: bytes, bearer: str) -> Delivery:
    return Delivery(body, {"content-type": "application/json", "authorization": f"Bearer {bearer}"})
