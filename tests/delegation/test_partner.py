"""Partner side: validation, least privilege by default, the explicit broad opt-in, and a careful sweep."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID
from ram_delegate import partner
from ram_delegate.errors import InvalidInputError
from ram_delegate.events import GrantedEvent, parse_event

EVENTS = Path(__file__).resolve().parent.parent / "events"


@pytest.fixture
def granted(now: Any) -> Any:
    def build(**data: Any) -> GrantedEvent:
        raw = json.loads((EVENTS / "granted.json").read_text())
        raw["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        raw["data"]["expires_at"] = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        raw["data"].update(data)
        event = parse_event(raw)
        assert isinstance(event, GrantedEvent)
        return event

    return build


def attached(partner_root: Any, user: str) -> list[str]:
    from alibabacloud_ram20150501 import models

    body = partner_root.list_policies_for_user(models.ListPoliciesForUserRequest(user_name=user)).body
    return sorted(p.policy_name for p in body.policies.policy)


def test_a_grant_for_another_account_is_refused_without_calls(
    aliyun_emulator: Any, partner_deps: Any, granted: Any, now: Any
) -> None:
    event = granted(owner_account_id=ENTERPRISE_B_UID, role_arn=f"acs:ram::{ENTERPRISE_B_UID}:role/rd-ops-1234")
    with pytest.raises(InvalidInputError) as caught:
        partner.handle_granted(event, partner_deps, now=now)
    assert "data.owner_account_id" in [p.path for p in caught.value.problems]
    assert aliyun_emulator.requests.total == 0


def test_least_privilege_by_default_and_broad_only_on_opt_in(
    make_partner_deps: Any, partner_root: Any, granted: Any, now: Any, caplog: Any
) -> None:
    partner.handle_granted(granted(), make_partner_deps(), now=now)
    assert attached(partner_root, "alice") == [f"rd-assume-{ENTERPRISE_A_UID}-ops-1234"]
    with caplog.at_level("WARNING", logger="ram_delegate.partner"):
        partner.handle_granted(granted(), make_partner_deps(allow_broad_assume=True), now=now)
    assert "AliyunSTSAssumeRoleAccess" in attached(partner_root, "alice")
    assert "broad assume opt-in" in caplog.text


def test_the_sweep_never_deletes_a_user_it_did_not_create_or_that_holds_a_key(
    make_partner_deps: Any, partner_root: Any, granted: Any, now: Any
) -> None:
    from alibabacloud_ram20150501 import models

    partner_deps = make_partner_deps(adopt_existing_users=True)  # bob exists already: adopting him is opted in

    partner_root.create_user(models.CreateUserRequest(user_name="bob", display_name="bob"))
    partner.handle_granted(
        granted(partner={"name": "B", "account_id": ENTERPRISE_B_UID, "user": "bob"}), partner_deps, now=now
    )
    partner.handle_granted(granted(ticket="OPS-2"), partner_deps, now=now)
    partner_root.create_access_key(models.CreateAccessKeyRequest(user_name="alice"))
    report = partner.sweep_partner(partner_deps, now=now + timedelta(days=8))
    assert (report.examined, report.expired, report.errors) == (2, 2, ())
    assert attached(partner_root, "alice") == attached(partner_root, "bob") == []
    partner_root.get_user(models.GetUserRequest(user_name="alice"))  # holds an AccessKey: kept
    partner_root.get_user(models.GetUserRequest(user_name="bob"))  # not created by ram-delegate: kept


def test_the_verifier_role_holds_one_policy_per_owner_however_many_grants(
    make_partner_deps: Any, partner_root: Any, granted: Any, now: Any
) -> None:
    """RAM allows 10 custom policies per role: per-grant attachments to the verifier would fail at the 11th grant."""
    from alibabacloud_ram20150501 import models

    trust = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["fc.aliyuncs.com"]}}],
    }
    partner_root.create_role(
        models.CreateRoleRequest(role_name="rd-verifier", assume_role_policy_document=json.dumps(trust))
    )
    deps = make_partner_deps(verifier_role="rd-verifier")
    for number in range(12):
        user = {"name": "B", "account_id": ENTERPRISE_B_UID, "user": f"engineer-{number}"}
        outcome = partner.handle_granted(granted(ticket=f"OPS-{number}", partner=user), deps, now=now)
        assert outcome.status == "applied"

    def verifier_policies() -> list[str]:
        body = partner_root.list_policies_for_role(models.ListPoliciesForRoleRequest(role_name="rd-verifier")).body
        return sorted(p.policy_name for p in body.policies.policy)

    assert verifier_policies() == [f"rd-verify-{ENTERPRISE_A_UID}"]
    document = partner_root.get_policy(
        models.GetPolicyRequest(policy_name=f"rd-verify-{ENTERPRISE_A_UID}", policy_type="Custom")
    ).body.default_policy_version.policy_document
    assert json.loads(document)["Statement"][0]["Resource"] == f"acs:ram::{ENTERPRISE_A_UID}:role/rd-*"

    report = partner.sweep_partner(deps, now=now + timedelta(days=8))
    assert (report.expired, report.errors) == (12, ())
    assert verifier_policies() == []
    listed = partner_root.list_policies(models.ListPoliciesRequest(policy_type="Custom", max_items=100)).body
    assert [p.policy_name for p in listed.policies.policy] == []


def test_an_older_or_equally_timed_other_grant_event_is_stale_and_the_same_event_a_duplicate(
    partner_deps: Any, granted: Any, now: Any, writes: Any
) -> None:
    newer = granted().model_copy(update={"time": now + timedelta(minutes=5)})
    assert partner.handle_granted(newer, partner_deps, now=now).status == "applied"
    applied = writes()
    older = granted().model_copy(update={"id": "evt-granted-older"})
    same_time = newer.model_copy(update={"id": "evt-granted-other"})
    assert partner.handle_granted(older, partner_deps, now=now).status == "stale"
    assert partner.handle_granted(same_time, partner_deps, now=now).status == "stale"
    assert partner.handle_granted(newer, partner_deps, now=now).status == "duplicate"
    assert writes() == applied
