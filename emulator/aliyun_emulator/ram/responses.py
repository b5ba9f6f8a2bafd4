"""RAM actions: parameter parsing, authorization and the exact response shapes the ram20150501 SDK models read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.errors import invalid_parameter
from aliyun_emulator.params import conflict
from aliyun_emulator.ram.models import (
    DEFAULT_SESSION_DURATION,
    DISPLAY_NAME,
    MAX_COMMENTS,
    MAX_DESCRIPTION,
    MAX_POLICY_DESCRIPTION,
    MAX_POLICY_DOCUMENT,
    MAX_SESSION_DURATION,
    MAX_TAGS_PER_RESOURCE,
    MAX_TRUST_POLICY_DOCUMENT,
    MIN_SESSION_DURATION,
    POLICY_NAME,
    POLICY_TYPES,
    ROLE_NAME,
    SYSTEM_POLICY_DATE,
    USER_NAME,
    AccessKey,
    CustomPolicy,
    PolicyVersion,
    RamStore,
    Role,
    SystemPolicy,
    User,
    check_name,
    format_date,
    parse_document,
    policy_key,
    system_policies,
    system_policy,
)
from aliyun_emulator.resourcemanager.models import principal_name

Body = dict[str, Any]
MAX_LIST_ITEMS = 1000


# --- shapes --------------------------------------------------------------------------------------------------------


def tag_list(tags: dict[str, str]) -> Body:
    return {"Tag": [{"TagKey": key, "TagValue": value} for key, value in tags.items()]}


def role_body(role: Role, *, trust: bool = True, update_date: bool = True) -> Body:
    body: Body = {
        "AllowConsoleLogin": False,
        "Arn": role.arn,
        "CreateDate": role.create_date,
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
        "RoleId": role.role_id,
        "RoleName": role.name,
    }
    if trust:
        body["AssumeRolePolicyDocument"] = role.trust_policy
    if update_date:
        body["UpdateDate"] = role.update_date
    return body


def user_body(user: User) -> Body:
    return {
        "Comments": user.comments,
        "CreateDate": user.create_date,
        "DisplayName": user.display_name,
        "Email": user.email,
        "MobilePhone": user.mobile_phone,
        "UpdateDate": user.update_date,
        "UserId": user.user_id,
        "UserName": user.name,
    }


def system_version_body(system: SystemPolicy) -> Body:
    """A system policy's one (default) version."""
    return {
        "CreateDate": SYSTEM_POLICY_DATE,
        "IsDefaultVersion": True,
        "PolicyDocument": system.text,
        "VersionId": system.default_version,
    }


def version_body(version: PolicyVersion, policy: CustomPolicy) -> Body:
    return {
        "CreateDate": version.create_date,
        "IsDefaultVersion": version.version_id == policy.default_version,
        "PolicyDocument": version.text,
        "VersionId": version.version_id,
    }


def access_key_body(key: AccessKey) -> Body:
    return {"AccessKeyId": key.access_key_id, "CreateDate": key.create_date, "Status": key.status}


def tagged(wanted: dict[str, str] | None) -> Callable[[Role | CustomPolicy], bool]:
    """The filter of RAM's ``Tag`` list parameter: an entity carrying every wanted tag (everything when None)."""
    return lambda entity: not wanted or all(entity.tags.get(key) == value for key, value in wanted.items())


def marker_page(wrapper: str, item: str, rows: list[Body], marker: str | None) -> Body:
    """RAM's list shape: ``{IsTruncated, Marker (only when truncated), wrapper: {item: rows}}``."""
    body: Body = {"IsTruncated": marker is not None, wrapper: {item: rows}}
    if marker is not None:
        body["Marker"] = marker
    return body


# --- common parameters ---------------------------------------------------------------------------------------------


def role_name(call: Call, name: str = "RoleName") -> str:
    return check_name("Role", call.params.required(name), ROLE_NAME, 64)


def user_name(call: Call, name: str = "UserName") -> str:
    return check_name("User", call.params.required(name), USER_NAME, 64)


def policy_name(call: Call) -> str:
    return check_name("Policy", call.params.required("PolicyName"), POLICY_NAME, 128)


def policy_type(call: Call, *, required: bool = True) -> str:
    text = call.params.optional("PolicyType")
    if text is None and not required:
        return ""
    if text not in POLICY_TYPES:
        raise invalid_parameter("PolicyType", "must be System or Custom", "InvalidParameter.PolicyType")
    return text


def bounded_text(call: Call, name: str, limit: int, *, new: bool = False) -> str | None:
    text = call.params.optional(name)
    if text is not None and len(text) > limit:
        parameter = name.removeprefix("New") if new else name
        raise invalid_parameter(name, f"at most {limit} characters", f"InvalidParameter.{parameter}.Length")
    return text


def session_duration(call: Call, name: str) -> int | None:
    if call.params.optional(name) is None:
        return None
    return call.params.integer(name, default=0, minimum=MIN_SESSION_DURATION, maximum=MAX_SESSION_DURATION)


def arn(call: Call, kind: str, name: str) -> str:
    return f"acs:ram::{call.account.uid}:{kind}/{name}"


def account_arn(call: Call) -> str:
    return f"acs:ram::{call.account.uid}:*"


def policy_arn(call: Call, kind: str, name: str) -> str:
    """A policy's ARN as RAM authorizes it: system policies live under the ``system`` account, not the caller's."""
    if kind == "System":
        return f"acs:ram::system:policy/{name}"
    return arn(call, "policy", name)


def ram(call: Call) -> RamStore:
    return call.account.ram


def list_size(call: Call) -> int:
    """RAM list calls: ``MaxItems`` 1-1000, default 100."""
    return call.params.integer("MaxItems", default=100, minimum=1, maximum=MAX_LIST_ITEMS)


def caller_user_name(call: Call) -> str:
    """``UserName`` when given; a RAM user managing its own keys may leave it out."""
    if call.params.optional("UserName") is None and call.request.principal.kind == "user":
        return call.request.principal.name
    return user_name(call)


# --- roles ---------------------------------------------------------------------------------------------------------


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


# --- policies ------------------------------------------------------------------------------------------------------


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


# --- users and AccessKeys ------------------------------------------------------------------------------------------


def _display_name(call: Call, name: str) -> str | None:
    text = call.params.optional(name)
    if text is not None and not DISPLAY_NAME.fullmatch(text):
        raise invalid_parameter(name, "1-128 letters, digits, @ . _ -", "InvalidParameter.DisplayName.InvalidChars")
    return text


def create_user(call: Call) -> Body:
    name = user_name(call)
    call.authorize("ram:CreateUser", arn(call, "user", name))
    display = _display_name(call, "DisplayName") or name
    comments = bounded_text(call, "Comments", MAX_COMMENTS) or ""
    email = bounded_text(call, "Email", 128) or ""
    phone = bounded_text(call, "MobilePhone", 32) or ""
    user = ram(call).create_user(name, display, comments, email, phone, call.request.now)
    body = user_body(user)
    del body["UpdateDate"]
    return {"User": body}


def get_user(call: Call) -> Body:
    name = user_name(call)
    call.authorize("ram:GetUser", arn(call, "user", name))
    return {"User": {**user_body(ram(call).user(name)), "LastLoginDate": ""}}


def update_user(call: Call) -> Body:
    name = user_name(call)
    call.authorize("ram:UpdateUser", arn(call, "user", name))
    user = ram(call).user(name)
    new_name = call.params.optional("NewUserName")
    if new_name is not None:
        check_name("User", new_name, USER_NAME, 64)
    display = _display_name(call, "NewDisplayName")
    comments = bounded_text(call, "NewComments", MAX_COMMENTS, new=True)
    email = bounded_text(call, "NewEmail", 128, new=True)
    phone = bounded_text(call, "NewMobilePhone", 32, new=True)
    if new_name is not None and new_name != user.name:
        old_name = user.name
        ram(call).rename_user(user, new_name)
        for grant in call.account.rm.grants_of("IMSUser", old_name):
            grant.entity_name = new_name
    for attribute, value in (
        ("display_name", display),
        ("comments", comments),
        ("email", email),
        ("mobile_phone", phone),
    ):
        if value is not None:
            setattr(user, attribute, value)
    user.update_date = format_date(call.request.now)
    return {"User": user_body(user)}


def delete_user(call: Call) -> Body:
    name = user_name(call)
    call.authorize("ram:DeleteUser", arn(call, "user", name))
    user = ram(call).user(name)
    ram(call).delete_user(name)
    call.account.rm.drop_principal("IMSUser", user.name)
    return {}


def list_users(call: Call) -> Body:
    call.authorize("ram:ListUsers", account_arn(call))
    max_items = list_size(call)
    users, marker = ram(call).user_order.page(call.params.optional("Marker"), max_items)
    return marker_page("Users", "User", [user_body(u) for u in users], marker)


def create_access_key(call: Call) -> Body:
    name = caller_user_name(call)
    call.authorize("ram:CreateAccessKey", arn(call, "user", name))
    key = ram(call).create_access_key(ram(call).user(name), call.request.now)
    return {"AccessKey": {**access_key_body(key), "AccessKeySecret": key.secret}}


def _user_access_key(call: Call, action: str) -> tuple[User, str]:
    name = caller_user_name(call)
    call.authorize(action, arn(call, "user", name))
    return ram(call).user(name), call.params.required("UserAccessKeyId")


def delete_access_key(call: Call) -> Body:
    user, key_id = _user_access_key(call, "ram:DeleteAccessKey")
    ram(call).delete_access_key(user, key_id)
    return {}


def update_access_key(call: Call) -> Body:
    user, key_id = _user_access_key(call, "ram:UpdateAccessKey")
    status = call.params.choice("Status", ("Active", "Inactive"))
    ram(call).access_key(user, key_id).status = status
    return {}


def list_access_keys(call: Call) -> Body:
    name = caller_user_name(call)
    call.authorize("ram:ListAccessKeys", arn(call, "user", name))
    user = ram(call).user(name)
    keys = [access_key_body(ram(call).access_keys[key_id]) for key_id in user.access_key_ids]
    return {"AccessKeys": {"AccessKey": keys}}


# --- tags ----------------------------------------------------------------------------------------------------------


def _tag_resources(call: Call, action: str) -> tuple[str, list[str] | None]:
    resource_type = call.params.choice("ResourceType", ("role", "policy"))
    names = call.params.string_list("ResourceNames", max_items=50)
    if names:
        # Named resources are authorized one by one, so a role limited to `role/rd-*` may tag and read its own.
        for name in names:
            call.authorize(action, arn(call, resource_type, name))
    else:
        call.authorize(action, account_arn(call))
    return resource_type, names


def tag_resources(call: Call) -> Body:
    resource_type, names = _tag_resources(call, "ram:TagResources")
    if names is None:
        raise invalid_parameter("ResourceNames", "is required", "MissingParameter")
    tags = call.params.tags()
    if tags is None:
        raise invalid_parameter("Tag", "is required", "MissingParameter")
    targets = [ram(call).tag_target(resource_type, name) for name in names]
    for target in targets:
        if len({**target, **tags}) > MAX_TAGS_PER_RESOURCE:
            raise conflict("LimitExceeded.Tag", f"A resource may carry at most {MAX_TAGS_PER_RESOURCE} tags.")
    for target in targets:
        target.update(tags)
    return {}


def untag_resources(call: Call) -> Body:
    resource_type, names = _tag_resources(call, "ram:UntagResources")
    if names is None:
        raise invalid_parameter("ResourceNames", "is required", "MissingParameter")
    remove_all = call.params.boolean("All", default=False)
    keys = call.params.string_list("TagKeys", max_items=20)
    if keys is None and not remove_all:
        raise invalid_parameter("TagKeys", "give TagKeys or All=true", "MissingParameter")
    targets = [ram(call).tag_target(resource_type, name) for name in names]
    for target in targets:
        if remove_all:
            target.clear()
        else:
            for key in keys or []:
                target.pop(key, None)
    return {}


def list_tag_resources(call: Call) -> Body:
    resource_type, names = _tag_resources(call, "ram:ListTagResources")
    wanted = call.params.tags()
    page_size = call.params.integer("PageSize", default=50, minimum=1, maximum=50)
    token = call.params.optional("NextToken")
    store = ram(call)
    if names is not None:
        entities: list[Role | CustomPolicy] = [
            store.role(n) if resource_type == "role" else store.custom_policy(n) for n in names
        ]
    else:
        entities = list(store.role_order) if resource_type == "role" else list(store.policy_order)
    keep = tagged(wanted)
    rows = [
        {"ResourceName": entity.name, "ResourceType": resource_type, "TagKey": key, "TagValue": value}
        for entity in entities
        if keep(entity)
        for key, value in entity.tags.items()
    ]
    start = 0
    if token is not None:
        if not token.isdigit() or len(token) > 9:
            raise invalid_parameter("NextToken", "not a token returned by a previous call")
        start = int(token)
    page = rows[start : start + page_size]
    body: Body = {"TagResources": page}
    if start + page_size < len(rows):
        body["NextToken"] = str(start + page_size)
    return body


HANDLERS = {
    "CreateRole": create_role,
    "GetRole": get_role,
    "UpdateRole": update_role,
    "DeleteRole": delete_role,
    "ListRoles": list_roles,
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "DeletePolicy": delete_policy,
    "ListPolicies": list_policies,
    "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "DeletePolicyVersion": delete_policy_version,
    "AttachPolicyToRole": attach_policy_to_role,
    "DetachPolicyFromRole": detach_policy_from_role,
    "AttachPolicyToUser": attach_policy_to_user,
    "DetachPolicyFromUser": detach_policy_from_user,
    "ListPoliciesForRole": list_policies_for_role,
    "ListPoliciesForUser": list_policies_for_user,
    "ListEntitiesForPolicy": list_entities_for_policy,
    "CreateUser": create_user,
    "GetUser": get_user,
    "UpdateUser": update_user,
    "DeleteUser": delete_user,
    "ListUsers": list_users,
    "CreateAccessKey": create_access_key,
    "DeleteAccessKey": delete_access_key,
    "UpdateAccessKey": update_access_key,
    "ListAccessKeys": list_access_keys,
    "TagResources": tag_resources,
    "UntagResources": untag_resources,
    "ListTagResources": list_tag_resources,
}

READ_ONLY = frozenset(name for name in HANDLERS if name.startswith(("Get", "List")))
"""Every other action may change state (and is persisted when it succeeds)."""
