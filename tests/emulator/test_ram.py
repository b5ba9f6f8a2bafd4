"""RAM rules: names, limits, quotas, delete conflicts, policy versions, tags and paging (driven through dispatch)."""

from __future__ import annotations

import json

import pytest
from cloud_direct import ROOT_A, UID_A, Cloud, allow, trust_policy

TRUST = trust_policy("acs:ram::2222222222222222:root")


@pytest.fixture
def cloud() -> Cloud:
    return Cloud()


def create_role(cloud: Cloud, name: str = "r1", **params: object) -> dict[str, object]:
    return cloud.ram(ROOT_A, "CreateRole", RoleName=name, AssumeRolePolicyDocument=TRUST, **params)


def test_create_and_get_role_report_types_and_trust_policy(cloud: Cloud) -> None:
    role = create_role(cloud, "Ops.Role-1", Description="d", MaxSessionDuration=7200)["Role"]
    assert role["Arn"] == f"acs:ram::{UID_A}:role/Ops.Role-1"
    assert role["MaxSessionDuration"] == 7200
    assert role["AllowConsoleLogin"] is False
    assert len(role["RoleId"]) == 19
    assert role["RoleId"].isdigit()
    got = cloud.ram(ROOT_A, "GetRole", RoleName="ops.role-1")["Role"]
    assert got["AssumeRolePolicyDocument"] == TRUST
    assert got["RolePrincipalName"] == "Ops.Role-1@role.enterprise-a.onaliyunservice.com"
    assert got["IsServiceLinkedRole"] is False


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("a" * 65, "InvalidParameter.RoleName.Length"),
        ("bad_name", "InvalidParameter.RoleName.InvalidChars"),
        ("with space", "InvalidParameter.RoleName.InvalidChars"),
        ("", "MissingParameter"),
    ],
)
def test_role_name_rules(cloud: Cloud, name: str, code: str) -> None:
    assert cloud.refused(ROOT_A, "ram", "CreateRole", RoleName=name, AssumeRolePolicyDocument=TRUST).code == code


def test_role_names_are_unique_case_insensitively(cloud: Cloud) -> None:
    create_role(cloud, "Partner")
    error = cloud.refused(ROOT_A, "ram", "CreateRole", RoleName="partner", AssumeRolePolicyDocument=TRUST)
    assert (error.code, error.status) == ("EntityAlreadyExists.Role", 409)


@pytest.mark.parametrize("duration", ["3599", "43201", "abc"])
def test_max_session_duration_bounds(cloud: Cloud, duration: str) -> None:
    error = cloud.refused(
        ROOT_A, "ram", "CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=duration
    )
    assert error.code == "InvalidParameter.MaxSessionDuration"


def test_malformed_trust_policy_is_refused_with_the_parse_problem(cloud: Cloud) -> None:
    error = cloud.refused(ROOT_A, "ram", "CreateRole", RoleName="r", AssumeRolePolicyDocument="{not json")
    assert (error.code, error.status) == ("MalformedPolicyDocument", 400)
    assert "JSON" in error.message
    missing_version = json.dumps({"Statement": json.loads(TRUST)["Statement"]})
    assert cloud.refused(ROOT_A, "ram", "CreateRole", RoleName="r", AssumeRolePolicyDocument=missing_version).code == (
        "MalformedPolicyDocument"
    )


def test_role_quota_comes_from_the_seed_default(cloud: Cloud) -> None:
    cloud.state.accounts[UID_A].ram.quotas["roles"] = 3
    for index in range(3):
        create_role(cloud, f"r{index}")
    error = cloud.refused(ROOT_A, "ram", "CreateRole", RoleName="r9", AssumeRolePolicyDocument=TRUST)
    assert (error.code, error.status) == ("LimitExceeded.Role", 409)


def test_update_role_replaces_trust_and_validates_it(cloud: Cloud) -> None:
    create_role(cloud)
    other = trust_policy("acs:ram::2222222222222222:user/bob")
    updated = cloud.ram(
        ROOT_A, "UpdateRole", RoleName="r1", NewAssumeRolePolicyDocument=other, NewMaxSessionDuration=7200
    )
    assert updated["Role"]["AssumeRolePolicyDocument"] == other
    assert updated["Role"]["MaxSessionDuration"] == 7200
    error = cloud.refused(ROOT_A, "ram", "UpdateRole", RoleName="r1", NewAssumeRolePolicyDocument="[]")
    assert error.code == "MalformedPolicyDocument"
    assert cloud.ram(ROOT_A, "GetRole", RoleName="r1")["Role"]["AssumeRolePolicyDocument"] == other


def test_delete_role_with_attached_policy_conflicts(cloud: Cloud) -> None:
    create_role(cloud)
    cloud.ram(ROOT_A, "AttachPolicyToRole", RoleName="r1", PolicyType="System", PolicyName="AliyunSLBReadOnlyAccess")
    error = cloud.refused(ROOT_A, "ram", "DeleteRole", RoleName="r1")
    assert (error.code, error.status) == ("DeleteConflict.Role.Policy", 409)
    cloud.ram(ROOT_A, "DetachPolicyFromRole", RoleName="r1", PolicyType="System", PolicyName="AliyunSLBReadOnlyAccess")
    cloud.ram(ROOT_A, "DeleteRole", RoleName="r1")
    assert cloud.refused(ROOT_A, "ram", "GetRole", RoleName="r1").status == 404


def test_attach_detach_idempotency_codes(cloud: Cloud) -> None:
    create_role(cloud)
    attach = {"RoleName": "r1", "PolicyType": "System", "PolicyName": "AliyunSLBReadOnlyAccess"}
    cloud.ram(ROOT_A, "AttachPolicyToRole", **attach)
    assert cloud.refused(ROOT_A, "ram", "AttachPolicyToRole", **attach).code == "EntityAlreadyExists.Role.Policy"
    listed = cloud.ram(ROOT_A, "ListPoliciesForRole", RoleName="r1")["Policies"]["Policy"]
    assert [(p["PolicyName"], p["PolicyType"]) for p in listed] == [("AliyunSLBReadOnlyAccess", "System")]
    cloud.ram(ROOT_A, "DetachPolicyFromRole", **attach)
    assert cloud.refused(ROOT_A, "ram", "DetachPolicyFromRole", **attach).code == "EntityNotExist.Role.Policy"
    unknown = {**attach, "PolicyName": "NoSuchPolicy"}
    assert cloud.refused(ROOT_A, "ram", "AttachPolicyToRole", **unknown).code == "EntityNotExist.Policy"
    assert cloud.refused(ROOT_A, "ram", "AttachPolicyToRole", **{**attach, "PolicyType": "Other"}).code == (
        "InvalidParameter.PolicyType"
    )


@pytest.mark.parametrize("entity", ["Role", "User"])
def test_at_most_ten_custom_policies_per_role_or_user(cloud: Cloud, entity: str) -> None:
    if entity == "Role":
        create_role(cloud)
    else:
        cloud.ram(ROOT_A, "CreateUser", UserName="r1")
    target = {f"{entity}Name": "r1"}
    for index in range(11):
        cloud.ram(ROOT_A, "CreatePolicy", PolicyName=f"p{index}", PolicyDocument=allow("slb:Describe*"))
    for index in range(10):
        cloud.ram(ROOT_A, f"AttachPolicyTo{entity}", **target, PolicyType="Custom", PolicyName=f"p{index}")
    cloud.ram(ROOT_A, f"AttachPolicyTo{entity}", **target, PolicyType="System", PolicyName="AliyunSLBReadOnlyAccess")
    error = cloud.refused(ROOT_A, "ram", f"AttachPolicyTo{entity}", **target, PolicyType="Custom", PolicyName="p10")
    assert (error.code, error.status) == (f"LimitExceeded.{entity}.Policy", 409)


def test_policy_document_size_and_name_rules(cloud: Cloud) -> None:
    big = allow(["slb:Describe" + "x" * 40 + str(i) for i in range(150)])
    assert len(big) > 6144
    assert cloud.refused(ROOT_A, "ram", "CreatePolicy", PolicyName="big", PolicyDocument=big).code == (
        "InvalidParameter.PolicyDocument.Length"
    )
    assert cloud.refused(ROOT_A, "ram", "CreatePolicy", PolicyName="a.b", PolicyDocument=allow("*")).code == (
        "InvalidParameter.PolicyName.InvalidChars"
    )
    assert cloud.refused(ROOT_A, "ram", "CreatePolicy", PolicyName="a" * 129, PolicyDocument=allow("*")).code == (
        "InvalidParameter.PolicyName.Length"
    )
    assert cloud.refused(
        ROOT_A, "ram", "CreatePolicy", PolicyName="AliyunSLBReadOnlyAccess", PolicyDocument=allow("*")
    ).code == ("EntityAlreadyExists.Policy")


def test_policy_versions_limit_default_and_delete_conflicts(cloud: Cloud) -> None:
    cloud.ram(ROOT_A, "CreatePolicy", PolicyName="p", PolicyDocument=allow("slb:DescribeLoadBalancers"))
    for _ in range(4):
        cloud.ram(ROOT_A, "CreatePolicyVersion", PolicyName="p", PolicyDocument=allow("slb:Describe*"))
    error = cloud.refused(ROOT_A, "ram", "CreatePolicyVersion", PolicyName="p", PolicyDocument=allow("slb:*"))
    assert (error.code, error.status) == ("LimitExceeded.Policy.Version", 409)
    rotated = cloud.ram(
        ROOT_A,
        "CreatePolicyVersion",
        PolicyName="p",
        PolicyDocument=allow("slb:*"),
        SetAsDefault="true",
        RotateStrategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",
    )["PolicyVersion"]
    assert rotated == {**rotated, "VersionId": "v6", "IsDefaultVersion": True}
    versions = cloud.ram(ROOT_A, "ListPolicyVersions", PolicyName="p", PolicyType="Custom")
    assert [v["VersionId"] for v in versions["PolicyVersions"]["PolicyVersion"]] == ["v1", "v3", "v4", "v5", "v6"]
    assert cloud.refused(ROOT_A, "ram", "DeletePolicyVersion", PolicyName="p", VersionId="v6").code == (
        "DeleteConflict.Policy.Version.Default"
    )
    assert cloud.refused(ROOT_A, "ram", "DeletePolicy", PolicyName="p").code == "DeleteConflict.Policy.Version"
    cloud.ram(ROOT_A, "SetDefaultPolicyVersion", PolicyName="p", VersionId="v1")
    got = cloud.ram(ROOT_A, "GetPolicy", PolicyName="p", PolicyType="Custom")
    assert got["DefaultPolicyVersion"]["VersionId"] == "v1"
    assert got["Policy"]["PolicyDocument"] == allow("slb:DescribeLoadBalancers")
    cloud.ram(ROOT_A, "DeletePolicy", PolicyName="p", CascadingDelete="true")
    assert cloud.refused(ROOT_A, "ram", "GetPolicy", PolicyName="p", PolicyType="Custom").code == (
        "EntityNotExist.Policy"
    )


def test_delete_attached_policy_conflicts_unless_cascading(cloud: Cloud) -> None:
    cloud.ram(ROOT_A, "CreatePolicy", PolicyName="p", PolicyDocument=allow("slb:*"))
    create_role(cloud)
    cloud.ram(ROOT_A, "CreateUser", UserName="u")
    cloud.ram(ROOT_A, "AttachPolicyToRole", RoleName="r1", PolicyType="Custom", PolicyName="p")
    assert cloud.refused(ROOT_A, "ram", "DeletePolicy", PolicyName="p").code == "DeleteConflict.Policy.Role"
    cloud.ram(ROOT_A, "AttachPolicyToUser", UserName="u", PolicyType="Custom", PolicyName="p")
    assert cloud.refused(ROOT_A, "ram", "DeletePolicy", PolicyName="p").code == "DeleteConflict.Policy.User"
    entities = cloud.ram(ROOT_A, "ListEntitiesForPolicy", PolicyName="p", PolicyType="Custom")
    assert [r["RoleName"] for r in entities["Roles"]["Role"]] == ["r1"]
    assert [u["UserName"] for u in entities["Users"]["User"]] == ["u"]
    cloud.ram(ROOT_A, "DeletePolicy", PolicyName="p", CascadingDelete="true")
    assert cloud.ram(ROOT_A, "ListPoliciesForRole", RoleName="r1")["Policies"]["Policy"] == []
    cloud.ram(ROOT_A, "DeleteRole", RoleName="r1")


def test_users_access_keys_and_delete_conflicts(cloud: Cloud) -> None:
    user = cloud.ram(ROOT_A, "CreateUser", UserName="alice.ops_1", DisplayName="Alice")["User"]
    assert user["DisplayName"] == "Alice"
    assert len(user["UserId"]) == 16
    assert cloud.refused(ROOT_A, "ram", "CreateUser", UserName="a/b").code == "InvalidParameter.UserName.InvalidChars"
    assert cloud.refused(ROOT_A, "ram", "CreateUser", UserName="ALICE.ops_1").code == "EntityAlreadyExists.User"
    first = cloud.ram(ROOT_A, "CreateAccessKey", UserName="alice.ops_1")["AccessKey"]
    cloud.ram(ROOT_A, "CreateAccessKey", UserName="alice.ops_1")
    assert first["AccessKeyId"].startswith("LTAI")
    assert first["Status"] == "Active"
    error = cloud.refused(ROOT_A, "ram", "CreateAccessKey", UserName="alice.ops_1")
    assert (error.code, error.status) == ("LimitExceeded.User.AccessKey", 409)
    listed = cloud.ram(ROOT_A, "ListAccessKeys", UserName="alice.ops_1")["AccessKeys"]["AccessKey"]
    assert len(listed) == 2
    assert all("AccessKeySecret" not in key for key in listed)
    cloud.ram(
        ROOT_A, "UpdateAccessKey", UserName="alice.ops_1", UserAccessKeyId=first["AccessKeyId"], Status="Inactive"
    )
    credential = cloud.state.resolve_access_key(first["AccessKeyId"])
    assert credential is not None
    assert credential.active is False
    assert cloud.refused(ROOT_A, "ram", "DeleteUser", UserName="alice.ops_1").code == "DeleteConflict.User.AccessKey"
    for key in listed:
        cloud.ram(ROOT_A, "DeleteAccessKey", UserName="alice.ops_1", UserAccessKeyId=key["AccessKeyId"])
    cloud.ram(
        ROOT_A, "AttachPolicyToUser", UserName="alice.ops_1", PolicyType="System", PolicyName="AliyunSLBFullAccess"
    )
    assert cloud.refused(ROOT_A, "ram", "DeleteUser", UserName="alice.ops_1").code == "DeleteConflict.User.Policy"
    cloud.ram(
        ROOT_A, "DetachPolicyFromUser", UserName="alice.ops_1", PolicyType="System", PolicyName="AliyunSLBFullAccess"
    )
    cloud.ram(ROOT_A, "DeleteUser", UserName="alice.ops_1")
    assert cloud.state.resolve_access_key(first["AccessKeyId"]) is None


def test_user_quota(cloud: Cloud) -> None:
    cloud.state.accounts[UID_A].ram.quotas["users"] = 2
    cloud.ram(ROOT_A, "CreateUser", UserName="u1")
    cloud.ram(ROOT_A, "CreateUser", UserName="u2")
    assert cloud.refused(ROOT_A, "ram", "CreateUser", UserName="u3").code == "LimitExceeded.User"


def test_policy_quota(cloud: Cloud) -> None:
    cloud.state.accounts[UID_A].ram.quotas["policies"] = 1
    cloud.ram(ROOT_A, "CreatePolicy", PolicyName="p1", PolicyDocument=allow("*"))
    assert cloud.refused(ROOT_A, "ram", "CreatePolicy", PolicyName="p2", PolicyDocument=allow("*")).code == (
        "LimitExceeded.Policy"
    )


def test_update_user_renames_and_keeps_keys(cloud: Cloud) -> None:
    cloud.ram(ROOT_A, "CreateUser", UserName="old")
    key = cloud.ram(ROOT_A, "CreateAccessKey", UserName="old")["AccessKey"]["AccessKeyId"]
    renamed = cloud.ram(ROOT_A, "UpdateUser", UserName="old", NewUserName="new", NewDisplayName="New")["User"]
    assert (renamed["UserName"], renamed["DisplayName"]) == ("new", "New")
    credential = cloud.state.resolve_access_key(key)
    assert credential is not None
    assert credential.principal.name == "new"
    assert cloud.refused(ROOT_A, "ram", "GetUser", UserName="old").code == "EntityNotExist.User"


def test_list_roles_pages_in_creation_order_with_tag_filter(cloud: Cloud) -> None:
    for index in range(25):
        tags = [{"Key": "grant", "Value": "even" if index % 2 == 0 else "odd"}]
        create_role(cloud, f"role-{index:02d}", Tag=tags)
    cloud.ram(ROOT_A, "DeleteRole", RoleName="role-04")
    seen: list[str] = []
    marker: str | None = None
    while True:
        params = {"MaxItems": "4", "Tag": [{"Key": "grant", "Value": "even"}]}
        body = cloud.ram(ROOT_A, "ListRoles", **params, **({"Marker": marker} if marker else {}))
        page = body["Roles"]["Role"]
        assert len(page) <= 4
        assert all(role["Tags"]["Tag"] == [{"TagKey": "grant", "TagValue": "even"}] for role in page)
        seen += [role["RoleName"] for role in page]
        if not body["IsTruncated"]:
            assert "Marker" not in body
            break
        marker = body["Marker"]
    assert seen == [f"role-{i:02d}" for i in range(0, 25, 2) if i != 4]
    assert cloud.refused(ROOT_A, "ram", "ListRoles", Marker="not-a-marker").code == "InvalidParameter.Marker"
    assert cloud.refused(ROOT_A, "ram", "ListRoles", MaxItems="1001").code == "InvalidParameter.MaxItems"


def test_list_policies_pages_through_system_then_custom(cloud: Cloud) -> None:
    cloud.ram(
        ROOT_A, "CreatePolicy", PolicyName="mine", PolicyDocument=allow("slb:*"), Tag=[{"Key": "k", "Value": "v"}]
    )
    names: list[str] = []
    marker: str | None = None
    while True:
        body = cloud.ram(ROOT_A, "ListPolicies", MaxItems="3", **({"Marker": marker} if marker else {}))
        names += [p["PolicyName"] for p in body["Policies"]["Policy"]]
        if not body["IsTruncated"]:
            break
        marker = body["Marker"]
    assert "AliyunSTSAssumeRoleAccess" in names
    assert names[-1] == "mine"
    assert len(names) == len(set(names))
    tagged = cloud.ram(ROOT_A, "ListPolicies", Tag=[{"Key": "k", "Value": "v"}])["Policies"]["Policy"]
    assert [(p["PolicyName"], p["PolicyType"]) for p in tagged] == [("mine", "Custom")]
    custom = cloud.ram(ROOT_A, "ListPolicies", PolicyType="Custom")["Policies"]["Policy"]
    assert [p["PolicyName"] for p in custom] == ["mine"]


def test_tag_untag_and_list_tag_resources(cloud: Cloud) -> None:
    create_role(cloud, "r1")
    create_role(cloud, "r2")
    cloud.ram(ROOT_A, "TagResources", ResourceType="role", ResourceNames=["r1", "r2"], Tag=[{"Key": "t", "Value": "1"}])
    rows = cloud.ram(ROOT_A, "ListTagResources", ResourceType="role", Tag=[{"Key": "t", "Value": "1"}])["TagResources"]
    assert [(r["ResourceName"], r["TagKey"], r["TagValue"]) for r in rows] == [("r1", "t", "1"), ("r2", "t", "1")]
    cloud.ram(ROOT_A, "UntagResources", ResourceType="role", ResourceNames=["r1"], TagKeys=["t"])
    rows = cloud.ram(ROOT_A, "ListTagResources", ResourceType="role", ResourceNames=["r1", "r2"])["TagResources"]
    assert [r["ResourceName"] for r in rows] == ["r2"]
    assert cloud.refused(ROOT_A, "ram", "TagResources", ResourceType="user", ResourceNames=["r1"], Tag=[]).code == (
        "InvalidParameter.ResourceType"
    )
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(21)]
    assert cloud.refused(
        ROOT_A, "ram", "TagResources", ResourceType="role", ResourceNames=["r1"], Tag=too_many
    ).code == ("InvalidParameter.Tag")
    assert cloud.refused(ROOT_A, "ram", "CreateRole", RoleName="r3", AssumeRolePolicyDocument=TRUST, Tag="{").code == (
        "InvalidParameter.Tag"
    )


def test_unknown_action_is_refused_as_not_found(cloud: Cloud) -> None:
    error = cloud.refused(ROOT_A, "ram", "CreateGroupx")
    assert (error.code, error.status) == ("InvalidAction.NotFound", 404)


def test_list_policies_reaches_custom_policies_when_system_policies_fill_the_last_page(cloud: Cloud) -> None:
    cloud.ram(ROOT_A, "CreatePolicy", PolicyName="mine", PolicyDocument=allow("slb:*"))
    system_count = len(cloud.ram(ROOT_A, "ListPolicies", PolicyType="System")["Policies"]["Policy"])
    for page_size in (1, system_count):
        names: list[str] = []
        marker: str | None = None
        while True:
            body = cloud.ram(ROOT_A, "ListPolicies", MaxItems=str(page_size), **({"Marker": marker} if marker else {}))
            names += [p["PolicyName"] for p in body["Policies"]["Policy"]]
            if not body["IsTruncated"]:
                break
            marker = body["Marker"]
        assert len(names) == system_count + 1, page_size
        assert names[-1] == "mine"
