"""The legacy Python SDK (``aliyun-python-sdk-core`` with ``-ram``, ``-sts``, ``-slb``), a client we did not write.

It signs the legacy way (HMAC-SHA1, every parameter in the query), parses error messages itself (a
wrong secret must become its own ``InvalidAccessKeySecret``, not an ``IndexError``) and reads JSON answers by hand.
The seed's procedure and its main refusals run through it unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest
from aliyunsdkram.request.v20150501 import (
    AttachPolicyToRoleRequest,
    AttachPolicyToUserRequest,
    CreateAccessKeyRequest,
    CreateRoleRequest,
    CreateUserRequest,
    DetachPolicyFromRoleRequest,
    ListRolesRequest,
)
from aliyunsdkslb.request.v20140515 import DescribeLoadBalancersRequest
from aliyunsdksts.request.v20150401 import AssumeRoleRequest, GetCallerIdentityRequest

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
ROOT_B = ("AKIDENTERPRISEB0000001", "secret-b")
ROLE_ARN = f"acs:ram::{ENTERPRISE_A_UID}:role/partner-slb"


class Legacy:
    """An ``AcsClient`` aimed at the emulator (plain HTTP on its port, no retries)."""

    def __init__(self, emulator: Emulator, key_id: str, secret: str, token: str | None = None) -> None:
        credential = StsTokenCredential(key_id, secret, token) if token else None
        self.emulator = emulator
        self.client = (
            AcsClient(region_id="cn-hangzhou", credential=credential, auto_retry=False, port=emulator.port)
            if credential
            else AcsClient(key_id, secret, "cn-hangzhou", auto_retry=False, port=emulator.port)
        )

    def call(self, request: RpcRequest, **params: Any) -> dict[str, Any]:
        request.set_endpoint(self.emulator.host)
        request.set_protocol_type("http")
        for name, value in params.items():
            getattr(request, f"set_{name}")(value)
        answer: dict[str, Any] = json.loads(self.client.do_action_with_exception(request))
        return answer


def refused(call: Any) -> str:
    with pytest.raises((ServerException, ClientException)) as raised:
        call()
    return str(raised.value.get_error_code())


def trust(principal: str) -> str:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [principal]}}
    return json.dumps({"Version": "1", "Statement": [statement]})


def partner_user(emulator: Emulator, name: str, *system_policies: str) -> Legacy:
    root_b = Legacy(emulator, *ROOT_B)
    root_b.call(CreateUserRequest.CreateUserRequest(), UserName=name)
    for policy in system_policies:
        root_b.call(
            AttachPolicyToUserRequest.AttachPolicyToUserRequest(), UserName=name, PolicyType="System", PolicyName=policy
        )
    key = root_b.call(CreateAccessKeyRequest.CreateAccessKeyRequest(), UserName=name)["AccessKey"]
    return Legacy(emulator, key["AccessKeyId"], key["AccessKeySecret"])


def test_the_seed_procedure_through_the_legacy_sdk(aliyun_emulator: Emulator) -> None:
    root_a = Legacy(aliyun_emulator, *ROOT_A)
    created = root_a.call(
        CreateRoleRequest.CreateRoleRequest(),
        RoleName="partner-slb",
        AssumeRolePolicyDocument=trust(f"acs:ram::{ENTERPRISE_B_UID}:user/alice"),
        Tag=[{"Key": "grant", "Value": "g-42"}],
    )
    assert created["Role"]["Arn"] == ROLE_ARN
    tagged = root_a.call(ListRolesRequest.ListRolesRequest(), Tag=[{"Key": "grant", "Value": "g-42"}])
    assert [role["RoleName"] for role in tagged["Roles"]["Role"]] == ["partner-slb"]
    attachment = {"RoleName": "partner-slb", "PolicyType": "System", "PolicyName": "AliyunSLBReadOnlyAccess"}
    root_a.call(AttachPolicyToRoleRequest.AttachPolicyToRoleRequest(), **attachment)

    alice = partner_user(aliyun_emulator, "alice", "AliyunSTSAssumeRoleAccess")
    issued = alice.call(
        AssumeRoleRequest.AssumeRoleRequest(), RoleArn=ROLE_ARN, RoleSessionName="grant-42", DurationSeconds=900
    )
    credentials = issued["Credentials"]
    session = Legacy(
        aliyun_emulator, credentials["AccessKeyId"], credentials["AccessKeySecret"], credentials["SecurityToken"]
    )
    identity = session.call(GetCallerIdentityRequest.GetCallerIdentityRequest())
    assert (identity["IdentityType"], identity["AccountId"]) == ("AssumedRoleUser", ENTERPRISE_A_UID)
    listed = session.call(DescribeLoadBalancersRequest.DescribeLoadBalancersRequest())
    assert listed["TotalCount"] == 3

    root_a.call(DetachPolicyFromRoleRequest.DetachPolicyFromRoleRequest(), **attachment)
    assert refused(lambda: session.call(DescribeLoadBalancersRequest.DescribeLoadBalancersRequest())) == (
        "Forbidden.RAM"
    )


def test_the_main_refusals_through_the_legacy_sdk(aliyun_emulator: Emulator) -> None:
    root_a = Legacy(aliyun_emulator, *ROOT_A)
    root_a.call(
        CreateRoleRequest.CreateRoleRequest(),
        RoleName="partner-slb",
        AssumeRolePolicyDocument=trust(f"acs:ram::{ENTERPRISE_B_UID}:user/alice"),
    )
    wrong_secret = Legacy(aliyun_emulator, ROOT_A[0], "not-the-secret")
    assert refused(lambda: wrong_secret.call(GetCallerIdentityRequest.GetCallerIdentityRequest())) == (
        "InvalidAccessKeySecret"
    )
    unknown_key = Legacy(aliyun_emulator, "AKIDUNKNOWN0000000001", "x")
    assert refused(lambda: unknown_key.call(GetCallerIdentityRequest.GetCallerIdentityRequest())) == (
        "InvalidAccessKeyId.NotFound"
    )
    assume = {"RoleArn": ROLE_ARN, "RoleSessionName": "grant-42"}
    root_b = Legacy(aliyun_emulator, *ROOT_B)
    assert refused(lambda: root_b.call(AssumeRoleRequest.AssumeRoleRequest(), **assume)) == "NoPermission"
    no_permission = partner_user(aliyun_emulator, "alice")
    assert refused(lambda: no_permission.call(AssumeRoleRequest.AssumeRoleRequest(), **assume)) == "NoPermission"
    untrusted = partner_user(aliyun_emulator, "mallory", "AliyunSTSAssumeRoleAccess")
    assert refused(lambda: untrusted.call(AssumeRoleRequest.AssumeRoleRequest(), **assume)) == "NoPermission"
    assert refused(
        lambda: root_a.call(DescribeLoadBalancersRequest.DescribeLoadBalancersRequest(), LoadBalancerStatus="sleeping")
    ) == ("InvalidParameter.LoadBalancerStatus")
    assert refused(
        lambda: root_a.call(DescribeLoadBalancersRequest.DescribeLoadBalancersRequest(), ServerId="i-123")
    ) == ("InvalidParameter")
