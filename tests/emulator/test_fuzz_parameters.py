"""Authenticated calls with garbage parameters: every action answers a JSON body or a 4xx ``ApiError``, never a crash.

The capture fuzz (``test_fuzz_captures``) breaks requests on the wire, so almost all of them stop at the signature.
This one starts after authentication: it hands every action of every product thousands of random parameter sets —
wrong types, empty and oversized values, malformed policy JSON and tags, names of entities that do and do not exist —
from a root, a RAM user and a role-session caller. An exception other than a 4xx ``ApiError`` would be a 500 on the
wire.
"""

from __future__ import annotations

import json
import random
from collections import Counter

from cloud_direct import ROOT_A, ROOT_B, UID_A, UID_B, Cloud, allow, trust_policy

from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.state import PRODUCTS

CALLS_PER_ACTION = 120
VALID_POLICY = allow("slb:Describe*")
VALID_TRUST = trust_policy(f"acs:ram::{UID_B}:user/alice")

PARAMETER_NAMES = [
    "All",
    "AllowConsoleLogin",
    "AssumeRolePolicyDocument",
    "CascadingDelete",
    "Comments",
    "Description",
    "DisplayName",
    "DurationSeconds",
    "Email",
    "ExternalId",
    "LoadBalancerId",
    "LoadBalancerName",
    "Marker",
    "MaxItems",
    "MaxSessionDuration",
    "MobilePhone",
    "Name",
    "NewAllowConsoleLogin",
    "NewAssumeRolePolicyDocument",
    "NewComments",
    "NewDescription",
    "NewDisplayName",
    "NewMaxSessionDuration",
    "NewUserName",
    "NextToken",
    "PageNumber",
    "PageSize",
    "Policy",
    "PolicyDocument",
    "PolicyName",
    "PolicyType",
    "PrincipalName",
    "PrincipalType",
    "RegionId",
    "SecretName",
    "VersionStage",
    "ResourceGroupId",
    "ResourceGroupIds.1",
    "ResourceNames",
    "ResourceType",
    "RoleArn",
    "RoleName",
    "RoleSessionName",
    "RotateStrategy",
    "SetAsDefault",
    "SourceIdentity",
    "Status",
    "Tag",
    "Tag.1.Key",
    "Tag.1.Value",
    "TagKeys",
    "UserAccessKeyId",
    "UserName",
    "VersionId",
]

VALUES = [
    "",
    " ",
    "r1",
    "u1",
    "p1",
    "alice",
    "System",
    "Custom",
    "AliyunSLBReadOnlyAccess",
    "role",
    "policy",
    "v1",
    "v9",
    "true",
    "False",
    "0",
    "-1",
    "900",
    "3600",
    "1e3",
    "99999999999999999999",
    "NaN",
    "null",
    "[]",
    "{}",
    '["r1", "r1"]',
    '[{"Key": "k", "Value": "v"}]',
    '[{"Key": 1}]',
    '[{"Key": "acs:x", "Value": "v"}]',
    '{"Key": "k"}',
    VALID_POLICY,
    VALID_TRUST,
    '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": 1, "Resource": "*"}]}',
    '{"Version": "1"',
    "x" * 2049,
    "x" * 7000,
    "ü\u0000\ud800",
    "cn-hangzhou",
    "rg-aaaaaaaaaaaaa1",
    UID_A,
    "lb-bp1prod000000000001",
    "r1@role.enterprise-a.onaliyunservice.com",
    "u1@enterprise-a.onaliyun.com",
    "IMSUser",
    "ServiceRole",
    f"acs:ram::{UID_A}:role/r1",
    "Inactive",
]


TAG = '[{"Key": "k", "Value": "v"}]'
GRANT = {
    "ResourceGroupId": "rg-aaaaaaaaaaaaa1",
    "PolicyType": "System",
    "PolicyName": "AliyunSLBReadOnlyAccess",
    "PrincipalType": "ServiceRole",
    "PrincipalName": "r1@role.enterprise-a.onaliyunservice.com",
}
ADMIN_KEY = "<the admin user's AccessKeyId>"
LB = {"RegionId": "cn-hangzhou", "LoadBalancerId": "lb-bp1prod000000000001"}
VALID_CALLS: dict[str, dict[str, str]] = {
    "CreateRole": {"RoleName": "r2", "AssumeRolePolicyDocument": VALID_TRUST, "MaxSessionDuration": "3600"},
    "GetRole": {"RoleName": "r1"},
    "UpdateRole": {"RoleName": "r1", "NewAssumeRolePolicyDocument": VALID_TRUST, "NewMaxSessionDuration": "7200"},
    "DeleteRole": {"RoleName": "bare"},
    "ListRoles": {"MaxItems": "10", "Tag": TAG},
    "CreatePolicy": {"PolicyName": "p2", "PolicyDocument": VALID_POLICY, "Tag": TAG},
    "GetPolicy": {"PolicyName": "p1", "PolicyType": "Custom"},
    "DeletePolicy": {"PolicyName": "p1", "CascadingDelete": "true"},
    "ListPolicies": {"MaxItems": "5", "PolicyType": "System"},
    "CreatePolicyVersion": {"PolicyName": "p1", "PolicyDocument": VALID_POLICY, "SetAsDefault": "true"},
    "GetPolicyVersion": {"PolicyName": "p1", "PolicyType": "Custom", "VersionId": "v1"},
    "ListPolicyVersions": {"PolicyName": "p1", "PolicyType": "Custom"},
    "SetDefaultPolicyVersion": {"PolicyName": "p1", "VersionId": "v1"},
    "DeletePolicyVersion": {"PolicyName": "p1", "VersionId": "v2"},
    "AttachPolicyToRole": {"RoleName": "r1", "PolicyType": "Custom", "PolicyName": "p1"},
    "DetachPolicyFromRole": {"RoleName": "r1", "PolicyType": "System", "PolicyName": "AliyunSLBReadOnlyAccess"},
    "AttachPolicyToUser": {"UserName": "u1", "PolicyType": "Custom", "PolicyName": "p1"},
    "DetachPolicyFromUser": {"UserName": "u1", "PolicyType": "System", "PolicyName": "AdministratorAccess"},
    "ListPoliciesForRole": {"RoleName": "r1"},
    "ListPoliciesForUser": {"UserName": "u1"},
    "ListEntitiesForPolicy": {"PolicyType": "System", "PolicyName": "AliyunSLBReadOnlyAccess"},
    "CreateUser": {"UserName": "u2", "DisplayName": "u2"},
    "GetUser": {"UserName": "u1"},
    "UpdateUser": {"UserName": "u1", "NewDisplayName": "x", "NewComments": "c"},
    "DeleteUser": {"UserName": "bare"},
    "ListUsers": {"MaxItems": "10"},
    "CreateAccessKey": {"UserName": "u1"},
    "DeleteAccessKey": {"UserName": "u1", "UserAccessKeyId": ADMIN_KEY},
    "UpdateAccessKey": {"UserName": "u1", "UserAccessKeyId": ADMIN_KEY, "Status": "Active"},
    "ListAccessKeys": {"UserName": "u1"},
    "TagResources": {"ResourceType": "role", "ResourceNames": '["r1"]', "Tag": TAG},
    "UntagResources": {"ResourceType": "role", "ResourceNames": '["r1"]', "TagKeys": '["k"]'},
    "ListTagResources": {"ResourceType": "role", "ResourceNames": '["r1"]'},
    "AssumeRole": {
        "RoleArn": f"acs:ram::{UID_A}:role/r1",
        "RoleSessionName": "s2",
        "DurationSeconds": "900",
        "Policy": VALID_POLICY,
    },
    "GetCallerIdentity": {},
    "DescribeLoadBalancers": {"RegionId": "cn-hangzhou", "PageSize": "2"},
    "GetSecretValue": {"SecretName": "ram-delegate/owner/webhook", "VersionStage": "ACSCurrent"},
    "DescribeLoadBalancerAttribute": {"LoadBalancerId": "lb-bp1prod000000000001"},
    "DescribeHealthStatus": {**LB, "ListenerPort": "80", "ListenerProtocol": "http"},
    "ListResourceGroups": {"PageSize": "1"},
    "AttachPolicy": {**GRANT, "PolicyName": "AliyunSLBFullAccess"},
    "DetachPolicy": GRANT,
    "ListPolicyAttachments": {"ResourceGroupId": "rg-aaaaaaaaaaaaa1"},
    "AddBackendServers": {**LB, "BackendServers": '[{"ServerId": "i-bp1prod0000002", "Weight": "50"}]'},
    "RemoveBackendServers": {**LB, "BackendServers": '[{"ServerId": "i-bp1prod0000001"}]'},
    "SetBackendServers": {**LB, "BackendServers": '[{"ServerId": "i-bp1prod0000001", "Weight": "20"}]'},
    "StartLoadBalancerListener": {**LB, "ListenerPort": "80"},
    "StopLoadBalancerListener": {**LB, "ListenerPort": "80"},
    "ListLoadBalancers": {"RegionId": "cn-hangzhou", "MaxResults": "1"},
    "alb:GetLoadBalancerAttribute": {"RegionId": "cn-hangzhou", "LoadBalancerId": "alb-prod0000001"},
    "alb:UpdateLoadBalancerAttribute": {
        "RegionId": "cn-hangzhou",
        "LoadBalancerId": "alb-prod0000001",
        "LoadBalancerName": "n",
    },
    "nlb:GetLoadBalancerAttribute": {"RegionId": "cn-hangzhou", "LoadBalancerId": "nlb-prod0000001"},
    "nlb:UpdateLoadBalancerAttribute": {
        "RegionId": "cn-hangzhou",
        "LoadBalancerId": "nlb-prod0000001",
        "LoadBalancerName": "n",
    },
    "DescribeInstances": {"RegionId": "cn-hangzhou", "PageSize": "2"},
    "DescribeInstanceAttribute": {"InstanceId": "i-bp1prod0000001"},
    "StopInstance": {"InstanceId": "i-bp1prod0000001"},
}
"""One valid call per action (against ``prepared_cloud``), keyed ``product:Action`` where two products share an
action name; the fuzz mutates these so that calls get past the first parameter check and reach the rules, the
authorization and the state."""


def valid_call(product: str, action: str) -> dict[str, str]:
    qualified = f"{product}:{action}"
    return VALID_CALLS[qualified if qualified in VALID_CALLS else action]


def prepared_cloud() -> tuple[Cloud, list[str], str]:
    """Account A with roles, users, a two-version policy and a scoped grant.

    Callers: A's root, A's admin user, B's partner user and its session in A's role.
    """
    cloud = Cloud()
    cloud.ram(ROOT_A, "CreatePolicy", PolicyName="p1", PolicyDocument=VALID_POLICY)
    cloud.ram(ROOT_A, "CreatePolicyVersion", PolicyName="p1", PolicyDocument=VALID_POLICY)
    cloud.partner_role("r1", "AliyunSLBReadOnlyAccess")
    cloud.partner_role("bare")
    cloud.ram(ROOT_A, "CreateUser", UserName="bare")
    cloud.call(ROOT_A, "resourcemanager", "AttachPolicy", **GRANT)
    cloud.call(ROOT_A, "slb", "AddBackendServers", **LB, BackendServers='[{"ServerId": "i-bp1prod0000001"}]')
    cloud.state.accounts[UID_A].kms.put("ram-delegate/owner/webhook", "whsec-fuzz")
    admin, _secret = cloud.user_with_key(ROOT_A, "u1", "AdministratorAccess")
    alice, _secret = cloud.user_with_key(ROOT_B, "alice", "AliyunSTSAssumeRoleAccess")
    session = cloud.assume(alice, "r1")
    return cloud, [ROOT_A, admin, session, alice], admin


def mutated(rng: random.Random, valid: dict[str, str], admin_key: str) -> dict[str, str]:
    """The valid call with 0-3 parameters replaced by garbage, dropped, or added."""
    params = {name: admin_key if value == ADMIN_KEY else value for name, value in valid.items()}
    for _ in range(rng.randint(0, 3)):
        change = rng.random()
        if params and change < 0.5:
            params[rng.choice(sorted(params))] = rng.choice(VALUES)
        elif params and change < 0.7:
            del params[rng.choice(sorted(params))]
        else:
            params[rng.choice(PARAMETER_NAMES)] = rng.choice(VALUES)
    return params


def answer(cloud: Cloud, caller: str, product: str, action: str, params: dict[str, str]) -> tuple[int, str]:
    """(200, "ok:<action>") for a JSON-able success, else the refusal's (status, code)."""
    try:
        json.dumps(cloud.call(caller, product, action, **params))
    except ApiError as error:
        return error.status, error.code
    return 200, f"ok:{action}"


def test_every_action_has_a_valid_call_in_the_table() -> None:
    served = {(product, action) for product, (handlers, _read_only) in PRODUCTS.items() for action in handlers}
    keys = {f"{product}:{action}" if f"{product}:{action}" in VALID_CALLS else action for product, action in served}
    assert keys == set(VALID_CALLS)


def test_random_parameters_never_crash_an_action() -> None:
    rng = random.Random(20261128)
    outcomes: Counter[str] = Counter()

    for product, (handlers, _read_only) in sorted(PRODUCTS.items()):
        for action in sorted(handlers):
            cloud, callers, admin = prepared_cloud()
            for _ in range(CALLS_PER_ACTION):
                params = mutated(rng, valid_call(product, action), admin)
                caller = rng.choice([key for key in callers if cloud.state.resolve_access_key(key) is not None])
                status, code = answer(cloud, caller, product, action, params)
                assert status == 200 or 400 <= status < 500, (product, action, params, code)
                outcomes[code] += 1

    succeeded = {code.removeprefix("ok:") for code in outcomes if code.startswith("ok:")}
    assert succeeded == {action.rsplit(":", 1)[-1] for action in VALID_CALLS}
    assert outcomes["MalformedPolicyDocument"] > 0
    assert outcomes["InvalidParameter.PolicyGrammar"] > 0
