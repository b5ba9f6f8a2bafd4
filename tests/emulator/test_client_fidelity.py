"""What clients we did not write rely on: the differences found with the legacy SDK, pop-core and the Tea SDKs.

Each test sends what such a client sends (through the official Tea SDK or its generic ``call_api``, which puts
parameters on the wire exactly as given) and checks what the API reference documents.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import ENTERPRISE_B_UID, Signing, ram_client, sdk_config, slb_client

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
TRUST = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [f"acs:ram::{ENTERPRISE_B_UID}:root"]}}
        ],
    }
)


def rpc(emulator: Emulator, action: str, version: str, query: dict[str, str]) -> dict[str, Any]:
    """One call with exactly these parameters on the wire (as pop-core and the legacy SDK send them)."""
    params = Params(
        action=action,
        version=version,
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    client = OpenApiClient(sdk_config(emulator, *ROOT_A))
    answer: dict[str, Any] = client.call_api(params, OpenApiRequest(query=query), RuntimeOptions())
    return dict(answer["body"])


def code_of(call: Any) -> str:
    with pytest.raises(ClientException) as raised:
        call()
    return str(raised.value.code)


@pytest.mark.parametrize("signing", ["v3", "v2"])
def test_a_wrong_secret_quotes_the_server_string_to_sign(aliyun_emulator: Emulator, signing: Signing) -> None:
    client = ram_client(aliyun_emulator, ROOT_A[0], "not-the-secret", signing=signing)
    with pytest.raises(ClientException) as raised:
        client.list_users(ram_models.ListUsersRequest())

    assert raised.value.code == "SignatureDoesNotMatch"
    message = str(raised.value.message)
    assert " server string to sign is:" in message
    quoted = message.split(" server string to sign is:", 1)[1].split(" request id:")[0]
    assert quoted.startswith("ACS3-HMAC-SHA256\n" if signing == "v3" else "POST&%2F&")
    assert "not-the-secret" not in message


def test_flat_form_tags_are_stored_on_create_role_and_filter_list_roles(aliyun_emulator: Emulator) -> None:
    rpc(
        aliyun_emulator,
        "CreateRole",
        "2015-05-01",
        {"RoleName": "tagged", "AssumeRolePolicyDocument": TRUST, "Tag.1.Key": "team", "Tag.1.Value": "blue"},
    )
    rpc(aliyun_emulator, "CreateRole", "2015-05-01", {"RoleName": "plain", "AssumeRolePolicyDocument": TRUST})

    listed = rpc(aliyun_emulator, "ListRoles", "2015-05-01", {"Tag.1.Key": "team", "Tag.1.Value": "blue"})

    assert [role["RoleName"] for role in listed["Roles"]["Role"]] == ["tagged"]
    assert listed["Roles"]["Role"][0]["Tags"]["Tag"] == [{"TagKey": "team", "TagValue": "blue"}]


def test_tags_in_both_forms_or_a_value_without_its_key_are_refused(aliyun_emulator: Emulator) -> None:
    both = {"Tag": json.dumps([{"Key": "a", "Value": "b"}]), "Tag.1.Key": "a"}
    assert code_of(lambda: rpc(aliyun_emulator, "ListRoles", "2015-05-01", both)) == "InvalidParameter.Tag"
    orphan = {"Tag.2.Value": "b"}
    assert code_of(lambda: rpc(aliyun_emulator, "ListRoles", "2015-05-01", orphan)) == "InvalidParameter.Tag"


def describe(emulator: Emulator, **fields: Any) -> list[str]:
    request = slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou", **fields)
    body = slb_client(emulator, *ROOT_A).describe_load_balancers(request).body
    return sorted(lb.load_balancer_name for lb in body.load_balancers.load_balancer)


def test_slb_filters_are_applied_not_ignored(aliyun_emulator: Emulator) -> None:
    everything = ["prod-api", "prod-web", "staging-web"]
    assert describe(aliyun_emulator) == everything
    assert describe(aliyun_emulator, load_balancer_name="prod-web,staging-web") == ["prod-web", "staging-web"]
    assert describe(aliyun_emulator, load_balancer_status="active") == everything
    assert describe(aliyun_emulator, load_balancer_status="inactive") == []
    assert describe(aliyun_emulator, address_type="intranet") == everything
    assert describe(aliyun_emulator, address_type="internet") == []
    tag = slb_models.DescribeLoadBalancersRequestTag(key="team", value="blue")
    assert describe(aliyun_emulator, tag=[tag]) == []


def test_slb_lists_are_limited_to_ten_values(aliyun_emulator: Emulator) -> None:
    eleven = ",".join(f"lb-bp1prod00000000000{i:02d}" for i in range(11))
    ten = ",".join(f"lb-bp1prod00000000000{i:02d}" for i in range(10))
    assert describe(aliyun_emulator, load_balancer_id=ten) == []
    assert code_of(lambda: describe(aliyun_emulator, load_balancer_id=eleven)) == "InvalidParameter.LoadBalancerId"
    names = ",".join(f"name-{i}" for i in range(11))
    assert code_of(lambda: describe(aliyun_emulator, load_balancer_name=names)) == "InvalidParameter.LoadBalancerName"
    assert code_of(lambda: describe(aliyun_emulator, load_balancer_status="sleeping")) == (
        "InvalidParameter.LoadBalancerStatus"
    )


def test_slb_times_have_seconds_and_the_charge_type_is_a_code_with_its_alias(aliyun_emulator: Emulator) -> None:
    listed = rpc(aliyun_emulator, "DescribeLoadBalancers", "2014-05-15", {"RegionId": "cn-hangzhou"})
    first = listed["LoadBalancers"]["LoadBalancer"][0]
    assert first["CreateTime"] == "2024-01-01T00:00:00Z"
    assert (first["InternetChargeType"], first["InternetChargeTypeAlias"]) == ("4", "paybytraffic")
    one = rpc(
        aliyun_emulator, "DescribeLoadBalancerAttribute", "2014-05-15", {"LoadBalancerId": first["LoadBalancerId"]}
    )
    assert one["InternetChargeType"] == "paybytraffic"
    assert "InternetChargeTypeAlias" not in one


def signed_v2_query(params: dict[str, str], secret: str) -> str:
    """A legacy (HMAC-SHA1) RPC query, signed here from the published algorithm rather than by the emulator's code."""
    everything = {
        "AccessKeyId": ROOT_A[0],
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **params,
    }
    canonical = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(everything.items()))
    to_sign = f"GET&%2F&{quote(canonical, safe='~')}"
    signature = base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    return canonical + "&Signature=" + quote(signature, safe="~")


def get(emulator: Emulator, query: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    try:
        connection.request("GET", f"/?{query}")
        answer = connection.getresponse()
        return answer.status, str(answer.getheader("Content-Type")), answer.read()
    finally:
        connection.close()


def test_a_legacy_call_without_format_is_answered_in_xml_the_rpc_default(aliyun_emulator: Emulator) -> None:
    query = signed_v2_query({"Action": "ListResourceGroups", "Version": "2020-03-31"}, ROOT_A[1])

    status, content_type, body = get(aliyun_emulator, query)

    assert (status, content_type.split(";")[0]) == (200, "text/xml")
    root = ElementTree.fromstring(body)  # noqa: S314 - our own answer, over loopback
    assert root.tag == "ListResourceGroupsResponse"
    groups = root.findall("./ResourceGroups/ResourceGroup")
    assert [group.findtext("Name") for group in groups] == ["default", "prod"]
    assert root.findtext("TotalCount") == "2"


def test_format_json_and_xml_are_both_served_and_errors_follow_the_format(aliyun_emulator: Emulator) -> None:
    as_json = get(
        aliyun_emulator,
        signed_v2_query({"Action": "GetCallerIdentity", "Version": "2015-04-01", "Format": "JSON"}, ROOT_A[1]),
    )
    assert json.loads(as_json[2])["AccountId"] == "1111111111111111"
    refused = get(
        aliyun_emulator,
        signed_v2_query({"Action": "GetCallerIdentity", "Version": "2015-04-01", "Format": "XML"}, "wrong"),
    )
    root = ElementTree.fromstring(refused[2])  # noqa: S314 - our own answer, over loopback
    assert (refused[0], root.tag, root.findtext("Code")) == (400, "Error", "SignatureDoesNotMatch")
    odd = get(
        aliyun_emulator,
        signed_v2_query({"Action": "GetCallerIdentity", "Version": "2015-04-01", "Format": "YAML"}, ROOT_A[1]),
    )
    assert (odd[0], json.loads(odd[2])["Code"]) == (400, "InvalidParameter.Format")
