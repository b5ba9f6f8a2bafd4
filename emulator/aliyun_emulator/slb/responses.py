"""SLB actions over the seeded load balancers: DescribeLoadBalancers and DescribeLoadBalancerAttribute (the
operator actions are in ``operations.py``)."""

from __future__ import annotations

from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.authorization import PRODUCT_DENIAL
from aliyun_emulator.core.errors import invalid_parameter
from aliyun_emulator.params import page_body, page_params
from aliyun_emulator.slb import operations

Body = dict[str, Any]
MAX_IDS = 20


def describe_load_balancers(call: Call) -> Body:
    """A caller scoped to a resource group must name it in ResourceGroupId and sees only that group."""
    params = call.params
    region = params.required("RegionId")
    group = params.optional("ResourceGroupId")
    page_number, page_size = page_params(params, default_size=10, max_size=100)
    ids_text = params.optional("LoadBalancerId")
    ids = [item.strip() for item in ids_text.split(",")] if ids_text else []
    if len(ids) > MAX_IDS or any(not item for item in ids):
        raise invalid_parameter("LoadBalancerId", f"give 1-{MAX_IDS} comma-separated ids")
    name = params.optional("LoadBalancerName")
    call.authorize(
        "slb:DescribeLoadBalancers",
        f"acs:slb:{region}:{call.account.uid}:loadbalancer/*",
        resource_group_id=group,
        denial_code=PRODUCT_DENIAL,
    )
    matches = [
        lb
        for lb in call.account.load_balancers.values()
        if lb.seed.region == region
        and (group is None or lb.seed.resource_group_id == group)
        and (not ids or lb.seed.id in ids)
        and (name is None or lb.seed.name == name)
    ]
    return page_body([lb.summary() for lb in matches], page_number, page_size, "LoadBalancers", "LoadBalancer")


def describe_load_balancer_attribute(call: Call) -> Body:
    lb = operations.authorized_load_balancer(call, "slb:DescribeLoadBalancerAttribute")
    state = call.account.slb_backends[lb.seed.id]
    ports = sorted(state.listeners)
    summary = lb.summary()
    del summary["InternetChargeTypeAlias"]  # a listing field only: the attribute model has no such key
    return {
        **summary,
        "AutoReleaseTime": 0,
        "BackendServers": operations.backend_list(state),
        "EndTime": "2999-09-08T16:00:00Z",
        "EndTimeStamp": 32493801600000,
        "ListenerPorts": {"ListenerPort": ports},
        "ListenerPortsAndProtocal": {
            "ListenerPortAndProtocal": [
                {"ListenerPort": port, "ListenerProtocal": state.listeners[port].protocol} for port in ports
            ]
        },
        "ListenerPortsAndProtocol": {
            "ListenerPortAndProtocol": [
                {"ListenerPort": port, "ListenerProtocol": state.listeners[port].protocol} for port in ports
            ]
        },
        "RenewalCycUnit": "",
        "RenewalDuration": 0,
        "RenewalStatus": "",
    }


READ_HANDLERS = {
    "DescribeLoadBalancers": describe_load_balancers,
    "DescribeLoadBalancerAttribute": describe_load_balancer_attribute,
}
HANDLERS = {**READ_HANDLERS, **operations.HANDLERS}
READ_ONLY = frozenset(READ_HANDLERS)
