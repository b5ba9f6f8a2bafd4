"""Seed parsing, persistence across restarts, dumps without secrets, reset, and paging cost at benchmark scale."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cloud_direct import ROOT_A, ROOT_B, UID_A, Cloud, allow, trust_policy

from aliyun_emulator.seed import load_seed
from aliyun_emulator.testing import DEFAULT_TEST_SEED


def seed_with(**changes: Any) -> dict[str, Any]:
    seed = copy.deepcopy(dict(DEFAULT_TEST_SEED))
    seed["accounts"][0].update(changes)
    return seed


def test_seed_round_trips_through_file_text_and_mapping(tmp_path: Path) -> None:
    seed = load_seed(DEFAULT_TEST_SEED)
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed.to_dict()))
    assert load_seed(path) == seed
    assert load_seed(str(path)) == seed
    assert load_seed(json.dumps(seed.to_dict())) == seed
    assert seed.account(UID_A).alias == "enterprise-a"
    quota_seed = load_seed(seed_with(quotas={"roles": 20000}))
    assert quota_seed.accounts[0].quotas == {"roles": 20000}


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"uid": "123"}, "uid"),
        ({"alias": "Enterprise_A"}, "alias"),
        ({"access_key_id": ""}, "access_key_id"),
        ({"access_key_secret": ""}, "access_key_secret"),
        ({"extra": 1}, "unknown field"),
        ({"quotas": {"roles": 0}}, "quotas.roles"),
        ({"quotas": {"groups": 5}}, "unknown quota"),
        ({"resource_groups": [{"id": "bad", "name": "x"}]}, "resource_groups[0].id"),
        (
            {
                "load_balancers": [
                    {"id": "lb-abcd1234", "name": "x", "region": "cn-hangzhou", "resource_group_id": "rg-nope1"}
                ]
            },
            "resource_group_id",
        ),
        ({"uid": "2222222222222222"}, "duplicate uid"),
    ],
)
def test_seed_errors_name_the_field(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match="seed") as info:
        load_seed(seed_with(**changes))
    assert fragment in str(info.value)


def test_seed_rejects_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        load_seed(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="not valid JSON"):
        load_seed("{oops")
    with pytest.raises(ValueError, match="non-empty list"):
        load_seed({"accounts": []})


def build_world(cloud: Cloud) -> tuple[str, str]:
    """A role with a policy and a tag, a scoped grant, a user with a key, a custom policy, and a live session."""
    cloud.ram(ROOT_A, "CreatePolicy", PolicyName="mine", PolicyDocument=allow("slb:*"))
    cloud.ram(
        ROOT_A,
        "CreateRole",
        RoleName="partner",
        AssumeRolePolicyDocument=trust_policy("acs:ram::2222222222222222:user/alice"),
        Tag=[{"Key": "grant", "Value": "g-1"}],
    )
    cloud.ram(ROOT_A, "AttachPolicyToRole", RoleName="partner", PolicyType="Custom", PolicyName="mine")
    cloud.call(
        ROOT_A,
        "resourcemanager",
        "AttachPolicy",
        ResourceGroupId="rg-aaaaaaaaaaaaa1",
        PolicyType="System",
        PolicyName="AliyunSLBReadOnlyAccess",
        PrincipalType="ServiceRole",
        PrincipalName="partner@role.enterprise-a.onaliyunservice.com",
    )
    alice, _secret = cloud.user_with_key(ROOT_B, "alice", "AliyunSTSAssumeRoleAccess")
    return alice, cloud.assume(alice)


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    first = Cloud(state_file=path)
    alice, session = build_world(first)
    alice_secret = first.state.resolve_access_key(alice)
    session_credential = first.state.resolve_access_key(session)
    before = first.state.dump()
    first.state.close()

    second = Cloud(state_file=path)
    assert second.state.dump() == before
    assert second.state.resolve_access_key(alice) == alice_secret
    assert second.state.resolve_access_key(session) == session_credential
    assert second.call(session, "slb", "DescribeLoadBalancers", RegionId="cn-hangzhou")["TotalCount"] == 3
    tags = second.ram(ROOT_A, "ListRoles")["Roles"]["Role"][0]["Tags"]["Tag"]
    assert tags == [{"TagKey": "grant", "TagValue": "g-1"}]
    second.ram(
        ROOT_A,
        "CreateRole",
        RoleName="after-restart",
        AssumeRolePolicyDocument=trust_policy("acs:ram::2222222222222222:root"),
    )
    names = [r["RoleName"] for r in second.ram(ROOT_A, "ListRoles")["Roles"]["Role"]]
    assert names == ["partner", "after-restart"]
    second.state.close()


def test_reset_returns_to_the_seed_and_is_persisted(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    cloud = Cloud(state_file=path)
    alice, session = build_world(cloud)
    cloud.state.reset()
    assert cloud.state.resolve_access_key(alice) is None
    assert cloud.state.resolve_access_key(session) is None
    assert cloud.ram(ROOT_A, "ListRoles")["Roles"]["Role"] == []
    cloud.state.close()
    reopened = Cloud(state_file=path)
    assert reopened.ram(ROOT_A, "ListRoles")["Roles"]["Role"] == []
    reopened.state.close()


def test_dump_masks_every_secret() -> None:
    cloud = Cloud()
    alice, session = build_world(cloud)
    text = json.dumps(cloud.state.dump())
    alice_credential = cloud.state.resolve_access_key(alice)
    session_credential = cloud.state.resolve_access_key(session)
    assert alice_credential is not None
    assert session_credential is not None
    assert alice in text
    assert session in text
    for secret in (alice_credential.secret, session_credential.secret, str(session_credential.security_token)):
        assert secret not in text
    assert "secret-a" not in text


def test_root_user_and_unknown_keys_resolve() -> None:
    cloud = Cloud()
    root = cloud.state.resolve_access_key(ROOT_A)
    assert root is not None
    assert (root.principal.kind, root.principal.account_id, root.secret) == ("root", UID_A, "secret-a")
    assert cloud.state.resolve_access_key("LTAInope") is None
    assert cloud.state.resolve_access_key("STS.nope") is None


def test_listing_ten_thousand_tagged_roles_stays_fast() -> None:
    cloud = Cloud()
    ram = cloud.state.accounts[UID_A].ram
    ram.quotas["roles"] = 10_000
    trust = trust_policy("acs:ram::2222222222222222:root")
    for index in range(10_000):
        cloud.ram(
            ROOT_A, "CreateRole", RoleName=f"r{index}", AssumeRolePolicyDocument=trust, Tag=[{"Key": "t", "Value": "x"}]
        )
    started = time.perf_counter()
    marker: str | None = None
    seen = 0
    while True:
        params: dict[str, Any] = {"MaxItems": "1000", "Tag": [{"Key": "t", "Value": "x"}]}
        if marker:
            params["Marker"] = marker
        body = cloud.ram(ROOT_A, "ListRoles", **params)
        seen += len(body["Roles"]["Role"])
        if not body["IsTruncated"]:
            break
        marker = body["Marker"]
    assert seen == 10_000
    assert time.perf_counter() - started < 2.0


def test_a_user_key_resolves_to_its_current_state_after_every_change() -> None:
    cloud = Cloud()
    cloud.ram(ROOT_A, "CreateUser", UserName="old")
    key = cloud.ram(ROOT_A, "CreateAccessKey", UserName="old")["AccessKey"]["AccessKeyId"]

    def resolved() -> tuple[str, bool] | None:
        credential = cloud.state.resolve_access_key(key)
        return None if credential is None else (credential.principal.name, credential.active)

    assert resolved() == ("old", True)
    assert resolved() == ("old", True)  # the second time from the kept credential
    cloud.ram(ROOT_A, "UpdateAccessKey", UserName="old", UserAccessKeyId=key, Status="Inactive")
    assert resolved() == ("old", False)
    cloud.ram(ROOT_A, "UpdateUser", UserName="old", NewUserName="new")
    assert resolved() == ("new", False)
    cloud.ram(ROOT_A, "UpdateAccessKey", UserName="new", UserAccessKeyId=key, Status="Active")
    assert resolved() == ("new", True)
    cloud.ram(ROOT_A, "DeleteAccessKey", UserName="new", UserAccessKeyId=key)
    assert resolved() is None
