"""RAM tag actions on roles and custom policies: TagResources, UntagResources, ListTagResources."""

from __future__ import annotations

from aliyun_emulator.context import Call
from aliyun_emulator.core.errors import invalid_parameter
from aliyun_emulator.params import conflict
from aliyun_emulator.ram.common import (
    Body,
    account_arn,
    arn,
    ram,
    tagged,
)
from aliyun_emulator.ram.models import (
    MAX_TAGS_PER_RESOURCE,
    CustomPolicy,
    Role,
)


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
