"""Every call is authorized: identity policies, explicit denies, resources, context keys, session policies, scopes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cloud_direct import ROOT_A, ROOT_B, UID_A, UID_B, Cloud, allow, trust_policy

PROD = "rg-aaaaaaaaaaaaa1"
STAGING = "rg-aaaaaaaaaaaaa0"


@pytest.fixture
def cloud() -> Cloud:
    return Cloud()


def custom_policy(cloud: Cloud, root: str, user: str, name: str, document: str) -> None:
    cloud.ram(root, "CreatePolicy", PolicyName=name, PolicyDocument=document)
    cloud.ram(root, "AttachPolicyToUser", UserName=user, PolicyType="Custom", PolicyName=name)


def test_root_may_do_anything_in_its_own_account(cloud: Cloud) -> None:
    cloud.ram(ROOT_B, "CreateUser", UserName="u")
    assert cloud.call(ROOT_B, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou")["TotalCount"] == 1


def test_user_without_policies_is_refused_everything(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_A, "nobody")
    error = cloud.refused(key, "ram", "ListRoles")
    assert (error.code, error.status) == ("NoPermission", 403)
    assert f"acs:ram::{UID_A}:*" in error.message
    slb = cloud.refused(key, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou")
    assert (slb.code, slb.status) == ("Forbidden.RAM", 403)
    rm = cloud.refused(key, "resourcemanager", "ListResourceGroups")
    assert rm.code == "Forbidden.RAM"


def test_read_only_system_policy_allows_reads_not_writes(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_A, "reader", "AliyunRAMReadOnlyAccess")
    cloud.ram(ROOT_A, "CreateRole", RoleName="r1", AssumeRolePolicyDocument=trust_policy(f"acs:ram::{UID_B}:root"))
    assert cloud.ram(key, "GetRole", RoleName="r1")["Role"]["RoleName"] == "r1"
    assert cloud.ram(key, "ListRoles")["Roles"]["Role"][0]["RoleName"] == "r1"
    error = cloud.refused(key, "ram", "DeleteRole", RoleName="r1")
    assert error.code == "NoPermission"
    assert f"acs:ram::{UID_A}:role/r1" in error.message


def test_explicit_deny_beats_allow_and_resources_are_matched(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_A, "admin", "AliyunRAMFullAccess")
    deny = {"Effect": "Deny", "Action": "ram:DeleteRole", "Resource": f"acs:ram::{UID_A}:role/protected-*"}
    custom_policy(cloud, ROOT_A, "admin", "protect", json.dumps({"Version": "1", "Statement": [deny]}))
    trust = trust_policy(f"acs:ram::{UID_B}:root")
    for name in ("protected-1", "scratch"):
        cloud.ram(key, "CreateRole", RoleName=name, AssumeRolePolicyDocument=trust)
    assert cloud.refused(key, "ram", "DeleteRole", RoleName="protected-1").code == "NoPermission"
    cloud.ram(key, "DeleteRole", RoleName="scratch")


def test_source_ip_condition(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_A, "office")
    statement = {
        "Effect": "Allow",
        "Action": "ram:ListRoles",
        "Resource": "*",
        "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}},
    }
    custom_policy(cloud, ROOT_A, "office", "office-only", json.dumps({"Version": "1", "Statement": [statement]}))
    assert cloud.refused(key, "ram", "ListRoles").code == "NoPermission"
    cloud.source_ip = "10.1.2.3"
    assert cloud.ram(key, "ListRoles")["IsTruncated"] is False


def test_current_time_condition_follows_the_emulator_clock(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_A, "temp")
    until = (cloud.clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    statement = {
        "Effect": "Allow",
        "Action": "ram:ListRoles",
        "Resource": "*",
        "Condition": {"DateLessThan": {"acs:CurrentTime": until}},
    }
    custom_policy(cloud, ROOT_A, "temp", "until", json.dumps({"Version": "1", "Statement": [statement]}))
    cloud.ram(key, "ListRoles")
    cloud.clock.advance(3601)
    assert cloud.refused(key, "ram", "ListRoles").code == "NoPermission"


def test_secure_transport_is_false_over_http(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_A, "tls")
    statement = {
        "Effect": "Allow",
        "Action": "ram:ListRoles",
        "Resource": "*",
        "Condition": {"Bool": {"acs:SecureTransport": "true"}},
    }
    custom_policy(cloud, ROOT_A, "tls", "tls-only", json.dumps({"Version": "1", "Statement": [statement]}))
    assert cloud.refused(key, "ram", "ListRoles").code == "NoPermission"


def test_session_policy_intersects_the_roles_policies(cloud: Cloud) -> None:
    alice, _secret = cloud.user_with_key(ROOT_B, "alice", "AliyunSTSAssumeRoleAccess")
    cloud.partner_role("partner", "AliyunSLBFullAccess")
    narrow = allow("slb:DescribeLoadBalancerAttribute")
    session = cloud.assume(alice, Policy=narrow)
    assert cloud.refused(session, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou").code == "Forbidden.RAM"
    body = cloud.call(session, "slb", "DescribeLoadBalancerAttribute", LoadBalancerId="lb-bp1prod000000000001")
    assert body["LoadBalancerId"] == "lb-bp1prod000000000001"
    wide_session = cloud.assume(alice, Policy=allow("*"))
    assert cloud.refused(wide_session, "ram", "ListRoles").code == "NoPermission"


def test_detaching_a_policy_cuts_a_live_session_and_reattaching_restores_it(cloud: Cloud) -> None:
    alice, _secret = cloud.user_with_key(ROOT_B, "alice", "AliyunSTSAssumeRoleAccess")
    cloud.partner_role("partner", "AliyunSLBReadOnlyAccess")
    session = cloud.assume(alice)
    assert cloud.call(session, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou")["TotalCount"] == 3
    detach = {"RoleName": "partner", "PolicyType": "System", "PolicyName": "AliyunSLBReadOnlyAccess"}
    cloud.ram(ROOT_A, "DetachPolicyFromRole", **detach)
    assert cloud.refused(session, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou").code == "Forbidden.RAM"
    cloud.ram(ROOT_A, "AttachPolicyToRole", **detach)
    assert cloud.call(session, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou")["TotalCount"] == 3


def test_editing_the_default_policy_version_applies_to_live_callers(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_A, "dev")
    custom_policy(cloud, ROOT_A, "dev", "dev", allow("ram:ListRoles"))
    cloud.ram(key, "ListRoles")
    cloud.ram(
        ROOT_A, "CreatePolicyVersion", PolicyName="dev", PolicyDocument=allow("ram:ListUsers"), SetAsDefault="true"
    )
    assert cloud.refused(key, "ram", "ListRoles").code == "NoPermission"


def scope_to_prod(
    cloud: Cloud, principal_type: str, principal_name: str, policy: str = "AliyunSLBReadOnlyAccess"
) -> None:
    cloud.call(
        ROOT_A,
        "resourcemanager",
        "AttachPolicy",
        ResourceGroupId=PROD,
        PolicyType="System",
        PolicyName=policy,
        PrincipalType=principal_type,
        PrincipalName=principal_name,
    )


def test_group_scoped_user_must_name_the_group_and_sees_only_it(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_A, "prod-viewer")
    scope_to_prod(cloud, "IMSUser", "prod-viewer@enterprise-a.onaliyun.com")
    error = cloud.refused(key, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou")
    assert (error.code, error.status) == ("Forbidden.RAM", 403)
    listed = cloud.call(key, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou", ResourceGroupId=PROD)
    ids = [lb["LoadBalancerId"] for lb in listed["LoadBalancers"]["LoadBalancer"]]
    assert ids == ["lb-bp1prod000000000001", "lb-bp1prod000000000002"]
    assert cloud.refused(key, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou", ResourceGroupId=STAGING).code == (
        "Forbidden.RAM"
    )
    cloud.call(key, "slb", "DescribeLoadBalancerAttribute", LoadBalancerId="lb-bp1prod000000000001")
    assert cloud.refused(key, "slb", "DescribeLoadBalancerAttribute", LoadBalancerId="lb-bp1dflt000000000001").code == (
        "Forbidden.RAM"
    )


def test_group_scoped_role_session_is_limited_to_the_group(cloud: Cloud) -> None:
    alice, _secret = cloud.user_with_key(ROOT_B, "alice", "AliyunSTSAssumeRoleAccess")
    cloud.partner_role("partner")
    scope_to_prod(cloud, "ServiceRole", f"partner@role.{UID_A}.onaliyunservice.com")
    session = cloud.assume(alice)
    assert cloud.refused(session, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou").code == "Forbidden.RAM"
    listed = cloud.call(session, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou", ResourceGroupId=PROD)
    assert listed["TotalCount"] == 2


def test_users_of_one_account_get_nothing_in_another(cloud: Cloud) -> None:
    key, _secret = cloud.user_with_key(ROOT_B, "admin", "AdministratorAccess")
    listed = cloud.call(key, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou")
    assert [lb["LoadBalancerId"] for lb in listed["LoadBalancers"]["LoadBalancer"]] == ["lb-bp1partner00000000001"]
    error = cloud.refused(key, "slb", "DescribeLoadBalancerAttribute", LoadBalancerId="lb-bp1prod000000000001")
    assert error.code == "InvalidLoadBalancerId.NotFound"
