"""ALB actions over the seeded load balancers (shapes of the alibabacloud-alb20200616 response models)."""

from __future__ import annotations

from typing import Any

from aliyun_emulator.instance_calls import SEED_CREATE_TIME, load_balancer_handlers
from aliyun_emulator.instances import Instance


def _summary(lb: Instance) -> dict[str, Any]:
    return {
        "AddressAllocatedMode": "Dynamic",
        "AddressIpVersion": "IPv4",
        "AddressType": "Intranet",
        "CreateTime": SEED_CREATE_TIME,
        "DNSName": f"{lb.id}.{lb.region}.alb.aliyuncs.com",
        "LoadBalancerBillingConfig": {"PayType": "PostPay"},
        "LoadBalancerBussinessStatus": "Normal",
        "LoadBalancerEdition": "Standard",
        "LoadBalancerId": lb.id,
        "LoadBalancerName": lb.name,
        "LoadBalancerOperationLocks": [],
        "LoadBalancerStatus": lb.status,
        "ResourceGroupId": lb.resource_group_id or "",
        "Tags": [],
        "VpcId": "vpc-" + lb.id.removeprefix("alb-"),
    }


HANDLERS = load_balancer_handlers(
    "alb", lambda call: call.account.alb, _summary, lambda lb: {"RegionId": lb.region, "ZoneMappings": []}
)
READ_ONLY = frozenset({"ListLoadBalancers", "GetLoadBalancerAttribute"})
