"""Ownership is a seal, not a tag: forged tags, forged seals and copied seals are reported and never acted on."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ram20150501 import models

from aliyun_emulator.testing import PROD_RESOURCE_GROUP_ID
from ram_delegate import grants as g
from ram_delegate import owner, partner
from ram_delegate.errors import GuardrailError, RamDelegateError, RetryableCloudError
from ram_delegate.events import GrantedEvent, parse_event

EVENTS = Path(__file__).resolve().parent.parent / "events"

TRUST = json.dumps(
    {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["ecs.aliyuncs.com"]}}],
    }
)
WIDE = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _role_tags(ram: Any, name: str) -> dict[str, str]:
    answer = ram.list_tag_resources(models.ListTagResourcesRequest(resource_type="role", resource_names=[name]))
    return {t.tag_key: t.tag_value for t in answer.body.tag_resources}


def _tag_role(ram: Any, name: str, tags: dict[str, str]) -> None:
    request = models.TagResourcesRequest(
        resource_type="role",
        resource_names=[name],
        tag=[models.TagResourcesRequestTag(key=k, value=v) for k, v in tags.items()],
    )
    ram.tag_resources(request)


def _exists(ram: Any, role: str) -> bool:
    roles = ram.list_roles(models.ListRolesRequest(max_items=1000)).body.roles.role
    return role in {r.role_name for r in roles}


def test_tag_forgery_on_another_teams_role_is_reported_never_deleted(
    owner_deps: Any, owner_root: Any, now: Any
) -> None:
    """An A user who may only tag roles dresses rd-payments-ci as an expired grant: the sweep must not delete it."""
    owner_root.create_role(models.CreateRoleRequest(role_name="rd-payments-ci", assume_role_policy_document=TRUST))
    forged = {
        g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE,
        g.TAG_KIND: g.KIND_ROLE,
        g.TAG_TICKET: "payments-ci",
        g.TAG_NAME_KEY: "payments-ci",
        g.TAG_EXPIRES_AT: g.format_time(now - timedelta(days=1)),
        g.TAG_STATE: "active",
        g.TAG_SEAL: "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # a forged seal too
    }
    _tag_role(owner_root, "rd-payments-ci", forged)
    report = owner.sweep_owner(owner_deps, now=now)
    assert report.steps == ()
    assert report.expired == 0
    assert any(e.startswith("rd-payments-ci:") and "never deleted" in e for e in report.errors)
    assert _exists(owner_root, "rd-payments-ci")


def test_a_copied_seal_is_worth_nothing_on_another_resource(
    linked: Any, owner_root: Any, approved: Any, now: Any
) -> None:
    owner_deps, _partner_deps = linked
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "applied"
    genuine = _role_tags(owner_root, "rd-ops-1234")
    assert g.is_sealed(genuine, "rd-ops-1234", owner_deps.settings.seal_keys)
    owner_root.create_role(models.CreateRoleRequest(role_name="rd-payments-ci", assume_role_policy_document=TRUST))
    _tag_role(owner_root, "rd-payments-ci", genuine)  # every tag of a real grant, seal included
    report = owner.sweep_owner(owner_deps, now=now + timedelta(days=8))
    assert report.revoked == ("OPS-1234",)  # the genuine grant expired and went
    assert not _exists(owner_root, "rd-ops-1234")
    assert _exists(owner_root, "rd-payments-ci")
    assert any(e.startswith("rd-payments-ci:") for e in report.errors)


def test_a_forged_role_with_the_grants_name_is_neither_adopted_nor_revoked(
    owner_deps: Any, owner_root: Any, approved: Any, revoked: Any, now: Any, writes: Any
) -> None:
    owner_root.create_role(models.CreateRoleRequest(role_name="rd-ops-1234", assume_role_policy_document=TRUST))
    _tag_role(owner_root, "rd-ops-1234", {**g.managed_filter(g.KIND_ROLE), g.TAG_TICKET: "OPS-1234"})
    with pytest.raises(GuardrailError, match="sealed"):
        owner.handle_approved(approved(), owner_deps, now=now)
    written = writes()
    # The revocation records its tombstone but cannot vouch for a role it may not touch: no 2xx, the sender retries.
    with pytest.raises(RetryableCloudError, match="may remain: rd-ops-1234"):
        owner.handle_revoked(revoked(), owner_deps, now=now)
    made = {action: n - written.get(action, 0) for action, n in writes().items() if n != written.get(action, 0)}
    assert made == {"CreatePolicy": 1}  # the tombstone, nothing else
    role = owner_root.get_role(models.GetRoleRequest(role_name="rd-ops-1234")).body.role
    assert json.loads(role.assume_role_policy_document) == json.loads(TRUST)
    [tombstone] = owner_deps.cloud.ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE))
    assert g.is_sealed(tombstone.tags, tombstone.name, owner_deps.settings.seal_keys)
    with pytest.raises(RetryableCloudError):  # a redelivery is no duplicate while the role is there
        owner.handle_revoked(revoked(), owner_deps, now=now)


def _forged_tombstone(owner_root: Any, ticket: str, revoked_at: Any) -> None:
    tags = {
        **g.managed_filter(g.KIND_TOMBSTONE, ticket),
        g.TAG_TICKET: ticket,
        g.TAG_STATE: "revoked",
        g.TAG_EVENT_ID: "forged",
        g.TAG_EVENT_TIME: g.format_time(revoked_at),
    }
    owner_root.create_policy(
        models.CreatePolicyRequest(
            policy_name=g.tombstone_policy_name(ticket),
            policy_document=json.dumps(
                {"Version": "1", "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}]}
            ),
            tag=[models.CreatePolicyRequestTag(key=k, value=v) for k, v in tags.items()],
        )
    )


def test_an_unverifiable_tombstone_stops_an_approval_it_postdates_before_any_write(
    owner_deps: Any, owner_root: Any, approved: Any, now: Any, writes: Any
) -> None:
    """A tombstone the function cannot verify (forged, or sealed under a key it does not hold) is never changed, but
    when in doubt an approval older than it does not proceed: no role, not even for a moment."""
    _forged_tombstone(owner_root, "OPS-1234", now + timedelta(days=1))
    _forged_tombstone(owner_root, "OPS-77", now - timedelta(days=1))
    written = writes()

    blocked = owner.handle_approved(approved(), owner_deps, now=now)

    assert blocked.status == "stale"
    assert writes() == written
    assert not _exists(owner_root, "rd-ops-1234")
    older = owner.handle_approved(approved(ticket="OPS-77", event_id="evt-approved-77"), owner_deps, now=now)
    assert older.status == "applied"  # a revocation recorded before the approval never blocks it


def test_a_forged_tombstone_does_not_make_a_revocation_a_duplicate(
    linked: Any, owner_root: Any, approved: Any, revoked: Any, now: Any
) -> None:
    owner_deps, _ = linked
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "applied"
    tags = {
        **g.managed_filter(g.KIND_TOMBSTONE, "OPS-1234"),
        g.TAG_TICKET: "OPS-1234",
        g.TAG_STATE: "revoked",
        g.TAG_EVENT_ID: "forged",
        g.TAG_EVENT_TIME: g.format_time(now + timedelta(days=1)),  # "revoked later": would make ours a duplicate
    }
    owner_root.create_policy(
        models.CreatePolicyRequest(
            policy_name="rd-tomb-ops-1234",
            policy_document=json.dumps(
                {"Version": "1", "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}]}
            ),
            tag=[models.CreatePolicyRequestTag(key=k, value=v) for k, v in tags.items()],
        )
    )
    outcome = owner.handle_revoked(revoked(), owner_deps, now=now)
    assert outcome.status == "applied"
    assert not _exists(owner_root, "rd-ops-1234")


def _granted(now: Any) -> GrantedEvent:
    raw = json.loads((EVENTS / "granted.json").read_text())
    raw["time"] = g.format_time(now)
    raw["data"]["expires_at"] = g.format_time(now + timedelta(days=7))
    event = parse_event(raw)
    assert isinstance(event, GrantedEvent)
    return event


def test_partner_never_attaches_a_forged_verifier_policy(make_partner_deps: Any, partner_root: Any, now: Any) -> None:
    deps = make_partner_deps(verifier_role="ram-delegate-verifier")
    partner_root.create_role(
        models.CreateRoleRequest(role_name="ram-delegate-verifier", assume_role_policy_document=TRUST)
    )
    event = _granted(now)
    forged = {**g.managed_filter(g.KIND_VERIFY), g.TAG_OWNER_ACCOUNT: event.data.owner_account_id}
    partner_root.create_policy(
        models.CreatePolicyRequest(
            policy_name=g.verifier_policy_name(event.data.owner_account_id),
            policy_document=WIDE,
            tag=[models.CreatePolicyRequestTag(key=k, value=v) for k, v in forged.items()],
        )
    )
    with pytest.raises(RamDelegateError):
        partner.handle_granted(event, deps, now=now)
    attached = partner_root.list_policies_for_role(
        models.ListPoliciesForRoleRequest(role_name="ram-delegate-verifier")
    ).body.policies.policy
    assert attached == []


def test_partner_never_deletes_a_user_whose_marker_is_forged(
    make_partner_deps: Any, partner_root: Any, now: Any
) -> None:
    partner_deps = make_partner_deps(adopt_existing_users=True)  # a forged marker is an existing user's
    event = _granted(now)
    user = event.data.partner.user
    partner_root.create_user(models.CreateUserRequest(user_name=user, comments=partner.USER_MARKER))
    assert partner.handle_granted(event, partner_deps, now=now).status == "applied"
    report = partner.sweep_partner(partner_deps, now=now + timedelta(days=8))
    assert report.revoked == (event.data.ticket,)
    assert "DeleteUser" not in {s.action for s in report.steps}
    assert partner_root.get_user(models.GetUserRequest(user_name=user)).body.user.user_name == user


def test_a_renewal_that_drops_a_recorded_field_keeps_the_grant_sealed_and_revocable(
    linked: Any, owner_root: Any, approved: Any, revoked: Any, now: Any, writes: Any
) -> None:
    """Moving a grant from one resource group to account scope drops a sealed tag: TagResources never removes one, so
    the field is written empty in the same call (the seal reads an absent tag as empty) and the grant stays ours."""
    owner_deps, partner_deps = linked
    scoped = approved(access__resource_group_id=PROD_RESOURCE_GROUP_ID)
    assert owner.handle_approved(scoped, owner_deps, now=now).status == "applied"

    widened = approved(at=60, event_id="evt-approved-0002")
    assert owner.handle_approved(widened, owner_deps, now=now + timedelta(seconds=60)).status == "applied"

    [role] = owner_deps.cloud.ram.list_roles(g.managed_filter(g.KIND_ROLE))
    assert role.tags.get(g.TAG_RESOURCE_GROUP) == ""
    assert g.is_sealed(role.tags, role.name, owner_deps.settings.seal_keys)
    [grant] = g.list_owner_grants(owner_deps.cloud, now)
    assert grant.resource_group_id is None
    [assume] = partner_deps.cloud.ram.list_policies(g.managed_filter(g.KIND_ASSUME))
    assert g.is_sealed(assume.tags, assume.name, partner_deps.settings.seal_keys)
    written = writes()
    assert owner.handle_approved(widened, owner_deps, now=now + timedelta(seconds=90)).status == "duplicate"
    assert writes() == written
    assert owner.handle_revoked(revoked(at=120), owner_deps, now=now + timedelta(seconds=120)).status == "applied"
    assert not _exists(owner_root, "rd-ops-1234")


def test_a_grant_given_again_after_its_revocation_stays_sealed_on_the_partner_side(
    linked: Any, approved: Any, revoked: Any, now: Any
) -> None:
    """The revoked assume policy is kept until its expiry; a later approval of the ticket records over it, and the
    revocation time it carried is cleared in the same write."""
    owner_deps, partner_deps = linked
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "applied"
    assert owner.handle_revoked(revoked(at=60), owner_deps, now=now + timedelta(seconds=60)).status == "applied"
    later = now + timedelta(minutes=10)

    again = owner.handle_approved(approved(at=600, event_id="evt-approved-0009"), owner_deps, now=later)

    assert again.status == "applied"
    [assume] = partner_deps.cloud.ram.list_policies(g.managed_filter(g.KIND_ASSUME))
    assert (assume.tags[g.TAG_STATE], assume.tags.get(g.TAG_REVOKED_AT)) == ("active", "")
    assert g.is_sealed(assume.tags, assume.name, partner_deps.settings.seal_keys)
    [grant] = g.list_partner_grants(partner_deps.cloud, later)
    assert grant.state == "active"
