"""RAM role actions: CreateRole, GetRole, UpdateRole, DeleteRole, ListRoles."""

from __future__ import annotations

from aliyun_emulator.context import Call
from aliyun_emulator.ram.common import (
    Body,
    account_arn,
    arn,
    bounded_text,
    list_size,
    marker_page,
    ram,
    role_body,
    role_name,
    session_duration,
    tag_list,
    tagged,
)
from aliyun_emulator.ram.models import (
    DEFAULT_SESSION_DURATION,
    MAX_DESCRIPTION,
    MAX_TRUST_POLICY_DOCUMENT,
    format_date,
    parse_document,
)
from aliyun_emulator.resourcemanager.models import principal_name


def create_role(call: Call) -> Body:
    name = role_name(call)
    call.authorize("ram:CreateRole", arn(call, "role", name))
    trust_text = call.params.required("AssumeRolePolicyDocument")
    trust = parse_document(
        trust_text, "trust", max_length=MAX_TRUST_POLICY_DOCUMENT, parameter="AssumeRolePolicyDocument"
    )
    description = bounded_text(call, "Description", MAX_DESCRIPTION) or ""
    duration = session_duration(call, "MaxSessionDuration") or DEFAULT_SESSION_DURATION
    call.params.boolean("AllowConsoleLogin", default=False)
    tags = call.params.tags() or {}
    role = ram(call).create_role(name, trust_text, trust, description, duration, tags, call.request.now)
    return {"Role": role_body(role, update_date=False)}


def get_role(call: Call) -> Body:
    name = role_name(call)
    call.authorize("ram:GetRole", arn(call, "role", name))
    role = ram(call).role(name)
    body = role_body(role)
    body["IsServiceLinkedRole"] = False
    body["RolePrincipalName"] = principal_name(call.account.seed, "ServiceRole", role.name)
    return {"Role": body}


def update_role(call: Call) -> Body:
    name = role_name(call)
    call.authorize("ram:UpdateRole", arn(call, "role", name))
    role = ram(call).role(name)
    trust_text = call.params.optional("NewAssumeRolePolicyDocument")
    trust = None
    if trust_text is not None:
        trust = parse_document(
            trust_text, "trust", max_length=MAX_TRUST_POLICY_DOCUMENT, parameter="AssumeRolePolicyDocument"
        )
    description = bounded_text(call, "NewDescription", MAX_DESCRIPTION, new=True)
    duration = session_duration(call, "NewMaxSessionDuration")
    call.params.boolean("NewAllowConsoleLogin", default=False)
    if trust_text is not None:
        role.trust_policy, role.trust_document = trust_text, trust
    if description is not None:
        role.description = description
    if duration is not None:
        role.max_session_duration = duration
    role.update_date = format_date(call.request.now)
    return {"Role": role_body(role)}


def delete_role(call: Call) -> Body:
    name = role_name(call)
    call.authorize("ram:DeleteRole", arn(call, "role", name))
    role = ram(call).role(name)
    ram(call).delete_role(name)
    call.account.rm.drop_principal("ServiceRole", role.name)
    return {}


def list_roles(call: Call) -> Body:
    call.authorize("ram:ListRoles", account_arn(call))
    max_items = list_size(call)
    keep = tagged(call.params.tags())
    roles, marker = ram(call).role_order.page(call.params.optional("Marker"), max_items, keep)
    rows = [{**role_body(r, trust=False), "Tags": tag_list(r.tags)} for r in roles]
    return marker_page("Roles", "Role", rows, marker)
