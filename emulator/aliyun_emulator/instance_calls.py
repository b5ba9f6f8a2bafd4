"""What the ALB, NLB and ECS calls share: the RegionId every call is routed by, authorization before lookup, DryRun
answers and NextToken pages.

The emulator serves every region on one endpoint; the real ALB API and ECS's instance calls take the region from the
regional endpoint instead of a parameter, so ``cloud.py`` sends ``RegionId`` as a query parameter when it talks to
the emulator and these products require it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.authorization import PRODUCT_DENIAL
from aliyun_emulator.core.errors import ApiError, invalid_parameter, missing_parameter
from aliyun_emulator.instances import Instance

SEED_CREATE_TIME = "2024-01-01T00:00:00Z"


def region_of(call: Call) -> str:
    region = call.params.optional("RegionId")
    if region is None:
        raise missing_parameter("RegionId")
    return region


def authorize(call: Call, action: str, arn: str, instance: Instance | None) -> None:
    """Authorization precedes any lookup, as at the cloud's gateway: an unknown id is refused, not 'not found'."""
    group = instance.resource_group_id if instance is not None else None
    call.authorize(action, arn, resource_group_id=group, denial_code=PRODUCT_DENIAL)


def listing_group(call: Call, action: str, arn: str) -> str | None:
    """A listing authorized on the region's wildcard ARN; a caller scoped to a group must name it."""
    group = call.params.optional("ResourceGroupId")
    call.authorize(action, arn, resource_group_id=group, denial_code=PRODUCT_DENIAL)
    return group


def dry_run(call: Call) -> None:
    """After authorization and validation, a DryRun request stops with the cloud's 'would have succeeded' answer."""
    if call.params.boolean("DryRun", default=False):
        raise ApiError("DryRunOperation", "Request validation has been passed with DryRun flag set.", 400)


def token_page(call: Call, items: list[dict[str, Any]], *, default_size: int = 20) -> tuple[list[dict[str, Any]], str]:
    """``MaxResults`` / ``NextToken`` paging: the token is the offset of the next page ("" on the last one)."""
    size = call.params.integer("MaxResults", default=default_size, minimum=1, maximum=100)
    token = call.params.optional("NextToken") or "0"
    if not token.isdigit() or int(token) > len(items):
        raise invalid_parameter("NextToken", "not a token this listing returned")
    start = int(token)
    end = start + size
    return items[start:end], str(end) if end < len(items) else ""


def requested_ids(call: Call, name: str) -> list[str]:
    ids = call.params.flat_list(name)
    if len(ids) > 20:
        raise invalid_parameter(name, "at most 20 ids")
    return ids


Summary = Callable[[Instance], dict[str, Any]]


def load_balancer_handlers(
    product: str,
    instances_of: Callable[[Call], dict[str, Instance]],
    summary: Summary,
    attribute_extra: Summary = lambda _lb: {},
) -> dict[str, Callable[[Call], dict[str, Any]]]:
    """ListLoadBalancers, GetLoadBalancerAttribute and UpdateLoadBalancerAttribute (rename, with DryRun) as ALB and
    NLB serve them, authorized on ``acs:{product}:{region}:{account}:loadbalancer/{id}`` (``/*`` for the listing)."""

    def arn(call: Call, region: str, lb_id: str) -> str:
        return f"acs:{product}:{region}:{call.account.uid}:loadbalancer/{lb_id}"

    def lookup(call: Call, action: str) -> Instance:
        region = region_of(call)
        lb_id = call.params.required("LoadBalancerId")
        lb = instances_of(call).get(lb_id)
        found = lb if lb is not None and lb.region == region else None
        authorize(call, f"{product}:{action}", arn(call, region, lb_id), found)
        if found is None:
            raise ApiError("ResourceNotFound.LoadBalancer", f"The specified resource {lb_id} is not found.", 404)
        return found

    def list_load_balancers(call: Call) -> dict[str, Any]:
        region = region_of(call)
        group = listing_group(call, f"{product}:ListLoadBalancers", arn(call, region, "*"))
        ids = requested_ids(call, "LoadBalancerIds")
        matches = [
            summary(lb)
            for lb in instances_of(call).values()
            if lb.region == region and (group is None or lb.resource_group_id == group) and (not ids or lb.id in ids)
        ]
        page, token = token_page(call, matches)
        return {"LoadBalancers": page, "MaxResults": len(page), "NextToken": token, "TotalCount": len(matches)}

    def get_load_balancer_attribute(call: Call) -> dict[str, Any]:
        lb = lookup(call, "GetLoadBalancerAttribute")
        return {**summary(lb), **attribute_extra(lb)}

    def update_load_balancer_attribute(call: Call) -> dict[str, Any]:
        lb = lookup(call, "UpdateLoadBalancerAttribute")
        name = call.params.optional("LoadBalancerName")
        dry_run(call)
        if name is not None:
            lb.name = name
        return {"JobId": f"job-{lb.id}"}

    return {
        "ListLoadBalancers": list_load_balancers,
        "GetLoadBalancerAttribute": get_load_balancer_attribute,
        "UpdateLoadBalancerAttribute": update_load_balancer_attribute,
    }
