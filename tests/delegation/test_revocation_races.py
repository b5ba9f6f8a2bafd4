"""Races converge to the revocation: once a revocation has answered 2xx, no access remains and none is created later.

Interleavings are forced at the SDK seam (tea-openapi's ``Client.call_api``, which every product client goes
through): one handler's thread stops right after its k-th call reached the emulator, the other handler runs to its
answer, then the first resumes. Every k of both handlers is tried, with one and two approvals, and a randomised
variant runs approvals and a revocation as concurrent instances with injected latency on the emulator.
Access is judged the way the partner would use it: alice assumes the role with its ExternalId and lists A's load
balancers.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID
from ram_delegate import owner
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.errors import RamDelegateError

ROLE = "rd-ops-1234"
ROLE_ARN = f"acs:ram::{ENTERPRISE_A_UID}:role/{ROLE}"
APPROVAL_CALLS = 6  # ListPolicies, GetRole, CreateRole, CreatePolicy, AttachPolicyToRole, ListPolicies (the check)


class Gate:
    """Stops the thread named ``thread`` right after its ``after``-th SDK call, until ``release`` is set."""

    def __init__(self) -> None:
        self.thread = ""
        self.after = 0
        self.calls = 0
        self.paused = threading.Event()
        self.release = threading.Event()

    def arm(self, thread: str, after: int) -> None:
        self.thread, self.after, self.calls = thread, after, 0
        self.paused.clear()
        self.release.clear()

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def call_api(client: Any, params: Any, request: Any, runtime: Any) -> Any:
            try:
                return original(client, params, request, runtime)
            finally:  # refused calls count too: they are calls the other handler can interleave with
                if threading.current_thread().name == self.thread:
                    self.calls += 1
                    if self.calls == self.after:
                        self.paused.set()
                        self.release.wait(20)

        return call_api


@pytest.fixture
def gate(mocker: Any) -> Iterator[Gate]:
    from alibabacloud_tea_openapi.client import Client

    stopper = Gate()
    mocker.patch.object(Client, "call_api", stopper.wrap(Client.call_api))
    yield stopper
    stopper.release.set()


def run_in_thread(name: str, job: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``job`` in a thread called ``name``; the dict receives its result or exception."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = job()
        except (RamDelegateError, AssertionError) as exc:
            result["value"] = exc

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread, result


@pytest.fixture
def partner_deps(make_partner_deps: Any) -> Any:
    """alice exists before her first grant (the test gives her a key): adopting existing users is opted in."""
    return make_partner_deps(adopt_existing_users=True)


@pytest.fixture
def alice(partner_root: Any) -> Credentials:
    """Alice as the partner's worst case: her own AccessKey and leave to assume any of A's rd-* roles."""
    from alibabacloud_ram20150501 import models

    partner_root.create_user(models.CreateUserRequest(user_name="alice"))
    document = {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"acs:ram::{ENTERPRISE_A_UID}:role/*"}
        ],
    }
    partner_root.create_policy(
        models.CreatePolicyRequest(policy_name="alice-any", policy_document=json.dumps(document))
    )
    partner_root.attach_policy_to_user(
        models.AttachPolicyToUserRequest(policy_name="alice-any", policy_type="Custom", user_name="alice")
    )
    body = partner_root.create_access_key(models.CreateAccessKeyRequest(user_name="alice")).body
    return Credentials(body.access_key.access_key_id, body.access_key.access_key_secret)


def access_open(partner_deps: Any, owner_root: Any, alice: Credentials) -> bool:
    """Whether alice can use the grant now: the role's current ExternalId, a session, a read of A's balancers."""
    from alibabacloud_ram20150501 import models

    try:
        trust = owner_root.get_role(models.GetRoleRequest(role_name=ROLE)).body.role.assume_role_policy_document
    except Exception:  # the role is gone
        return False
    external_ids = [
        statement["Condition"]["StringEquals"]["sts:ExternalId"]
        for statement in json.loads(trust)["Statement"]
        if "sts:ExternalId" in statement.get("Condition", {}).get("StringEquals", {})
    ]
    cloud = CloudClients(partner_deps.settings, alice, retry=partner_deps.cloud.retry)
    for external_id in external_ids:
        try:
            session = cloud.sts.assume_role(ROLE_ARN, "alice-probe", external_id=external_id, duration_seconds=900)
            cloud.with_credentials(session.credentials).slb("cn-hangzhou").describe_load_balancers()
        except RamDelegateError:
            continue
        return True
    return False


def leftovers(owner_root: Any) -> set[str]:
    """What of the ticket's grant is left in A: the role, the access policy."""
    from alibabacloud_ram20150501 import models

    left: set[str] = set()
    roles = owner_root.list_roles(models.ListRolesRequest(max_items=1000)).body.roles
    left |= {r.role_name for r in (roles.role if roles else None) or [] if r.role_name == ROLE}
    policies = owner_root.list_policies(models.ListPoliciesRequest(policy_type="Custom", max_items=1000)).body.policies
    left |= {
        p.policy_name for p in (policies.policy if policies else None) or [] if p.policy_name == "rd-access-ops-1234"
    }
    return left


def assert_revoked(partner_deps: Any, owner_root: Any, alice: Credentials) -> None:
    assert leftovers(owner_root) == set()
    assert not access_open(partner_deps, owner_root, alice)


@pytest.mark.parametrize("after", range(1, APPROVAL_CALLS + 2))
def test_an_approval_stopped_after_any_call_loses_to_the_revocation_that_answered(
    gate: Gate,
    owner_deps: Any,
    partner_deps: Any,
    approved: Any,
    revoked: Any,
    now: Any,
    owner_root: Any,
    alice: Credentials,
    after: int,
) -> None:
    """The approval may still answer ``applied`` (it passed its check before the tombstone), never grant access."""
    gate.arm("approval", after)
    thread, approval = run_in_thread("approval", lambda: owner.handle_approved(approved(), owner_deps, now=now))
    stopped = gate.paused.wait(10)
    assert stopped == (after <= APPROVAL_CALLS)
    if not stopped:
        thread.join(10)
    answer = owner.handle_revoked(revoked(at=60), owner_deps, now=now)
    assert answer.status == "applied"
    assert_revoked(partner_deps, owner_root, alice)
    gate.release.set()
    thread.join(20)
    assert not thread.is_alive()
    assert_revoked(partner_deps, owner_root, alice)  # nothing created later either
    assert not isinstance(approval["value"], Exception)


@pytest.mark.parametrize("after", range(1, 8))
@pytest.mark.parametrize("granted_before", [False, True], ids=["fresh-ticket", "granted-before"])
def test_a_revocation_stopped_after_any_call_still_ends_the_approvals_that_ran_meanwhile(
    gate: Gate,
    linked: Any,
    approved: Any,
    revoked: Any,
    now: Any,
    owner_root: Any,
    alice: Credentials,
    after: int,
    granted_before: bool,
) -> None:
    """The revocation stops after its k-th call; one or two approvals (a redelivery among them) run to their answer."""
    owner_deps, partner_deps = linked
    if granted_before:
        owner.handle_approved(approved(), owner_deps, now=now)
        assert access_open(partner_deps, owner_root, alice)
    gate.arm("revocation", after)
    thread, revocation = run_in_thread("revocation", lambda: owner.handle_revoked(revoked(at=60), owner_deps, now=now))
    gate.paused.wait(10)
    meanwhile = [
        run_in_thread(
            f"approval-{n}", lambda n=n: owner.handle_approved(approved(event_id=f"evt-{n}"), owner_deps, now=now)
        )
        for n in range(2)
    ]
    for approval_thread, _ in meanwhile:
        approval_thread.join(20)
    gate.release.set()
    thread.join(30)
    assert getattr(revocation["value"], "status", None) == "applied", revocation
    assert_revoked(partner_deps, owner_root, alice)
    late = owner.handle_approved(approved(event_id="evt-late"), owner_deps, now=now)
    assert late.status == "stale"
    assert_revoked(partner_deps, owner_root, alice)


@pytest.mark.parametrize("trial", range(6))
def test_concurrent_instances_with_random_latency_converge_to_the_revocation(
    aliyun_emulator: Any,
    linked: Any,
    approved: Any,
    revoked: Any,
    now: Any,
    owner_root: Any,
    alice: Credentials,
    trial: int,
) -> None:
    owner_deps, partner_deps = linked
    chance = random.Random(trial)
    for action in chance.sample(["ListPolicies", "GetRole", "CreateRole", "CreatePolicy", "AttachPolicyToRole"], 2):
        aliyun_emulator.faults.add_latency(action, chance.uniform(5, 40), ENTERPRISE_A_UID)
    start = threading.Barrier(3)

    def at_once(job: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            start.wait(5)
            return job()

        return run

    jobs = [
        run_in_thread("a1", at_once(lambda: owner.handle_approved(approved(event_id="evt-a1"), owner_deps, now=now))),
        run_in_thread("a2", at_once(lambda: owner.handle_approved(approved(event_id="evt-a2"), owner_deps, now=now))),
        run_in_thread("r", at_once(lambda: owner.handle_revoked(revoked(at=60), owner_deps, now=now))),
    ]
    for thread, _ in jobs:
        thread.join(30)
    assert getattr(jobs[2][1]["value"], "status", None) == "applied", jobs[2][1]
    assert_revoked(partner_deps, owner_root, alice)
