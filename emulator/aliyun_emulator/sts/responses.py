"""STS actions: AssumeRole (trust policy + the caller's own permission + session policy) and GetCallerIdentity."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.errors import ApiError, invalid_parameter
from aliyun_emulator.params import not_found
from aliyun_emulator.ram.models import format_date, parse_document
from aliyun_emulator.sts.models import MIN_DURATION
from ram_delegate.policy import Caller, trust_allows

Body = dict[str, Any]

ROLE_ARN = re.compile(r"^acs:ram::([0-9]{16}):role/([A-Za-z0-9.-]{1,64})$")
SESSION_NAME = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
SOURCE_IDENTITY = re.compile(r"^[\w+=,.@-]{2,64}$")
MAX_SESSION_POLICY = 2048


def assume_role(call: Call) -> Body:
    if not call.account.assume_role_quota.admit():
        raise ApiError("Throttling.User", "Request was denied due to user flow control.", 400)
    params = call.params
    role_arn = params.required("RoleArn")
    match = ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise invalid_parameter("RoleArn", "must be acs:ram::<account id>:role/<role name>", "InvalidParameter.RoleArn")
    target_uid, target_name = match.groups()
    session_name = params.required("RoleSessionName")
    if not SESSION_NAME.fullmatch(session_name):
        raise invalid_parameter(
            "RoleSessionName", "2-64 letters, digits and . @ - _", "InvalidParameter.RoleSessionName"
        )
    external_id = params.optional("ExternalId")
    if external_id is not None and not EXTERNAL_ID.fullmatch(external_id):
        raise invalid_parameter("ExternalId", "2-1224 characters of [\\w+=,.@:/-]", "InvalidParameter.ExternalId")
    source_identity = params.optional("SourceIdentity")
    if source_identity is not None and not SOURCE_IDENTITY.fullmatch(source_identity):
        raise invalid_parameter("SourceIdentity", "2-64 characters of [\\w+=,.@-]", "InvalidParameter.SourceIdentity")
    session_policy = params.optional("Policy")
    if session_policy is not None:
        if len(session_policy) > MAX_SESSION_POLICY:
            raise ApiError(
                "InvalidParameter.PolicySize",
                f"The size of the policy exceeds the limit of {MAX_SESSION_POLICY} characters.",
                400,
            )
        try:
            parse_document(session_policy, "session", max_length=MAX_SESSION_POLICY, parameter="Policy")
        except ApiError as exc:
            raise ApiError("InvalidParameter.PolicyGrammar", exc.message, 400) from None

    principal = call.request.principal
    if principal.kind == "root":
        raise ApiError("NoPermission", "Roles may not be assumed by root accounts.", 403)
    target = call.accounts.get(target_uid)
    role = target.ram.roles.get(target_name.lower()) if target is not None else None
    if target is None or role is None:
        raise not_found("EntityNotExist.Role", f"The role not exists: {role_arn}.")
    call.authorize("sts:AssumeRole", role.arn, resource_account=target_uid, cross_account=True)
    trust_context = dict(call.context)
    if external_id is not None:
        trust_context["sts:ExternalId"] = external_id
    if source_identity is not None:
        trust_context["sts:SourceIdentity"] = source_identity
    caller = Caller(principal.kind, principal.account_id, principal.name)
    if role.trust_document is None or not trust_allows(role.trust_document, caller, trust_context):
        raise ApiError(
            "NoPermission",
            f"No permission perform sts:AssumeRole on this Role. The trust policy of {role.arn} does not allow "
            f"{principal.arn}.",
            403,
        )
    duration = params.integer(
        "DurationSeconds",
        default=min(3600, role.max_session_duration),
        minimum=MIN_DURATION,
        maximum=role.max_session_duration,
    )
    expires_at = call.request.now + timedelta(seconds=duration)
    session = call.sessions.issue(
        account_id=target_uid,
        role_name=role.name,
        role_id=role.role_id,
        session_name=session_name,
        now=call.request.now,
        expires_at=expires_at,
        session_policy=session_policy,
        source_identity=source_identity,
    )
    body: Body = {
        "AssumedRoleUser": {
            "Arn": f"{role.arn}/{session_name}",
            "AssumedRoleId": f"{role.role_id}:{session_name}",
        },
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "AccessKeySecret": session.secret,
            "Expiration": format_date(expires_at),
            "SecurityToken": session.security_token,
        },
    }
    if source_identity is not None:
        body["SourceIdentity"] = source_identity
    return body


def get_caller_identity(call: Call) -> Body:
    """No permission is needed (as on Alibaba Cloud); every caller may ask who it is."""
    principal = call.request.principal
    body: Body = {"AccountId": principal.account_id, "Arn": principal.arn}
    if principal.kind == "root":
        return {**body, "IdentityType": "Account", "PrincipalId": principal.account_id, "UserId": principal.account_id}
    if principal.kind == "user":
        user_id = call.account.ram.user(principal.name).user_id
        return {**body, "IdentityType": "RAMUser", "PrincipalId": user_id, "UserId": user_id}
    return {
        **body,
        "IdentityType": "AssumedRoleUser",
        "PrincipalId": f"{principal.role_id}:{principal.session_name}",
        "RoleId": principal.role_id,
    }


HANDLERS = {"AssumeRole": assume_role, "GetCallerIdentity": get_caller_identity}
READ_ONLY = frozenset({"GetCallerIdentity"})
