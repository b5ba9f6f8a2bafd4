"""A two-account stack on the emulator for the verifier tests: real grants made by the owner and partner handlers.

The owner side runs as A's root, the partner side as B's root. The verifier runs the way partner-verify does in
Function Compute: as its own role ``rd-verifier`` in B, with the repository's least-privilege verifier policy, whose
session the test harness obtains through a harness-only RAM user (FC would hand the function that session itself).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ram_delegate.audit import AuditLog
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.deps import Deps
from ram_delegate.events import ApprovedEvent, GrantedEvent, RevokedEvent, parse_event
from ram_delegate.policy import load_profiles
from ram_delegate.settings import Settings

if TYPE_CHECKING:
    from aliyun_emulator.emulator import Emulator

OWNER = "1111111111111111"
PARTNER = "2222222222222222"
VERIFIER_ROLE = "rd-verifier"
HARNESS_USER = "verify-harness"
ALERT_WEBHOOK = "https://hooks.slack.example/services/T000/B000/XXXX"
VERIFIER_POLICY_FILE = Path(__file__).parents[2] / "shared" / "ram_delegate" / "roles" / "partner-verifier.json"


@dataclass(frozen=True)
class Alert:
    url: str
    title: str
    text: str
    critical: bool


@dataclass
class FakeNotifier:
    """Records alerts; delivers owner -> partner events straight into the partner's handlers."""

    deliver: Callable[[GrantedEvent | ApprovedEvent | RevokedEvent, datetime], None] | None = None
    alerts: list[Alert] = field(default_factory=list)
    events: list[GrantedEvent | ApprovedEvent | RevokedEvent] = field(default_factory=list)

    def send_event(
        self, url: str, secret: str, event: GrantedEvent | ApprovedEvent | RevokedEvent, *, now: datetime
    ) -> int:
        self.events.append(event)
        if self.deliver is not None:
            self.deliver(event, now)
        return 200

    def alert(self, url: str, title: str, text: str, *, critical: bool) -> None:
        self.alerts.append(Alert(url, title, text, critical))


def no_sleep(_seconds: float) -> None:
    """Backoff without waiting, for tests that inject errors rather than real throttling."""


@dataclass
class Stack:
    emulator: Emulator
    owner: Deps
    partner: Deps
    notifier: FakeNotifier
    harness_key: Credentials
    retry: RetryPolicy
    verifier_settings: Settings
    sequence: int = 0

    def now(self) -> datetime:
        return self.emulator.clock.now()

    def approve(
        self,
        ticket: str,
        *,
        expires_in: timedelta = timedelta(hours=2),
        group: str | None = None,
        user: str = "alice",
        profile: str = "slb-readonly",
        resource_ids: list[str] | None = None,
    ) -> None:
        """A signed-off approval handled by the owner, whose granted event the partner handles."""
        from ram_delegate.owner import handle_approved

        now = self.now()
        event = parse_event(
            {
                "specversion": "1.0",
                "id": self._event_id(),
                "source": "https://tickets.example/ops",
                "type": "partner.access.approved",
                "time": now.isoformat(),
                "data": {
                    "ticket": ticket,
                    "partner": {"name": "Enterprise B", "account_id": PARTNER, "user": user},
                    "access": {
                        "profile": profile,
                        "region": "cn-hangzhou",
                        "resource_group_id": group,
                        "resource_ids": resource_ids,
                    },
                    "expires_at": (now + expires_in).isoformat(),
                    "requested_by": "bob@example.com",
                    "approved_by": "carol@example.com",
                },
            }
        )
        assert isinstance(event, ApprovedEvent)
        assert handle_approved(event, self.owner, now=now).status == "applied"

    def revoke(self, ticket: str) -> None:
        from ram_delegate.owner import handle_revoked

        now = self.now()
        event = parse_event(
            {
                "specversion": "1.0",
                "id": self._event_id(),
                "source": "https://tickets.example/ops",
                "type": "partner.access.revoked",
                "time": now.isoformat(),
                "data": {"ticket": ticket},
            }
        )
        assert isinstance(event, RevokedEvent)
        assert handle_revoked(event, self.owner, now=now).status == "applied"

    def verifier(self, *, retry: RetryPolicy | None = None, **overrides: Any) -> Deps:
        """Deps as partner-verify gets them: a fresh session of the verifier role at the emulator's current time."""
        from alibabacloud_sts20150401 import models

        from aliyun_emulator.testing import sts_client

        sts = sts_client(self.emulator, self.harness_key.access_key_id, self.harness_key.access_key_secret)
        request = models.AssumeRoleRequest(
            role_arn=f"acs:ram::{PARTNER}:role/{VERIFIER_ROLE}",
            role_session_name="partner-verify",
            duration_seconds=3600,
        )
        issued = sts.assume_role(request).body.credentials
        credentials = Credentials(issued.access_key_id, issued.access_key_secret, issued.security_token)
        settings = self.verifier_settings.model_copy(update=overrides)
        cloud = CloudClients(settings, credentials, retry=retry or self.retry)
        return Deps(settings, cloud, self.now, self.notifier, AuditLog(), self.partner.profiles)

    def _event_id(self) -> str:
        self.sequence += 1
        return f"evt-verify-{self.sequence:04d}"


def _settings(emulator: Emulator, **values: Any) -> Settings:
    return Settings(endpoint=emulator.endpoint, protocol="http", verifier_role=VERIFIER_ROLE, **values)


def _install_verifier_role(emulator: Emulator) -> Credentials:
    """As B's root: the verifier role (trusted by FC) with the repository's verifier policy, and a harness user that
    may assume it."""
    from alibabacloud_ram20150501 import models

    from aliyun_emulator.testing import admit_role_assumer, ram_client
    from ram_delegate.bootstrap import TRUST_POLICY

    ram = ram_client(emulator, "AKIDENTERPRISEB0000001", "secret-b")
    ram.create_role(
        models.CreateRoleRequest(role_name=VERIFIER_ROLE, assume_role_policy_document=json.dumps(TRUST_POLICY))
    )
    ram.create_policy(
        models.CreatePolicyRequest(
            policy_name="partner-verifier-function", policy_document=VERIFIER_POLICY_FILE.read_text()
        )
    )
    ram.attach_policy_to_role(
        models.AttachPolicyToRoleRequest(
            policy_name="partner-verifier-function", policy_type="Custom", role_name=VERIFIER_ROLE
        )
    )
    key_id, secret = admit_role_assumer(
        ram, PARTNER, HARNESS_USER, [VERIFIER_ROLE], policy_name="verify-harness-assume-verifier"
    )
    return Credentials(key_id, secret)


def build_stack(emulator: Emulator) -> Stack:
    """Owner and partner wired together through a fake notifier; the verifier role installed in B."""
    from ram_delegate.partner import handle_granted, handle_revoked_forward

    retry = RetryPolicy(sleep=no_sleep)
    notifier = FakeNotifier()
    profiles = load_profiles()

    def clock() -> datetime:
        return emulator.clock.now()

    owner_settings = _settings(
        emulator,
        side="owner",
        account_id=OWNER,
        partner_endpoint="https://partner.example/hook",
        partner_secret="s",
        allowed_partners=(PARTNER,),
    )
    partner_settings = _settings(emulator, side="partner", account_id=PARTNER, allowed_owners=(OWNER,))
    owner = Deps(
        owner_settings,
        CloudClients(owner_settings, Credentials("AKIDENTERPRISEA0000001", "secret-a"), retry=retry),
        clock,
        notifier,
        AuditLog(),
        profiles,
    )
    partner = Deps(
        partner_settings,
        CloudClients(partner_settings, Credentials("AKIDENTERPRISEB0000001", "secret-b"), retry=retry),
        clock,
        notifier,
        AuditLog(),
        profiles,
    )

    def deliver(event: GrantedEvent | ApprovedEvent | RevokedEvent, now: datetime) -> None:
        if isinstance(event, GrantedEvent):
            handle_granted(event, partner, now=now)
        if isinstance(event, RevokedEvent):
            handle_revoked_forward(event, partner, now=now)

    notifier.deliver = deliver
    harness_key = _install_verifier_role(emulator)
    verifier_settings = _settings(
        emulator,
        side="partner",
        account_id=PARTNER,
        alert_webhook=ALERT_WEBHOOK,
        assume_rate_per_second=100,
        verify_concurrency=8,
    )
    return Stack(emulator, owner, partner, notifier, harness_key, retry, verifier_settings)
