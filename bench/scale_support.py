"""What the scale benches share: a seed with raised quotas and the approval event that makes the template grant."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def seed(quota: int) -> dict[str, object]:
    """The default local seed with the owner's role and policy quotas raised to ``quota``."""
    document = json.loads((REPO / "shared/ram_delegate/local/default_seed.json").read_text())
    document["accounts"][0]["quotas"] = {"roles": quota, "policies": quota}
    return document


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def approved_event(partner_uid: str, ticket: str, now: datetime) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"evt-{uuid.uuid4().hex}",
            "source": "https://tickets.enterprise-a.example/changes",
            "type": "partner.access.approved",
            "time": iso(now),
            "data": {
                "ticket": ticket,
                "partner": {"name": "Enterprise B", "account_id": partner_uid, "user": "partner-engineer"},
                "access": {"profile": "slb-readonly", "region": "cn-hangzhou"},
                "expires_at": iso(now + timedelta(days=30)),
                "requested_by": "alice@enterprise-a.example",
                "approved_by": "bob@enterprise-a.example",
            },
        }
    ).encode()
