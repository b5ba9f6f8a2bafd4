"""The parameters each emulated action implements: anything else is refused before the action runs.

A real service ignores nothing it documents; an emulator that silently ignored a filter or a setting it does not
model would answer 200 with the wrong thing (every load balancer for a status filter, a role without its tags). So
each action lists the parameters its handler reads, and a call carrying any other one is answered
``InvalidParameter`` and changes nothing. Indexed names are written with ``N`` (``Tag.N.Key`` covers ``Tag.1.Key`` to
``Tag.999.Key``). ``RegionId`` is accepted everywhere: the legacy SDK sends it with every call, and the ALB, NLB,
ECS and KMS handlers take the region from it. Every action the emulator serves has an entry. The ALB, NLB and ECS
ones read the filters and pages ram-delegate's probes send, and little more: their status, name, tag, zone and VPC
filters, ``ClientToken``, and ECS's ``NextToken`` pages are refused, as are KMS's ``VersionId`` and ``DryRun``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from aliyun_emulator.core.errors import ApiError

COMMON = frozenset({"RegionId"})
_TAGS = ("Tag", "Tag.N.Key", "Tag.N.Value")
_ATTACH = ("PolicyName", "PolicyType", "ResourceGroupId")
_RM_GRANT = ("PolicyName", "PolicyType", "PrincipalName", "PrincipalType", "ResourceGroupId")
_LB_LIST = ("LoadBalancerIds.N", "MaxResults", "NextToken", "ResourceGroupId")
"""ALB and NLB listings: the id and group filters and the token pages (``instance_calls.load_balancer_handlers``)."""
_LB_RENAME = ("LoadBalancerId", "LoadBalancerName", "DryRun")


def _table(entries: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    return {action: frozenset(names) for action, names in entries.items()}


IMPLEMENTED: dict[str, frozenset[str]] = _table(
    {
        "ram:CreateRole": (
            "RoleName",
            "AssumeRolePolicyDocument",
            "Description",
            "MaxSessionDuration",
            "AllowConsoleLogin",
            *_TAGS,
        ),
        "ram:GetRole": ("RoleName",),
        "ram:UpdateRole": (
            "RoleName",
            "NewAssumeRolePolicyDocument",
            "NewDescription",
            "NewMaxSessionDuration",
            "NewAllowConsoleLogin",
        ),
        "ram:DeleteRole": ("RoleName",),
        "ram:ListRoles": ("Marker", "MaxItems", *_TAGS),
        "ram:CreatePolicy": ("PolicyName", "PolicyDocument", "Description", *_TAGS),
        "ram:GetPolicy": ("PolicyName", "PolicyType"),
        "ram:DeletePolicy": ("PolicyName", "CascadingDelete"),
        "ram:ListPolicies": ("Marker", "MaxItems", "PolicyType", *_TAGS),
        "ram:CreatePolicyVersion": ("PolicyName", "PolicyDocument", "SetAsDefault", "RotateStrategy"),
        "ram:GetPolicyVersion": ("PolicyName", "PolicyType", "VersionId"),
        "ram:ListPolicyVersions": ("PolicyName", "PolicyType"),
        "ram:SetDefaultPolicyVersion": ("PolicyName", "VersionId"),
        "ram:DeletePolicyVersion": ("PolicyName", "VersionId"),
        "ram:AttachPolicyToRole": ("RoleName", *_ATTACH),
        "ram:DetachPolicyFromRole": ("RoleName", *_ATTACH),
        "ram:AttachPolicyToUser": ("UserName", *_ATTACH),
        "ram:DetachPolicyFromUser": ("UserName", *_ATTACH),
        "ram:ListPoliciesForRole": ("RoleName",),
        "ram:ListPoliciesForUser": ("UserName",),
        "ram:ListEntitiesForPolicy": ("PolicyName", "PolicyType"),
        "ram:CreateUser": ("UserName", "DisplayName", "Comments", "Email", "MobilePhone"),
        "ram:GetUser": ("UserName",),
        "ram:UpdateUser": (
            "UserName",
            "NewUserName",
            "NewDisplayName",
            "NewComments",
            "NewEmail",
            "NewMobilePhone",
        ),
        "ram:DeleteUser": ("UserName",),
        "ram:ListUsers": ("Marker", "MaxItems"),
        "ram:CreateAccessKey": ("UserName",),
        "ram:DeleteAccessKey": ("UserName", "UserAccessKeyId"),
        "ram:UpdateAccessKey": ("UserName", "UserAccessKeyId", "Status"),
        "ram:ListAccessKeys": ("UserName",),
        "ram:TagResources": ("ResourceType", "ResourceNames", *_TAGS),
        "ram:UntagResources": ("ResourceType", "ResourceNames", "TagKeys", "All"),
        "ram:ListTagResources": ("ResourceType", "ResourceNames", "NextToken", "PageSize", *_TAGS),
        "sts:AssumeRole": ("RoleArn", "RoleSessionName", "DurationSeconds", "Policy", "ExternalId", "SourceIdentity"),
        "sts:GetCallerIdentity": (),
        "resourcemanager:ListResourceGroups": (
            "Name",
            "PageNumber",
            "PageSize",
            "ResourceGroupId",
            "ResourceGroupIds.N",
        ),
        "resourcemanager:AttachPolicy": _RM_GRANT,
        "resourcemanager:DetachPolicy": _RM_GRANT,
        "resourcemanager:ListPolicyAttachments": ("PageNumber", "PageSize", *_RM_GRANT),
        "slb:DescribeLoadBalancers": (
            "LoadBalancerId",
            "LoadBalancerName",
            "LoadBalancerStatus",
            "AddressType",
            "PageNumber",
            "PageSize",
            "ResourceGroupId",
            "Tag.N.Key",
            "Tag.N.Value",
        ),
        "slb:DescribeLoadBalancerAttribute": ("LoadBalancerId",),
        "slb:DescribeHealthStatus": ("LoadBalancerId", "ListenerPort", "ListenerProtocol"),
        "slb:AddBackendServers": ("LoadBalancerId", "BackendServers"),
        "slb:RemoveBackendServers": ("LoadBalancerId", "BackendServers"),
        "slb:SetBackendServers": ("LoadBalancerId", "BackendServers"),
        "slb:StartLoadBalancerListener": ("LoadBalancerId", "ListenerPort"),
        "slb:StopLoadBalancerListener": ("LoadBalancerId", "ListenerPort"),
        "alb:ListLoadBalancers": _LB_LIST,
        "alb:GetLoadBalancerAttribute": ("LoadBalancerId",),
        "alb:UpdateLoadBalancerAttribute": _LB_RENAME,
        "nlb:ListLoadBalancers": _LB_LIST,
        "nlb:GetLoadBalancerAttribute": ("LoadBalancerId",),
        "nlb:UpdateLoadBalancerAttribute": _LB_RENAME,
        "ecs:DescribeInstances": ("InstanceIds", "PageNumber", "PageSize", "ResourceGroupId", "DryRun"),
        "ecs:DescribeInstanceAttribute": ("InstanceId",),
        "ecs:StopInstance": ("InstanceId", "StoppedMode", "DryRun"),
        "kms:GetSecretValue": ("SecretName", "VersionStage"),
    }
)
_INDEX = re.compile(r"\.[1-9][0-9]{0,2}(?=\.|$)")


def check_parameters(product: str, action: str, params: Iterable[str]) -> None:
    """Refuse a parameter the action does not implement (``InvalidParameter``, 400) before anything runs.

    Every served action has an entry (a test holds the table to ``state.PRODUCTS``), so none goes unchecked."""
    accepted = IMPLEMENTED[f"{product}:{action}"]
    for name in params:
        if name in accepted or name in COMMON or _INDEX.sub(".N", name) in accepted:
            continue
        raise ApiError(
            "InvalidParameter",
            f"The parameter {name} is not supported by {action} in this emulator; it is refused rather than ignored.",
            400,
        )
