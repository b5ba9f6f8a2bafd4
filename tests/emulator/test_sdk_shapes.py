"""Every emulated action through the official SDK clients, in both signing modes, checked against the SDK's models.

Each answer must parse with nothing dropped (the model's ``to_map()`` gives back the exact JSON the emulator sent,
so every key has the model's spelling and list wrapping) and every field must have the JSON type the model declares
(``from_map`` coerces nothing: a ``"3600"`` would stay a string). The last assertion makes the scenario cover every
action the emulator serves, so an action added without an SDK-level check fails here.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from alibabacloud_alb20200616 import models as alb_models
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_nlb20220430 import models as nlb_models
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_resourcemanager20200331 import models as rm_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_sts20150401 import models as sts_models
from pytest_mock import MockerFixture
from Tea.model import TeaModel

from aliyun_emulator.core.server import Response
from aliyun_emulator.emulator import Emulator
from aliyun_emulator.state import PRODUCTS
from aliyun_emulator.testing import (
    ENTERPRISE_A_UID,
    ENTERPRISE_B_UID,
    PROD_RESOURCE_GROUP_ID,
    Signing,
    alb_client,
    ecs_client,
    nlb_client,
    ram_client,
    rm_client,
    sdk_config,
    slb_client,
    sts_client,
)

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
ROOT_B = ("AKIDENTERPRISEB0000001", "secret-b")
PRIMITIVES = (str, int, bool, float)


def snake_case(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def type_errors(model: TeaModel, path: str = "") -> Iterator[str]:
    """Fields whose value is not of the type the model's constructor declares (recursively)."""
    hints = typing.get_type_hints(type(model).__init__)
    for field, hint in hints.items():
        if field == "return":
            continue
        yield from _value_errors(getattr(model, field), hint, f"{path}.{field}")


def _value_errors(value: object, hint: Any, path: str) -> Iterator[str]:
    if value is None:
        return
    origin = typing.get_origin(hint)
    if origin in (list, typing.List):  # noqa: UP006 - the SDK annotates with typing.List
        if not isinstance(value, list):
            yield f"{path}: {type(value).__name__}, not a list"
            return
        (item_hint,) = typing.get_args(hint)
        for index, item in enumerate(value):
            yield from _value_errors(item, item_hint, f"{path}[{index}]")
    elif origin is not None:
        return  # Dict[str, Any] fields carry free-form data
    elif isinstance(hint, type) and issubclass(hint, TeaModel):
        yield from type_errors(typing.cast(TeaModel, value), path)
    elif hint in PRIMITIVES and type(value) is not hint and not (hint is float and type(value) is int):
        yield f"{path}: {type(value).__name__} {value!r}, the model declares {hint.__name__}"


class SdkDriver:
    """Calls actions through SDK clients and checks every answer against the raw JSON the emulator wrote."""

    def __init__(self, emulator: Emulator, signing: Signing, mocker: MockerFixture) -> None:
        self.emulator = emulator
        self.signing = signing
        self._answers = mocker.spy(emulator.app, "handle_api")

    def call(self, client: Any, models: Any, action: str, **fields: Any) -> Any:
        method = getattr(client, snake_case(action))
        request_class = getattr(models, f"{action}Request", None)
        response = method(request_class(**fields)) if request_class is not None else method()
        raw: Response = self._answers.spy_return
        assert raw.status == 200, (action, raw.body)
        sent = json.loads(raw.body)
        assert response.body.to_map() == sent, f"{action}: the SDK model drops or reshapes part of {sent}"
        problems = list(type_errors(response.body))
        assert problems == [], f"{action}: {problems}"
        return response.body

    def ram(self, keys: tuple[str, ...], action: str, **fields: Any) -> Any:
        return self.call(ram_client(self.emulator, *keys, signing=self.signing), ram_models, action, **fields)

    def sts(self, keys: tuple[str, ...], action: str, **fields: Any) -> Any:
        return self.call(sts_client(self.emulator, *keys, signing=self.signing), sts_models, action, **fields)

    def slb(self, keys: tuple[str, ...], action: str, **fields: Any) -> Any:
        return self.call(slb_client(self.emulator, *keys, signing=self.signing), slb_models, action, **fields)

    def rm(self, keys: tuple[str, ...], action: str, **fields: Any) -> Any:
        return self.call(rm_client(self.emulator, *keys, signing=self.signing), rm_models, action, **fields)

    def alb(self, keys: tuple[str, ...], action: str, **fields: Any) -> Any:
        return self.call(alb_client(self.emulator, *keys, signing=self.signing), alb_models, action, **fields)

    def nlb(self, keys: tuple[str, ...], action: str, **fields: Any) -> Any:
        return self.call(nlb_client(self.emulator, *keys, signing=self.signing), nlb_models, action, **fields)

    def ecs(self, keys: tuple[str, ...], action: str, **fields: Any) -> Any:
        return self.call(ecs_client(self.emulator, *keys, signing=self.signing), ecs_models, action, **fields)

    def kms(self, keys: tuple[str, ...], action: str, **fields: Any) -> Any:
        client = KmsClient(sdk_config(self.emulator, *keys, signing=self.signing))
        return self.call(client, kms_models, action, **fields)


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def trust(principal: str) -> str:
    return document({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [principal]}})


@pytest.fixture(params=["v3", "v2"])
def sdk(request: pytest.FixtureRequest, aliyun_emulator: Emulator, mocker: MockerFixture) -> SdkDriver:
    return SdkDriver(aliyun_emulator, request.param, mocker)


def test_every_action_answers_in_the_shape_the_sdk_models_parse(sdk: SdkDriver) -> None:
    a, b = ROOT_A, ROOT_B
    partner_arn = f"acs:ram::{ENTERPRISE_B_UID}:user/partner"
    tag = ram_models.CreateRoleRequestTag(key="grant", value="g-1")

    role = sdk.ram(
        a, "CreateRole", role_name="partner-slb", assume_role_policy_document=trust(partner_arn), tag=[tag]
    ).role
    assert (role.max_session_duration, role.allow_console_login) == (3600, False)
    assert sdk.ram(a, "GetRole", role_name="partner-slb").role.role_principal_name == (
        "partner-slb@role.enterprise-a.onaliyunservice.com"
    )
    updated = sdk.ram(a, "UpdateRole", role_name="partner-slb", new_max_session_duration=7200).role
    assert updated.max_session_duration == 7200
    listed = sdk.ram(a, "ListRoles", max_items=1000, tag=[ram_models.ListRolesRequestTag(key="grant", value="g-1")])
    assert [(r.role_name, r.tags.tag[0].tag_value) for r in listed.roles.role] == [("partner-slb", "g-1")]
    assert listed.is_truncated is False

    readable = document({"Effect": "Allow", "Action": "slb:Describe*", "Resource": "*"})
    sdk.ram(a, "CreatePolicy", policy_name="slb-describe", policy_document=readable, description="d")
    assert sdk.ram(a, "GetPolicy", policy_name="slb-describe", policy_type="Custom").policy.default_version == "v1"
    system = sdk.ram(a, "GetPolicy", policy_name="AliyunSTSAssumeRoleAccess", policy_type="System")
    assert json.loads(system.default_policy_version.policy_document)["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": "*"}
    ]
    paged = sdk.ram(a, "ListPolicies", max_items=3)
    assert (len(paged.policies.policy), paged.is_truncated) == (3, True)
    rest = sdk.ram(a, "ListPolicies", marker=paged.marker, max_items=1000)
    assert (rest.policies.policy[-1].policy_name, rest.is_truncated) == ("slb-describe", False)
    version = sdk.ram(a, "CreatePolicyVersion", policy_name="slb-describe", policy_document=readable)
    assert version.policy_version.is_default_version is False
    sdk.ram(a, "GetPolicyVersion", policy_name="slb-describe", policy_type="Custom", version_id="v2")
    sdk.ram(a, "SetDefaultPolicyVersion", policy_name="slb-describe", version_id="v2")
    versions = sdk.ram(a, "ListPolicyVersions", policy_name="slb-describe", policy_type="Custom")
    assert [v.is_default_version for v in versions.policy_versions.policy_version] == [False, True]
    sdk.ram(a, "DeletePolicyVersion", policy_name="slb-describe", version_id="v1")

    attachment = {"policy_type": "Custom", "policy_name": "slb-describe"}
    sdk.ram(a, "AttachPolicyToRole", role_name="partner-slb", **attachment)
    read_only = {"policy_type": "System", "policy_name": "AliyunSLBReadOnlyAccess"}
    sdk.ram(a, "AttachPolicyToRole", role_name="partner-slb", **read_only)
    assert len(sdk.ram(a, "ListPoliciesForRole", role_name="partner-slb").policies.policy) == 2
    sdk.ram(a, "CreateUser", user_name="auditor", display_name="auditor", email="a@example.com")
    sdk.ram(a, "AttachPolicyToUser", user_name="auditor", **attachment)
    assert sdk.ram(a, "ListPoliciesForUser", user_name="auditor").policies.policy[0].policy_type == "Custom"
    entities = sdk.ram(a, "ListEntitiesForPolicy", **attachment)
    assert ([r.role_name for r in entities.roles.role], [u.user_name for u in entities.users.user]) == (
        ["partner-slb"],
        ["auditor"],
    )
    sdk.ram(a, "DetachPolicyFromUser", user_name="auditor", **attachment)
    sdk.ram(a, "UpdateUser", user_name="auditor", new_user_name="auditor2", new_comments="renamed")
    assert sdk.ram(a, "GetUser", user_name="auditor2").user.comments == "renamed"
    assert [u.user_name for u in sdk.ram(a, "ListUsers", max_items=1000).users.user] == ["auditor2"]
    key = sdk.ram(a, "CreateAccessKey", user_name="auditor2").access_key
    sdk.ram(a, "UpdateAccessKey", user_name="auditor2", user_access_key_id=key.access_key_id, status="Inactive")
    assert sdk.ram(a, "ListAccessKeys", user_name="auditor2").access_keys.access_key[0].status == "Inactive"
    sdk.ram(a, "DeleteAccessKey", user_name="auditor2", user_access_key_id=key.access_key_id)
    sdk.ram(a, "DeleteUser", user_name="auditor2")

    sdk.ram(
        a,
        "TagResources",
        resource_type="role",
        resource_names=["partner-slb"],
        tag=[ram_models.TagResourcesRequestTag(key="ticket", value="T-7")],
    )
    tags = sdk.ram(a, "ListTagResources", resource_type="role", resource_names=["partner-slb"]).tag_resources
    assert sorted((t.tag_key, t.tag_value) for t in tags) == [("grant", "g-1"), ("ticket", "T-7")]
    sdk.ram(a, "UntagResources", resource_type="role", resource_names=["partner-slb"], tag_keys=["ticket"])

    sdk.ram(b, "CreateUser", user_name="partner")
    sdk.ram(b, "AttachPolicyToUser", user_name="partner", policy_type="System", policy_name="AliyunSTSAssumeRoleAccess")
    user_key = sdk.ram(b, "CreateAccessKey", user_name="partner").access_key
    assumed = sdk.sts(
        (user_key.access_key_id, user_key.access_key_secret),
        "AssumeRole",
        role_arn=f"acs:ram::{ENTERPRISE_A_UID}:role/partner-slb",
        role_session_name="grant-1",
        source_identity="ticket-7",
    )
    session = (
        assumed.credentials.access_key_id,
        assumed.credentials.access_key_secret,
        assumed.credentials.security_token,
    )
    assert sdk.sts(session, "GetCallerIdentity").identity_type == "AssumedRoleUser"
    balancers = sdk.slb(session, "DescribeLoadBalancers", region_id="cn-hangzhou", page_size=2)
    assert (balancers.total_count, len(balancers.load_balancers.load_balancer)) == (3, 2)
    attribute = sdk.slb(session, "DescribeLoadBalancerAttribute", load_balancer_id="lb-bp1prod000000000001")
    assert attribute.resource_group_id == PROD_RESOURCE_GROUP_ID

    assert sdk.rm(a, "ListResourceGroups").total_count == 2
    grant = {
        "resource_group_id": PROD_RESOURCE_GROUP_ID,
        "policy_type": "System",
        "policy_name": "AliyunSLBReadOnlyAccess",
        "principal_type": "ServiceRole",
        "principal_name": "partner-slb@role.enterprise-a.onaliyunservice.com",
    }
    sdk.rm(a, "AttachPolicy", **grant)
    attachments = sdk.rm(a, "ListPolicyAttachments", resource_group_id=PROD_RESOURCE_GROUP_ID)
    assert attachments.policy_attachments.policy_attachment[0].principal_name == grant["principal_name"]
    sdk.rm(a, "DetachPolicy", **grant)

    sdk.ram(a, "DetachPolicyFromRole", role_name="partner-slb", **attachment)
    sdk.ram(a, "DeletePolicy", policy_name="slb-describe")
    sdk.ram(a, "DetachPolicyFromRole", role_name="partner-slb", **read_only)
    sdk.ram(a, "DeleteRole", role_name="partner-slb")

    lb = {"region_id": "cn-hangzhou", "load_balancer_id": "lb-bp1prod000000000001"}
    servers = json.dumps([{"ServerId": "i-bp1prod0000001", "Weight": "60"}])
    added = sdk.slb(a, "AddBackendServers", backend_servers=servers, **lb)
    assert added.backend_servers.backend_server[0].weight == "60"
    sdk.slb(a, "SetBackendServers", backend_servers=servers.replace("60", "30"), **lb)
    detail = sdk.slb(a, "DescribeLoadBalancerAttribute", **lb)
    assert (detail.backend_servers.backend_server[0].weight, detail.listener_ports.listener_port) == (30, [80])
    [health] = sdk.slb(a, "DescribeHealthStatus", listener_port=80, **lb).backend_servers.backend_server
    assert (health.listener_port, health.port, health.server_health_status) == (80, 80, "normal")
    sdk.slb(a, "RemoveBackendServers", backend_servers=servers, **lb)
    sdk.slb(a, "StopLoadBalancerListener", listener_port=80, **lb)
    sdk.slb(a, "StartLoadBalancerListener", listener_port=80, **lb)

    for product, region in ((sdk.alb, {}), (sdk.nlb, {"region_id": "cn-hangzhou"})):
        listed = product(a, "ListLoadBalancers", max_results=1, **region)
        assert (listed.total_count, len(listed.load_balancers), listed.next_token) == (2, 1, "1")
        lb_id = listed.load_balancers[0].load_balancer_id
        product(a, "UpdateLoadBalancerAttribute", load_balancer_id=lb_id, load_balancer_name="renamed", **region)
        assert product(a, "GetLoadBalancerAttribute", load_balancer_id=lb_id, **region).load_balancer_name == "renamed"
    instances = sdk.ecs(a, "DescribeInstances", region_id="cn-hangzhou", page_size=2)
    assert (instances.total_count, len(instances.instances.instance)) == (3, 2)
    assert sdk.ecs(a, "DescribeInstanceAttribute", instance_id="i-bp1prod0000001").status == "Running"
    sdk.ecs(a, "StopInstance", instance_id="i-bp1prod0000001")
    assert sdk.ecs(a, "DescribeInstanceAttribute", instance_id="i-bp1prod0000001").status == "Stopped"
    sdk.emulator.state.accounts[ENTERPRISE_A_UID].kms.put("ram-delegate/owner/webhook", "whsec-shape")
    secret = sdk.kms(a, "GetSecretValue", secret_name="ram-delegate/owner/webhook")
    assert (secret.secret_data, secret.version_stages.version_stage) == ("whsec-shape", ["ACSCurrent"])
    # The functions vendor no KMS SDK: ram-delegate calls GetSecretValue through the SDK core's generic client.
    from ram_delegate.cloud import CloudClients, Credentials
    from ram_delegate.settings import Settings

    settings = Settings(endpoint=sdk.emulator.endpoint, protocol="http")
    kms = CloudClients(settings, Credentials(*a)).kms
    version = kms.get_secret_version("ram-delegate/owner/webhook", "ACSCurrent")
    assert version is not None
    assert (version.value, version.created_at) == ("whsec-shape", datetime(2024, 1, 1, tzinfo=timezone.utc))

    served = {action for handlers, _read_only in PRODUCTS.values() for action in handlers}
    assert set(sdk.emulator.requests.counts()) == served
