"""Fixtures for the delegation tests: Deps for both accounts against the emulator, fakes for notifier and audit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from race_support import Gate, make_alice

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, ram_client
from ram_delegate import partner
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.deps import Deps
from ram_delegate.events import ApprovedEvent, GrantedEvent, RevokedEvent, parse_event
from ram_delegate.policy import load_profiles
from ram_delegate.settings import Settings

EVENTS = Path(__file__).resolve().parent.parent / "events"
OWNER_KEY = Credentials("AKIDENTERPRISEA0000001", "secret-a")
PARTNER_KEY = Credentials("AKIDENTERPRISEB0000001", "secret-b")
PARTNER_ENDPOINT = "https://partner.example.com/ram-delegate"
PARTNER_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SEAL_SECRET = "seal-test-secret-0123456789abcdef"

WRITE_ACTIONS = frozenset(
    {
        "CreateRole", "UpdateRole", "DeleteRole", "CreatePolicy", "CreatePolicyVersion", "DeletePolicy",
        "DeletePolicyVersion", "SetDefaultPolicyVersion", "AttachPolicyToRole", "DetachPolicyFromRole",
        "AttachPolicyToUser", "DetachPolicyFromUser", "CreateUser", "UpdateUser", "DeleteUser", "CreateAccessKey",
        "DeleteAccessKey", "TagResources", "UntagResources", "AttachPolicy", "DetachPolicy",
    }
)  # fmt: skip


@pytest.fixture
def writes(aliyun_emulator: Any) -> Callable[[], dict[str, int]]:
    """The write calls the emulator has answered since its reset (failed ones included)."""
    return lambda: {action: n for action, n in aliyun_emulator.requests.counts().items() if action in WRITE_ACTIONS}


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((EVENTS / name).read_text())
    for path, value in changes.items():
        target = raw
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[part]
        target[leaf] = value
    return raw


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordingAudit:
    """An AuditLog stand-in that keeps every change line."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def change(self, **fields: Any) -> None:
        self.lines.append(fields)


class FakeNotifier:
    """Records what would be sent; optionally forwards granted events straight into the partner's handler."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.alerts: list[tuple[str, str, bool]] = []
        self.status = 200
        self.forward_to: Deps | None = None
        self.partner_outcomes: list[Any] = []

    def send_event(self, url: str, secret: str, event: Any, *, now: datetime) -> int:
        self.sent.append((url, event))
        if self.status == 200 and self.forward_to is not None and isinstance(event, GrantedEvent):
            self.partner_outcomes.append(partner.handle_granted(event, self.forward_to, now=now))
        if self.status == 200 and self.forward_to is not None and isinstance(event, RevokedEvent):
            self.partner_outcomes.append(partner.handle_revoked_forward(event, self.forward_to, now=now))
        return self.status

    def alert(self, url: str, title: str, text: str, *, critical: bool) -> None:
        self.alerts.append((title, text, critical))

    @property
    def granted(self) -> list[GrantedEvent]:
        return [event for _url, event in self.sent if isinstance(event, GrantedEvent)]


def no_sleep(_seconds: float) -> None:
    """Backoff without waiting (the policy still computes every delay)."""


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _deps(emulator: Any, account_id: str, key: Credentials, side: str, sleeps: list[float], **settings: Any) -> Deps:
    values: dict[str, Any] = {
        "side": side,
        "account_id": account_id,
        "endpoint": emulator.endpoint,
        "protocol": "http",
        "seal_secret": SEAL_SECRET,
    }
    if side == "owner":
        values |= {
            "partner_endpoint": PARTNER_ENDPOINT,
            "partner_secret": PARTNER_SECRET,
            "allowed_partners": (ENTERPRISE_B_UID,),
        }
    else:
        values |= {"allowed_owners": (ENTERPRISE_A_UID,)}
    config = Settings.from_env({}, **(values | settings))
    retry = RetryPolicy(attempts=5, sleep=sleeps.append, random=lambda: 1.0)
    return Deps(
        settings=config,
        cloud=CloudClients(config, key, retry=retry),
        clock=emulator.clock.now,
        notifier=FakeNotifier(),
        audit=RecordingAudit(),  # type: ignore[arg-type]
        profiles=load_profiles(),
    )


@pytest.fixture
def make_owner_deps(aliyun_emulator: Any, sleeps: list[float]) -> Callable[..., Deps]:
    return lambda **settings: _deps(aliyun_emulator, ENTERPRISE_A_UID, OWNER_KEY, "owner", sleeps, **settings)


@pytest.fixture
def make_partner_deps(aliyun_emulator: Any, sleeps: list[float]) -> Callable[..., Deps]:
    return lambda **settings: _deps(aliyun_emulator, ENTERPRISE_B_UID, PARTNER_KEY, "partner", sleeps, **settings)


@pytest.fixture
def owner_deps(make_owner_deps: Callable[..., Deps]) -> Deps:
    return make_owner_deps()


@pytest.fixture
def partner_deps(make_partner_deps: Callable[..., Deps]) -> Deps:
    return make_partner_deps()


@pytest.fixture
def now(aliyun_emulator: Any) -> datetime:
    """The emulator's now, truncated to the second (event times on the wire have second precision)."""
    return aliyun_emulator.clock.now().replace(microsecond=0)


@pytest.fixture
def approved(now: datetime) -> Callable[..., ApprovedEvent]:
    """An approval event at ``now + at`` seconds expiring ``days`` later; any field can be overridden."""

    def build(*, at: int = 0, days: float = 7, event_id: str = "evt-approved-0001", **changes: Any) -> ApprovedEvent:
        raw = load_event(
            "approved.json",
            id=event_id,
            time=iso(now + timedelta(seconds=at)),
            data__expires_at=iso(now + timedelta(seconds=at, days=days)),
        )
        for path, value in changes.items():
            target = raw["data"]
            *parents, leaf = path.split("__")
            for part in parents:
                target = target[part]
            target[leaf] = value
        event = parse_event(raw)
        assert isinstance(event, ApprovedEvent)
        return event

    return build


@pytest.fixture
def revoked(now: datetime) -> Callable[..., RevokedEvent]:
    def build(*, at: int = 60, event_id: str = "evt-revoked-0001", ticket: str = "OPS-1234") -> RevokedEvent:
        raw = load_event("revoked.json", id=event_id, time=iso(now + timedelta(seconds=at)), data__ticket=ticket)
        event = parse_event(raw)
        assert isinstance(event, RevokedEvent)
        return event

    return build


@pytest.fixture
def partner_root(aliyun_emulator: Any) -> Any:
    """B's root RAM client, for what the TEST does as the partner's administrator (e.g. an AccessKey for alice)."""
    return ram_client(aliyun_emulator, PARTNER_KEY.access_key_id, PARTNER_KEY.access_key_secret)


@pytest.fixture
def owner_root(aliyun_emulator: Any) -> Any:
    return ram_client(aliyun_emulator, OWNER_KEY.access_key_id, OWNER_KEY.access_key_secret)


@pytest.fixture
def linked(owner_deps: Deps, partner_deps: Deps) -> tuple[Deps, Deps]:
    """Owner and partner wired together: granted events go straight into the partner's handler."""
    notifier = owner_deps.notifier
    assert isinstance(notifier, FakeNotifier)
    notifier.forward_to = partner_deps
    return owner_deps, partner_deps


VERIFIER_ROLE = "ram-delegate-verifier"
VERIFIER_HARNESS = "verifier-harness"
ROLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "ram_delegate" / "roles"


@pytest.fixture
def verify_as_function(aliyun_emulator: Any, partner_root: Any, make_partner_deps: Callable[..., Deps]) -> Any:
    """partner-verify as it runs in FC: as the verifier role, holding the repository's partner-verifier.json.

    FC hands the function its role's session; here a harness user in B assumes the role to get that session.
    Returns ``verify(now) -> VerificationReport``.
    """
    from alibabacloud_ram20150501 import models

    from aliyun_emulator.testing import admit_role_assumer
    from ram_delegate.bootstrap import TRUST_POLICY
    from ram_delegate.verify import verify_grants

    partner_root.create_role(
        models.CreateRoleRequest(role_name=VERIFIER_ROLE, assume_role_policy_document=json.dumps(TRUST_POLICY))
    )
    document = (ROLES_DIR / "partner-verifier.json").read_text()
    partner_root.create_policy(models.CreatePolicyRequest(policy_name="verifier-function", policy_document=document))
    partner_root.attach_policy_to_role(
        models.AttachPolicyToRoleRequest(policy_name="verifier-function", policy_type="Custom", role_name=VERIFIER_ROLE)
    )
    key_id, secret = admit_role_assumer(
        partner_root, ENTERPRISE_B_UID, VERIFIER_HARNESS, [VERIFIER_ROLE], policy_name="verify-harness-assume-verifier"
    )
    harness = make_partner_deps(verifier_role=VERIFIER_ROLE)
    harness_cloud = harness.cloud.with_credentials(Credentials(key_id, secret))

    def verify(now: datetime) -> Any:
        role_arn = f"acs:ram::{ENTERPRISE_B_UID}:role/{VERIFIER_ROLE}"
        session = harness_cloud.sts.assume_role(role_arn, "partner-verify", duration_seconds=900)
        deps = make_partner_deps(verifier_role=VERIFIER_ROLE)
        deps.cloud = deps.cloud.with_credentials(session.credentials)
        return verify_grants(deps, now=now, propagation_retries=0)

    return verify


@pytest.fixture
def gate(mocker: Any) -> Iterator[Gate]:
    from alibabacloud_tea_openapi.client import Client

    stopper = Gate()
    mocker.patch.object(Client, "call_api", stopper.wrap(Client.call_api))
    yield stopper
    stopper.release.set()


@pytest.fixture
def alice(partner_root: Any) -> Credentials:
    """Alice as the partner's worst case: her own AccessKey and leave to assume any of A's rd-* roles.

    She exists before her first grant; the test marks her as created by the partner function (sealed marker) so that
    the grants adopt her without the adoption opt-in.
    """
    from alibabacloud_ram20150501 import models

    from ram_delegate.grants import user_marker
    from ram_delegate.seal import SealKeys

    key = make_alice(partner_root)
    marker = user_marker("alice", SealKeys(SEAL_SECRET))
    partner_root.update_user(models.UpdateUserRequest(user_name="alice", new_comments=marker))
    return key
