"""RAM user actions and the users' AccessKeys."""

from __future__ import annotations

from aliyun_emulator.context import Call
from aliyun_emulator.core.errors import invalid_parameter
from aliyun_emulator.ram.common import (
    Body,
    access_key_body,
    account_arn,
    arn,
    bounded_text,
    caller_user_name,
    list_size,
    marker_page,
    ram,
    user_body,
    user_name,
)
from aliyun_emulator.ram.models import (
    DISPLAY_NAME,
    MAX_COMMENTS,
    USER_NAME,
    User,
    check_name,
    format_date,
)


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
