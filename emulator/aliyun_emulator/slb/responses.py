"""SLB actions over the seeded load balancers: DescribeLoadBalancers, DescribeLoadBalancerAttribute and
DescribeHealthStatus (the operator actions are in ``operations.py``)."""

from __future__ import annotations

from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.authorization import PRODUCT_DENIAL
from aliyun_emulator.core.errors import invalid_parameter
from aliyun_emulator.params import page_body, page_params
from aliyun_emulator.slb import operations

Body = dict[str, Any]
MAX_IDS = 10
"""``LoadBalancerId`` and ``LoadBalancerName`` each take at most 10 comma-separated values."""
STATUSES = ("inactive", "active", "locked")
ADDRESS_TYPES = ("internet", "intranet")
LISTENER_PROTOCOLS = ("tcp", "udp", "http", "https")


def _comma_list(call: Call, name: str) -> list[str]:
    text = call.params.optional(name)
    values = [item.strip() for item in text.split(",")] if text else []
    if len(values) > MAX_IDS or any(not item for item in values):
        raise invalid_parameter(name, f"give 1-{MAX_IDS} comma-separated values")
    return values


def _slb_tags(call: Call) -> list[tuple[str, str]]:
    """``Tag.N.Key`` / ``Tag.N.Value`` filters (1-20); a load balancer matches when it carries every one."""
    keys = dict(_indexed(call, "Key"))
    values = dict(_indexed(call, "Value"))
    if set(values) - set(keys) or len(keys) > 20:
        raise invalid_parameter("Tag", "give 1-20 Tag.N.Key, each Tag.N.Value with its key")
    return [(keys[index], values.get(index, "")) for index in sorted(keys)]


def _indexed(call: Call, part: str) -> list[tuple[int, str]]:
    found = []
    for name, value in call.params.raw.items():
        head, _, rest = name.partition(".")
        index, _, tail = rest.partition(".")
        if head == "Tag" and tail == part and index.isdigit():
            found.append((int(index), value))
    return found


def describe_load_balancers(call: Call) -> Body:
    """A caller scoped to a resource group must name it in ResourceGroupId and sees only that group."""
    params = call.params
    region = params.required("RegionId")
    group = params.optional("ResourceGroupId")
    page_number, page_size = page_params(params, default_size=10, max_size=100)
    ids = _comma_list(call, "LoadBalancerId")
    names = _comma_list(call, "LoadBalancerName")
    status = params.choice("LoadBalancerStatus", STATUSES, default="")
    address_type = params.choice("AddressType", ADDRESS_TYPES, default="")
    tags = _slb_tags(call)
    call.authorize(
        "slb:DescribeLoadBalancers",
        f"acs:slb:{region}:{call.account.uid}:loadbalancer/*",
        resource_group_id=group,
        denial_code=PRODUCT_DENIAL,
    )
    matches = []
    for lb in call.account.load_balancers.values():
        summary = lb.summary()
        carried = {tag["TagKey"]: tag["TagValue"] for tag in summary["Tags"]["Tag"]}  # type: ignore[index]
        if (
            lb.seed.region == region
            and (group is None or lb.seed.resource_group_id == group)
            and (not ids or lb.seed.id in ids)
            and (not names or lb.seed.name in names)
            and (not status or summary["LoadBalancerStatus"] == status)
            and (not address_type or summary["AddressType"] == address_type)
            and all(carried.get(key) == value for key, value in tags)
        ):
            matches.append(summary)
    return page_body(matches, page_number, page_size, "LoadBalancers", "LoadBalancer")


def describe_load_balancer_attribute(call: Call) -> Body:
    lb = operations.authorized_load_balancer(call, "slb:DescribeLoadBalancerAttribute")
    state = call.account.slb_backends[lb.seed.id]
    ports = sorted(state.listeners)
    summary = lb.summary()
    # A listing field only (the attribute model has no such key); the attribute call gives the word itself.
    summary["InternetChargeType"] = summary.pop("InternetChargeTypeAlias")
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


def describe_health_status(call: Call) -> Body:
    """One row per backend server and listener: ``normal`` behind a running listener, ``unavailable`` behind a
    stopped one (the emulator runs no health checks; a listener's backend port is its own port)."""
    lb = operations.authorized_load_balancer(call, "slb:DescribeHealthStatus")
    port = call.params.integer("ListenerPort", default=0, minimum=1, maximum=65535)
    protocol = call.params.choice("ListenerProtocol", LISTENER_PROTOCOLS, default="")
    state = call.account.slb_backends[lb.seed.id]
    rows = [
        {
            "ListenerPort": listener_port,
            "Port": listener_port,
            "Protocol": listener.protocol,
            "ServerHealthStatus": "normal" if listener.status == "running" else "unavailable",
            "ServerId": server,
        }
        for listener_port, listener in sorted(state.listeners.items())
        if (not port or listener_port == port) and (not protocol or listener.protocol == protocol)
        for server in sorted(state.servers)
    ]
    return {"BackendServers": {"BackendServer": rows}}


READ_HANDLERS = {
    "DescribeLoadBalancers": describe_load_balancers,
    "DescribeLoadBalancerAttribute": describe_load_balancer_attribute,
    "DescribeHealthStatus": describe_health_status,
}
HANDLERS = {**READ_HANDLERS, **operations.HANDLERS}
READ_ONLY = frozenset(READ_HANDLERS)
