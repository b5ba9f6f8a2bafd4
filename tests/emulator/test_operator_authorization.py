"""Authorization of the SLB operator calls and the ALB, NLB and ECS calls: per action, per resource ARN, per resource
group, and before any lookup. Each test tries to break one rule with a user holding a narrow custom policy."""

from __future__ import annotations

import json

import pytest
from cloud_direct import ROOT_A, UID_A, Cloud, allow

from aliyun_emulator.core.errors import ApiError

LB = "lb-bp1prod000000000001"
OTHER_LB = "lb-bp1prod000000000002"
PROD = "rg-aaaaaaaaaaaaa1"
SERVER = json.dumps([{"ServerId": "i-bp1prod0000001", "Weight": "50"}])


@pytest.fixture
def cloud() -> Cloud:
    return Cloud()


def user_with(cloud: Cloud, name: str, *statements: dict[str, object]) -> str:
    cloud.ram(ROOT_A, "CreateUser", UserName=name)
    document = json.dumps({"Version": "1", "Statement": list(statements)})
    cloud.ram(ROOT_A, "CreatePolicy", PolicyName=f"{name}-policy", PolicyDocument=document)
    cloud.ram(ROOT_A, "AttachPolicyToUser", UserName=name, PolicyType="Custom", PolicyName=f"{name}-policy")
    return str(cloud.ram(ROOT_A, "CreateAccessKey", UserName=name)["AccessKey"]["AccessKeyId"])


def statement(action: str | list[str], resource: str | list[str]) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def test_a_backend_change_needs_the_load_balancer_and_the_ecs_instance(cloud: Cloud) -> None:
    lb_arn = f"acs:slb:cn-hangzhou:{UID_A}:loadbalancer/{LB}"
    only_lb = user_with(cloud, "only-lb", statement("slb:AddBackendServers", lb_arn))
    assert cloud.refused(only_lb, "slb", "AddBackendServers", LoadBalancerId=LB, BackendServers=SERVER).code == (
        "Forbidden.RAM"
    )
    ecs_arn = f"acs:ecs:cn-hangzhou:{UID_A}:instance/i-bp1prod0000001"
    both = user_with(cloud, "both", statement("slb:AddBackendServers", [lb_arn, ecs_arn]))
    added = cloud.call(both, "slb", "AddBackendServers", LoadBalancerId=LB, BackendServers=SERVER)
    assert added["BackendServers"]["BackendServer"][0]["ServerId"] == "i-bp1prod0000001"
    assert cloud.refused(both, "slb", "AddBackendServers", LoadBalancerId=OTHER_LB, BackendServers=SERVER).code == (
        "Forbidden.RAM"
    )


def test_an_id_the_caller_may_not_touch_is_refused_whether_or_not_it_exists(cloud: Cloud) -> None:
    key = user_with(cloud, "one-lb", statement("slb:*", f"acs:slb:*:{UID_A}:loadbalancer/{LB}"))
    for lb_id in (OTHER_LB, "lb-bp1doesnotexist0001"):
        error = cloud.refused(key, "slb", "DescribeLoadBalancerAttribute", RegionId="cn-hangzhou", LoadBalancerId=lb_id)
        assert (error.code, error.status) == ("Forbidden.RAM", 403)
    root_error = cloud.refused(
        ROOT_A, "slb", "DescribeLoadBalancerAttribute", RegionId="cn-hangzhou", LoadBalancerId="lb-bp1doesnotexist0001"
    )
    assert root_error.code == "InvalidLoadBalancerId.NotFound"


def test_listener_switches_are_authorized_on_the_load_balancer(cloud: Cloud) -> None:
    key = user_with(cloud, "listener", statement("slb:StopLoadBalancerListener", f"acs:slb:*:*:loadbalancer/{LB}"))
    cloud.call(key, "slb", "StopLoadBalancerListener", LoadBalancerId=LB, ListenerPort="80")
    assert cloud.call(ROOT_A, "slb", "DescribeLoadBalancerAttribute", LoadBalancerId=LB)["ListenerPorts"] == {
        "ListenerPort": [80]
    }
    assert cloud.refused(key, "slb", "StartLoadBalancerListener", LoadBalancerId=LB, ListenerPort="80").code == (
        "Forbidden.RAM"
    )
    assert cloud.refused(key, "slb", "StopLoadBalancerListener", LoadBalancerId=OTHER_LB, ListenerPort="80").code == (
        "Forbidden.RAM"
    )


@pytest.mark.parametrize(
    ("product", "action", "params"),
    [
        ("alb", "ListLoadBalancers", {"RegionId": "cn-hangzhou"}),
        ("nlb", "ListLoadBalancers", {"RegionId": "cn-hangzhou"}),
        ("ecs", "DescribeInstances", {"RegionId": "cn-hangzhou"}),
    ],
)
def test_a_group_scoped_listing_must_name_its_group_and_sees_only_it(
    cloud: Cloud, product: str, action: str, params: dict[str, str]
) -> None:
    cloud.ram(ROOT_A, "CreateUser", UserName="auditor")
    document = allow(f"{product}:{action}", f"acs:{product}:cn-hangzhou:{UID_A}:*")
    cloud.ram(ROOT_A, "CreatePolicy", PolicyName="audit", PolicyDocument=document)
    cloud.call(
        ROOT_A,
        "resourcemanager",
        "AttachPolicy",
        ResourceGroupId=PROD,
        PolicyType="Custom",
        PolicyName="audit",
        PrincipalType="IMSUser",
        PrincipalName="auditor@enterprise-a.onaliyun.com",
    )
    key = str(cloud.ram(ROOT_A, "CreateAccessKey", UserName="auditor")["AccessKey"]["AccessKeyId"])
    assert cloud.refused(key, product, action, **params).code == "Forbidden.RAM"
    listed = cloud.call(key, product, action, ResourceGroupId=PROD, **params)
    entries = listed["LoadBalancers"] if product != "ecs" else listed["Instances"]["Instance"]
    assert entries
    assert {entry["ResourceGroupId"] for entry in entries} == {PROD}
    other_region = {**params, "RegionId": "cn-shanghai"}
    assert cloud.refused(key, product, action, ResourceGroupId=PROD, **other_region).code == "Forbidden.RAM"


def test_a_dry_run_write_is_authorized_and_changes_nothing(cloud: Cloud) -> None:
    key = user_with(
        cloud, "stopper", statement("ecs:StopInstance", f"acs:ecs:cn-hangzhou:{UID_A}:instance/i-bp1prod0000001")
    )
    with pytest.raises(ApiError) as dry:
        cloud.call(key, "ecs", "StopInstance", InstanceId="i-bp1prod0000001", DryRun="true")
    assert dry.value.code == "DryRunOperation"
    assert cloud.call(ROOT_A, "ecs", "DescribeInstanceAttribute", InstanceId="i-bp1prod0000001")["Status"] == "Running"
    refused = cloud.refused(key, "ecs", "StopInstance", InstanceId="i-bp1prod0000002", DryRun="true")
    assert refused.code == "Forbidden.RAM"
    cloud.call(key, "ecs", "StopInstance", InstanceId="i-bp1prod0000001")
    assert cloud.call(ROOT_A, "ecs", "DescribeInstanceAttribute", InstanceId="i-bp1prod0000001")["Status"] == "Stopped"
