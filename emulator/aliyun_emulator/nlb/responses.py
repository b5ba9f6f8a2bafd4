"""NLB actions over the seeded load balancers (shapes of the alibabacloud-nlb20220430 response models)."""

from __future__ import annotations

from typing import Any

from aliyun_emulator.instance_calls import SEED_CREATE_TIME, load_balancer_handlers
from aliyun_emulator.instances import Instance


def _summary(lb: Instance) -> dict[str, Any]:
    return {
        "AddressIpVersion": "ipv4",
        "AddressType": "Intranet",
        "CreateTime": SEED_CREATE_TIME,
        "CrossZoneEnabled": True,
        "DNSName": f"{lb.id}.{lb.region}.nlb.aliyuncs.com",
        "LoadBalancerBillingConfig": {"PayType": "PostPay"},
        "LoadBalancerBusinessStatus": "Normal",
        "LoadBalancerId": lb.id,
        "LoadBalancerName": lb.name,
        "LoadBalancerStatus": lb.status,
        "LoadBalancerType": "Network",
        "OperationLocks": [],
        "RegionId": lb.region,
        "ResourceGroupId": lb.resource_group_id or "",
        "Tags": [],
        "VpcId": "vpc-" + lb.id.removeprefix("nlb-"),
        "ZoneMappings": [],
    }


HANDLERS = load_balancer_handlers("nlb", lambda call: call.account.nlb, _summary)
READ_ONLY = frozenset({"ListLoadBalancers", "GetLoadBalancerAttribute"})
