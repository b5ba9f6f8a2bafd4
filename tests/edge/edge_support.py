"""What the edge tests share: FC trigger events, signing, deps against the emulator, a loopback notifier."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, ram_client
from ram_delegate import app
from ram_delegate.audit import AuditLog
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.deps import Deps
from ram_delegate.events import to_json_bytes
from ram_delegate.grants import role_name
from ram_delegate.policy import load_profiles
from ram_delegate.settings import Settings
from ram_delegate.webhook import generate_secret, sign, webhook_id_for

EVENTS = Path(__file__).resolve().parents[1] / "events"
OWNER_KEY = Credentials("AKIDENTERPRISEA0000001", "secret-a")
PARTNER_KEY = Credentials("AKIDENTERPRISEB0000001", "secret-b")
OWNER_SECRET = generate_secret()
PARTNER_SECRET = generate_secret()
TICKET = "EDGE-42"
ROLE = role_name(TICKET)
FORBIDDEN_IN_LOGS = ("LTAI", "STS.", "AccessKeySecret", "SecurityToken", "whsec_", "secret-a", "secret-b")
SIGNATURES: list[str] = []
EXTERNAL_IDS: list[str] = []  # every ExternalId the owner handed to the partner during the test


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return document


def fc_http_event(body: bytes, headers: dict[str, str], now: datetime, *, base64_body: bool = False) -> bytes:
    """An FC 3.0 HTTP trigger event (from tests/events/edge-http-trigger.json) carrying ``body`` at ``now``."""
    event = load("edge-http-trigger.json")
    event["headers"] = {**event["headers"], **headers}
    event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    event["isBase64Encoded"] = base64_body
    event["requestContext"]["time"] = iso(now)
    event["requestContext"]["timeEpoch"] = str(int(now.timestamp() * 1000))
    return json.dumps(event).encode()


def signed_event(
    body: bytes,
    secret: str,
    now: datetime,
    msg_id: str = "evt-edge",
    *,
    signed_at: datetime | None = None,
    **options: Any,
) -> bytes:
    """``body`` signed at ``signed_at`` (default: ``now``) in an FC event the platform received at ``now``."""
    headers = sign(secret, msg_id, int((signed_at or now).timestamp()), body)
    SIGNATURES.append(headers["webhook-signature"].split(",", 1)[1])
    return fc_http_event(body, headers, now, **options)


def timer_event(now: datetime) -> bytes:
    return json.dumps({**load("edge-timer.json"), "triggerTime": iso(now)}).encode()


class LoopbackNotifier:
    """Delivers owner -> partner events through the partner's HTTP entry point; records alerts."""

    def __init__(self, partner: Deps | None) -> None:
        self.partner = partner
        self.responses: list[dict[str, Any]] = []
        self.alerts: list[tuple[str, bool]] = []

    def send_event(self, url: str, secret: str, event: Any, *, now: datetime) -> int:
        assert self.partner is not None
        if event.type == "partner.access.granted":
            EXTERNAL_IDS.append(event.data.external_id)
        body = to_json_bytes(event)
        response = app.partner_onboard(
            signed_event(body, secret, now, webhook_id_for(event.id)), None, deps=self.partner
        )
        self.responses.append(response)
        return int(response["statusCode"])

    def alert(self, url: str, title: str, text: str, *, critical: bool) -> None:
        self.alerts.append((title, critical))


class ExplodingNotifier(LoopbackNotifier):
    def send_event(self, url: str, secret: str, event: Any, *, now: datetime) -> int:
        raise RuntimeError(f"unexpected failure near {OWNER_SECRET} AccessKeySecret=secret-a")


def make_deps(emulator: Any, side: str, notifier: Any, **overrides: Any) -> Deps:
    account, key = (ENTERPRISE_A_UID, OWNER_KEY) if side == "owner" else (ENTERPRISE_B_UID, PARTNER_KEY)
    values: dict[str, Any] = {
        "side": side,
        "account_id": account,
        "endpoint": emulator.endpoint,
        "protocol": "http",
        "webhook_secrets": (OWNER_SECRET,) if side == "owner" else (PARTNER_SECRET,),
    }
    if side == "owner":
        values |= {
            "partner_endpoint": "https://partner.example.com/hook",
            "partner_secret": PARTNER_SECRET,
            "allowed_partners": (ENTERPRISE_B_UID,),
        }
    else:
        values |= {"allowed_owners": (ENTERPRISE_A_UID,)}
    settings = Settings(**{**values, **overrides})
    return Deps(
        settings=settings,
        cloud=CloudClients(settings, key, retry=RetryPolicy(sleep=lambda _seconds: None)),
        clock=emulator.clock.now,
        notifier=notifier,
        audit=AuditLog(),
        profiles=load_profiles(),
    )


def approval(now: datetime, *, days: float = 7, **data: Any) -> bytes:
    event = load("edge-approved.json")
    event["time"] = iso(now)
    event["data"]["expires_at"] = iso(now + timedelta(days=days))
    event["data"].update(data)
    return json.dumps(event).encode()


def revocation(now: datetime) -> bytes:
    event = load("edge-revoked.json")
    event["time"] = iso(now)
    return json.dumps(event).encode()


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(response["body"])
    return document


def cloud_calls(emulator: Any) -> int:
    return sum(emulator.requests.counts().values())


def write_calls(emulator: Any) -> int:
    reads = ("Get", "List", "Describe")
    return sum(n for action, n in emulator.requests.counts().items() if not action.startswith(reads))


def role_exists(emulator: Any) -> bool:
    from alibabacloud_ram20150501 import models

    client = ram_client(emulator, OWNER_KEY.access_key_id, OWNER_KEY.access_key_secret)
    roles = client.list_roles(models.ListRolesRequest(max_items=1000)).body.roles
    return ROLE in {r.role_name for r in ((roles.role if roles else None) or [])}


def partner_user_exists(emulator: Any, name: str = "dave") -> bool:
    from alibabacloud_ram20150501 import models

    client = ram_client(emulator, PARTNER_KEY.access_key_id, PARTNER_KEY.access_key_secret)
    users = client.list_users(models.ListUsersRequest(max_items=1000)).body.users
    return name in {u.user_name for u in ((users.user if users else None) or [])}


FC_CONTEXT = SimpleNamespace(
    credentials=SimpleNamespace(
        access_key_id=OWNER_KEY.access_key_id, access_key_secret="secret-a", security_token=None
    )
)
COLD_START_ENV = {
    "RAM_DELEGATE_WEBHOOK_SECRET": OWNER_SECRET,
    "RAM_DELEGATE_ACCOUNT_ID": ENTERPRISE_A_UID,
    "RAM_DELEGATE_ALLOWED_PARTNERS": ENTERPRISE_B_UID,
    "RAM_DELEGATE_PROTOCOL": "http",
}
