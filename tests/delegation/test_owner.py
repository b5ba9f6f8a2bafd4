"""Owner-side handler: validation before any call, lint refusal, duplicates, ordering, foreign resources."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID
from ram_delegate import grants as g
from ram_delegate import owner
from ram_delegate.errors import GuardrailError, InvalidInputError, PolicyLintError
from ram_delegate.policy import AccessProfile


@pytest.mark.parametrize(
    ("changes", "days", "settings", "path"),
    [
        pytest.param({"partner__account_id": ENTERPRISE_A_UID}, 7, {}, "data.partner.account_id", id="own-account"),
        pytest.param({"access__profile": "ecs-admin"}, 7, {}, "data.access.profile", id="unknown-profile"),
        pytest.param({"access__region": "xx-nowhere-9"}, 7, {}, "data.access.region", id="bad-region"),
        pytest.param({}, -1, {}, "data.expires_at", id="expiry-in-the-past"),
        pytest.param({}, 91, {}, "data.expires_at", id="expiry-beyond-max"),
        pytest.param({}, 7, {"allowed_partners": ("3333333333333333",)}, "data.partner.account_id", id="not-allowed"),
    ],
)
def test_contextual_rejections_make_no_cloud_call(
    writes: Any,
    aliyun_emulator: Any,
    make_owner_deps: Any,
    approved: Any,
    now: Any,
    changes: Any,
    days: int,
    settings: Any,
    path: str,
) -> None:
    deps = make_owner_deps(**settings)
    event = approved(days=days, **changes)
    with pytest.raises(InvalidInputError) as caught:
        owner.handle_approved(event, deps, now=now)
    assert path in [p.path for p in caught.value.problems]
    assert aliyun_emulator.requests.total == 0


def test_self_approval_is_refused_without_cloud_calls(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    event = approved()
    forged = event.model_copy(
        update={"data": event.data.model_copy(update={"approved_by": "BOB@enterprise-b.example"})}
    )
    with pytest.raises(InvalidInputError) as caught:
        owner.handle_approved(forged, owner_deps, now=now)
    assert [p.path for p in caught.value.problems] == ["data.approved_by"]
    assert aliyun_emulator.requests.total == 0


def test_a_profile_failing_lint_is_a_guardrail_refusal(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    owner_deps.profiles = {"slb-readonly": AccessProfile("slb-readonly", "too broad", ("ram:*",), "*")}
    with pytest.raises(PolicyLintError) as caught:
        owner.handle_approved(approved(), owner_deps, now=now)
    assert isinstance(caught.value, GuardrailError)
    assert aliyun_emulator.requests.total == 0


def test_dry_run_plans_and_writes_nothing(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    outcome = owner.handle_approved(approved(), owner_deps, now=now, dry_run=True)
    assert outcome.status == "dry-run"
    assert [s.action for s in outcome.steps] == ["CreateRole", "CreatePolicy", "AttachPolicyToRole"]
    assert writes() == {}
    assert owner_deps.notifier.sent == []


def test_new_grant_costs_three_reads_and_three_writes(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    """Two reads to plan, three writes, and the one read after them that lets a racing revocation win."""
    owner.handle_approved(approved(), owner_deps, now=now)
    assert aliyun_emulator.requests.counts() == {
        "ListPolicies": 2, "GetRole": 1, "CreateRole": 1, "CreatePolicy": 1, "AttachPolicyToRole": 1
    }  # fmt: skip


def test_duplicate_delivery_writes_nothing_and_resends_the_grant(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    first = owner.handle_approved(approved(), owner_deps, now=now)
    before = writes()
    again = owner.handle_approved(approved(), owner_deps, now=now + timedelta(seconds=5))
    assert (first.status, again.status) == ("applied", "duplicate")
    assert writes() == before
    first_grant, second_grant = owner_deps.notifier.granted
    assert first_grant.data.external_id == second_grant.data.external_id


def test_a_changed_approval_updates_in_place_and_keeps_the_external_id(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    owner.handle_approved(approved(), owner_deps, now=now)
    changed = owner.handle_approved(approved(at=30, days=14, event_id="evt-approved-0002"), owner_deps, now=now)
    assert changed.status == "applied"
    assert [s.action for s in changed.steps] == ["TagResources", "TagResources", "UpdateRole", "CreatePolicyVersion"]
    first, second = owner_deps.notifier.granted
    assert first.data.external_id == second.data.external_id
    assert second.data.expires_at == now + timedelta(days=14, seconds=30)
    older = owner.handle_approved(approved(at=10, event_id="evt-approved-0000"), owner_deps, now=now)
    assert older.status == "stale"


def test_a_stale_approval_after_revocation_does_not_grant_again(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, revoked: Any, now: Any
) -> None:
    owner.handle_approved(approved(), owner_deps, now=now)
    owner.handle_revoked(revoked(at=60), owner_deps, now=now)
    before = writes()
    replay = owner.handle_approved(approved(), owner_deps, now=now + timedelta(seconds=120))
    assert replay.status == "stale"
    assert writes() == before
    assert g.list_owner_grants(owner_deps.cloud, now) == []
    again = owner.handle_revoked(revoked(at=60), owner_deps, now=now)
    assert again.status == "duplicate"
    newer = owner.handle_approved(
        approved(at=400, event_id="evt-approved-0009"), owner_deps, now=now + timedelta(seconds=400)
    )
    assert newer.status == "applied"  # a newer decision may grant again


def test_revocation_before_approval_refuses_the_late_approval(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, revoked: Any, now: Any
) -> None:
    assert owner.handle_revoked(revoked(at=60), owner_deps, now=now).status == "applied"
    assert owner.handle_approved(approved(at=0), owner_deps, now=now).status == "stale"


def test_a_foreign_role_with_the_grant_name_is_refused_and_untouched(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, owner_root: Any, approved: Any, now: Any
) -> None:
    from alibabacloud_ram20150501 import models

    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["ecs.aliyuncs.com"]}}
    trust = json.dumps({"Version": "1", "Statement": [statement]})
    owner_root.create_role(models.CreateRoleRequest(role_name="rd-ops-1234", assume_role_policy_document=trust))
    aliyun_emulator.requests.clear()
    with pytest.raises(GuardrailError):
        owner.handle_approved(approved(), owner_deps, now=now)
    assert writes() == {}
    role = owner_root.get_role(models.GetRoleRequest(role_name="rd-ops-1234")).body.role
    assert "ecs.aliyuncs.com" in role.assume_role_policy_document
    report = owner.sweep_owner(owner_deps, now=now + timedelta(days=400))
    assert (report.examined, report.expired) == (0, 0)
    owner_root.get_role(models.GetRoleRequest(role_name="rd-ops-1234"))  # still there


def test_sweep_keeps_active_grants_and_drops_old_tombstones(
    writes: Any, aliyun_emulator: Any, owner_deps: Any, approved: Any, revoked: Any, now: Any
) -> None:
    owner.handle_approved(approved(ticket="OPS-1"), owner_deps, now=now)
    owner.handle_approved(approved(ticket="OPS-2", days=30, event_id="evt-2"), owner_deps, now=now)
    owner.handle_revoked(revoked(ticket="OPS-3", event_id="evt-3"), owner_deps, now=now)
    later = now + timedelta(days=8)
    report = owner.sweep_owner(owner_deps, now=later)
    assert (report.examined, report.expired, report.revoked) == (2, 1, ("OPS-1",))
    assert [grant.ticket for grant in g.list_owner_grants(owner_deps.cloud, later)] == ["OPS-2"]
    tombs = {p.name for p in owner_deps.cloud.ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE))}
    assert tombs == {"rd-tomb-ops-1"}  # OPS-3's tombstone is older than 96 h and was dropped


def test_the_sweep_lists_once_retires_each_expired_grant_and_reports_progress(
    aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    """One listing of roles and one of tombstones; each expired grant is read again before it is retired."""
    for number in range(4):
        days = 30 if number == 3 else 7
        owner.handle_approved(
            approved(ticket=f"OPS-{number}", days=days, event_id=f"evt-{number}"), owner_deps, now=now
        )
    later = now + timedelta(days=8)
    progress: list[tuple[int, int]] = []
    aliyun_emulator.requests.clear()
    report = owner.sweep_owner(owner_deps, now=later, progress=lambda done, total: progress.append((done, total)))
    assert (report.examined, report.expired, sorted(report.revoked), report.errors) == (
        4,
        3,
        ["OPS-0", "OPS-1", "OPS-2"],
        (),
    )
    counts = aliyun_emulator.requests.counts()
    assert counts["ListRoles"] == 1
    assert counts["DeletePolicy"] == counts["DeleteRole"] == counts["CreatePolicy"] == 3  # three tombstones
    assert progress == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert [grant.ticket for grant in g.list_owner_grants(owner_deps.cloud, later)] == ["OPS-3"]

    aliyun_emulator.requests.clear()
    report = owner.sweep_owner(owner_deps, now=later)
    assert report.revoked == ()
    assert aliyun_emulator.requests.counts() == {"ListRoles": 1, "ListPolicies": 1}  # nothing expired: lists only


def test_an_operator_grant_is_scoped_to_its_named_instances_and_a_changed_redelivery_is_refused(
    owner_deps: Any, owner_root: Any, approved: Any, now: Any
) -> None:
    from alibabacloud_ram20150501 import models

    first = approved(access={"profile": "slb-operator", "region": "cn-hangzhou", "resource_ids": ["lb-bp1a0001"]})
    assert owner.handle_approved(first, owner_deps, now=now).status == "applied"
    name = g.access_policy_name("OPS-1234")
    policy = owner_root.get_policy(models.GetPolicyRequest(policy_name=name, policy_type="Custom")).body
    document = json.loads(policy.default_policy_version.policy_document)
    assert f"acs:slb:cn-hangzhou:{ENTERPRISE_A_UID}:loadbalancer/lb-bp1a0001" == document["Statement"][0]["Resource"]

    changed = approved(access={"profile": "slb-operator", "region": "cn-hangzhou", "resource_ids": ["lb-bp1b0002"]})
    with pytest.raises(GuardrailError) as refused:
        owner.handle_approved(changed, owner_deps, now=now)
    assert "resource-ids" in refused.value.problems[0].reason
    assert owner.handle_approved(first, owner_deps, now=now).status == "duplicate"


@pytest.mark.parametrize(
    ("resource_ids", "listed", "shown"),
    [
        (
            ["lb-bp1a0001", "lb-bp1a0002"],
            ("lb-bp1a0001", "lb-bp1a0002"),
            "cn-hangzhou (account): lb-bp1a0001, lb-bp1a0002",
        ),
        ([f"lb-bp1a{n:04d}{'x' * 16}" for n in range(8)], (), "named instances (listed in rd-access-ops-1234)"),
    ],
    ids=["listed", "digest"],
)
def test_the_grant_listing_shows_the_named_instances(
    owner_deps: Any, approved: Any, now: Any, resource_ids: list[str], listed: tuple[str, ...], shown: str
) -> None:
    from ram_delegate.cli import grant_row

    access = {"profile": "slb-operator", "region": "cn-hangzhou", "resource_ids": resource_ids}
    assert owner.handle_approved(approved(access=access), owner_deps, now=now).status == "applied"

    [grant] = g.list_owner_grants(owner_deps.cloud, now)

    assert grant.resource_ids == listed
    assert (grant.resource_ids_digest is None) == bool(listed)
    assert shown in grant_row(grant, "owner")["scope"]
