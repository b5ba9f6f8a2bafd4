"""The seal key rotates without a gap: what the old key sealed stays ours while it is held (revoked, swept, its
ExternalId read), every write seals under the new key, the sweeps say until when the old key is needed, and a key
dropped too early makes nothing ours by accident: the grant is reported and left alone, never adopted or deleted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alibabacloud_ram20150501 import models

from ram_delegate import grants as g
from ram_delegate import owner, partner
from ram_delegate.errors import RetryableCloudError
from ram_delegate.owner.sweep import unsealed_report
from ram_delegate.seal import SealKeys

NEW_SEAL = "seal-rotated-secret-fedcba9876543210"
ONLY_NEW = SealKeys(NEW_SEAL)
ROLE = "rd-ops-1234"
TOMBSTONE = "rd-tomb-ops-1234"
VERIFIER = "ram-delegate-verifier"
FC_TRUST = (
    '{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
    '"Principal":{"Service":["fc.aliyuncs.com"]}}]}'
)


def tags_of(root: Any, resource_type: str, name: str) -> dict[str, str]:
    request = models.ListTagResourcesRequest(resource_type=resource_type, resource_names=[name])
    return {t.tag_key: t.tag_value for t in root.list_tag_resources(request).body.tag_resources or []}


def role_exists(root: Any, name: str) -> bool:
    return name in {r.role_name for r in root.list_roles(models.ListRolesRequest(max_items=1000)).body.roles.role}


def linked_pair(make_owner_deps: Any, make_partner_deps: Any, **seal: Any) -> tuple[Any, Any]:
    owner_deps, partner_deps = make_owner_deps(**seal), make_partner_deps(**seal)
    owner_deps.notifier.forward_to = partner_deps
    return owner_deps, partner_deps


def rotated(before: Any) -> dict[str, Any]:
    """The seal settings after the rotation: the new key current, the one ``before`` held kept."""
    return {"seal_secret": NEW_SEAL, "seal_previous_secrets": (before.settings.seal_secret,)}


def test_a_grant_sealed_before_the_rotation_is_still_revoked_on_both_sides(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, revoked: Any, now: Any, owner_root: Any
) -> None:
    before, _ = linked_pair(make_owner_deps, make_partner_deps)
    assert owner.handle_approved(approved(), before, now=now).status == "applied"
    external_id = before.notifier.granted[0].data.external_id
    owner_deps, partner_deps = linked_pair(make_owner_deps, make_partner_deps, **rotated(before))

    [partner_grant] = g.list_partner_grants(partner_deps.cloud, now)
    assert partner_grant.external_id == external_id  # encrypted under the old key, still readable
    outcome = owner.handle_revoked(revoked(), owner_deps, now=now + timedelta(seconds=60))

    assert outcome.status == "applied"
    assert not role_exists(owner_root, ROLE)
    assert g.is_sealed(tags_of(owner_root, "policy", TOMBSTONE), TOMBSTONE, ONLY_NEW)  # written under the new key
    [forwarded] = owner_deps.notifier.partner_outcomes
    assert forwarded.status == "applied"
    [assume] = partner_deps.cloud.ram.list_policies(g.managed_filter(g.KIND_ASSUME))
    assert assume.tags[g.TAG_STATE] == "revoked"
    assert g.is_sealed(assume.tags, assume.name, ONLY_NEW)


def test_a_redelivery_after_the_rotation_is_still_a_duplicate_that_writes_nothing(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, now: Any, writes: Any
) -> None:
    before, _ = linked_pair(make_owner_deps, make_partner_deps)
    assert owner.handle_approved(approved(), before, now=now).status == "applied"
    owner_deps, _ = linked_pair(make_owner_deps, make_partner_deps, **rotated(before))
    written = writes()

    outcome = owner.handle_approved(approved(), owner_deps, now=now + timedelta(seconds=30))

    assert (outcome.status, outcome.steps) == ("duplicate", ())
    assert writes() == written


def test_the_sweeps_say_until_when_the_old_key_is_needed_and_a_renewal_reseals(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, now: Any
) -> None:
    before, _ = linked_pair(make_owner_deps, make_partner_deps)
    assert owner.handle_approved(approved(days=7), before, now=now).status == "applied"
    owner_deps, partner_deps = linked_pair(make_owner_deps, make_partner_deps, **rotated(before))
    expiry = g.format_time(now + timedelta(days=7))

    owner_report = owner.sweep_owner(owner_deps, now=now)
    partner_report = partner.sweep_partner(partner_deps, now=now)

    assert owner_report.detail == {"tombstones": 0, "sealed_with_previous_key": 1, "previous_key_needed_until": expiry}
    assert partner_report.detail == {"sealed_with_previous_key": 1, "previous_key_needed_until": expiry}
    assert (owner_report.errors, partner_report.errors, owner_report.revoked) == ((), (), ())

    renewal = approved(at=120, days=14, event_id="evt-approved-0002")  # every write seals under the new key
    assert owner.handle_approved(renewal, owner_deps, now=now + timedelta(seconds=120)).status == "applied"

    assert owner.sweep_owner(owner_deps, now=now).detail == {"tombstones": 0, "sealed_with_previous_key": 0}
    assert partner.sweep_partner(partner_deps, now=now).detail == {"sealed_with_previous_key": 0}
    only_new_owner, only_new_partner = linked_pair(make_owner_deps, make_partner_deps, seal_secret=NEW_SEAL)
    assert [grant.ticket for grant in g.list_owner_grants(only_new_owner.cloud, now)] == ["OPS-1234"]
    assert owner.sweep_owner(only_new_owner, now=now).errors == ()  # the old key can go now
    assert partner.sweep_partner(only_new_partner, now=now).errors == ()


def test_a_key_dropped_too_early_makes_the_grant_foreign_reported_and_left_alone(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, revoked: Any, now: Any, owner_root: Any
) -> None:
    before, _ = linked_pair(make_owner_deps, make_partner_deps)
    assert owner.handle_approved(approved(days=1), before, now=now).status == "applied"
    owner_deps, _ = linked_pair(make_owner_deps, make_partner_deps, seal_secret=NEW_SEAL)
    later = now + timedelta(days=2)  # past the expiry: the cloud refuses it by its conditions either way

    report = owner.sweep_owner(owner_deps, now=later)

    assert (report.expired, report.revoked, report.errors) == (0, (), (unsealed_report(ROLE),))
    assert role_exists(owner_root, ROLE)
    assert report.detail == {"tombstones": 0}  # no previous key held: nothing to report about one
    with pytest.raises(RetryableCloudError, match="may remain"):  # a revocation cannot vouch for it: never a 2xx
        owner.handle_revoked(revoked(), owner_deps, now=now + timedelta(seconds=60))
    assert role_exists(owner_root, ROLE)


def test_a_forwarded_revocation_after_the_rotation_rewrites_the_external_id_under_the_new_key(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, revoked: Any, now: Any
) -> None:
    before, _ = linked_pair(make_owner_deps, make_partner_deps)
    assert owner.handle_approved(approved(days=7), before, now=now).status == "applied"
    external_id = before.notifier.granted[0].data.external_id
    owner_deps, partner_deps = linked_pair(make_owner_deps, make_partner_deps, **rotated(before))

    assert owner.handle_revoked(revoked(), owner_deps, now=now + timedelta(seconds=60)).status == "applied"

    assert partner.sweep_partner(partner_deps, now=now).detail == {"sealed_with_previous_key": 0}
    only_new = make_partner_deps(seal_secret=NEW_SEAL)
    [grant] = g.list_partner_grants(only_new.cloud, now)
    assert (grant.state, grant.external_id) == ("revoked", external_id)  # readable without the old key


def test_the_verifier_policy_is_sealed_again_by_the_owners_next_grant(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, now: Any, partner_root: Any
) -> None:
    """The verifier policy outlives every grant while its owner keeps granting: it is counted, then sealed again."""
    partner_root.create_role(models.CreateRoleRequest(role_name=VERIFIER, assume_role_policy_document=FC_TRUST))
    before, _ = linked_pair(make_owner_deps, make_partner_deps, verifier_role=VERIFIER)
    assert owner.handle_approved(approved(days=7), before, now=now).status == "applied"
    owner_deps, partner_deps = linked_pair(
        make_owner_deps, make_partner_deps, verifier_role=VERIFIER, **rotated(before)
    )
    expiry = g.format_time(now + timedelta(days=7))

    report = partner.sweep_partner(partner_deps, now=now).detail
    assert report == {"sealed_with_previous_key": 2, "previous_key_needed_until": expiry}  # assume + verifier policy

    renewal = approved(at=120, days=14, event_id="evt-approved-0002")
    assert owner.handle_approved(renewal, owner_deps, now=now + timedelta(seconds=120)).status == "applied"

    assert partner.sweep_partner(partner_deps, now=now).detail == {"sealed_with_previous_key": 0}
    [verifier_policy] = partner_deps.cloud.ram.list_policies(g.managed_filter(g.KIND_VERIFY))
    assert g.is_sealed(verifier_policy.tags, verifier_policy.name, ONLY_NEW)


def test_a_forwarded_revocation_says_loudly_what_it_could_not_verify(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, revoked: Any, now: Any, caplog: Any
) -> None:
    before, _ = linked_pair(make_owner_deps, make_partner_deps)
    assert owner.handle_approved(approved(), before, now=now).status == "applied"
    owner_deps, partner_deps = linked_pair(make_owner_deps, make_partner_deps)
    partner_deps.settings = partner_deps.settings.model_copy(update={"seal_secret": NEW_SEAL})  # the old key dropped

    assert owner.handle_revoked(revoked(), owner_deps, now=now + timedelta(seconds=60)).status == "applied"

    [forwarded] = owner_deps.notifier.partner_outcomes
    assert forwarded.status == "unchanged"  # not detached: not verifiably ours ...
    assert any(r.levelname == "CRITICAL" and "partner revocation of OPS-1234" in r.getMessage() for r in caplog.records)


def test_a_redelivery_after_the_rotation_writes_nothing_even_with_an_old_verifier_policy(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, now: Any, partner_root: Any, writes: Any
) -> None:
    partner_root.create_role(models.CreateRoleRequest(role_name=VERIFIER, assume_role_policy_document=FC_TRUST))
    before, _ = linked_pair(make_owner_deps, make_partner_deps, verifier_role=VERIFIER)
    assert owner.handle_approved(approved(), before, now=now).status == "applied"
    owner_deps, _ = linked_pair(make_owner_deps, make_partner_deps, verifier_role=VERIFIER, **rotated(before))
    written = writes()

    outcome = owner.handle_approved(approved(), owner_deps, now=now + timedelta(seconds=30))

    assert outcome.status == "duplicate"
    [forwarded] = owner_deps.notifier.partner_outcomes  # the owner tells the partner again; it changes nothing
    assert forwarded.status == "duplicate"
    assert writes() == written


def test_instances_on_both_sides_of_a_settling_key_do_not_seal_the_verifier_policy_back_and_forth(
    make_owner_deps: Any, make_partner_deps: Any, approved: Any, now: Any, partner_root: Any
) -> None:
    """While a KMS version settles, one instance seals with the previous key (the new one pending) and another,
    which read KMS later, with the new key. A verifier policy the new key sealed is never sealed back."""
    partner_root.create_role(models.CreateRoleRequest(role_name=VERIFIER, assume_role_policy_document=FC_TRUST))
    owner_deps, _ = linked_pair(make_owner_deps, make_partner_deps, verifier_role=VERIFIER)
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "applied"
    old = owner_deps.settings.seal_secret
    settled = make_partner_deps(verifier_role=VERIFIER, seal_secret=NEW_SEAL, seal_previous_secrets=(old,))
    settling = make_partner_deps(verifier_role=VERIFIER, seal_secret=old, seal_pending_secret=NEW_SEAL)

    def verifier_policy() -> Any:
        [policy] = settled.cloud.ram.list_policies(g.managed_filter(g.KIND_VERIFY))
        return policy

    owner_deps.notifier.forward_to = settled  # a renewal reaches the instance holding the new key: sealed again
    renewal = approved(at=60, days=14, event_id="evt-approved-0002")
    assert owner.handle_approved(renewal, owner_deps, now=now + timedelta(seconds=60)).status == "applied"
    assert g.is_sealed(verifier_policy().tags, verifier_policy().name, ONLY_NEW)
    owner_deps.notifier.forward_to = settling  # the next one reaches an instance where the new key is pending
    later = approved(at=120, days=21, event_id="evt-approved-0003")
    assert owner.handle_approved(later, owner_deps, now=now + timedelta(seconds=120)).status == "applied"

    assert g.is_sealed(verifier_policy().tags, verifier_policy().name, ONLY_NEW)  # not sealed back to the old key
