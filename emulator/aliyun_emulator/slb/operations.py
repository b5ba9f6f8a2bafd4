"""SLB operator actions on one load balancer: backend servers and listener start/stop.

Each call is authorized on the load balancer's ARN (with its resource group), and the backend-server calls also on
each ECS instance they name (``acs:ecs:{region}:{account}:instance/{id}``), as CLB checks both. Authorization comes
before any lookup, so an id the caller may not touch is refused whether or not it exists.
"""

from __future__ import annotations

from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.authorization import PRODUCT_DENIAL
from aliyun_emulator.core.errors import ApiError, invalid_parameter
from aliyun_emulator.slb.models import Backends, LoadBalancer

Body = dict[str, Any]
MAX_SERVERS = 20


def authorized_load_balancer(call: Call, action: str) -> LoadBalancer:
    """The named load balancer after authorizing ``action`` on it (region: RegionId, else the balancer's own)."""
    lb_id = call.params.required("LoadBalancerId")
    lb = call.account.load_balancers.get(lb_id)
    region = call.params.optional("RegionId") or (lb.seed.region if lb is not None else None)
    if region is None:  # an unknown id and no region: there is no ARN to authorize, nothing to find
        raise _not_found(lb_id)
    found = lb if lb is not None and lb.seed.region == region else None
    call.authorize(
        action,
        f"acs:slb:{region}:{call.account.uid}:loadbalancer/{lb_id}",
        resource_group_id=found.seed.resource_group_id if found is not None else None,
        denial_code=PRODUCT_DENIAL,
    )
    if found is None:
        raise _not_found(lb_id)
    return found


def _not_found(lb_id: str) -> ApiError:
    return ApiError("InvalidLoadBalancerId.NotFound", f"The specified LoadBalancerId does not exist: {lb_id}.", 404)


def _servers(call: Call, action: str, lb: LoadBalancer, *, weights: bool) -> dict[str, int]:
    """``BackendServers`` (a JSON list of {ServerId, Weight}), each server authorized as an ECS instance."""
    raw = call.params.json_list("BackendServers")
    if not raw or len(raw) > MAX_SERVERS:
        raise invalid_parameter("BackendServers", f"give 1-{MAX_SERVERS} servers")
    servers: dict[str, int] = {}
    for item in raw:
        server_id = item.get("ServerId") if isinstance(item, dict) else None
        if not isinstance(server_id, str) or not server_id.startswith("i-"):
            raise invalid_parameter("BackendServers", "each server needs the ServerId of an ECS instance (i-...)")
        weight = str(item.get("Weight", "100"))
        if weights and (not weight.isdigit() or not 0 <= int(weight) <= 100):
            raise invalid_parameter("BackendServers", "Weight is 0-100")
        servers[server_id] = int(weight) if weight.isdigit() else 100
    for server_id in servers:
        instance = call.account.ecs.get(server_id)
        region = instance.region if instance is not None else lb.seed.region
        call.authorize(
            action,
            f"acs:ecs:{region}:{call.account.uid}:instance/{server_id}",
            resource_group_id=instance.resource_group_id if instance is not None else None,
            denial_code=PRODUCT_DENIAL,
        )
    return servers


def _state(call: Call, lb: LoadBalancer) -> Backends:
    return call.account.slb_backends[lb.seed.id]


def backend_list(state: Backends, *, weight_as_text: bool = False) -> Body:
    """The backend servers; AddBackendServers and SetBackendServers answer the weight as a string, the others as a
    number (as the SDK models declare)."""
    return {
        "BackendServer": [
            {"ServerId": server, "Weight": str(weight) if weight_as_text else weight, "Type": "ecs"}
            for server, weight in sorted(state.servers.items())
        ]
    }


def add_backend_servers(call: Call) -> Body:
    lb = authorized_load_balancer(call, "slb:AddBackendServers")
    servers = _servers(call, "slb:AddBackendServers", lb, weights=True)
    state = _state(call, lb)
    state.servers.update(servers)
    return {"LoadBalancerId": lb.seed.id, "BackendServers": backend_list(state, weight_as_text=True)}


def remove_backend_servers(call: Call) -> Body:
    lb = authorized_load_balancer(call, "slb:RemoveBackendServers")
    servers = _servers(call, "slb:RemoveBackendServers", lb, weights=False)
    state = _state(call, lb)
    for server_id in servers:
        state.servers.pop(server_id, None)
    return {"LoadBalancerId": lb.seed.id, "BackendServers": backend_list(state)}


def set_backend_servers(call: Call) -> Body:
    lb = authorized_load_balancer(call, "slb:SetBackendServers")
    servers = _servers(call, "slb:SetBackendServers", lb, weights=True)
    state = _state(call, lb)
    unknown = sorted(set(servers) - set(state.servers))
    if unknown:
        raise ApiError("InvalidBackendServers.NotFound", f"Backend server {unknown[0]} is not attached.", 404)
    state.servers.update(servers)
    return {"LoadBalancerId": lb.seed.id, "BackendServers": backend_list(state, weight_as_text=True)}


def _switch_listener(call: Call, action: str, status: str) -> Body:
    lb = authorized_load_balancer(call, action)
    call.params.required("ListenerPort")
    port = call.params.integer("ListenerPort", default=0, minimum=1, maximum=65535)
    listener = _state(call, lb).listeners.get(port)
    if listener is None:
        raise ApiError("InvalidParameter", f"The specified listener port {port} does not exist.", 400)
    listener.status = status
    return {}


def start_load_balancer_listener(call: Call) -> Body:
    return _switch_listener(call, "slb:StartLoadBalancerListener", "running")


def stop_load_balancer_listener(call: Call) -> Body:
    return _switch_listener(call, "slb:StopLoadBalancerListener", "stopped")


HANDLERS = {
    "AddBackendServers": add_backend_servers,
    "RemoveBackendServers": remove_backend_servers,
    "SetBackendServers": set_backend_servers,
    "StartLoadBalancerListener": start_load_balancer_listener,
    "StopLoadBalancerListener": stop_load_balancer_listener,
}
