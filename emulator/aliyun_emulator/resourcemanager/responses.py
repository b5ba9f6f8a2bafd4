"""Resource Manager actions: resource groups and resource-group-scoped policy grants."""

from __future__ import annotations

from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.authorization import PRODUCT_DENIAL
from aliyun_emulator.core.errors import invalid_parameter
from aliyun_emulator.params import page_body, page_params
from aliyun_emulator.ram.common import policy_arn
from aliyun_emulator.ram.models import POLICY_TYPES, format_date, system_policies
from aliyun_emulator.resourcemanager.models import PRINCIPAL_TYPES, ScopedGrant, parse_principal_name, principal_name

Body = dict[str, Any]
SEED_CREATE_DATE = "2024-01-01T00:00:00Z"


def group_arn(call: Call, group_id: str) -> str:
    return f"acs:resourcemanager::{call.account.uid}:resourcegroup/{group_id}"


def scope_arn(call: Call, scope: str) -> str:
    """The resource a grant's scope is authorized on: a resource group, or the whole account.

    Account scope (``ResourceGroupId`` = the account id) is its own resource, ``account/<uid>``, so a caller allowed
    on ``resourcegroup/*`` cannot widen a grant to the account (Alibaba publishes no authorization table for
    AttachPolicy; this is the emulator's strict reading).
    """
    if scope == call.account.uid:
        return f"acs:resourcemanager::{call.account.uid}:account/{scope}"
    return group_arn(call, scope)


def _listing_scope(call: Call, action: str) -> tuple[str | None, int, int]:
    """ResourceGroupId and paging of a list call, authorized like SLB listing: a caller scoped to one group must
    name it (and then sees only it)."""
    group = call.params.optional("ResourceGroupId")
    page_number, page_size = page_params(call.params, default_size=10, max_size=100)
    call.authorize(action, group_arn(call, group or "*"), resource_group_id=group, denial_code=PRODUCT_DENIAL)
    return group, page_number, page_size


def list_resource_groups(call: Call) -> Body:
    params = call.params
    name = params.optional("Name")
    wanted_ids = params.flat_list("ResourceGroupIds")
    group, page_number, page_size = _listing_scope(call, "resourcemanager:ListResourceGroups")
    groups = [
        g
        for g in call.account.rm.groups.values()
        if (group is None or g.id == group)
        and (name is None or g.name == name)
        and (not wanted_ids or g.id in wanted_ids)
    ]
    rows = [
        {
            "AccountId": call.account.uid,
            "CreateDate": SEED_CREATE_DATE,
            "DisplayName": g.name,
            "Id": g.id,
            "Name": g.name,
            "Status": "OK",
            "Tags": {"Tag": []},
        }
        for g in groups
    ]
    return page_body(rows, page_number, page_size, "ResourceGroups", "ResourceGroup")


def _grant(call: Call, action: str) -> ScopedGrant:
    params = call.params
    group = params.required("ResourceGroupId")
    policy_type = params.choice("PolicyType", POLICY_TYPES)
    policy_name = params.required("PolicyName")
    principal_type = params.choice("PrincipalType", PRINCIPAL_TYPES)
    name = params.required("PrincipalName")
    call.authorize(action, scope_arn(call, group), resource_group_id=group, denial_code=PRODUCT_DENIAL)
    call.authorize(action, policy_arn(call, policy_type, policy_name), denial_code=PRODUCT_DENIAL)
    call.account.rm.check_scope(group)
    entity = parse_principal_name(call.account.seed, principal_type, name)
    if entity is None:
        raise invalid_parameter("PrincipalName", f"not a {principal_type} principal of this account")
    canonical_policy, _document = call.account.ram.resolve_policy(policy_type, policy_name)
    if principal_type == "ServiceRole":
        entity = call.account.ram.role(entity).name
    else:
        entity = call.account.ram.user(entity).name
    return ScopedGrant(group, policy_type, canonical_policy, principal_type, entity, format_date(call.request.now))


def attach_policy(call: Call) -> Body:
    call.account.rm.attach(_grant(call, "resourcemanager:AttachPolicy"))
    return {}


def detach_policy(call: Call) -> Body:
    call.account.rm.detach(_grant(call, "resourcemanager:DetachPolicy"))
    return {}


def list_policy_attachments(call: Call) -> Body:
    params = call.params
    policy_type = params.optional("PolicyType")
    policy_name = params.optional("PolicyName")
    principal_type = params.optional("PrincipalType")
    principal = params.optional("PrincipalName")
    group, page_number, page_size = _listing_scope(call, "resourcemanager:ListPolicyAttachments")
    seed = call.account.seed
    rows = []
    for grant in call.account.rm.grants:
        grant_principal = principal_name(seed, grant.principal_type, grant.entity_name)
        if (
            (group is not None and grant.resource_group_id != group)
            or (policy_type is not None and grant.policy_type != policy_type)
            or (policy_name is not None and grant.policy_name.lower() != policy_name.lower())
            or (principal_type is not None and grant.principal_type != principal_type)
            or (principal is not None and grant_principal != principal)
        ):
            continue
        rows.append(
            {
                "AttachDate": grant.attach_date,
                "Description": _policy_description(call, grant),
                "PolicyName": grant.policy_name,
                "PolicyType": grant.policy_type,
                "PrincipalName": grant_principal,
                "PrincipalType": grant.principal_type,
                "ResourceGroupId": grant.resource_group_id,
            }
        )
    return page_body(rows, page_number, page_size, "PolicyAttachments", "PolicyAttachment")


def _policy_description(call: Call, grant: ScopedGrant) -> str:
    if grant.policy_type == "System":
        return system_policies()[grant.policy_name.lower()].description
    policy = call.account.ram.policies.get(grant.policy_name.lower())
    return policy.description if policy is not None else ""


HANDLERS = {
    "ListResourceGroups": list_resource_groups,
    "AttachPolicy": attach_policy,
    "DetachPolicy": detach_policy,
    "ListPolicyAttachments": list_policy_attachments,
}
READ_ONLY = frozenset({"ListResourceGroups", "ListPolicyAttachments"})
