"""ECS actions over the seeded instances: DescribeInstances, DescribeInstanceAttribute and StopInstance (with
DryRun), authorized on ``acs:ecs:{region}:{account}:instance/{id}`` (``instance/*`` for the listing)."""

from __future__ import annotations

from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.errors import ApiError, invalid_parameter
from aliyun_emulator.instance_calls import SEED_CREATE_TIME, authorize, dry_run, listing_group, region_of
from aliyun_emulator.instances import Instance
from aliyun_emulator.params import page_params

Body = dict[str, Any]
MAX_IDS = 100


def _arn(call: Call, region: str, instance_id: str) -> str:
    return f"acs:ecs:{region}:{call.account.uid}:instance/{instance_id}"


def _summary(instance: Instance) -> Body:
    suffix = instance.id.removeprefix("i-")
    return {
        "CreationTime": SEED_CREATE_TIME.removesuffix(":00Z") + "Z",
        "Description": "",
        "HostName": instance.name,
        "InstanceChargeType": "PostPaid",
        "InstanceId": instance.id,
        "InstanceName": instance.name,
        "InstanceNetworkType": "vpc",
        "InstanceType": "ecs.g7.large",
        "OSType": "linux",
        "RegionId": instance.region,
        "ResourceGroupId": instance.resource_group_id or "",
        "Status": instance.status,
        "VpcAttributes": {"VpcId": f"vpc-{suffix}", "VSwitchId": f"vsw-{suffix}"},
        "ZoneId": f"{instance.region}-a",
    }


def _instance(call: Call, action: str) -> Instance:
    """The named instance, authorized first (the ARN's region is the instance's, or RegionId for an unknown id)."""
    instance_id = call.params.required("InstanceId")
    instance = call.account.ecs.get(instance_id)
    region = call.params.optional("RegionId") or (instance.region if instance is not None else None)
    if region is None:  # an unknown id and no region: there is no ARN to authorize, nothing to find
        raise _not_found(instance_id)
    found = instance if instance is not None and instance.region == region else None
    authorize(call, action, _arn(call, region, instance_id), found)
    if found is None:
        raise _not_found(instance_id)
    return found


def _not_found(instance_id: str) -> ApiError:
    return ApiError("InvalidInstanceId.NotFound", f"The specified InstanceId does not exist: {instance_id}.", 404)


def describe_instances(call: Call) -> Body:
    region = region_of(call)
    group = listing_group(call, "ecs:DescribeInstances", _arn(call, region, "*"))
    ids_text = call.params.optional("InstanceIds")
    ids = call.params.string_list("InstanceIds", max_items=MAX_IDS) if ids_text is not None else None
    page_number, page_size = page_params(call.params, default_size=10, max_size=100)
    dry_run(call)
    matches = [
        _summary(instance)
        for instance in call.account.ecs.values()
        if instance.region == region
        and (group is None or instance.resource_group_id == group)
        and (ids is None or instance.id in ids)
    ]
    start = (page_number - 1) * page_size
    return {
        "Instances": {"Instance": matches[start : start + page_size]},
        "NextToken": "",
        "PageNumber": page_number,
        "PageSize": page_size,
        "TotalCount": len(matches),
    }


def describe_instance_attribute(call: Call) -> Body:
    summary = _summary(_instance(call, "ecs:DescribeInstanceAttribute"))
    del summary["ResourceGroupId"], summary["OSType"]  # not part of the attribute model
    return summary


def stop_instance(call: Call) -> Body:
    instance = _instance(call, "ecs:StopInstance")
    if call.params.optional("StoppedMode") not in (None, "KeepCharging", "StopCharging"):
        raise invalid_parameter("StoppedMode", "must be KeepCharging or StopCharging")
    dry_run(call)
    if instance.status != "Running":
        raise ApiError("IncorrectInstanceStatus", "The current status of the resource does not support this operation.")
    instance.status = "Stopped"
    return {}


HANDLERS = {
    "DescribeInstances": describe_instances,
    "DescribeInstanceAttribute": describe_instance_attribute,
    "StopInstance": stop_instance,
}
READ_ONLY = frozenset({"DescribeInstances", "DescribeInstanceAttribute"})
