"""Forcing interleavings at the SDK seam: stop one handler's thread after its k-th call while others run."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from aliyun_emulator.testing import ENTERPRISE_A_UID
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.errors import RamDelegateError

ROLE = "rd-ops-1234"
ROLE_ARN = f"acs:ram::{ENTERPRISE_A_UID}:role/{ROLE}"


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


def make_alice(partner_root: Any) -> Credentials:
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
