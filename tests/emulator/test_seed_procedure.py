"""The seed procedure end to end through the official SDK clients, in both signing modes.

A creates a role trusting B's user and grants it SLB read access; B creates that user with the assume permission and
an AccessKey; the user assumes the role and lists A's load balancers. Everyone else is refused, a detached policy
cuts the live session, and the emulator clock passing the expiry ends it.
"""

from __future__ import annotations

import json

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, Signing, ram_client, slb_client, sts_client

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
ROOT_B = ("AKIDENTERPRISEB0000001", "secret-b")
ROLE_ARN = f"acs:ram::{ENTERPRISE_A_UID}:role/partner-slb"


def trust(principal: str) -> str:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [principal]}}
    return json.dumps({"Version": "1", "Statement": [statement]})


def create_user_with_key(emulator: Emulator, name: str, signing: Signing, *policies: str) -> tuple[str, str]:
    ram_b = ram_client(emulator, *ROOT_B, signing=signing)
    ram_b.create_user(ram_models.CreateUserRequest(user_name=name, display_name=name))
    for policy in policies:
        ram_b.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(user_name=name, policy_type="System", policy_name=policy)
        )
    key = ram_b.create_access_key(ram_models.CreateAccessKeyRequest(user_name=name)).body.access_key
    return key.access_key_id, key.access_key_secret


def assume(
    emulator: Emulator, key: tuple[str, str], signing: Signing, role_arn: str = ROLE_ARN
) -> sts_models.AssumeRoleResponseBody:
    request = sts_models.AssumeRoleRequest(role_arn=role_arn, role_session_name="grant-42", duration_seconds=900)
    return sts_client(emulator, *key, signing=signing).assume_role(request).body


def refused(call: object) -> str:
    assert callable(call)
    with pytest.raises(ClientException) as info:
        call()
    return str(info.value.code)


@pytest.mark.parametrize("signing", ["v3", "v2"])
def test_seed_procedure(aliyun_emulator: Emulator, signing: Signing) -> None:
    emulator = aliyun_emulator
    ram_a = ram_client(emulator, *ROOT_A, signing=signing)
    created = ram_a.create_role(
        ram_models.CreateRoleRequest(
            role_name="partner-slb",
            assume_role_policy_document=trust(f"acs:ram::{ENTERPRISE_B_UID}:user/partner-ops"),
            description="partner read access",
            max_session_duration=3600,
        )
    ).body.role
    assert created.arn == ROLE_ARN
    assert created.max_session_duration == 3600
    ram_a.attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(
            role_name="partner-slb", policy_type="System", policy_name="AliyunSLBReadOnlyAccess"
        )
    )
    ram_a.create_role(
        ram_models.CreateRoleRequest(
            role_name="other-role", assume_role_policy_document=trust(f"acs:ram::{ENTERPRISE_B_UID}:user/someone-else")
        )
    )

    partner = create_user_with_key(emulator, "partner-ops", signing, "AliyunSTSAssumeRoleAccess")
    without_permission = create_user_with_key(emulator, "intern", signing)

    session = assume(emulator, partner, signing)
    assert session.credentials.access_key_id.startswith("STS.")
    assert session.assumed_role_user.arn == f"{ROLE_ARN}/grant-42"
    credentials = session.credentials
    slb = slb_client(
        emulator, credentials.access_key_id, credentials.access_key_secret, credentials.security_token, signing=signing
    )
    listed = slb.describe_load_balancers(slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou")).body
    assert listed.total_count == 3
    assert {lb.load_balancer_id for lb in listed.load_balancers.load_balancer} == {
        "lb-bp1prod000000000001",
        "lb-bp1prod000000000002",
        "lb-bp1dflt000000000001",
    }
    identity = (
        sts_client(
            emulator,
            credentials.access_key_id,
            credentials.access_key_secret,
            credentials.security_token,
            signing=signing,
        )
        .get_caller_identity()
        .body
    )
    assert (identity.identity_type, identity.account_id) == ("AssumedRoleUser", ENTERPRISE_A_UID)

    assert refused(lambda: assume(emulator, without_permission, signing)) == "NoPermission"
    assert refused(lambda: assume(emulator, partner, signing, f"acs:ram::{ENTERPRISE_A_UID}:role/other-role")) == (
        "NoPermission"
    )
    assert refused(lambda: assume(emulator, ROOT_B, signing)) == "NoPermission"

    ram_a.detach_policy_from_role(
        ram_models.DetachPolicyFromRoleRequest(
            role_name="partner-slb", policy_type="System", policy_name="AliyunSLBReadOnlyAccess"
        )
    )
    list_request = slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou")
    assert refused(lambda: slb.describe_load_balancers(list_request)) == "Forbidden.RAM"

    ram_a.attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(
            role_name="partner-slb", policy_type="System", policy_name="AliyunSLBReadOnlyAccess"
        )
    )
    assert slb.describe_load_balancers(list_request).body.total_count == 3
    emulator.accept_host_clock = True  # the SDK signs with the host's time
    emulator.clock.advance(901)
    assert refused(lambda: slb.describe_load_balancers(list_request)) == "InvalidSecurityToken.Expired"
