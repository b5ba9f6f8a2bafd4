"""Shared by the local-stack tests: a partner.access.approved CloudEvent and its signed delivery to owner-onboard."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from typing import Any

from ram_delegate.local.stack import LocalStack
from ram_delegate.webhook import sign

OWNER_ONBOARD = "ram-delegate-owner-onboard"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def approved_event(stack: LocalStack, ticket: str, *, expires_at: datetime, user: str = "partner-engineer") -> bytes:
    now = stack.emulator.clock.now()
    event = {
        "specversion": "1.0",
        "id": f"evt-{uuid.uuid4().hex}",
        "source": "https://tickets.example.com/webhooks",
        "type": "partner.access.approved",
        "time": iso(now),
        "data": {
            "ticket": ticket,
            "partner": {"name": "Enterprise B", "account_id": stack.partner.uid, "user": user},
            "access": {"profile": "slb-readonly", "region": "cn-hangzhou", "resource_group_id": None},
            "expires_at": iso(expires_at),
            "requested_by": "bob@enterprise-b.example",
            "approved_by": "carol@enterprise-a.example",
        },
    }
    return json.dumps(event).encode("utf-8")


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def send_signed(stack: LocalStack, body: bytes, secret: str | None = None) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to owner-onboard, signed with ``secret`` (default: the stack's own)."""
    timestamp = int(stack.emulator.clock.now().timestamp())
    signature = sign(secret or stack.webhook_secret, f"msg_{uuid.uuid4().hex}", timestamp, body)
    return post(stack.function_url(OWNER_ONBOARD), body, {**signature, "content-type": "application/json"})
