"""SLB through the official SDK: filters, paging and the JSON types the response models read."""

from __future__ import annotations

import pytest
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_tea_openapi.exceptions import ClientException

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import PROD_RESOURCE_GROUP_ID, Signing, slb_client

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")


@pytest.mark.parametrize("signing", ["v3", "v2"])
def test_describe_load_balancers_filters_and_pages(aliyun_emulator: Emulator, signing: Signing) -> None:
    slb = slb_client(aliyun_emulator, *ROOT_A, signing=signing)
    first = slb.describe_load_balancers(
        slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou", page_number=1, page_size=2)
    ).body
    assert (first.total_count, first.page_number, first.page_size) == (3, 1, 2)
    second = slb.describe_load_balancers(
        slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou", page_number=2, page_size=2)
    ).body
    ids = [lb.load_balancer_id for lb in first.load_balancers.load_balancer + second.load_balancers.load_balancer]
    assert ids == ["lb-bp1prod000000000001", "lb-bp1prod000000000002", "lb-bp1dflt000000000001"]
    balancer = first.load_balancers.load_balancer[0]
    assert isinstance(balancer.bandwidth, int)
    assert isinstance(balancer.create_time_stamp, int)
    assert balancer.resource_group_id == PROD_RESOURCE_GROUP_ID
    in_group = slb.describe_load_balancers(
        slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou", resource_group_id=PROD_RESOURCE_GROUP_ID)
    ).body
    assert in_group.total_count == 2
    shanghai = slb.describe_load_balancers(slb_models.DescribeLoadBalancersRequest(region_id="cn-shanghai")).body
    assert [lb.load_balancer_name for lb in shanghai.load_balancers.load_balancer] == ["shanghai-web"]
    by_id = slb.describe_load_balancers(
        slb_models.DescribeLoadBalancersRequest(
            region_id="cn-hangzhou", load_balancer_id="lb-bp1prod000000000002,lb-bp1dflt000000000001"
        )
    ).body
    assert by_id.total_count == 2


@pytest.mark.parametrize("signing", ["v3", "v2"])
def test_describe_load_balancer_attribute(aliyun_emulator: Emulator, signing: Signing) -> None:
    slb = slb_client(aliyun_emulator, *ROOT_A, signing=signing)
    body = slb.describe_load_balancer_attribute(
        slb_models.DescribeLoadBalancerAttributeRequest(load_balancer_id="lb-bp1prod000000000001")
    ).body
    assert (body.load_balancer_name, body.region_id, body.load_balancer_status) == ("prod-web", "cn-hangzhou", "active")
    assert body.backend_servers.backend_server == []
    with pytest.raises(ClientException) as info:
        slb.describe_load_balancer_attribute(
            slb_models.DescribeLoadBalancerAttributeRequest(load_balancer_id="lb-doesnotexist")
        )
    assert (info.value.code, info.value.status_code) == ("InvalidLoadBalancerId.NotFound", 404)


def test_region_is_required_and_page_size_bounded(aliyun_emulator: Emulator) -> None:
    slb = slb_client(aliyun_emulator, *ROOT_A)
    with pytest.raises(ClientException) as missing:
        slb.describe_load_balancers(slb_models.DescribeLoadBalancersRequest())
    assert missing.value.code == "MissingParameter"
    with pytest.raises(ClientException) as too_big:
        slb.describe_load_balancers(slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou", page_size=101))
    assert too_big.value.code == "InvalidParameter.PageSize"


def test_describe_health_status_follows_the_backends_and_the_listener(aliyun_emulator: Emulator) -> None:
    slb = slb_client(aliyun_emulator, *ROOT_A)
    lb = "lb-bp1prod000000000001"

    def health(**filters: object) -> list[tuple[int, str, str]]:
        request = slb_models.DescribeHealthStatusRequest(region_id="cn-hangzhou", load_balancer_id=lb, **filters)
        rows = slb.describe_health_status(request).body.backend_servers.backend_server
        return [(row.listener_port, row.server_id, row.server_health_status) for row in rows]

    assert health() == []  # no backend server yet
    servers = '[{"ServerId": "i-bp1prod0000001", "Weight": "100"}, {"ServerId": "i-bp1prod0000002", "Weight": "50"}]'
    slb.add_backend_servers(slb_models.AddBackendServersRequest(load_balancer_id=lb, backend_servers=servers))
    assert health() == [(80, "i-bp1prod0000001", "normal"), (80, "i-bp1prod0000002", "normal")]
    slb.stop_load_balancer_listener(slb_models.StopLoadBalancerListenerRequest(load_balancer_id=lb, listener_port=80))
    stopped = [(80, "i-bp1prod0000001", "unavailable"), (80, "i-bp1prod0000002", "unavailable")]
    assert health(listener_port=80) == stopped
    assert health(listener_port=443) == []
    assert health(listener_protocol="tcp") == []
    with pytest.raises(ClientException) as unknown:
        slb.describe_health_status(
            slb_models.DescribeHealthStatusRequest(region_id="cn-hangzhou", load_balancer_id="lb-doesnotexist")
        )
    assert (unknown.value.code, unknown.value.status_code) == ("InvalidLoadBalancerId.NotFound", 404)
