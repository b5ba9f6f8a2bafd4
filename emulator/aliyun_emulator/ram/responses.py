"""RAM actions by name: the handlers live by job in ``roles``, ``policies`` (with attachments), ``users`` (with
AccessKeys) and ``tags``; ``common`` holds the response shapes and parameter readers they share."""

from __future__ import annotations

from aliyun_emulator.ram.common import policy_arn
from aliyun_emulator.ram.policies import (
    attach_policy_to_role,
    attach_policy_to_user,
    create_policy,
    create_policy_version,
    delete_policy,
    delete_policy_version,
    detach_policy_from_role,
    detach_policy_from_user,
    get_policy,
    get_policy_version,
    list_entities_for_policy,
    list_policies,
    list_policies_for_role,
    list_policies_for_user,
    list_policy_versions,
    set_default_policy_version,
)
from aliyun_emulator.ram.roles import (
    create_role,
    delete_role,
    get_role,
    list_roles,
    update_role,
)
from aliyun_emulator.ram.tags import (
    list_tag_resources,
    tag_resources,
    untag_resources,
)
from aliyun_emulator.ram.users import (
    create_access_key,
    create_user,
    delete_access_key,
    delete_user,
    get_user,
    list_access_keys,
    list_users,
    update_access_key,
    update_user,
)

__all__ = ["HANDLERS", "READ_ONLY", "policy_arn"]

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
