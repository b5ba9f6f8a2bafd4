"""Escalation attempts made as each function role, on the emulator (which enforces the role's policy).

Each test assumes the bootstrapped function role through STS (the way Function Compute hands a function its role),
then tries what an attacker holding that session would: attach a system policy anywhere, attach at account scope,
create an ``rd-*`` policy granting ``*`` and attach it to a role or user the function did not create, delete a user
it did not create, make a key. Every attempt is refused with the emulator's denial code, except what RAM cannot
express (README, security model): the owner role writing a wide ``rd-x`` of its own (caught by the audit, below), and
the partner role's DeleteUser, which RAM itself refuses while the user holds anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from Tea.exceptions import TeaException

from aliyun_emulator.testing import (
    ENTERPRISE_A_UID,
    ENTERPRISE_B_UID,
    PROD_RESOURCE_GROUP_ID,
    admit_role_assumer,
    ram_client,
    rm_client,
    sts_client,
)
from ram_delegate.bootstrap import OWNER_FUNCTION_ROLE, PARTNER_FUNCTION_ROLE, bootstrap
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.settings import Settings

ROOT = {
    ENTERPRISE_A_UID: ("AKIDENTERPRISEA0000001", "secret-a"),
    ENTERPRISE_B_UID: ("AKIDENTERPRISEB0000001", "secret-b"),
}
VERIFIER = "ram-delegate-verifier"
EVERYTHING = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
DENIALS = {"NoPermission", "Forbidden.RAM"}


def _no_wait(_seconds: float) -> None:
    """Backoff without waiting."""


class Session:
    """SDK clients holding an STS session of one function role, and the account root's clients for set-up."""

    def __init__(self, emulator: Any, account: str, side: str, role: str) -> None:
        from alibabacloud_ram20150501 import models
        from alibabacloud_sts20150401 import models as sts_models

        settings = Settings(
            side=side,  # type: ignore[arg-type]
            account_id=account,
            endpoint=emulator.endpoint,
            protocol="http",
            verifier_role=VERIFIER,
        )
        root_key = Credentials(*ROOT[account])
        bootstrap(side, CloudClients(settings, root_key, retry=RetryPolicy(sleep=_no_wait)), settings)  # type: ignore[arg-type]
        self.account = account
        self.root = ram_client(emulator, *ROOT[account])
        # A foreign role and a foreign user: what the function did not create and must not touch.
        self.root.create_role(
            models.CreateRoleRequest(
                role_name="payments-admin",
                assume_role_policy_document=json.dumps(
                    {
                        "Version": "1",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Principal": {"Service": ["ecs.aliyuncs.com"]},
                            }
                        ],
                    }
                ),
            )
        )
        self.root.create_user(models.CreateUserRequest(user_name="alice"))
        key_id, secret = admit_role_assumer(self.root, account, "fc-stand-in", [role], policy_name="fc-stand-in")
        assumed = sts_client(emulator, key_id, secret).assume_role(
            sts_models.AssumeRoleRequest(role_arn=f"acs:ram::{account}:role/{role}", role_session_name="escalation")
        )
        creds = assumed.body.credentials
        token = (creds.access_key_id, creds.access_key_secret, creds.security_token)
        self.ram = ram_client(emulator, *token)
        self.rm = rm_client(emulator, *token)


def refused(attempt: Callable[[], object]) -> str:
    """The denial code of an attempt that must fail authorization."""
    with pytest.raises(TeaException) as caught:
        attempt()
    code = getattr(caught.value, "code", None)
    assert code in DENIALS, f"expected a denial, got {code}: {caught.value}"
    return str(code)


@pytest.fixture
def owner(aliyun_emulator: Any) -> Session:
    return Session(aliyun_emulator, ENTERPRISE_A_UID, "owner", OWNER_FUNCTION_ROLE)


@pytest.fixture
def partner(aliyun_emulator: Any) -> Session:
    return Session(aliyun_emulator, ENTERPRISE_B_UID, "partner", PARTNER_FUNCTION_ROLE)


def _trust(principal: str) -> str:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [principal]}}
    return json.dumps({"Version": "1", "Statement": [statement]})


def test_owner_role_cannot_make_itself_or_anyone_an_administrator(owner: Session) -> None:
    from alibabacloud_ram20150501 import models
    from alibabacloud_resourcemanager20200331 import models as rm_models

    ram, rm, account = owner.ram, owner.rm, owner.account
    own = f"{OWNER_FUNCTION_ROLE}@role.{account}.onaliyunservice.com"

    def attach_to_role(role: str, policy: str, kind: str) -> Callable[[], object]:
        request = models.AttachPolicyToRoleRequest(policy_type=kind, policy_name=policy, role_name=role)
        return lambda: ram.attach_policy_to_role(request)

    def rm_attach(group: str, principal: str, policy: str, kind: str) -> Callable[[], object]:
        request = rm_models.AttachPolicyRequest(
            resource_group_id=group,
            policy_type=kind,
            policy_name=policy,
            principal_type="ServiceRole",
            principal_name=principal,
        )
        return lambda: rm.attach_policy(request)

    # Its own role: no RAM attach, no account-scope attach through Resource Manager, no trust change.
    refused(attach_to_role(OWNER_FUNCTION_ROLE, "AdministratorAccess", "System"))
    refused(rm_attach(account, own, "AdministratorAccess", "System"))
    refused(
        lambda: ram.update_role(
            models.UpdateRoleRequest(role_name=OWNER_FUNCTION_ROLE, new_assume_role_policy_document=_trust("*"))
        )
    )
    # A policy with "*": refused under any rd-* name but the function's own rd-access-*/rd-tomb-* names ...
    refused(
        lambda: ram.create_policy(models.CreatePolicyRequest(policy_name="rd-anything", policy_document=EVERYTHING))
    )
    ram.create_policy(models.CreatePolicyRequest(policy_name="rd-access-evil", policy_document=EVERYTHING))
    # ... and even then it cannot be attached to a role or a user the function did not create.
    refused(attach_to_role("payments-admin", "rd-access-evil", "Custom"))
    refused(
        lambda: ram.attach_policy_to_user(
            models.AttachPolicyToUserRequest(policy_type="Custom", policy_name="rd-access-evil", user_name="alice")
        )
    )
    refused(rm_attach(account, own, "rd-access-evil", "Custom"))
    refused(rm_attach(account, f"payments-admin@role.{account}.onaliyunservice.com", "rd-access-evil", "Custom"))
    # Users and keys are not its business at all.
    refused(lambda: ram.delete_user(models.DeleteUserRequest(user_name="alice")))
    refused(lambda: ram.create_user(models.CreateUserRequest(user_name="backdoor")))
    refused(lambda: ram.create_access_key(models.CreateAccessKeyRequest(user_name="alice")))
    refused(lambda: ram.delete_role(models.DeleteRoleRequest(role_name="payments-admin")))
    # Even on a role it made itself: no system policy, neither through RAM nor through a resource group, and no
    # account-scope attach of its own policy.
    ram.create_role(
        models.CreateRoleRequest(role_name="rd-evil", assume_role_policy_document=_trust(f"acs:ram::{account}:root"))
    )
    refused(attach_to_role("rd-evil", "AdministratorAccess", "System"))
    refused(attach_to_role("rd-evil", "AliyunRAMFullAccess", "System"))
    evil = f"rd-evil@role.{account}.onaliyunservice.com"
    refused(rm_attach(PROD_RESOURCE_GROUP_ID, evil, "AdministratorAccess", "System"))
    refused(rm_attach(PROD_RESOURCE_GROUP_ID, own, "AdministratorAccess", "System"))
    refused(rm_attach(account, evil, "rd-access-evil", "Custom"))


def test_partner_role_cannot_make_a_user_an_administrator_or_delete_a_foreign_user(partner: Session) -> None:
    from alibabacloud_ram20150501 import models

    ram = partner.ram
    refused(
        lambda: ram.create_policy(models.CreatePolicyRequest(policy_name="rd-anything", policy_document=EVERYTHING))
    )
    refused(lambda: ram.create_policy(models.CreatePolicyRequest(policy_name="admin-now", policy_document=EVERYTHING)))
    # No role but the verifier's can get a policy from it.
    ram.create_policy(models.CreatePolicyRequest(policy_name="rd-verify-evil", policy_document=EVERYTHING))
    refused(
        lambda: ram.attach_policy_to_role(
            models.AttachPolicyToRoleRequest(
                policy_type="Custom", policy_name="rd-verify-evil", role_name="payments-admin"
            )
        )
    )
    refused(lambda: ram.create_access_key(models.CreateAccessKeyRequest(user_name="alice")))

    def attach_to_alice(policy: str, kind: str) -> Callable[[], object]:
        request = models.AttachPolicyToUserRequest(policy_type=kind, policy_name=policy, user_name="alice")
        return lambda: ram.attach_policy_to_user(request)

    refused(attach_to_alice("AdministratorAccess", "System"))
    refused(attach_to_alice("AliyunSTSAssumeRoleAccess", "System"))  # only with the broad-assume opt-in
    refused(attach_to_alice("rd-verify-evil", "Custom"))
    # Residual, stated in the README: RAM cannot limit DeleteUser to the users the function made, but it refuses to
    # delete a user that holds anything (here a policy), so only a user that can do nothing is at risk.
    partner.root.attach_policy_to_user(
        models.AttachPolicyToUserRequest(
            policy_type="System", policy_name="AliyunSTSAssumeRoleAccess", user_name="alice"
        )
    )
    with pytest.raises(TeaException) as conflict:
        ram.delete_user(models.DeleteUserRequest(user_name="alice"))
    assert str(getattr(conflict.value, "code", "")).startswith("DeleteConflict.User")
    refused(
        lambda: ram.create_role(models.CreateRoleRequest(role_name="rd-x", assume_role_policy_document=_trust("*")))
    )
    refused(
        lambda: ram.update_role(
            models.UpdateRoleRequest(role_name=PARTNER_FUNCTION_ROLE, new_assume_role_policy_document=_trust("*"))
        )
    )


def test_what_ram_cannot_refuse_the_owner_role_is_caught_by_the_audit(owner: Session, aliyun_emulator: Any) -> None:
    """No condition key limits a trust or a policy document: the owner role *can* make rd-x trust a third account
    with rd-access-x granting "*". The audit (run by the operator) lists it as critical, and never touches it."""
    from alibabacloud_ram20150501 import models

    from ram_delegate.audit import AuditLog
    from ram_delegate.deps import Deps
    from ram_delegate.inventory import owner_audit
    from ram_delegate.notify import HttpNotifier
    from ram_delegate.policy import load_profiles

    third = "3333333333333333"
    ram = owner.ram
    ram.create_role(
        models.CreateRoleRequest(role_name="rd-x", assume_role_policy_document=_trust(f"acs:ram::{third}:root"))
    )
    ram.create_policy(models.CreatePolicyRequest(policy_name="rd-access-x", policy_document=EVERYTHING))
    ram.attach_policy_to_role(
        models.AttachPolicyToRoleRequest(policy_type="Custom", policy_name="rd-access-x", role_name="rd-x")
    )
    settings = Settings(
        account_id=ENTERPRISE_A_UID, endpoint=aliyun_emulator.endpoint, protocol="http", seal_secret="k" * 32
    )
    deps = Deps(
        settings=settings,
        cloud=CloudClients(settings, Credentials(*ROOT[ENTERPRISE_A_UID]), retry=RetryPolicy(sleep=_no_wait)),
        clock=aliyun_emulator.clock.now,
        notifier=HttpNotifier(),
        audit=AuditLog(),
        profiles=load_profiles(),
    )
    report = owner_audit(deps, now=aliyun_emulator.clock.now())
    [finding] = [f for f in report.findings if f.resource.endswith(":role/rd-x")]
    assert (finding.kind, finding.managed, finding.severity, finding.action) == (
        "external-trust",
        False,
        "critical",
        "reported",
    )
    assert finding.principals == (f"acs:ram::{third}:root",)
    assert finding.policies == ("Custom:rd-access-x",)
    assert report.failed
