"""Helpers for tests that talk to the emulator through the official SDK clients.

``DEFAULT_TEST_SEED`` is the two-account world the pytest plugin starts with; the ``*_client`` constructors build
unmodified SDK clients pointed at an emulator (plain HTTP, no proxy, either signing mode); ``admit_role_assumer``
stands in for a service (Function Compute) that would hand a function its role's session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from alibabacloud_alb20200616.client import Client as AlbClient
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_nlb20220430.client import Client as NlbClient
    from alibabacloud_ram20150501.client import Client as RamClient
    from alibabacloud_resourcemanager20200331.client import Client as ResourceManagerClient
    from alibabacloud_slb20140515.client import Client as SlbClient
    from alibabacloud_sts20150401.client import Client as StsClient
    from alibabacloud_tea_openapi.models import Config

    from aliyun_emulator.emulator import Emulator

Signing = Literal["v3", "v2"]

ENTERPRISE_A_UID = "1111111111111111"
ENTERPRISE_B_UID = "2222222222222222"
PROD_RESOURCE_GROUP_ID = "rg-aaaaaaaaaaaaa1"

DEFAULT_TEST_SEED: Mapping[str, Any] = {
    "accounts": [
        {
            "uid": ENTERPRISE_A_UID,
            "alias": "enterprise-a",
            "access_key_id": "AKIDENTERPRISEA0000001",
            "access_key_secret": "secret-a",
            "resource_groups": [
                {"id": "rg-aaaaaaaaaaaaa0", "name": "default"},
                {"id": PROD_RESOURCE_GROUP_ID, "name": "prod"},
            ],
            "load_balancers": [
                {
                    "id": "lb-bp1prod000000000001",
                    "name": "prod-web",
                    "region": "cn-hangzhou",
                    "resource_group_id": PROD_RESOURCE_GROUP_ID,
                },
                {
                    "id": "lb-bp1prod000000000002",
                    "name": "prod-api",
                    "region": "cn-hangzhou",
                    "resource_group_id": PROD_RESOURCE_GROUP_ID,
                },
                {
                    "id": "lb-bp1dflt000000000001",
                    "name": "staging-web",
                    "region": "cn-hangzhou",
                    "resource_group_id": "rg-aaaaaaaaaaaaa0",
                },
                {
                    "id": "lb-uf6dflt000000000001",
                    "name": "shanghai-web",
                    "region": "cn-shanghai",
                    "resource_group_id": "rg-aaaaaaaaaaaaa0",
                },
            ],
            "alb_load_balancers": [
                {
                    "id": "alb-prod0000001",
                    "name": "prod-alb",
                    "region": "cn-hangzhou",
                    "resource_group_id": PROD_RESOURCE_GROUP_ID,
                },
                {
                    "id": "alb-dflt0000001",
                    "name": "staging-alb",
                    "region": "cn-hangzhou",
                    "resource_group_id": "rg-aaaaaaaaaaaaa0",
                },
                {
                    "id": "alb-shdf0000001",
                    "name": "shanghai-alb",
                    "region": "cn-shanghai",
                    "resource_group_id": "rg-aaaaaaaaaaaaa0",
                },
            ],
            "nlb_load_balancers": [
                {
                    "id": "nlb-prod0000001",
                    "name": "prod-nlb",
                    "region": "cn-hangzhou",
                    "resource_group_id": PROD_RESOURCE_GROUP_ID,
                },
                {
                    "id": "nlb-dflt0000001",
                    "name": "staging-nlb",
                    "region": "cn-hangzhou",
                    "resource_group_id": "rg-aaaaaaaaaaaaa0",
                },
            ],
            "ecs_instances": [
                {
                    "id": "i-bp1prod0000001",
                    "name": "prod-web-1",
                    "region": "cn-hangzhou",
                    "resource_group_id": PROD_RESOURCE_GROUP_ID,
                },
                {
                    "id": "i-bp1prod0000002",
                    "name": "prod-web-2",
                    "region": "cn-hangzhou",
                    "resource_group_id": PROD_RESOURCE_GROUP_ID,
                },
                {
                    "id": "i-bp1dflt0000001",
                    "name": "staging-web-1",
                    "region": "cn-hangzhou",
                    "resource_group_id": "rg-aaaaaaaaaaaaa0",
                },
            ],
        },
        {
            "uid": ENTERPRISE_B_UID,
            "alias": "enterprise-b",
            "access_key_id": "AKIDENTERPRISEB0000001",
            "access_key_secret": "secret-b",
            "resource_groups": [{"id": "rg-bbbbbbbbbbbbb0", "name": "default"}],
            "load_balancers": [
                {
                    "id": "lb-bp1partner00000000001",
                    "name": "partner-web",
                    "region": "cn-hangzhou",
                    "resource_group_id": "rg-bbbbbbbbbbbbb0",
                }
            ],
        },
    ]
}


def sdk_config(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
    region_id: str = "cn-hangzhou",
) -> Config:
    """An SDK ``Config`` for the emulator: plain HTTP, proxies bypassed, ACS3 ("v3") or legacy HMAC-SHA1 ("v2")."""
    from alibabacloud_tea_openapi.models import Config

    endpoint = emulator if isinstance(emulator, str) else emulator.endpoint
    host = endpoint.rsplit(":", 1)[0]
    config = Config(
        endpoint=endpoint,
        protocol="http",
        region_id=region_id,
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        security_token=security_token,
        no_proxy=host,
        connect_timeout=5000,
        read_timeout=10000,
    )
    if signing == "v2":
        config.signature_algorithm = "v2"
    return config


def ram_client(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
) -> RamClient:
    from alibabacloud_ram20150501.client import Client

    return Client(sdk_config(emulator, access_key_id, access_key_secret, security_token, signing))


def sts_client(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
) -> StsClient:
    from alibabacloud_sts20150401.client import Client

    return Client(sdk_config(emulator, access_key_id, access_key_secret, security_token, signing))


def slb_client(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
) -> SlbClient:
    from alibabacloud_slb20140515.client import Client

    return Client(sdk_config(emulator, access_key_id, access_key_secret, security_token, signing))


def rm_client(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
) -> ResourceManagerClient:
    from alibabacloud_resourcemanager20200331.client import Client

    return Client(sdk_config(emulator, access_key_id, access_key_secret, security_token, signing))


def regional_config(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
    region_id: str = "cn-hangzhou",
) -> Config:
    """A config for ALB or ECS: the emulator serves every region on one endpoint, so the region travels as a
    ``RegionId`` query parameter (the real ALB API, and ECS's instance calls, take it from the regional endpoint)."""
    from alibabacloud_tea_openapi.models import GlobalParameters

    config = sdk_config(emulator, access_key_id, access_key_secret, security_token, signing, region_id)
    config.global_parameters = GlobalParameters(queries={"RegionId": region_id})
    return config


def alb_client(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
    region_id: str = "cn-hangzhou",
) -> AlbClient:
    from alibabacloud_alb20200616.client import Client

    return Client(regional_config(emulator, access_key_id, access_key_secret, security_token, signing, region_id))


def nlb_client(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
    region_id: str = "cn-hangzhou",
) -> NlbClient:
    from alibabacloud_nlb20220430.client import Client

    # Every NLB request names its region itself (RegionId in the query or the form body): no global parameter.
    return Client(sdk_config(emulator, access_key_id, access_key_secret, security_token, signing, region_id))


def ecs_client(
    emulator: Emulator | str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    signing: Signing = "v3",
    region_id: str = "cn-hangzhou",
) -> EcsClient:
    from alibabacloud_ecs20140526.client import Client

    return Client(regional_config(emulator, access_key_id, access_key_secret, security_token, signing, region_id))


def admit_role_assumer(
    ram: RamClient,
    account_uid: str,
    user_name: str,
    role_names: Sequence[str],
    *,
    policy_name: str,
    description: str = "",
) -> tuple[str, str]:
    """A RAM user with one AccessKey that may assume exactly ``role_names`` (existing roles of ``ram``'s account).

    The emulator has no Function Compute caller and an account's root may not assume roles, so a test or a local
    stack gets a function role's session through such a user: its own policy allows ``sts:AssumeRole`` on those roles
    only, and each role's trust policy gains it as a principal. Returns the AccessKey (id, secret). Idempotent: on a
    cloud that already has the user (a restarted local stack's saved state) its old keys are replaced by one new key,
    the policy gets the current document, and no principal is added twice.
    """
    from alibabacloud_ram20150501 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    def exists(call: Callable[[], object], code: str) -> bool:
        try:
            call()
        except ClientException as error:
            if error.code != code:
                raise
            return True
        return False

    if exists(
        lambda: ram.create_user(models.CreateUserRequest(user_name=user_name, comments=description or None)),
        "EntityAlreadyExists.User",
    ):
        listed = ram.list_access_keys(models.ListAccessKeysRequest(user_name=user_name)).body.access_keys.access_key
        for old in listed or []:
            request = models.DeleteAccessKeyRequest(user_name=user_name, user_access_key_id=old.access_key_id)
            ram.delete_access_key(request)
    key = ram.create_access_key(models.CreateAccessKeyRequest(user_name=user_name)).body.access_key
    assume = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": [f"acs:ram::{account_uid}:role/{name}" for name in role_names],
            }
        ],
    }
    document = json.dumps(assume)
    if exists(
        lambda: ram.create_policy(
            models.CreatePolicyRequest(
                policy_name=policy_name, policy_document=document, description=description or None
            )
        ),
        "EntityAlreadyExists.Policy",
    ):
        ram.create_policy_version(
            models.CreatePolicyVersionRequest(
                policy_name=policy_name,
                policy_document=document,
                set_as_default=True,
                rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",
            )
        )
    exists(
        lambda: ram.attach_policy_to_user(
            models.AttachPolicyToUserRequest(policy_type="Custom", policy_name=policy_name, user_name=user_name)
        ),
        "EntityAlreadyExists.User.Policy",
    )
    user_arn = f"acs:ram::{account_uid}:user/{user_name}"
    for name in role_names:
        role = ram.get_role(models.GetRoleRequest(role_name=name)).body.role
        trust = json.loads(role.assume_role_policy_document)
        if any(user_arn in (s.get("Principal") or {}).get("RAM", []) for s in trust["Statement"]):
            continue
        trust["Statement"].append({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [user_arn]}})
        ram.update_role(models.UpdateRoleRequest(role_name=name, new_assume_role_policy_document=json.dumps(trust)))
    return key.access_key_id, key.access_key_secret
