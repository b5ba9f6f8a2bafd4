"""``ram-delegate handoff --side owner|partner``: what one company hands the other company and its ticketing system.

It reads the same environment ``s deploy`` renders template.yml from, plus the side's webhook URL (``--url``, from
``s <side>-onboard info``), and prints each value with whom it is for. Secrets are never printed: only where they
live (a KMS secret name or an environment variable) and a short fingerprint both sides can compare after handing the
value over through a secret channel. Anything the side still lacks is listed, and the exit code is 1 until nothing is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ram_delegate.settings import (
    ENV_KMS_PARTNER_SECRET,
    ENV_KMS_WEBHOOK_SECRET,
    ENV_PARTNER_ENDPOINT,
    ENV_PARTNER_SECRET,
    ENV_REGION,
    ENV_VERIFIER_ROLE,
    ENV_WEBHOOK_SECRET,
)

Side = Literal["owner", "partner"]
ENV_OWNER_ACCOUNT_ID = "OWNER_ACCOUNT_ID"
ENV_PARTNER_ACCOUNT_ID = "PARTNER_ACCOUNT_ID"
DEFAULT_VERIFIER_ROLE = "ram-delegate-verifier"
OWNER_EVENTS = ("partner.access.approved", "partner.access.revoked")


def fingerprint(secret: str) -> str:
    """A short, irreversible tag of a secret, for two people to confirm they hold the same value."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Item:
    name: str
    value: str
    note: str = ""


@dataclass
class Handoff:
    side: Side
    sections: dict[str, list[Item]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "side": self.side,
            "sections": {
                title: [{"name": i.name, "value": i.value, "note": i.note} for i in items]
                for title, items in self.sections.items()
            },
            "missing": list(self.missing),
        }

    def lines(self) -> list[str]:
        out: list[str] = []
        for title, items in self.sections.items():
            out.append(title)
            for item in items:
                note = f"   ({item.note})" if item.note else ""
                out.append(f"  {item.name}: {item.value}{note}")
            out.append("")
        if self.missing:
            out.append("Still missing on this side (set them, redeploy, run this again):")
            out.extend(f"  - {entry}" for entry in self.missing)
        else:
            out.append("Nothing missing on this side.")
        return out


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _secret_source(env: Mapping[str, str], kms_variable: str, env_variable: str, missing: list[str]) -> Item | None:
    """Where a secret lives (never its value), with its fingerprint when this environment holds the value."""
    kms_name, value = _get(env, kms_variable), _get(env, env_variable)
    if kms_name:
        return Item("stored in", f"KMS secret {kms_name}", "its ACSCurrent version; fingerprint it where it is read")
    if value:
        return Item("stored in", f"environment variable {env_variable}", f"fingerprint {fingerprint(value)}")
    missing.append(f"{kms_variable} (a KMS secret name) or {env_variable}")
    return None


def handoff(side: Side, env: Mapping[str, str], url: str | None) -> Handoff:
    """The values one side hands out, from its deploy environment and its onboard function's URL."""
    result = Handoff(side)
    missing = result.missing
    region = _get(env, ENV_REGION) or "cn-hangzhou"
    if not url:
        missing.append(f"--url: the {side}-onboard HTTP trigger URL (s {side}-onboard info -t template.yml)")
    if side == "owner":
        account = _get(env, ENV_OWNER_ACCOUNT_ID)
        if not account:
            missing.append(ENV_OWNER_ACCOUNT_ID)
        ticketing = [
            Item("webhook URL", url or "?", "POST, JSON body"),
            Item("signature", "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"),
            Item("events", ", ".join(OWNER_EVENTS)),
        ]
        source = _secret_source(env, ENV_KMS_WEBHOOK_SECRET, ENV_WEBHOOK_SECRET, missing)
        if source is not None:
            ticketing.append(Item("signing secret", source.value, source.note))
        result.sections["For your ticketing system (its webhook settings):"] = ticketing
        result.sections["For the partner company (by your usual channel):"] = [
            Item(ENV_OWNER_ACCOUNT_ID, account or "?", "the account its grants come from"),
            Item("region", region),
        ]
        if not _get(env, ENV_PARTNER_ENDPOINT):
            missing.append(f"{ENV_PARTNER_ENDPOINT} (the partner's onboard URL, from the partner)")
        forwarding = _secret_source(env, ENV_KMS_PARTNER_SECRET, ENV_PARTNER_SECRET, missing)
        received = [Item(ENV_PARTNER_ENDPOINT, _get(env, ENV_PARTNER_ENDPOINT) or "?")]
        received.append(Item(ENV_VERIFIER_ROLE, _get(env, ENV_VERIFIER_ROLE) or DEFAULT_VERIFIER_ROLE))
        if forwarding is not None:
            received.append(Item("forwarding secret", forwarding.value, forwarding.note))
        result.sections["Received from the partner (check against what they sent):"] = received
        return result
    account = _get(env, ENV_PARTNER_ACCOUNT_ID)
    if not account:
        missing.append(ENV_PARTNER_ACCOUNT_ID)
    result.sections["For the owner company (by your usual channel):"] = [
        Item(ENV_PARTNER_ENDPOINT, url or "?", "where the owner forwards partner.access.granted"),
        Item(ENV_PARTNER_ACCOUNT_ID, account or "?"),
        Item(ENV_VERIFIER_ROLE, _get(env, ENV_VERIFIER_ROLE) or DEFAULT_VERIFIER_ROLE, "named in the owner's trust"),
    ]
    forwarding = _secret_source(env, ENV_KMS_PARTNER_SECRET, ENV_PARTNER_SECRET, missing)
    if forwarding is not None:
        result.sections["For the owner company, through a secret channel only (never email or a ticket):"] = [
            Item("forwarding secret", forwarding.value, forwarding.note)
        ]
    return result
