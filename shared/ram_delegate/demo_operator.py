"""The demo's second grant: ``slb-operator`` on one named load balancer of account A.

The partner engineer, through the new role, adds an ECS instance as a backend server of the named load balancer
(allowed, and read back) and tries the same on another load balancer of the same region (refused by the cloud).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ram_delegate.demo import StepRecord, _Demo

OPERATOR_TICKET = "CHG-2043"
OPERATOR_PROFILE = "slb-operator"


class SecondGrantError(Exception):
    """The step could not even get to its checks."""


def operator_grant(demo: _Demo, record: StepRecord, region: str) -> None:
    from alibabacloud_slb20140515 import models

    from ram_delegate.grants import list_partner_grants

    balancers = [lb for lb in demo.owner.load_balancers if lb.region == region]
    servers = [instance for instance in demo.owner.ecs_instances if instance.region == region]
    if len(balancers) < 2 or not servers:
        raise SecondGrantError(f"the seed needs two load balancers and an ECS instance in {region}")
    named, other, server = balancers[0], balancers[1], servers[0]
    demo.story.say(f"ticket {OPERATOR_TICKET}: {OPERATOR_PROFILE} in {region} on {named.name} ({named.id}) only")
    access = {"profile": OPERATOR_PROFILE, "region": region, "resource_ids": [named.id]}
    status = demo.send_approval(record, OPERATOR_TICKET, access)
    demo.story.expect(record, status == 200, "the owner-onboard function answers 200")
    grants = [
        g for g in list_partner_grants(demo.cloud(demo.partner, "partner"), demo.now()) if g.ticket == OPERATOR_TICKET
    ]
    if len(grants) != 1:
        raise SecondGrantError(f"no assume policy for {OPERATOR_TICKET} in account B")
    slb = demo.slb_through_role(grants[0].role_arn, grants[0].external_id)
    backend = json.dumps([{"ServerId": server.id, "Weight": "100", "Type": "ecs"}])

    slb.add_backend_servers(
        models.AddBackendServersRequest(region_id=region, load_balancer_id=named.id, backend_servers=backend)
    )
    detail = slb.describe_load_balancer_attribute(
        models.DescribeLoadBalancerAttributeRequest(region_id=region, load_balancer_id=named.id)
    ).body
    attached = [s.server_id for s in (detail.backend_servers.backend_server if detail.backend_servers else []) or []]
    demo.story.say(f"AddBackendServers {server.name} ({server.id}) on {named.name}: done; its backends: {attached}")
    demo.story.expect(record, server.id in attached, f"the backend change on {named.name} is allowed")

    try:
        slb.add_backend_servers(
            models.AddBackendServersRequest(region_id=region, load_balancer_id=other.id, backend_servers=backend)
        )
    except Exception as exc:  # the refusal is the expected outcome here
        refusal = str(getattr(exc, "code", type(exc).__name__))
    else:
        refusal = ""
    demo.story.say(f"AddBackendServers on {other.name} ({other.id}): {refusal or 'allowed'}")
    demo.story.expect(record, refusal == "Forbidden.RAM", f"the same change on {other.name} is refused")
    record.facts.update(
        {"ticket": OPERATOR_TICKET, "named": named.id, "other": other.id, "attached": attached, "refusal": refusal}
    )
