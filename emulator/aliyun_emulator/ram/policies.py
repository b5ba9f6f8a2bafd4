"""RAM policy actions: custom policies and their versions, and attaching policies to roles and users."""

from __future__ import annotations

from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.errors import invalid_parameter
from aliyun_emulator.params import conflict
from aliyun_emulator.ram.common import (
    Body,
    account_arn,
    arn,
    bounded_text,
    list_size,
    marker_page,
    policy_arn,
    policy_name,
    policy_type,
    ram,
    role_name,
    system_version_body,
    tag_list,
    tagged,
    user_name,
    version_body,
)
from aliyun_emulator.ram.models import (
    MAX_POLICY_DESCRIPTION,
    MAX_POLICY_DOCUMENT,
    SYSTEM_POLICY_DATE,
    CustomPolicy,
    format_date,
    parse_document,
    policy_key,
    system_policies,
    system_policy,
)


def policy_summary(call: Call, policy: CustomPolicy | None, system_name: str = "") -> Body:
    store = ram(call)
    if policy is None:
        system = system_policies()[system_name.lower()]
        return {
            "AttachmentCount": store.attachment_counts.get(policy_key("System", system.name), 0),
            "CreateDate": SYSTEM_POLICY_DATE,
            "DefaultVersion": system.default_version,
            "Description": system.description,
            "PolicyName": system.name,
            "PolicyType": "System",
            "UpdateDate": SYSTEM_POLICY_DATE,
        }
    return {
        "AttachmentCount": store.attachment_counts.get(policy_key("Custom", policy.name), 0),
        "CreateDate": policy.create_date,
        "DefaultVersion": policy.default_version,
        "Description": policy.description,
        "PolicyName": policy.name,
        "PolicyType": "Custom",
        "UpdateDate": policy.update_date,
    }


def create_policy(call: Call) -> Body:
    name = policy_name(call)
    call.authorize("ram:CreatePolicy", arn(call, "policy", name))
    text = call.params.required("PolicyDocument")
    document = parse_document(text, "custom", max_length=MAX_POLICY_DOCUMENT, parameter="PolicyDocument")
    description = bounded_text(call, "Description", MAX_POLICY_DESCRIPTION) or ""
    tags = call.params.tags() or {}
    policy = ram(call).create_policy(name, text, document, description, tags, call.request.now)
    summary = policy_summary(call, policy)
    return {
        "Policy": {k: summary[k] for k in ("CreateDate", "DefaultVersion", "Description", "PolicyName", "PolicyType")}
    }


def get_policy(call: Call) -> Body:
    name = policy_name(call)
    kind = policy_type(call)
    call.authorize("ram:GetPolicy", arn(call, "policy", name))
    if kind == "System":
        system = system_policy(name)
        summary = {**policy_summary(call, None, system.name), "PolicyDocument": system.text}
        return {"Policy": summary, "DefaultPolicyVersion": system_version_body(system)}
    policy = ram(call).custom_policy(name)
    summary = policy_summary(call, policy)
    return {
        "Policy": {**summary, "PolicyDocument": policy.default.text},
        "DefaultPolicyVersion": version_body(policy.default, policy),
    }


def delete_policy(call: Call) -> Body:
    name = policy_name(call)
    call.authorize("ram:DeletePolicy", arn(call, "policy", name))
    cascade = call.params.boolean("CascadingDelete", default=False)
    policy = ram(call).custom_policy(name)
    rm = call.account.rm
    scoped = [g for g in rm.grants if g.policy_type == "Custom" and g.policy_name.lower() == policy.name.lower()]
    if scoped and not cascade:
        entity = "User" if scoped[0].principal_type == "IMSUser" else "Role"
        raise conflict(f"DeleteConflict.Policy.{entity}", "The policy is attached in a resource group.")
    ram(call).delete_policy(name, cascade)
    rm.grants = [g for g in rm.grants if g not in scoped]
    return {}


def list_policies(call: Call) -> Body:
    call.authorize("ram:ListPolicies", account_arn(call))
    max_items = list_size(call)
    kind = policy_type(call, required=False)
    wanted = call.params.tags()
    marker = call.params.optional("Marker")
    items: list[Body] = []
    next_marker: str | None = None
    if kind in ("", "System") and not wanted and (marker is None or marker.startswith("S")):
        names = [p.name for p in system_policies().values()]
        start = _system_marker(marker)
        chunk = names[start : start + max_items]
        items = [{**policy_summary(call, None, n), "Tags": {"Tag": []}} for n in chunk]
        if start + max_items < len(names):
            next_marker = f"S{start + max_items}"
        marker = None
    if next_marker is None and kind in ("", "Custom"):
        # Also when the system policies filled this page: a page of 0 items still yields the marker of the next one.
        policies, custom_marker = ram(call).policy_order.page(marker, max_items - len(items), tagged(wanted))
        items += [{**policy_summary(call, p), "Tags": tag_list(p.tags)} for p in policies]
        next_marker = custom_marker
    return marker_page("Policies", "Policy", items, next_marker)


def _system_marker(marker: str | None) -> int:
    if marker is None:
        return 0
    if not marker[1:].isdigit() or len(marker) > 6:
        raise invalid_parameter("Marker", "not a marker returned by a previous call")
    return int(marker[1:])


def create_policy_version(call: Call) -> Body:
    name = policy_name(call)
    call.authorize("ram:CreatePolicyVersion", arn(call, "policy", name))
    policy = ram(call).custom_policy(name)
    text = call.params.required("PolicyDocument")
    document = parse_document(text, "custom", max_length=MAX_POLICY_DOCUMENT, parameter="PolicyDocument")
    set_default = call.params.boolean("SetAsDefault", default=False)
    rotate = call.params.choice(
        "RotateStrategy", ("None", "DeleteOldestNonDefaultVersionWhenLimitExceeded"), default="None"
    )
    version = ram(call).create_policy_version(policy, text, document, set_default, rotate != "None", call.request.now)
    return {"PolicyVersion": version_body(version, policy)}


def get_policy_version(call: Call) -> Body:
    name = policy_name(call)
    kind = policy_type(call)
    version_id = call.params.required("VersionId")
    call.authorize("ram:GetPolicyVersion", arn(call, "policy", name))
    if kind == "System":
        system = system_policy(name)
        if version_id != system.default_version:
            raise invalid_parameter("VersionId", "no such version", "EntityNotExist.Policy.Version")
        return {"PolicyVersion": system_version_body(system)}
    policy = ram(call).custom_policy(name)
    return {"PolicyVersion": version_body(ram(call).policy_version(policy, version_id), policy)}


def list_policy_versions(call: Call) -> Body:
    name = policy_name(call)
    kind = policy_type(call)
    call.authorize("ram:ListPolicyVersions", arn(call, "policy", name))
    if kind == "System":
        return {"PolicyVersions": {"PolicyVersion": [system_version_body(system_policy(name))]}}
    policy = ram(call).custom_policy(name)
    return {"PolicyVersions": {"PolicyVersion": [version_body(v, policy) for v in policy.versions.values()]}}


def set_default_policy_version(call: Call) -> Body:
    name = policy_name(call)
    call.authorize("ram:SetDefaultPolicyVersion", arn(call, "policy", name))
    policy = ram(call).custom_policy(name)
    version = ram(call).policy_version(policy, call.params.required("VersionId"))
    policy.default_version = version.version_id
    policy.update_date = format_date(call.request.now)
    return {}


def delete_policy_version(call: Call) -> Body:
    name = policy_name(call)
    call.authorize("ram:DeletePolicyVersion", arn(call, "policy", name))
    policy = ram(call).custom_policy(name)
    ram(call).delete_policy_version(policy, call.params.required("VersionId"))
    return {}


# --- attachments ---------------------------------------------------------------------------------------------------


def _scope(call: Call) -> None:
    """RAM's optional ResourceGroupId on attach calls: only account scope (absent or the account id) is supported."""
    group = call.params.optional("ResourceGroupId")
    if group is not None and group != call.account.uid:
        raise invalid_parameter(
            "ResourceGroupId",
            "use Resource Manager AttachPolicy for resource-group scope",
            "InvalidParameter.ResourceGroupId",
        )


def _change_attachment(call: Call, entity: str, *, attach: bool) -> Body:
    """Attach a policy to, or detach it from, a role or a user (``entity`` "Role" or "User"), at account scope.

    RAM's authorization table lists two resource types for these actions (the role or user, and the policy): the
    caller must be allowed on both, so a grant on ``role/rd-*`` alone cannot attach ``AdministratorAccess``.
    """
    name = role_name(call) if entity == "Role" else user_name(call)
    action = f"ram:AttachPolicyTo{entity}" if attach else f"ram:DetachPolicyFrom{entity}"
    call.authorize(action, arn(call, entity.lower(), name))
    kind, policy = policy_type(call), policy_name(call)
    call.authorize(action, policy_arn(call, kind, policy))
    _scope(call)
    store = ram(call)
    attachments = (store.role(name) if entity == "Role" else store.user(name)).attachments
    if attach:
        store.attach(entity, attachments, kind, policy, call.request.now)
    else:
        store.detach(entity, attachments, kind, policy)
    return {}


def attach_policy_to_role(call: Call) -> Body:
    return _change_attachment(call, "Role", attach=True)


def detach_policy_from_role(call: Call) -> Body:
    return _change_attachment(call, "Role", attach=False)


def attach_policy_to_user(call: Call) -> Body:
    return _change_attachment(call, "User", attach=True)


def detach_policy_from_user(call: Call) -> Body:
    return _change_attachment(call, "User", attach=False)


def _attached_policies(call: Call, attachments: dict[str, Any]) -> Body:
    store = ram(call)
    items: list[Body] = []
    for attachment in attachments.values():
        if attachment.policy_type == "System":
            system = system_policies()[attachment.policy_name.lower()]
            default, description = system.default_version, system.description
        else:
            custom = store.custom_policy(attachment.policy_name)
            default, description = custom.default_version, custom.description
        items.append(
            {
                "AttachDate": attachment.attach_date,
                "DefaultVersion": default,
                "Description": description,
                "PolicyName": attachment.policy_name,
                "PolicyType": attachment.policy_type,
            }
        )
    return {"Policies": {"Policy": items}}


def list_policies_for_role(call: Call) -> Body:
    name = role_name(call)
    call.authorize("ram:ListPoliciesForRole", arn(call, "role", name))
    return _attached_policies(call, ram(call).role(name).attachments)


def list_policies_for_user(call: Call) -> Body:
    name = user_name(call)
    call.authorize("ram:ListPoliciesForUser", arn(call, "user", name))
    return _attached_policies(call, ram(call).user(name).attachments)


def list_entities_for_policy(call: Call) -> Body:
    name = policy_name(call)
    kind = policy_type(call)
    call.authorize("ram:ListEntitiesForPolicy", arn(call, "policy", name))
    store = ram(call)
    canonical, _document = store.resolve_policy(kind, name)
    key = policy_key(kind, canonical)
    roles = [
        {"Arn": r.arn, "AttachDate": r.attachments[key].attach_date, "Description": r.description}
        | {"RoleId": r.role_id, "RoleName": r.name}
        for r in store.role_order
        if key in r.attachments
    ]
    users = [
        {"AttachDate": u.attachments[key].attach_date, "DisplayName": u.display_name}
        | {"UserId": u.user_id, "UserName": u.name}
        for u in store.user_order
        if key in u.attachments
    ]
    return {"Groups": {"Group": []}, "Roles": {"Role": roles}, "Users": {"User": users}}
