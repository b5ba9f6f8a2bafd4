"""Resource Manager state for one account: its resource groups (from the seed) and resource-group-scoped grants.

A grant names a principal the way Resource Manager does (``<role>@role.<alias>.onaliyunservice.com``,
``<user>@<alias>.onaliyun.com``); it is stored by entity name so the permission check is a dictionary lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aliyun_emulator.params import conflict, not_found
from aliyun_emulator.seed import SeedAccount

PRINCIPAL_TYPES = ("IMSUser", "ServiceRole")
MAX_GRANTS_PER_PRINCIPAL = 30


@dataclass
class ScopedGrant:
    resource_group_id: str
    policy_type: str
    policy_name: str
    principal_type: str
    entity_name: str
    attach_date: str

    def held_by(self, principal_type: str, entity_name: str) -> bool:
        return self.principal_type == principal_type and self.entity_name.lower() == entity_name.lower()

    def same_grant(self, other: ScopedGrant) -> bool:
        return (
            self.resource_group_id == other.resource_group_id
            and self.policy_type == other.policy_type
            and self.policy_name.lower() == other.policy_name.lower()
            and self.held_by(other.principal_type, other.entity_name)
        )


def principal_name(account: SeedAccount, principal_type: str, entity_name: str) -> str:
    if principal_type == "ServiceRole":
        return f"{entity_name}@role.{account.alias}.onaliyunservice.com"
    return f"{entity_name}@{account.alias}.onaliyun.com"


def parse_principal_name(account: SeedAccount, principal_type: str, name: str) -> str | None:
    """The role or user name inside a principal name of this account (alias or uid accepted), else None."""
    suffix = r"role\.([^.@]+)\.onaliyunservice\.com" if principal_type == "ServiceRole" else r"([^.@]+)\.onaliyun\.com"
    match = re.fullmatch(rf"([A-Za-z0-9._-]{{1,64}})@{suffix}", name)
    if match is None or match.group(2) not in (account.alias, account.uid):
        return None
    return match.group(1)


class ResourceManagerStore:
    """Resource groups and the grants scoped to them (or to the whole account, ``ResourceGroupId`` = account id)."""

    def __init__(self, account: SeedAccount) -> None:
        self.account = account
        self.groups = {group.id: group for group in account.resource_groups}
        self.grants: list[ScopedGrant] = []

    def check_scope(self, resource_group_id: str) -> None:
        if resource_group_id != self.account.uid and resource_group_id not in self.groups:
            raise not_found("EntityNotExists.ResourceGroup", f"The resource group does not exist: {resource_group_id}.")

    def attach(self, grant: ScopedGrant) -> None:
        self.check_scope(grant.resource_group_id)
        if any(existing.same_grant(grant) for existing in self.grants):
            raise conflict("EntityAlreadyExists.PolicyAttachment", "The policy is already attached to the principal.")
        if len(self.grants_of(grant.principal_type, grant.entity_name)) >= MAX_GRANTS_PER_PRINCIPAL:
            raise conflict("LimitExceeded.PolicyAttachment", "The principal holds too many policy attachments.")
        self.grants.append(grant)

    def detach(self, grant: ScopedGrant) -> None:
        for index, existing in enumerate(self.grants):
            if existing.same_grant(grant):
                del self.grants[index]
                return
        raise not_found("EntityNotExists.PolicyAttachment", "The policy attachment does not exist.")

    def grants_of(self, principal_type: str, entity_name: str) -> list[ScopedGrant]:
        return [g for g in self.grants if g.held_by(principal_type, entity_name)]

    def drop_principal(self, principal_type: str, entity_name: str) -> None:
        """A deleted role or user loses its grants (a new one with the same name must not inherit them)."""
        self.grants = [g for g in self.grants if not g.held_by(principal_type, entity_name)]

    def to_dict(self) -> list[dict[str, Any]]:
        return [dict(vars(grant)) for grant in self.grants]

    def load(self, data: list[dict[str, Any]]) -> None:
        self.grants = [ScopedGrant(**item) for item in data]
