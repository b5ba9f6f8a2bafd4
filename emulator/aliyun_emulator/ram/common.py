"""What every RAM action shares: the response shapes the ram20150501 SDK models read, and the readers of
common parameters (names, types, ARNs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.errors import invalid_parameter
from aliyun_emulator.ram.models import (
    MAX_SESSION_DURATION,
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
)

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
