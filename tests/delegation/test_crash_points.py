"""A crash after ANY single API call, then the retry, ends in exactly the state of an uninterrupted run.

The fault is injected at the SDK seam (tea-openapi's ``Client.call_api``, which every product client goes
through): the real call reaches the emulator and is applied, then the process "dies" (a BaseException that no
retry loop catches) or the answer is "lost" (a transport error that ``cloud.py`` retries at once, which is how a
create whose response never arrived meets its own resource: catalog 17-19, 21, 23).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from aliyun_emulator.testing import PROD_RESOURCE_GROUP_ID
from ram_delegate import grants as g
from ram_delegate import owner, partner

VERIFIER = "ram-delegate-verifier"
FC_TRUST = {
    "Version": "1",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["fc.aliyuncs.com"]}}],
}


class Crash(BaseException):
    """The function instance dies right after a call reached the cloud."""


class CallCounter:
    """Wraps ``Client.call_api``: counts calls and fails right after call number ``fail_after`` was applied."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail_after = 0
        self.failure: Callable[[], BaseException] = Crash

    def arm(self, fail_after: int, failure: Callable[[], BaseException]) -> None:
        self.calls, self.fail_after, self.failure = 0, fail_after, failure

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def call_api(client: Any, params: Any, request: Any, runtime: Any) -> Any:
            answer = original(client, params, request, runtime)
            self.calls += 1
            if self.calls == self.fail_after:
                raise self.failure()
            return answer

        return call_api


@pytest.fixture
def counter(mocker: Any) -> CallCounter:
    from alibabacloud_tea_openapi.client import Client

    calls = CallCounter()
    mocker.patch.object(Client, "call_api", calls.wrap(Client.call_api))
    return calls


def _names(items: Any, attribute: str) -> list[str]:
    return sorted(getattr(item, attribute) for item in (items or []))


def account_state(root: Any) -> dict[str, Any]:
    """Everything ram-delegate may have written in one account, read by its administrator through the SDK."""
    from alibabacloud_ram20150501 import models

    roles = root.list_roles(models.ListRolesRequest(max_items=1000)).body.roles
    state: dict[str, Any] = {"roles": {}, "policies": {}, "users": {}}
    for role in (roles.role if roles else None) or []:
        detail = root.get_role(models.GetRoleRequest(role_name=role.role_name)).body.role
        trust = json.loads(detail.assume_role_policy_document)
        for statement in trust["Statement"]:
            if "sts:ExternalId" in statement.get("Condition", {}).get("StringEquals", {}):
                statement["Condition"]["StringEquals"]["sts:ExternalId"] = "<external-id>"
        attached = root.list_policies_for_role(models.ListPoliciesForRoleRequest(role_name=role.role_name)).body
        state["roles"][role.role_name] = {
            "trust": trust,
            "max_session": detail.max_session_duration,
            "tags": _tags(root, "role", role.role_name),
            "attached": _names(attached.policies.policy if attached.policies else None, "policy_name"),
        }
    policies = root.list_policies(models.ListPoliciesRequest(policy_type="Custom", max_items=1000)).body.policies
    for policy in (policies.policy if policies else None) or []:
        version = root.get_policy(
            models.GetPolicyRequest(policy_name=policy.policy_name, policy_type="Custom")
        ).body.default_policy_version
        tags = _tags(root, "policy", policy.policy_name)
        if g.TAG_EXTERNAL_ID in tags:
            tags[g.TAG_EXTERNAL_ID] = "<external-id>"
        if g.TAG_REVOKED_AT in tags:
            tags[g.TAG_REVOKED_AT] = "<revoked-at>"
        state["policies"][policy.policy_name] = {"document": json.loads(version.policy_document), "tags": tags}
    users = root.list_users(models.ListUsersRequest(max_items=1000)).body.users
    for user in (users.user if users else None) or []:
        attached = root.list_policies_for_user(models.ListPoliciesForUserRequest(user_name=user.user_name)).body
        keys = root.list_access_keys(models.ListAccessKeysRequest(user_name=user.user_name)).body.access_keys
        state["users"][user.user_name] = {
            "comments": user.comments,
            "attached": _names(attached.policies.policy if attached.policies else None, "policy_name"),
            "access_keys": len((keys.access_key if keys else None) or []),
        }
    return state


def _tags(root: Any, resource_type: str, name: str) -> dict[str, str]:
    from alibabacloud_ram20150501 import models

    body = root.list_tag_resources(
        models.ListTagResourcesRequest(resource_type=resource_type, resource_names=[name])
    ).body
    return {t.tag_key: t.tag_value for t in (body.tag_resources or [])}


def group_attachments(aliyun_emulator: Any) -> list[str]:
    from alibabacloud_resourcemanager20200331 import models

    from aliyun_emulator.testing import rm_client

    client = rm_client(aliyun_emulator, "AKIDENTERPRISEA0000001", "secret-a")
    body = client.list_policy_attachments(
        models.ListPolicyAttachmentsRequest(resource_group_id=PROD_RESOURCE_GROUP_ID, policy_type="Custom")
    ).body
    entries = (body.policy_attachments.policy_attachment if body.policy_attachments else None) or []
    return sorted(f"{a.policy_name}@{a.principal_name}" for a in entries)


class Scenario:
    """One flow run from a fixed starting point, again and again (the emulator is reset between runs)."""

    def __init__(self, emulator: Any, roots: tuple[Any, Any], prepare: Callable[[], None], run: Callable[[], Any]):
        self.emulator = emulator
        self.roots = roots
        self.prepare = prepare
        self.run = run

    def state(self) -> dict[str, Any]:
        owner_root, partner_root = self.roots
        return {
            "owner": account_state(owner_root),
            "partner": account_state(partner_root),
            "groups": group_attachments(self.emulator),
        }

    def reference(self, counter: CallCounter) -> tuple[int, dict[str, Any]]:
        """The uninterrupted run: how many calls it makes and the state it leaves."""
        self.emulator.reset()
        self.prepare()
        counter.arm(0, Crash)
        self.run()
        return counter.calls, self.state()

    def interrupted(self, counter: CallCounter, fail_after: int, failure: Callable[[], BaseException]) -> None:
        self.emulator.reset()
        self.prepare()
        counter.arm(fail_after, failure)
        with contextlib.suppress(Crash):
            self.run()
        counter.arm(0, Crash)


def check_every_crash_point(scenario: Scenario, counter: CallCounter) -> int:
    """Crash after each call in turn, then retry once; the state must equal the uninterrupted run's."""
    calls, expected = scenario.reference(counter)
    assert calls > 0
    for point in range(1, calls + 1):
        scenario.interrupted(counter, point, Crash)
        scenario.run()
        assert scenario.state() == expected, f"crash after call {point} of {calls}"
        scenario.interrupted(counter, point, lambda: ConnectionResetError("the answer was lost"))
        assert scenario.state() == expected, f"answer of call {point} of {calls} lost"
    return calls


@pytest.fixture
def scenario_for(aliyun_emulator: Any, owner_root: Any, partner_root: Any, linked: Any) -> Callable[..., Scenario]:
    _owner_deps, partner_deps = linked
    partner_deps.settings = partner_deps.settings.model_copy(update={"verifier_role": VERIFIER})

    def build(prepare: Callable[[], None], run: Callable[[], Any]) -> Scenario:
        def prepared() -> None:
            from alibabacloud_ram20150501 import models

            partner_root.create_role(
                models.CreateRoleRequest(role_name=VERIFIER, assume_role_policy_document=json.dumps(FC_TRUST))
            )
            prepare()

        return Scenario(aliyun_emulator, (owner_root, partner_root), prepared, run)

    return build


@pytest.mark.parametrize("group", [None, PROD_RESOURCE_GROUP_ID], ids=["account-wide", "resource-group"])
def test_a_grant_in_both_accounts_survives_a_crash_after_any_call(
    counter: CallCounter, scenario_for: Any, linked: Any, approved: Any, now: Any, group: str | None
) -> None:
    owner_deps, _partner_deps = linked
    event = approved(access__resource_group_id=group)
    scenario = scenario_for(lambda: None, lambda: owner.handle_approved(event, owner_deps, now=now))
    calls = check_every_crash_point(scenario, counter)
    assert calls >= 12  # owner reads + 3 writes, partner reads + user, policies and attachments
    counter.arm(0, Crash)
    again = owner.handle_approved(event, owner_deps, now=now)
    assert again.status == "duplicate", again.steps
    assert {o.status for o in owner_deps.notifier.partner_outcomes[-1:]} == {"duplicate"}


def test_a_revocation_survives_a_crash_after_any_call(
    counter: CallCounter, scenario_for: Any, linked: Any, approved: Any, revoked: Any, now: Any
) -> None:
    owner_deps, _partner_deps = linked
    scenario = scenario_for(
        lambda: owner.handle_approved(approved(), owner_deps, now=now),
        lambda: owner.handle_revoked(revoked(), owner_deps, now=now),
    )
    check_every_crash_point(scenario, counter)
    final = scenario.state()
    assert final["owner"]["roles"] == {}
    assert list(final["owner"]["policies"]) == ["rd-tomb-ops-1234"]


def test_both_sweeps_survive_a_crash_after_any_call(
    counter: CallCounter, scenario_for: Any, linked: Any, approved: Any, now: Any
) -> None:
    owner_deps, partner_deps = linked
    later = now + timedelta(days=8)

    def sweep_both() -> None:
        owner.sweep_owner(owner_deps, now=later)
        partner.sweep_partner(partner_deps, now=later)

    scenario = scenario_for(lambda: owner.handle_approved(approved(), owner_deps, now=now), sweep_both)
    check_every_crash_point(scenario, counter)
    final = scenario.state()
    assert final["owner"]["roles"] == {}
    assert final["partner"]["users"] == {}
    assert list(final["owner"]["policies"]) == ["rd-tomb-ops-1234"]
    assert final["partner"]["policies"] == {}
