"""The function roles' policy files (``roles/*.json``) allow every call the handlers make, and the emulator enforces
them: each side's whole flow runs as a RAM user holding exactly the policy ``bootstrap`` gave the function's role."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, PROD_RESOURCE_GROUP_ID, ram_client
from ram_delegate import owner, partner
from ram_delegate.audit import AuditLog
from ram_delegate.bootstrap import OWNER_FUNCTION_ROLE, PARTNER_FUNCTION_ROLE, bootstrap
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.deps import Deps
from ram_delegate.errors import NotFoundError
from ram_delegate.events import ApprovedEvent, GrantedEvent, RevokedEvent, parse_event
from ram_delegate.notify import HttpNotifier
from ram_delegate.policy import load_profiles
from ram_delegate.settings import Settings

EVENTS = Path(__file__).resolve().parents[1] / "events"
ROOT_KEYS = {
    ENTERPRISE_A_UID: Credentials("AKIDENTERPRISEA0000001", "secret-a"),
    ENTERPRISE_B_UID: Credentials("AKIDENTERPRISEB0000001", "secret-b"),
}
VERIFIER = "ram-delegate-verifier"


def _no_wait(_seconds: float) -> None:
    """Backoff without waiting."""


def function_deps(emulator: Any, account: str, side: str, policy: str) -> Deps:
    """Deps whose credentials hold exactly the function role's policy (a stand-in user: FC would assume the role)."""
    from alibabacloud_ram20150501 import models

    settings = Settings(
        side=side,  # type: ignore[arg-type]
        account_id=account,
        endpoint=emulator.endpoint,
        protocol="http",
        verifier_role=VERIFIER,
        allowed_owners=(ENTERPRISE_A_UID,),
        allowed_partners=tuple(a for a in ROOT_KEYS if a != account),
    )
    root = CloudClients(settings, ROOT_KEYS[account], retry=RetryPolicy(sleep=_no_wait))
    bootstrap(side, root, settings)  # type: ignore[arg-type]
    admin = ram_client(emulator, ROOT_KEYS[account].access_key_id, ROOT_KEYS[account].access_key_secret)
    user = f"{side}-function"
    admin.create_user(models.CreateUserRequest(user_name=user))
    admin.attach_policy_to_user(
        models.AttachPolicyToUserRequest(policy_name=policy, policy_type="Custom", user_name=user)
    )
    key = admin.create_access_key(models.CreateAccessKeyRequest(user_name=user)).body.access_key
    credentials = Credentials(key.access_key_id, key.access_key_secret)
    return Deps(
        settings=settings,
        cloud=CloudClients(settings, credentials, retry=RetryPolicy(sleep=_no_wait)),
        clock=emulator.clock.now,
        notifier=HttpNotifier(),
        audit=AuditLog(),
        profiles=load_profiles(),
    )


def event(name: str, now: datetime, **changes: Any) -> Any:
    raw = json.loads((EVENTS / name).read_text())
    raw["time"] = (now + timedelta(seconds=changes.pop("at", 0))).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw["id"] = changes.pop("id", raw["id"])
    if "expires_at" in raw["data"]:
        raw["data"]["expires_at"] = (now + timedelta(days=changes.pop("days", 7))).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw["data"].update(changes)
    return parse_event(raw)


def test_the_owner_function_role_allows_grant_change_scope_revoke_and_sweep(aliyun_emulator: Any) -> None:
    deps = function_deps(aliyun_emulator, ENTERPRISE_A_UID, "owner", OWNER_FUNCTION_ROLE)
    now = aliyun_emulator.clock.now().replace(microsecond=0)
    first: ApprovedEvent = event("approved.json", now)
    assert owner.handle_approved(first, deps, now=now).status == "applied"
    changed: ApprovedEvent = event("approved.json", now, at=60, id="evt-changed", days=14)
    assert [s.action for s in owner.handle_approved(changed, deps, now=now).steps] == [
        "TagResources", "TagResources", "UpdateRole", "CreatePolicyVersion"
    ]  # fmt: skip
    scoped_access = {"profile": "slb-readonly", "region": "cn-hangzhou", "resource_group_id": PROD_RESOURCE_GROUP_ID}
    scoped: ApprovedEvent = event("approved.json", now, id="evt-scoped", ticket="OPS-2", access=scoped_access)
    assert owner.handle_approved(scoped, deps, now=now).status == "applied"
    revoke: RevokedEvent = event("revoked.json", now, at=120, id="evt-revoke", ticket="OPS-2")
    assert [s.action for s in owner.handle_revoked(revoke, deps, now=now).steps] == [
        "DetachPolicy", "UpdateRole", "DeletePolicy", "CreatePolicy", "DeleteRole"
    ]  # fmt: skip
    report = owner.sweep_owner(deps, now=now + timedelta(days=15))
    assert (report.expired, report.revoked, report.errors) == (1, ("OPS-1234",), ())
    aged = owner.sweep_owner(deps, now=now + timedelta(days=30))
    assert aged.errors == ()
    assert {s.action for s in aged.steps} == {"DeletePolicy"}  # both tombstones aged out


def test_the_partner_function_role_allows_grant_change_and_sweep(aliyun_emulator: Any) -> None:
    from alibabacloud_ram20150501 import models

    deps = function_deps(aliyun_emulator, ENTERPRISE_B_UID, "partner", PARTNER_FUNCTION_ROLE)
    now = aliyun_emulator.clock.now().replace(microsecond=0)
    granted: GrantedEvent = event("granted.json", now)
    assert [s.action for s in partner.handle_granted(granted, deps, now=now).steps] == [
        "CreateUser", "CreatePolicy", "AttachPolicyToUser", "CreatePolicy", "AttachPolicyToRole"
    ]  # fmt: skip
    longer: GrantedEvent = event("granted.json", now, at=60, id="evt-longer.granted", days=14)
    assert [s.action for s in partner.handle_granted(longer, deps, now=now).steps] == [
        "CreatePolicyVersion", "TagResources"
    ]  # fmt: skip
    report = partner.sweep_partner(deps, now=now + timedelta(days=15))
    assert (report.expired, report.revoked, report.errors) == (1, ("OPS-1234",), ())
    admin = ram_client(aliyun_emulator, "AKIDENTERPRISEB0000001", "secret-b")
    attached = admin.list_policies_for_role(models.ListPoliciesForRoleRequest(role_name=VERIFIER)).body.policies
    assert [p.policy_name for p in attached.policy] == [VERIFIER]  # only its own policy: rd-verify-* is gone


def test_the_owner_function_role_finds_and_removes_policies_added_to_a_grant_through_resource_manager(
    aliyun_emulator: Any,
) -> None:
    """As the function's role: the drift audit lists Resource Manager attachments across every group, detaches a
    system policy slipped in at resource-group scope, and revokes a grant given more at account scope (which the
    role may not detach)."""
    from alibabacloud_resourcemanager20200331 import models as rm_models

    from aliyun_emulator.testing import rm_client
    from ram_delegate import grants as g
    from ram_delegate.owner.drift import audit_owner_grants

    deps = function_deps(aliyun_emulator, ENTERPRISE_A_UID, "owner", OWNER_FUNCTION_ROLE)
    now = aliyun_emulator.clock.now().replace(microsecond=0)
    assert owner.handle_approved(event("approved.json", now), deps, now=now).status == "applied"
    root = ROOT_KEYS[ENTERPRISE_A_UID]
    administrator = rm_client(aliyun_emulator, root.access_key_id, root.access_key_secret)

    def attach_admin(group: str) -> None:
        administrator.attach_policy(
            rm_models.AttachPolicyRequest(
                resource_group_id=group,
                policy_type="System",
                policy_name="AdministratorAccess",
                principal_type="ServiceRole",
                principal_name=g.role_principal_name("rd-ops-1234", ENTERPRISE_A_UID),
            )
        )

    attach_admin(PROD_RESOURCE_GROUP_ID)
    [healed] = audit_owner_grants(deps, now=now)
    assert healed.action == "healed"
    assert audit_owner_grants(deps, now=now) == []

    attach_admin(ENTERPRISE_A_UID)
    [revoked] = audit_owner_grants(deps, now=now)
    assert revoked.action == "revoked"
    with pytest.raises(NotFoundError):
        deps.cloud.ram.get_role("rd-ops-1234")
