"""bootstrap against the emulator through the official SDK: creates the function roles, then changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, ram_client
from ram_delegate.bootstrap import FC_SERVICE, bootstrap, role_policy, role_specs
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.errors import GuardrailError
from ram_delegate.grants import MANAGED_BY_VALUE, TAG_MANAGED_BY
from ram_delegate.policy import parse_policy, render
from ram_delegate.settings import Settings

KEYS = {
    "owner": (ENTERPRISE_A_UID, Credentials("AKIDENTERPRISEA0000001", "secret-a")),
    "partner": (ENTERPRISE_B_UID, Credentials("AKIDENTERPRISEB0000001", "secret-b")),
}
WRITES = {"CreateRole", "UpdateRole", "CreatePolicy", "CreatePolicyVersion", "AttachPolicyToRole", "TagResources"}


def cloud_for(emulator: Any, side: str) -> tuple[CloudClients, Settings]:
    account, key = KEYS[side]
    settings = Settings(side=side, account_id=account, endpoint=emulator.endpoint, protocol="http")  # type: ignore[arg-type]
    return CloudClients(settings, key, retry=RetryPolicy(sleep=lambda _s: None)), settings


def writes(emulator: Any) -> int:
    return sum(n for action, n in emulator.requests.counts().items() if action in WRITES)


@pytest.mark.parametrize("side", ["owner", "partner"])
def test_bootstrap_creates_the_roles_then_changes_nothing(aliyun_emulator: Any, side: str) -> None:
    cloud, settings = cloud_for(aliyun_emulator, side)
    first = bootstrap(side, cloud, settings)  # type: ignore[arg-type]
    specs = role_specs(side, settings)  # type: ignore[arg-type]
    assert first.changed
    assert [r.name for r in first.roles] == [s.name for s in specs]
    account, key = KEYS[side]
    client = ram_client(aliyun_emulator, key.access_key_id, key.access_key_secret)
    from alibabacloud_ram20150501 import models

    for spec, result in zip(specs, first.roles, strict=True):
        assert result.changes == ("CreateRole", "CreatePolicy", "AttachPolicyToRole")
        role = client.get_role(models.GetRoleRequest(role_name=spec.name)).body.role
        assert role.arn == result.arn == f"acs:ram::{account}:role/{spec.name}"
        trust = json.loads(role.assume_role_policy_document)
        assert trust["Statement"][0]["Principal"] == {"Service": [FC_SERVICE]}
        policy = client.get_policy(models.GetPolicyRequest(policy_name=spec.name, policy_type="Custom")).body
        document = render(parse_policy(policy.default_policy_version.policy_document))
        assert document == render(role_policy(spec, settings))
        attached = client.list_policies_for_role(models.ListPoliciesForRoleRequest(role_name=spec.name)).body
        assert [p.policy_name for p in attached.policies.policy] == [spec.name]
        tags = client.list_tag_resources(
            models.ListTagResourcesRequest(resource_type="role", resource_names=[spec.name])
        ).body.tag_resources
        assert {(t.tag_key, t.tag_value) for t in tags} == {(TAG_MANAGED_BY, MANAGED_BY_VALUE)}

    before = writes(aliyun_emulator)
    second = bootstrap(side, cloud, settings)  # type: ignore[arg-type]
    assert not second.changed
    assert writes(aliyun_emulator) == before
    assert second.to_dict()["roles"] == [{**r, "changes": []} for r in first.to_dict()["roles"]]  # type: ignore[union-attr]


def test_bootstrap_repairs_a_drifted_policy(aliyun_emulator: Any) -> None:
    cloud, settings = cloud_for(aliyun_emulator, "owner")
    bootstrap("owner", cloud, settings)
    cloud.ram.set_policy_document("ram-delegate-owner", json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ram:GetRole", "Resource": "*"}]}))  # fmt: skip
    assert bootstrap("owner", cloud, settings).roles[0].changes == ("CreatePolicyVersion",)
    assert not bootstrap("owner", cloud, settings).changed


def test_bootstrap_never_touches_a_foreign_role_of_the_same_name(aliyun_emulator: Any) -> None:
    cloud, settings = cloud_for(aliyun_emulator, "owner")
    trust = json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["ecs.aliyuncs.com"]}}]})  # fmt: skip
    from alibabacloud_ram20150501 import models

    owner_key = KEYS["owner"][1]
    client = ram_client(aliyun_emulator, owner_key.access_key_id, owner_key.access_key_secret)
    client.create_role(models.CreateRoleRequest(role_name="ram-delegate-owner", assume_role_policy_document=trust))
    with pytest.raises(GuardrailError):
        bootstrap("owner", cloud, settings)
    assert "ecs.aliyuncs.com" in cloud.ram.get_role("ram-delegate-owner").trust_policy
    assert aliyun_emulator.requests.counts().get("CreatePolicy", 0) == 0
