"""Strict where RAM is strict, each rule attacked through the official SDK.

* attach and detach calls are authorized on the policy as well as on the role or user;
* a system policy is attachable only by a caller allowed on it (``acs:ram::system:policy/<name>``);
* Resource Manager ``AttachPolicy`` is authorized on the policy and on the scope, and account scope is its own
  resource, not one more resource group;
* a Deny guarded by a negated operator applies when the request lacks the key (trust policy, ``sts:ExternalId``).

The request timestamp against the emulator clock is attacked in ``test_server.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_resourcemanager20200331 import models as rm_models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import (
    ENTERPRISE_A_UID,
    ENTERPRISE_B_UID,
    PROD_RESOURCE_GROUP_ID,
    ram_client,
    rm_client,
    sts_client,
)

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
ROOT_B = ("AKIDENTERPRISEB0000001", "secret-b")


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def allow(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def operator_with(emulator: Emulator, *statements: dict[str, Any]) -> tuple[str, str]:
    """A RAM user of account A holding exactly one custom policy made of ``statements``; returns its AccessKey."""
    ram_a = ram_client(emulator, *ROOT_A)
    ram_a.create_policy(ram_models.CreatePolicyRequest(policy_name="operator", policy_document=document(*statements)))
    ram_a.create_user(ram_models.CreateUserRequest(user_name="operator"))
    ram_a.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(user_name="operator", policy_type="Custom", policy_name="operator")
    )
    key = ram_a.create_access_key(ram_models.CreateAccessKeyRequest(user_name="operator")).body.access_key
    return key.access_key_id, key.access_key_secret


def seed_targets(emulator: Emulator) -> None:
    """Role ``rd-target``, custom policies ``rd-grant`` and ``other``, user ``rd-user`` in account A."""
    ram_a = ram_client(emulator, *ROOT_A)
    trust = document(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [f"acs:ram::{ENTERPRISE_B_UID}:root"]}}
    )
    ram_a.create_role(ram_models.CreateRoleRequest(role_name="rd-target", assume_role_policy_document=trust))
    ram_a.create_user(ram_models.CreateUserRequest(user_name="rd-user"))
    read = document(allow(["slb:DescribeLoadBalancers"], ["*"]))
    for name in ("rd-grant", "other"):
        ram_a.create_policy(ram_models.CreatePolicyRequest(policy_name=name, policy_document=read))


def code_of(call: Any) -> str:
    with pytest.raises(ClientException) as raised:
        call()
    return str(raised.value.code)


ROLE_RD = f"acs:ram:*:{ENTERPRISE_A_UID}:role/rd-*"
USER_RD = f"acs:ram:*:{ENTERPRISE_A_UID}:user/rd-*"
POLICY_RD = f"acs:ram:*:{ENTERPRISE_A_UID}:policy/rd-*"


@pytest.mark.parametrize("entity", ["Role", "User"])
def test_attach_and_detach_need_the_policy_as_well_as_the_principal(aliyun_emulator: Emulator, entity: str) -> None:
    seed_targets(aliyun_emulator)
    actions = [f"ram:AttachPolicyTo{entity}", f"ram:DetachPolicyFrom{entity}"]
    key = operator_with(aliyun_emulator, allow(actions, [ROLE_RD, USER_RD, POLICY_RD]))
    ram = ram_client(aliyun_emulator, *key)

    def change(policy: str, kind: str = "Custom", *, attach: bool = True) -> Any:
        if entity == "Role":
            if attach:
                request = ram_models.AttachPolicyToRoleRequest(
                    role_name="rd-target", policy_type=kind, policy_name=policy
                )
                return lambda: ram.attach_policy_to_role(request)
            detach = ram_models.DetachPolicyFromRoleRequest(role_name="rd-target", policy_type=kind, policy_name=policy)
            return lambda: ram.detach_policy_from_role(detach)
        if attach:
            request_u = ram_models.AttachPolicyToUserRequest(user_name="rd-user", policy_type=kind, policy_name=policy)
            return lambda: ram.attach_policy_to_user(request_u)
        detach_u = ram_models.DetachPolicyFromUserRequest(user_name="rd-user", policy_type=kind, policy_name=policy)
        return lambda: ram.detach_policy_from_user(detach_u)

    change("rd-grant")()
    assert code_of(change("other")) == "NoPermission"
    assert code_of(change("AdministratorAccess", "System")) == "NoPermission"
    change("rd-grant", attach=False)()

    # A policy the operator may not touch stays attached, whoever attached it.
    root = ram_client(aliyun_emulator, *ROOT_A)
    if entity == "Role":
        root.attach_policy_to_role(
            ram_models.AttachPolicyToRoleRequest(role_name="rd-target", policy_type="Custom", policy_name="other")
        )
    else:
        root.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(user_name="rd-user", policy_type="Custom", policy_name="other")
        )
    assert code_of(change("other", attach=False)) == "NoPermission"


def test_a_system_policy_is_attachable_only_by_a_caller_allowed_on_it(aliyun_emulator: Emulator) -> None:
    seed_targets(aliyun_emulator)
    system_slb = "acs:ram:*:*:policy/AliyunSLBReadOnlyAccess"
    key = operator_with(
        aliyun_emulator,
        allow(["ram:AttachPolicyToRole"], [ROLE_RD, POLICY_RD]),
        allow(["ram:AttachPolicyToRole"], [ROLE_RD, system_slb]),
    )
    ram = ram_client(aliyun_emulator, *key)

    def attach(policy: str) -> Any:
        request = ram_models.AttachPolicyToRoleRequest(role_name="rd-target", policy_type="System", policy_name=policy)
        return lambda: ram.attach_policy_to_role(request)

    attach("AliyunSLBReadOnlyAccess")()
    assert code_of(attach("AdministratorAccess")) == "NoPermission"
    assert code_of(attach("AliyunRAMFullAccess")) == "NoPermission"


def test_a_caller_allowed_on_every_own_policy_still_cannot_attach_a_system_policy(aliyun_emulator: Emulator) -> None:
    seed_targets(aliyun_emulator)
    key = operator_with(
        aliyun_emulator, allow(["ram:AttachPolicyToRole"], [ROLE_RD, f"acs:ram:*:{ENTERPRISE_A_UID}:policy/*"])
    )
    ram = ram_client(aliyun_emulator, *key)
    ram.attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(role_name="rd-target", policy_type="Custom", policy_name="other")
    )
    request = ram_models.AttachPolicyToRoleRequest(
        role_name="rd-target", policy_type="System", policy_name="AdministratorAccess"
    )
    assert code_of(lambda: ram.attach_policy_to_role(request)) == "NoPermission"


def rm_attach(key: tuple[str, str], emulator: Emulator, scope: str, policy: str, kind: str = "Custom") -> Any:
    request = rm_models.AttachPolicyRequest(
        resource_group_id=scope,
        policy_type=kind,
        policy_name=policy,
        principal_type="ServiceRole",
        principal_name="rd-target@role.enterprise-a.onaliyunservice.com",
    )
    return lambda: rm_client(emulator, *key).attach_policy(request)


def test_resource_manager_attach_needs_the_policy_and_refuses_account_scope_to_a_group_grant(
    aliyun_emulator: Emulator,
) -> None:
    seed_targets(aliyun_emulator)
    groups = "acs:resourcemanager:*:*:resourcegroup/*"
    key = operator_with(aliyun_emulator, allow(["resourcemanager:AttachPolicy"], [groups, POLICY_RD]))

    rm_attach(key, aliyun_emulator, PROD_RESOURCE_GROUP_ID, "rd-grant")()
    assert code_of(rm_attach(key, aliyun_emulator, PROD_RESOURCE_GROUP_ID, "other")) == "Forbidden.RAM"
    assert code_of(rm_attach(key, aliyun_emulator, PROD_RESOURCE_GROUP_ID, "AdministratorAccess", "System")) == (
        "Forbidden.RAM"
    )
    # The account id as the "resource group" is account scope: not covered by resourcegroup/*.
    assert code_of(rm_attach(key, aliyun_emulator, ENTERPRISE_A_UID, "rd-grant")) == "Forbidden.RAM"
    listing = rm_client(aliyun_emulator, *ROOT_A).list_policy_attachments(rm_models.ListPolicyAttachmentsRequest())
    scopes = {(a.resource_group_id, a.policy_name) for a in listing.body.policy_attachments.policy_attachment}
    assert scopes == {(PROD_RESOURCE_GROUP_ID, "rd-grant")}


def test_resource_manager_account_scope_is_granted_only_to_a_caller_allowed_on_the_account(
    aliyun_emulator: Emulator,
) -> None:
    seed_targets(aliyun_emulator)
    account = f"acs:resourcemanager:*:{ENTERPRISE_A_UID}:account/{ENTERPRISE_A_UID}"
    key = operator_with(aliyun_emulator, allow(["resourcemanager:AttachPolicy"], [account, POLICY_RD]))

    rm_attach(key, aliyun_emulator, ENTERPRISE_A_UID, "rd-grant")()
    assert code_of(rm_attach(key, aliyun_emulator, PROD_RESOURCE_GROUP_ID, "rd-grant")) == "Forbidden.RAM"


def test_a_trust_deny_on_a_negated_external_id_refuses_a_request_without_one(aliyun_emulator: Emulator) -> None:
    ram_a = ram_client(aliyun_emulator, *ROOT_A)
    partner = f"acs:ram::{ENTERPRISE_B_UID}:root"
    trust = document(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [partner]}},
        {
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Principal": {"RAM": [partner]},
            "Condition": {"StringNotEquals": {"sts:ExternalId": "the-shared-id"}},
        },
    )
    ram_a.create_role(ram_models.CreateRoleRequest(role_name="guarded", assume_role_policy_document=trust))
    ram_b = ram_client(aliyun_emulator, *ROOT_B)
    ram_b.create_user(ram_models.CreateUserRequest(user_name="assumer"))
    ram_b.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            user_name="assumer", policy_type="System", policy_name="AliyunSTSAssumeRoleAccess"
        )
    )
    key = ram_b.create_access_key(ram_models.CreateAccessKeyRequest(user_name="assumer")).body.access_key
    sts = sts_client(aliyun_emulator, key.access_key_id, key.access_key_secret)
    role_arn = f"acs:ram::{ENTERPRISE_A_UID}:role/guarded"

    def assume(external_id: str | None) -> Any:
        request = sts_models.AssumeRoleRequest(role_arn=role_arn, role_session_name="s1", external_id=external_id)
        return lambda: sts.assume_role(request)

    assert code_of(assume(None)) == "NoPermission"
    assert code_of(assume("another-id")) == "NoPermission"
    assert assume("the-shared-id")().body.assumed_role_user.arn.endswith("/guarded/s1")


def test_describe_health_status_is_authorized_on_the_named_load_balancer(aliyun_emulator: Emulator) -> None:
    """What the slb-operator profile grants: DescribeHealthStatus on its named instances, not on their neighbours."""
    from alibabacloud_slb20140515 import models as slb_models

    from aliyun_emulator.testing import slb_client

    named = f"acs:slb:cn-hangzhou:{ENTERPRISE_A_UID}:loadbalancer/lb-bp1prod000000000001"
    slb = slb_client(aliyun_emulator, *operator_with(aliyun_emulator, allow(["slb:DescribeHealthStatus"], [named])))

    def health(lb: str) -> Any:
        return slb.describe_health_status(
            slb_models.DescribeHealthStatusRequest(region_id="cn-hangzhou", load_balancer_id=lb)
        )

    assert health("lb-bp1prod000000000001").body.backend_servers.backend_server == []
    assert code_of(lambda: health("lb-bp1prod000000000002")) == "Forbidden.RAM"
