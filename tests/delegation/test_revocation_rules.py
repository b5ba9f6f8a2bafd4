"""The revocation rules that are not races of one approval against one revocation.

Quotas cannot block a revocation; a stale approval writes nothing (and one that lost a race restores the newer
grant); a sweep leaves a grant renewed under it alone; permanent refusals are 4xx and leave nothing behind;
the partner allow-list is never "any"; moving a ticket to another user orphans nobody.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from race_support import ROLE, access_open, assert_revoked, run_in_thread

from aliyun_emulator.testing import ENTERPRISE_A_UID
from ram_delegate import grants as g
from ram_delegate import owner
from ram_delegate.errors import GuardrailError, InvalidInputError, RetryableCloudError


def fill_policy_quota(aliyun_emulator: Any, owner_root: Any, *, spare: int = 0) -> None:
    """A's custom-policy quota set to what A holds now (plus ``spare``): the next CreatePolicy is refused."""
    from alibabacloud_ram20150501 import models

    listed = owner_root.list_policies(models.ListPoliciesRequest(policy_type="Custom", max_items=1000)).body.policies
    held = len((listed.policy if listed else None) or [])
    aliyun_emulator.state.accounts[ENTERPRISE_A_UID].ram.quotas["policies"] = held + spare


def trust_users(owner_root: Any) -> list[str]:
    from alibabacloud_ram20150501 import models

    trust = owner_root.get_role(models.GetRoleRequest(role_name=ROLE)).body.role.assume_role_policy_document
    principals: list[str] = []
    for statement in json.loads(trust)["Statement"]:
        ram = statement.get("Principal", {}).get("RAM", [])
        principals += [ram] if isinstance(ram, str) else ram
    return sorted(p.rsplit("/", 1)[-1] for p in principals if ":user/" in p)


# --- quotas ---------------------------------------------------------------------------------------------------------


def test_a_revocation_at_the_custom_policy_quota_finishes_and_a_redelivery_does_not_restore_the_grant(
    aliyun_emulator: Any, linked: Any, approved: Any, revoked: Any, now: Any, owner_root: Any, alice: Any
) -> None:
    owner_deps, partner_deps = linked
    owner.handle_approved(approved(), owner_deps, now=now)
    assert access_open(partner_deps, owner_root, alice)
    fill_policy_quota(aliyun_emulator, owner_root)
    assert owner.handle_revoked(revoked(at=60), owner_deps, now=now).status == "applied"
    assert_revoked(partner_deps, owner_root, alice)
    assert owner.handle_approved(approved(), owner_deps, now=now + timedelta(minutes=2)).status == "stale"
    assert_revoked(partner_deps, owner_root, alice)


def test_the_expiry_sweep_at_the_custom_policy_quota_retires_and_records_the_grant(
    aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any, owner_root: Any
) -> None:
    owner.handle_approved(approved(days=1), owner_deps, now=now)
    fill_policy_quota(aliyun_emulator, owner_root)
    later = now + timedelta(days=1, minutes=5)
    report = owner.sweep_owner(owner_deps, now=later)
    assert (report.revoked, report.errors) == (("OPS-1234",), ())
    assert [p.name for p in owner_deps.cloud.ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE))] == [
        "rd-tomb-ops-1234"
    ]


def test_a_revocation_that_cannot_record_its_tombstone_is_a_retryable_5xx_and_the_retry_finishes(
    aliyun_emulator: Any, owner_deps: Any, approved: Any, revoked: Any, now: Any, owner_root: Any
) -> None:
    """Nothing to free (no grant yet, quota full): 5xx, never 4xx; once quota is there, the redelivery records it."""
    fill_policy_quota(aliyun_emulator, owner_root)
    with pytest.raises(RetryableCloudError) as refused:
        owner.handle_revoked(revoked(at=60), owner_deps, now=now)
    assert refused.value.status == 503
    fill_policy_quota(aliyun_emulator, owner_root, spare=1)
    assert owner.handle_revoked(revoked(at=60), owner_deps, now=now).status == "applied"
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "stale"


# --- every write acts on what is true now -----------------------------------------------------------------------


# Call 6 is the read right before the older approval's first write: a newer approval that writes AND checks all of
# its grant inside that one call's gap is the window RAM's lack of conditional writes leaves (README, security model).
@pytest.mark.parametrize("after", [1, 2, 3, 4, 5, 7, 8, 9, 10, 11])
def test_an_older_approval_that_loses_a_race_to_a_newer_one_leaves_the_newer_grant(
    gate: Any, owner_deps: Any, approved: Any, now: Any, owner_root: Any, after: int
) -> None:
    """The older one stops after each of its calls while the newer (another user, a longer expiry) runs through."""
    owner.handle_approved(approved(event_id="evt-first"), owner_deps, now=now)
    gate.arm("older", after)
    older_event = approved(at=10, event_id="evt-older", days=3)
    thread, older = run_in_thread("older", lambda: owner.handle_approved(older_event, owner_deps, now=now))
    gate.paused.wait(10)
    newer = owner.handle_approved(
        approved(at=20, event_id="evt-newer", days=14, partner__user="bob"), owner_deps, now=now
    )
    gate.release.set()
    thread.join(20)
    assert newer.status in ("applied", "stale")
    assert not isinstance(older["value"], Exception)
    assert trust_users(owner_root) == ["bob"]
    [grant] = g.list_owner_grants(owner_deps.cloud, now)
    assert (grant.partner_user, grant.expires_at) == ("bob", now + timedelta(days=14, seconds=20))


def test_a_stale_approval_writes_nothing(writes: Any, owner_deps: Any, approved: Any, now: Any) -> None:
    owner.handle_approved(approved(at=20, event_id="evt-newer", partner__user="bob"), owner_deps, now=now)
    before = writes()
    assert owner.handle_approved(approved(at=10, event_id="evt-older"), owner_deps, now=now).status == "stale"
    assert writes() == before


@pytest.mark.parametrize("after", [2, 3, 4])
def test_a_renewal_during_the_sweep_is_left_alone(
    gate: Any, linked: Any, approved: Any, now: Any, owner_root: Any, alice: Any, after: int
) -> None:
    """The sweep listed the grant as expired; the renewal lands before the sweep reaches it."""
    owner_deps, partner_deps = linked
    owner.handle_approved(approved(days=1), owner_deps, now=now)
    later = now + timedelta(days=1, minutes=1)
    gate.arm("sweep", after)
    thread, sweep = run_in_thread("sweep", lambda: owner.sweep_owner(owner_deps, now=later))
    gate.paused.wait(10)
    renewal = owner.handle_approved(approved(at=86_400 + 30, event_id="evt-renewal", days=7), owner_deps, now=later)
    assert renewal.status == "applied"
    gate.release.set()
    thread.join(20)
    assert sweep["value"].revoked == ()
    assert access_open(partner_deps, owner_root, alice)


# --- permanent refusals leave nothing behind -------------------------------------------------------------------


def test_a_partner_refusing_the_grant_for_good_is_a_4xx_and_the_owner_takes_its_writes_back(
    writes: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    owner_deps.notifier.status = 422  # e.g. the partner user is at its policy quota
    with pytest.raises(GuardrailError) as refused:
        owner.handle_approved(approved(), owner_deps, now=now)
    assert refused.value.status == 422
    assert g.list_owner_grants(owner_deps.cloud, now) == []
    assert [p.name for p in owner_deps.cloud.ram.list_policies(g.managed_filter())] == []


def test_a_partner_that_does_not_answer_is_retryable_and_the_grant_stays_for_the_retry(
    owner_deps: Any, approved: Any, now: Any
) -> None:
    owner_deps.notifier.status = 503
    with pytest.raises(RetryableCloudError):
        owner.handle_approved(approved(), owner_deps, now=now)
    owner_deps.notifier.status = 200
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "duplicate"
    assert len(owner_deps.notifier.granted) == 2


def test_an_empty_partner_allow_list_allows_nobody(writes: Any, make_owner_deps: Any, approved: Any, now: Any) -> None:
    deps = make_owner_deps(allowed_partners=())
    with pytest.raises(InvalidInputError) as refused:
        owner.handle_approved(approved(), deps, now=now)
    assert "data.partner.account_id" in {p.path for p in refused.value.problems}
    assert writes() == {}


def test_a_third_account_is_refused_before_any_write(writes: Any, owner_deps: Any, approved: Any, now: Any) -> None:
    third = {"name": "C", "account_id": "3333333333333333", "user": "mallory"}
    with pytest.raises(InvalidInputError):
        owner.handle_approved(approved(partner=third), owner_deps, now=now)
    assert writes() == {}


def test_a_missing_resource_group_is_a_422_and_leaves_no_role(
    owner_deps: Any, approved: Any, now: Any, owner_root: Any
) -> None:
    access = {"profile": "slb-readonly", "region": "cn-hangzhou", "resource_group_id": "rg-doesnotexist000"}
    with pytest.raises(GuardrailError) as refused:
        owner.handle_approved(approved(access=access), owner_deps, now=now)
    assert "data.access.resource_group_id" in {p.path for p in refused.value.problems}
    assert g.list_owner_grants(owner_deps.cloud, now) == []
    assert [p.name for p in owner_deps.cloud.ram.list_policies(g.managed_filter())] == []


def test_moving_a_ticket_to_another_user_takes_the_grant_from_the_first(
    linked: Any, approved: Any, now: Any, partner_root: Any
) -> None:
    from alibabacloud_ram20150501 import models

    owner_deps, partner_deps = linked
    owner.handle_approved(approved(), owner_deps, now=now)
    owner.handle_approved(approved(at=30, event_id="evt-moved", partner__user="bob"), owner_deps, now=now)
    users = partner_root.list_users(models.ListUsersRequest(max_items=1000)).body.users
    assert sorted(u.user_name for u in users.user) == ["bob"]  # alice was created by ram-delegate for this grant
    [grant] = g.list_partner_grants(partner_deps.cloud, now)
    assert grant.user == "bob"
    assert grant.owner_account_id == ENTERPRISE_A_UID
