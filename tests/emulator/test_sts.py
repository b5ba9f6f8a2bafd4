"""STS AssumeRole rules (trust, the caller's own permission, parameters, session policy) and GetCallerIdentity."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cloud_direct import ROOT_A, ROOT_B, UID_A, UID_B, Cloud, allow, trust_policy

from aliyun_emulator.core.clock import EmulatorClock

ALICE = f"acs:ram::{UID_B}:user/alice"


@pytest.fixture
def cloud() -> Cloud:
    return Cloud()


@pytest.fixture
def alice(cloud: Cloud) -> str:
    key, _secret = cloud.user_with_key(ROOT_B, "alice", "AliyunSTSAssumeRoleAccess")
    return key


def test_assume_role_issues_sts_credentials_on_the_emulator_clock() -> None:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    cloud = Cloud(clock=EmulatorClock(base=lambda: now))
    alice, _secret = cloud.user_with_key(ROOT_B, "alice", "AliyunSTSAssumeRoleAccess")
    cloud.partner_role("partner", "AliyunSLBReadOnlyAccess")
    role_id = cloud.ram(ROOT_A, "GetRole", RoleName="partner")["Role"]["RoleId"]
    body = cloud.call(
        alice,
        "sts",
        "AssumeRole",
        RoleArn=f"acs:ram::{UID_A}:role/partner",
        RoleSessionName="a@b.c_d-e",
        DurationSeconds="1800",
        SourceIdentity="ticket-7",
    )
    credentials = body["Credentials"]
    assert credentials["AccessKeyId"].startswith("STS.")
    assert credentials["SecurityToken"]
    assert credentials["Expiration"] == (now + timedelta(seconds=1800)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["AssumedRoleUser"] == {
        "Arn": f"acs:ram::{UID_A}:role/partner/a@b.c_d-e",
        "AssumedRoleId": f"{role_id}:a@b.c_d-e",
    }
    assert body["SourceIdentity"] == "ticket-7"
    credential = cloud.state.resolve_access_key(credentials["AccessKeyId"])
    assert credential is not None
    assert credential.security_token == credentials["SecurityToken"]
    assert credential.expires_at == now + timedelta(seconds=1800)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"RoleArn": "acs:ram::1111:role/partner"}, "InvalidParameter.RoleArn"),
        ({"RoleArn": f"acs:ram::{UID_A}:user/partner"}, "InvalidParameter.RoleArn"),
        ({"RoleSessionName": "x"}, "InvalidParameter.RoleSessionName"),
        ({"RoleSessionName": "a" * 65}, "InvalidParameter.RoleSessionName"),
        ({"RoleSessionName": "has space"}, "InvalidParameter.RoleSessionName"),
        ({"DurationSeconds": "899"}, "InvalidParameter.DurationSeconds"),
        ({"DurationSeconds": "3601"}, "InvalidParameter.DurationSeconds"),
        ({"ExternalId": "x"}, "InvalidParameter.ExternalId"),
        ({"ExternalId": "a" * 1225}, "InvalidParameter.ExternalId"),
        ({"Policy": "{oops"}, "InvalidParameter.PolicyGrammar"),
        ({"Policy": allow(["slb:Describe" + "x" * 30 + str(i) for i in range(60)])}, "InvalidParameter.PolicySize"),
        ({"RoleArn": ""}, "MissingParameter"),
    ],
)
def test_assume_role_parameter_rules(cloud: Cloud, alice: str, params: dict[str, str], code: str) -> None:
    cloud.partner_role()
    defaults = {"RoleArn": f"acs:ram::{UID_A}:role/partner", "RoleSessionName": "s1"}
    error = cloud.refused(alice, "sts", "AssumeRole", **{**defaults, **params})
    assert (error.code, error.status) == (code, 400)


def test_duration_may_reach_the_roles_max_session_duration(cloud: Cloud, alice: str) -> None:
    cloud.ram(
        ROOT_A, "CreateRole", RoleName="long", AssumeRolePolicyDocument=trust_policy(ALICE), MaxSessionDuration=43200
    )
    cloud.assume(alice, "long", DurationSeconds="43200")
    assert cloud.refused(
        alice, "sts", "AssumeRole", RoleArn=f"acs:ram::{UID_A}:role/long", RoleSessionName="s1", DurationSeconds="43201"
    ).code == ("InvalidParameter.DurationSeconds")


def test_missing_role_is_entity_not_exist(cloud: Cloud, alice: str) -> None:
    error = cloud.refused(alice, "sts", "AssumeRole", RoleArn=f"acs:ram::{UID_A}:role/nope", RoleSessionName="s1")
    assert (error.code, error.status) == ("EntityNotExist.Role", 404)


def test_root_may_not_assume_roles(cloud: Cloud) -> None:
    cloud.partner_role(trusted=f"acs:ram::{UID_B}:root")
    error = cloud.refused(ROOT_B, "sts", "AssumeRole", RoleArn=f"acs:ram::{UID_A}:role/partner", RoleSessionName="s1")
    assert (error.code, error.status) == ("NoPermission", 403)
    assert "root" in error.message


def test_caller_needs_its_own_assume_permission(cloud: Cloud) -> None:
    cloud.partner_role()
    key, _secret = cloud.user_with_key(ROOT_B, "alice")
    assert cloud.refused(
        key, "sts", "AssumeRole", RoleArn=f"acs:ram::{UID_A}:role/partner", RoleSessionName="s1"
    ).code == ("NoPermission")
    scoped_elsewhere = allow("sts:AssumeRole", f"acs:ram::{UID_A}:role/other")
    cloud.ram(ROOT_B, "CreatePolicy", PolicyName="assume-other", PolicyDocument=scoped_elsewhere)
    cloud.ram(ROOT_B, "AttachPolicyToUser", UserName="alice", PolicyType="Custom", PolicyName="assume-other")
    assert cloud.refused(
        key, "sts", "AssumeRole", RoleArn=f"acs:ram::{UID_A}:role/partner", RoleSessionName="s1"
    ).code == ("NoPermission")
    exact = allow("sts:AssumeRole", f"acs:ram::{UID_A}:role/partner")
    cloud.ram(ROOT_B, "CreatePolicy", PolicyName="assume-partner", PolicyDocument=exact)
    cloud.ram(ROOT_B, "AttachPolicyToUser", UserName="alice", PolicyType="Custom", PolicyName="assume-partner")
    assert cloud.assume(key).startswith("STS.")


def test_trust_policy_must_name_the_caller(cloud: Cloud, alice: str) -> None:
    cloud.partner_role(trusted=f"acs:ram::{UID_B}:user/bob")
    error = cloud.refused(alice, "sts", "AssumeRole", RoleArn=f"acs:ram::{UID_A}:role/partner", RoleSessionName="s1")
    assert (error.code, error.status) == ("NoPermission", 403)


def test_account_root_trust_admits_any_permitted_user_of_that_account(cloud: Cloud, alice: str) -> None:
    cloud.partner_role(trusted=f"acs:ram::{UID_B}:root")
    assert cloud.assume(alice).startswith("STS.")


def test_external_id_condition(cloud: Cloud, alice: str) -> None:
    document = trust_policy(ALICE, condition={"StringEquals": {"sts:ExternalId": "abc-123"}})
    cloud.ram(ROOT_A, "CreateRole", RoleName="partner", AssumeRolePolicyDocument=document)
    base = {"RoleArn": f"acs:ram::{UID_A}:role/partner", "RoleSessionName": "s1"}
    assert cloud.refused(alice, "sts", "AssumeRole", **base).code == "NoPermission"
    assert cloud.refused(alice, "sts", "AssumeRole", **base, ExternalId="wrong-id").code == "NoPermission"
    assert cloud.assume(alice, ExternalId="abc-123").startswith("STS.")


def test_role_session_can_chain_into_another_role_with_its_permissions(cloud: Cloud, alice: str) -> None:
    cloud.partner_role("partner", "AliyunSTSAssumeRoleAccess")
    cloud.ram(
        ROOT_A, "CreateRole", RoleName="inner", AssumeRolePolicyDocument=trust_policy(f"acs:ram::{UID_A}:role/partner")
    )
    session = cloud.assume(alice)
    assert cloud.assume(session, "inner").startswith("STS.")


def test_get_caller_identity_for_each_kind_of_caller(cloud: Cloud, alice: str) -> None:
    root = cloud.call(ROOT_A, "sts", "GetCallerIdentity")
    assert root == {**root, "IdentityType": "Account", "AccountId": UID_A, "Arn": f"acs:ram::{UID_A}:root"}
    user = cloud.call(alice, "sts", "GetCallerIdentity")
    user_id = cloud.ram(ROOT_B, "GetUser", UserName="alice")["User"]["UserId"]
    assert user == {**user, "IdentityType": "RAMUser", "UserId": user_id, "PrincipalId": user_id, "Arn": ALICE}
    cloud.partner_role()
    session = cloud.call(cloud.assume(alice), "sts", "GetCallerIdentity")
    role_id = cloud.ram(ROOT_A, "GetRole", RoleName="partner")["Role"]["RoleId"]
    assert session == {
        **session,
        "IdentityType": "AssumedRoleUser",
        "AccountId": UID_A,
        "RoleId": role_id,
        "PrincipalId": f"{role_id}:s1",
        "Arn": f"acs:ram::{UID_A}:role/partner/s1",
    }


def test_deleted_role_voids_its_sessions_even_if_recreated(cloud: Cloud, alice: str) -> None:
    cloud.partner_role()
    session = cloud.assume(alice)
    cloud.ram(ROOT_A, "DeleteRole", RoleName="partner")
    cloud.partner_role()
    error = cloud.refused(session, "sts", "GetCallerIdentity")
    assert (error.code, error.status) == ("NoPermission", 403)


def test_source_identity_is_checked_against_the_trust_policy(cloud: Cloud, alice: str) -> None:
    document = trust_policy(ALICE, condition={"StringEquals": {"sts:SourceIdentity": "ticket-7"}})
    cloud.ram(ROOT_A, "CreateRole", RoleName="partner", AssumeRolePolicyDocument=document)
    base = {"RoleArn": f"acs:ram::{UID_A}:role/partner", "RoleSessionName": "s1"}
    assert cloud.refused(alice, "sts", "AssumeRole", **base).code == "NoPermission"
    assert cloud.refused(alice, "sts", "AssumeRole", **base, SourceIdentity="ticket-8").code == "NoPermission"
    assert cloud.refused(alice, "sts", "AssumeRole", **base, SourceIdentity="x").code == (
        "InvalidParameter.SourceIdentity"
    )
    assert cloud.assume(alice, SourceIdentity="ticket-7").startswith("STS.")


def test_shortest_and_longest_session_names_and_durations_are_accepted(cloud: Cloud, alice: str) -> None:
    cloud.partner_role()
    for session_name, duration in (("ab", "900"), ("a" * 64, "3600")):
        body = cloud.call(
            alice,
            "sts",
            "AssumeRole",
            RoleArn=f"acs:ram::{UID_A}:role/partner",
            RoleSessionName=session_name,
            DurationSeconds=duration,
        )
        assert body["AssumedRoleUser"]["Arn"].endswith(f"/{session_name}")
