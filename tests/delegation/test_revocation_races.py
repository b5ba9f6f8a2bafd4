"""Races converge to the revocation: once a revocation has answered 2xx, no access remains and none is created later.

Interleavings are forced at the SDK seam (tea-openapi's ``Client.call_api``, which every product client goes
through): one handler's thread stops right after its k-th call reached the emulator, the other handler runs to its
answer, then the first resumes. Every k of both handlers is tried, with one and two approvals, and a randomised
variant runs approvals and a revocation as concurrent instances with injected latency on the emulator.
Access is judged the way the partner would use it: alice assumes the role with its ExternalId and lists A's load
balancers.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from race_support import Gate, access_open, assert_revoked, run_in_thread

from aliyun_emulator.testing import ENTERPRISE_A_UID
from ram_delegate import owner
from ram_delegate.cloud import Credentials

APPROVAL_CALLS = 6  # ListPolicies, GetRole, CreateRole, CreatePolicy, AttachPolicyToRole, ListPolicies (the check)


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
