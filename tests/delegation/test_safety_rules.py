"""The safety rules on the owner and partner side: colliding tickets, foreign resources, a sender contradicting
itself, overlapping runs, and access requests the linter refuses (catalog 10, 12, 16, 19, 22)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_B_UID
from ram_delegate import grants as g
from ram_delegate import owner, partner
from ram_delegate.errors import GuardrailError, PolicyLintError, QuotaExceededError
from ram_delegate.events import GrantedEvent, parse_event
from ram_delegate.policy import AccessProfile

FOREIGN_TRUST = json.dumps(
    {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["ecs.aliyuncs.com"]}}],
    }
)


def run_together(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in parallel threads; their results, or the exception each raised."""
    results: list[Any] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            results[index] = jobs[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def role_document(owner_root: Any, name: str) -> tuple[str, dict[str, str]]:
    from alibabacloud_ram20150501 import models

    trust = owner_root.get_role(models.GetRoleRequest(role_name=name)).body.role.assume_role_policy_document
    body = owner_root.list_tag_resources(models.ListTagResourcesRequest(resource_type="role", resource_names=[name]))
    return trust, {t.tag_key: t.tag_value for t in body.body.tag_resources or []}


@pytest.mark.parametrize("second", ["ops-1", "ops_1", "OPS.1"])
def test_a_ticket_with_another_tickets_resource_names_is_refused_and_never_merged(
    writes: Any, owner_deps: Any, owner_root: Any, approved: Any, revoked: Any, now: Any, second: str
) -> None:
    owner.handle_approved(approved(ticket="OPS-1"), owner_deps, now=now)
    before_writes, before_role = writes(), role_document(owner_root, "rd-ops-1")
    with pytest.raises(GuardrailError) as refused:
        owner.handle_approved(approved(ticket=second, at=30, event_id="evt-second"), owner_deps, now=now)
    assert refused.value.status == 422
    assert "OPS-1" in refused.value.message
    with pytest.raises(GuardrailError):
        owner.handle_revoked(revoked(ticket=second, event_id="evt-second-revoke"), owner_deps, now=now)
    assert writes() == before_writes
    assert role_document(owner_root, "rd-ops-1") == before_role
    assert [grant.ticket for grant in g.list_owner_grants(owner_deps.cloud, now)] == ["OPS-1"]

    owner.handle_revoked(revoked(ticket="OPS-1", event_id="evt-first-revoke"), owner_deps, now=now)
    with pytest.raises(GuardrailError):  # the first ticket's tombstone still holds the names
        owner.handle_approved(
            approved(ticket=second, at=400, event_id="evt-third"), owner_deps, now=now + timedelta(seconds=400)
        )


def test_the_partner_refuses_a_grant_whose_assume_policy_name_another_ticket_holds(
    writes: Any, partner_deps: Any, now: Any
) -> None:
    def granted(ticket: str) -> GrantedEvent:
        raw = json.loads((Path(__file__).resolve().parent.parent / "events" / "granted.json").read_text())
        raw["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        raw["data"]["expires_at"] = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        raw["data"]["ticket"] = ticket
        event = parse_event(raw)
        assert isinstance(event, GrantedEvent)
        return event

    partner.handle_granted(granted("OPS-1234"), partner_deps, now=now)
    before = writes()
    with pytest.raises(GuardrailError):
        partner.handle_granted(granted("ops_1234"), partner_deps, now=now)
    assert writes() == before
    [grant] = g.list_partner_grants(partner_deps.cloud, now)
    assert grant.ticket == "OPS-1234"


def test_a_redelivered_event_id_with_another_expiry_is_neither_ignored_nor_applied(
    writes: Any, owner_deps: Any, approved: Any, now: Any
) -> None:
    owner.handle_approved(approved(days=7), owner_deps, now=now)
    before = writes()
    with pytest.raises(GuardrailError) as refused:
        owner.handle_approved(approved(days=14), owner_deps, now=now)
    assert refused.value.status == 422
    assert "expires-at" in refused.value.problems[0].reason
    with pytest.raises(GuardrailError):
        owner.handle_approved(approved(access__region="cn-shanghai"), owner_deps, now=now)
    assert writes() == before
    [grant] = g.list_owner_grants(owner_deps.cloud, now)
    assert grant.expires_at == now + timedelta(days=7)


def test_revoking_a_ticket_whose_role_name_a_foreign_role_holds_leaves_that_role_alone(
    aliyun_emulator: Any, owner_deps: Any, owner_root: Any, revoked: Any, now: Any
) -> None:
    from alibabacloud_ram20150501 import models

    owner_root.create_role(models.CreateRoleRequest(role_name="rd-ops-1234", assume_role_policy_document=FOREIGN_TRUST))
    owner_root.attach_policy_to_role(
        models.AttachPolicyToRoleRequest(
            policy_type="System", policy_name="AliyunSLBReadOnlyAccess", role_name="rd-ops-1234"
        )
    )
    outcome = owner.handle_revoked(revoked(), owner_deps, now=now)
    assert [step.action for step in outcome.steps] == ["CreatePolicy"]  # the tombstone only
    counts = aliyun_emulator.requests.counts()
    assert not {"UpdateRole", "DeleteRole", "DetachPolicyFromRole", "TagResources"} & set(counts)
    trust, tags = role_document(owner_root, "rd-ops-1234")
    assert (trust, tags) == (FOREIGN_TRUST, {})
    report = owner.sweep_owner(owner_deps, now=now + timedelta(days=400))
    assert report.examined == 0
    role_document(owner_root, "rd-ops-1234")  # still there


def test_the_sweep_never_deletes_a_foreign_policy_that_has_the_access_policy_name(
    aliyun_emulator: Any, owner_deps: Any, owner_root: Any, approved: Any, now: Any
) -> None:
    from alibabacloud_ram20150501 import models

    document = json.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]}
    )
    owner_root.create_policy(models.CreatePolicyRequest(policy_name="rd-access-ops-1234", policy_document=document))
    with pytest.raises(GuardrailError):  # CreatePolicy meets the foreign policy: never adopted
        owner.handle_approved(approved(), owner_deps, now=now)
    report = owner.sweep_owner(owner_deps, now=now + timedelta(days=8))
    assert (report.expired, report.errors) == (0, ())  # the refused approval took its own role back
    assert "DeletePolicy" not in {step.action for step in report.steps}
    kept = owner_root.get_policy(models.GetPolicyRequest(policy_name="rd-access-ops-1234", policy_type="Custom"))
    assert json.loads(kept.body.default_policy_version.policy_document)["Statement"][0]["Action"] == "ecs:Describe*"
    with pytest.raises(Exception, match="EntityNotExist"):
        owner_root.get_role(models.GetRoleRequest(role_name="rd-ops-1234"))


def test_overlapping_sweeps_both_finish_cleanly(owner_deps: Any, approved: Any, now: Any) -> None:
    for number in range(4):
        owner.handle_approved(approved(ticket=f"OPS-{number}", event_id=f"evt-{number}"), owner_deps, now=now)
    later = now + timedelta(days=8)
    first, second = run_together(
        lambda: owner.sweep_owner(owner_deps, now=later), lambda: owner.sweep_owner(owner_deps, now=later)
    )
    assert (first.errors, second.errors) == ((), ())
    assert sorted({*first.revoked, *second.revoked}) == ["OPS-0", "OPS-1", "OPS-2", "OPS-3"]
    assert g.list_owner_grants(owner_deps.cloud, later) == []
    tombstones = {p.name for p in owner_deps.cloud.ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE))}
    assert tombstones == {f"rd-tomb-ops-{number}" for number in range(4)}


def test_concurrent_revocations_answer_done_or_duplicate(
    owner_deps: Any, approved: Any, revoked: Any, now: Any
) -> None:
    owner.handle_approved(approved(), owner_deps, now=now)
    event = revoked()
    outcomes = run_together(*[lambda: owner.handle_revoked(event, owner_deps, now=now)] * 3)
    assert {type(o).__name__ for o in outcomes} == {"Outcome"}, outcomes
    assert "applied" in {o.status for o in outcomes}
    assert {o.status for o in outcomes} <= {"applied", "duplicate"}
    assert g.list_owner_grants(owner_deps.cloud, now) == []


@pytest.mark.parametrize(
    ("actions", "resource"),
    [
        (("*",), "*"),
        (("ram:*",), "*"),
        (("ram:CreateUser",), "*"),
        (("ram:AttachPolicyToRole",), "*"),
        (("sts:AssumeRole",), "*"),
        (("ram:CreateAccessKey",), "acs:ram::{account_id}:user/*"),
    ],
    ids=["star", "ram-star", "ram-create", "ram-attach", "assume-any", "access-key"],
)
def test_access_the_linter_refuses_is_a_guardrail_refusal_before_any_call(
    aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any, actions: tuple[str, ...], resource: str
) -> None:
    owner_deps.profiles = {"slb-readonly": AccessProfile("slb-readonly", "too broad", actions, resource)}
    with pytest.raises(PolicyLintError) as refused:
        owner.handle_approved(approved(), owner_deps, now=now)
    assert refused.value.status == 422
    assert aliyun_emulator.requests.total == 0


def test_the_partner_verifier_role_is_named_in_the_trust_policy_when_configured(
    make_owner_deps: Any, owner_root: Any, approved: Any, now: Any
) -> None:
    owner.handle_approved(approved(), make_owner_deps(verifier_role="ram-delegate-verifier"), now=now)
    trust, _tags = role_document(owner_root, "rd-ops-1234")
    [statement] = json.loads(trust)["Statement"]
    assert sorted(statement["Principal"]["RAM"]) == [
        f"acs:ram::{ENTERPRISE_B_UID}:role/ram-delegate-verifier", f"acs:ram::{ENTERPRISE_B_UID}:user/alice"
    ]  # fmt: skip


def test_a_quota_refusal_on_the_owner_side_leaves_no_partial_grant(
    aliyun_emulator: Any, owner_deps: Any, owner_root: Any, approved: Any, now: Any
) -> None:
    """Catalog 13: the policy quota refuses CreatePolicy after CreateRole; the role made for it is taken back."""
    from alibabacloud_ram20150501 import models

    aliyun_emulator.faults.add_error("CreatePolicy", "LimitExceeded.Policy", 409)
    with pytest.raises(QuotaExceededError) as refused:
        owner.handle_approved(approved(), owner_deps, now=now)
    assert refused.value.status == 422
    assert g.list_owner_grants(owner_deps.cloud, now) == []
    with pytest.raises(Exception, match="EntityNotExist"):
        owner_root.get_role(models.GetRoleRequest(role_name="rd-ops-1234"))
    assert owner_deps.notifier.granted == []
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "applied"  # once there is room


def test_a_partner_user_at_its_policy_quota_gets_a_clean_refusal_and_nothing_half_made(
    writes: Any, make_partner_deps: Any, partner_root: Any, now: Any
) -> None:
    """RAM allows 10 custom policies per user: the 11th grant for one user is refused and its policy removed."""
    partner_deps = make_partner_deps(adopt_existing_users=True)
    from alibabacloud_ram20150501 import models

    partner_root.create_user(models.CreateUserRequest(user_name="alice", comments=partner.USER_MARKER))
    document = json.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]}
    )
    for number in range(10):
        partner_root.create_policy(models.CreatePolicyRequest(policy_name=f"team-{number}", policy_document=document))
        partner_root.attach_policy_to_user(
            models.AttachPolicyToUserRequest(policy_name=f"team-{number}", policy_type="Custom", user_name="alice")
        )
    raw = json.loads((Path(__file__).resolve().parent.parent / "events" / "granted.json").read_text())
    raw["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw["data"]["expires_at"] = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = parse_event(raw)
    assert isinstance(event, GrantedEvent)
    with pytest.raises(QuotaExceededError) as refused:
        partner.handle_granted(event, partner_deps, now=now)
    assert refused.value.status == 422
    assert g.list_partner_grants(partner_deps.cloud, now) == []
    assert writes().get("DeletePolicy") == 1  # the assume policy it had just made
