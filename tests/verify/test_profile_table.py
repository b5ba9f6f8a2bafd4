"""Per profile, through the official SDKs on the emulator: the partner can do exactly what the profile says, on
exactly the scope granted, and nothing else.

Each grant is made by the owner and partner handlers; the calls run with a session of the grant's role (assumed
with the grant's ExternalId, as the partner would). Every row is one call and whether it must succeed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_alb20200616 import models as alb_models
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_nlb20220430 import models as nlb_models
from alibabacloud_slb20140515 import models as slb_models
from Tea.exceptions import TeaException
from verify_stack import Stack

from aliyun_emulator.testing import alb_client, ecs_client, nlb_client, slb_client
from ram_delegate.grants import list_partner_grants

PROD = "rg-aaaaaaaaaaaaa1"
LB = "lb-bp1prod000000000001"
OTHER_LB = "lb-bp1prod000000000002"
SERVER = json.dumps([{"ServerId": "i-bp1prod0000001", "Weight": "50"}])
HZ = {"region_id": "cn-hangzhou"}
SH = {"region_id": "cn-shanghai"}

Row = tuple[str, str, dict[str, Any], bool]
"""(product, action, request fields, allowed)."""

TABLE: dict[str, tuple[str | None, list[str] | None, list[Row]]] = {
    "slb-readonly": (
        None,
        None,
        [
            ("slb", "DescribeLoadBalancers", HZ, True),
            ("slb", "DescribeLoadBalancerAttribute", {**HZ, "load_balancer_id": LB}, True),
            ("slb", "DescribeLoadBalancers", SH, False),
            ("slb", "AddBackendServers", {**HZ, "load_balancer_id": LB, "backend_servers": SERVER}, False),
            ("slb", "StopLoadBalancerListener", {**HZ, "load_balancer_id": LB, "listener_port": 80}, False),
            ("alb", "ListLoadBalancers", {}, False),
        ],
    ),
    "alb-readonly": (
        None,
        None,
        [
            ("alb", "ListLoadBalancers", {}, True),
            ("alb", "GetLoadBalancerAttribute", {"load_balancer_id": "alb-prod0000001"}, True),
            ("alb@cn-shanghai", "ListLoadBalancers", {}, False),
            (
                "alb",
                "UpdateLoadBalancerAttribute",
                {"load_balancer_id": "alb-prod0000001", "load_balancer_name": "x"},
                False,
            ),
            ("nlb", "ListLoadBalancers", HZ, False),
            ("ecs", "DescribeInstances", HZ, False),
        ],
    ),
    "nlb-readonly": (
        PROD,
        None,
        [
            ("nlb", "ListLoadBalancers", {**HZ, "resource_group_id": PROD}, True),
            ("nlb", "GetLoadBalancerAttribute", {**HZ, "load_balancer_id": "nlb-prod0000001"}, True),
            ("nlb", "ListLoadBalancers", HZ, False),  # the whole region: outside the group
            ("nlb", "GetLoadBalancerAttribute", {**HZ, "load_balancer_id": "nlb-dflt0000001"}, False),
            (
                "nlb",
                "UpdateLoadBalancerAttribute",
                {**HZ, "load_balancer_id": "nlb-prod0000001", "dry_run": True},
                False,
            ),
            ("slb", "DescribeLoadBalancers", {**HZ, "resource_group_id": PROD}, False),
        ],
    ),
    "ecs-readonly": (
        None,
        None,
        [
            ("ecs", "DescribeInstances", HZ, True),
            ("ecs", "DescribeInstanceAttribute", {"instance_id": "i-bp1prod0000001"}, True),
            ("ecs", "DescribeInstances", SH, False),
            ("ecs", "StopInstance", {"instance_id": "i-bp1prod0000001", "dry_run": True}, False),
            ("ecs", "StopInstance", {"instance_id": "i-bp1prod0000001"}, False),
            ("slb", "DescribeLoadBalancers", HZ, False),
        ],
    ),
    "slb-operator": (
        None,
        [LB],
        [
            ("slb", "DescribeLoadBalancerAttribute", {**HZ, "load_balancer_id": LB}, True),
            ("slb", "AddBackendServers", {**HZ, "load_balancer_id": LB, "backend_servers": SERVER}, True),
            ("slb", "SetBackendServers", {**HZ, "load_balancer_id": LB, "backend_servers": SERVER}, True),
            ("slb", "RemoveBackendServers", {**HZ, "load_balancer_id": LB, "backend_servers": SERVER}, True),
            ("slb", "StopLoadBalancerListener", {**HZ, "load_balancer_id": LB, "listener_port": 80}, True),
            ("slb", "StartLoadBalancerListener", {**HZ, "load_balancer_id": LB, "listener_port": 80}, True),
            ("slb", "DescribeLoadBalancerAttribute", {**HZ, "load_balancer_id": OTHER_LB}, False),
            ("slb", "AddBackendServers", {**HZ, "load_balancer_id": OTHER_LB, "backend_servers": SERVER}, False),
            ("slb", "StopLoadBalancerListener", {**HZ, "load_balancer_id": OTHER_LB, "listener_port": 80}, False),
            ("slb", "DescribeLoadBalancerAttribute", {**SH, "load_balancer_id": LB}, False),
            ("slb", "DescribeLoadBalancers", HZ, False),
            ("ecs", "StopInstance", {"instance_id": "i-bp1prod0000001", "dry_run": True}, False),
        ],
    ),
}

CLIENTS: dict[str, tuple[Callable[..., Any], Any]] = {
    "slb": (slb_client, slb_models),
    "alb": (alb_client, alb_models),
    "nlb": (nlb_client, nlb_models),
    "ecs": (ecs_client, ecs_models),
}


def session_of(stack: Stack) -> tuple[str, str, str]:
    """The grant's role session, assumed with its ExternalId by a principal its trust policy names."""
    deps = stack.verifier()
    (grant,) = list_partner_grants(deps.cloud, stack.now())
    assumed = deps.cloud.sts.assume_role(grant.role_arn, "table", external_id=grant.external_id)
    credentials = assumed.credentials
    return credentials.access_key_id, credentials.access_key_secret, credentials.security_token or ""


def outcome(stack: Stack, keys: tuple[str, str, str], product: str, action: str, fields: dict[str, Any]) -> str:
    """ "ok", or the cloud's error code."""
    name, _, region = product.partition("@")
    factory, models = CLIENTS[name]
    client = factory(stack.emulator, *keys, **({"region_id": region} if region else {}))
    method = getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower())
    try:
        method(getattr(models, f"{action}Request")(**fields))
    except TeaException as error:
        return str(error.code)
    return "ok"


@pytest.mark.parametrize("profile", sorted(TABLE))
def test_the_partner_can_do_exactly_what_the_profile_says(stack: Stack, profile: str) -> None:
    group, ids, rows = TABLE[profile]
    stack.approve("OPS-T", profile=profile, group=group, resource_ids=ids)
    keys = session_of(stack)

    observed = [(product, action, outcome(stack, keys, product, action, fields)) for product, action, fields, _ in rows]

    expected = [(product, action, "ok" if allowed else "Forbidden.RAM") for product, action, _, allowed in rows]
    assert observed == expected


def test_the_owner_refuses_an_operator_grant_without_named_instances(stack: Stack) -> None:
    from ram_delegate.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as caught:
        stack.approve("OPS-U", profile="slb-operator")
    assert "data.access.resource_ids" in [problem.path for problem in caught.value.problems]
