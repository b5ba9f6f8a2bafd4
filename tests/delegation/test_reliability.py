"""Crashes after any write, throttling storms, concurrent deliveries: every retry converges to the intended state."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID
from ram_delegate import grants as g
from ram_delegate import owner, partner
from ram_delegate.errors import RetryableCloudError
from ram_delegate.events import GrantedEvent, parse_event

ATTEMPTS = 5  # the RetryPolicy of the fixtures: a fault this many times in a row exhausts the retries


def grant_state(owner_root: Any) -> dict[str, Any]:
    """Everything the owner account holds for OPS-1234, read as A's administrator."""
    from alibabacloud_ram20150501 import models

    roles = [r.role_name for r in owner_root.list_roles(models.ListRolesRequest(max_items=1000)).body.roles.role]
    policies = owner_root.list_policies(models.ListPoliciesRequest(policy_type="Custom", max_items=1000)).body
    names = sorted(p.policy_name for p in policies.policies.policy)
    attached: list[str] = []
    trust: dict[str, Any] = {}
    if "rd-ops-1234" in roles:
        body = owner_root.list_policies_for_role(models.ListPoliciesForRoleRequest(role_name="rd-ops-1234")).body
        attached = [p.policy_name for p in body.policies.policy]
        role = owner_root.get_role(models.GetRoleRequest(role_name="rd-ops-1234")).body.role
        trust = json.loads(role.assume_role_policy_document)
    return {
        "roles": sorted(r for r in roles if r.startswith("rd-")),
        "policies": names,
        "attached": attached,
        "trust": trust,
    }


@pytest.mark.parametrize("failing", ["GetRole", "CreateRole", "CreatePolicy", "AttachPolicyToRole"])
def test_a_crash_before_any_step_of_a_grant_then_the_retry_converges(
    aliyun_emulator: Any, owner_deps: Any, owner_root: Any, approved: Any, now: Any, failing: str
) -> None:
    aliyun_emulator.faults.add_error(failing, "InternalError", 500, count=ATTEMPTS, account_id=ENTERPRISE_A_UID)
    with pytest.raises(RetryableCloudError):
        owner.handle_approved(approved(), owner_deps, now=now)
    outcome = owner.handle_approved(approved(), owner_deps, now=now)
    assert outcome.status == "applied"
    state = grant_state(owner_root)
    assert (state["roles"], state["policies"], state["attached"]) == (
        ["rd-ops-1234"], ["rd-access-ops-1234"], ["rd-access-ops-1234"]
    )  # fmt: skip
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "duplicate"
    [statement] = state["trust"]["Statement"]
    external_ids = {e.data.external_id for e in owner_deps.notifier.granted}
    assert external_ids == {statement["Condition"]["StringEquals"]["sts:ExternalId"]}


@pytest.mark.parametrize("failing", ["UpdateRole", "DeletePolicy", "DeleteRole", "CreatePolicy"])
def test_a_crash_during_revocation_then_the_retry_converges(
    aliyun_emulator: Any, owner_deps: Any, owner_root: Any, approved: Any, revoked: Any, now: Any, failing: str
) -> None:
    owner.handle_approved(approved(), owner_deps, now=now)
    aliyun_emulator.faults.add_error(failing, "InternalError", 500, count=ATTEMPTS, account_id=ENTERPRISE_A_UID)
    with pytest.raises(RetryableCloudError):
        owner.handle_revoked(revoked(), owner_deps, now=now)
    assert owner.handle_revoked(revoked(), owner_deps, now=now).status == "applied"
    assert grant_state(owner_root) == {"roles": [], "policies": ["rd-tomb-ops-1234"], "attached": [], "trust": {}}
    assert owner.handle_revoked(revoked(), owner_deps, now=now).status == "duplicate"


def test_a_crash_between_the_accounts_is_finished_by_the_redelivery(linked: Any, approved: Any, now: Any) -> None:
    owner_deps, partner_deps = linked
    owner_deps.notifier.status = 503
    with pytest.raises(RetryableCloudError):
        owner.handle_approved(approved(), owner_deps, now=now)
    assert g.list_partner_grants(partner_deps.cloud, now) == []
    owner_deps.notifier.status = 200
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "duplicate"
    [grant] = g.list_partner_grants(partner_deps.cloud, now)
    assert grant.ticket == "OPS-1234"


def test_a_throttling_storm_is_ridden_out_with_backoff(
    aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any, sleeps: list[float]
) -> None:
    aliyun_emulator.faults.add_error("CreateRole", "Throttling.User", 400, count=ATTEMPTS - 1)
    assert owner.handle_approved(approved(), owner_deps, now=now).status == "applied"
    assert sleeps == [0.2, 0.4, 0.8, 1.6]  # full jitter at its maximum (random() == 1.0), doubling each time
    assert aliyun_emulator.requests.counts()["CreateRole"] == ATTEMPTS


def test_an_endless_storm_ends_in_a_retryable_error(
    aliyun_emulator: Any, owner_deps: Any, approved: Any, now: Any, sleeps: list[float]
) -> None:
    aliyun_emulator.faults.add_error("ListPolicies", "Throttling.User", 400, count=100)
    with pytest.raises(RetryableCloudError) as caught:
        owner.handle_approved(approved(), owner_deps, now=now)
    assert caught.value.cloud_code == "Throttling.User"
    assert len(sleeps) == ATTEMPTS - 1
    assert aliyun_emulator.requests.counts() == {"ListPolicies": ATTEMPTS}


def test_concurrent_deliveries_make_one_consistent_grant(
    owner_deps: Any, owner_root: Any, approved: Any, now: Any
) -> None:
    event = approved()
    outcomes: list[str] = []
    failures: list[BaseException] = []

    def deliver() -> None:
        try:
            outcomes.append(owner.handle_approved(event, owner_deps, now=now).status)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert "applied" in outcomes
    assert set(outcomes) <= {"applied", "duplicate"}
    state = grant_state(owner_root)
    assert (state["roles"], state["policies"], state["attached"]) == (
        ["rd-ops-1234"], ["rd-access-ops-1234"], ["rd-access-ops-1234"]
    )  # fmt: skip
    [statement] = state["trust"]["Statement"]
    external_id = statement["Condition"]["StringEquals"]["sts:ExternalId"]
    assert {e.data.external_id for e in owner_deps.notifier.granted} == {external_id}


def test_a_crash_in_the_partner_grant_then_the_retry_converges(
    aliyun_emulator: Any, partner_deps: Any, partner_root: Any, now: Any
) -> None:
    from alibabacloud_ram20150501 import models

    raw = json.loads((Path(__file__).resolve().parent.parent / "events" / "granted.json").read_text())
    raw["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw["data"]["expires_at"] = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = parse_event(raw)
    assert isinstance(event, GrantedEvent)
    aliyun_emulator.faults.add_error("AttachPolicyToUser", "InternalError", 500, count=ATTEMPTS)
    with pytest.raises(RetryableCloudError):
        partner.handle_granted(event, partner_deps, now=now)
    assert partner.handle_granted(event, partner_deps, now=now).status == "applied"
    assert partner.handle_granted(event, partner_deps, now=now).status == "duplicate"
    body = partner_root.list_policies_for_user(models.ListPoliciesForUserRequest(user_name="alice")).body
    assert [p.policy_name for p in body.policies.policy] == [f"rd-assume-{ENTERPRISE_A_UID}-ops-1234"]
