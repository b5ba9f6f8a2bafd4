"""What a product handler gets: the request, its parameters, the caller's account and the rest of the cloud."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aliyun_emulator.core.authorization import RAM_DENIAL, Grants, denial, is_allowed, request_context
from aliyun_emulator.core.identity import Principal
from aliyun_emulator.core.request import ApiRequest
from aliyun_emulator.instances import Instance, store
from aliyun_emulator.kms.models import KmsStore
from aliyun_emulator.params import Params
from aliyun_emulator.ram.models import RamStore
from aliyun_emulator.resourcemanager.models import ResourceManagerStore
from aliyun_emulator.seed import SeedAccount
from aliyun_emulator.slb.models import Backends, LoadBalancer, backends, load_balancers
from aliyun_emulator.sts.models import ASSUME_ROLE_PER_SECOND, RateQuota, SessionStore
from ram_delegate.policy import ContextValue


class AccountState:
    """One account: its seed entry, RAM entities, resource groups with their grants, and load balancers."""

    def __init__(self, seed: SeedAccount) -> None:
        self.seed = seed
        self.uid = seed.uid
        self.ram = RamStore(seed.uid, dict(seed.quotas))
        self.rm = ResourceManagerStore(seed)
        self.load_balancers: dict[str, LoadBalancer] = load_balancers(seed)
        self.slb_backends: dict[str, Backends] = backends(seed)
        self.alb: dict[str, Instance] = store(seed.alb_load_balancers, "Active")
        self.nlb: dict[str, Instance] = store(seed.nlb_load_balancers, "Active")
        self.ecs: dict[str, Instance] = store(seed.ecs_instances, "Running")
        self.assume_role_quota = RateQuota(seed.quotas.get("assume_role_per_second", ASSUME_ROLE_PER_SECOND))
        """Counts the AssumeRole calls this account's users and roles make (the caller's account, as STS does)."""
        self.kms = KmsStore()

    def to_dict(self) -> dict[str, Any]:
        return {"ram": self.ram.to_dict(), "resource_manager_grants": self.rm.to_dict()}

    def load(self, data: dict[str, Any]) -> None:
        self.ram = RamStore.from_dict(self.uid, dict(self.seed.quotas), data["ram"])
        self.rm.load(data["resource_manager_grants"])


class Call:
    """One call in progress. ``context`` and ``grants`` are computed on first use (root callers never need grants).

    A plain class with slots rather than a dataclass with ``cached_property`` (which takes a lock on first use):
    one is built for every request.
    """

    __slots__ = ("_context", "_grants", "account", "accounts", "grants_of", "params", "request", "sessions")

    def __init__(
        self,
        request: ApiRequest,
        account: AccountState,
        accounts: Mapping[str, AccountState],
        sessions: SessionStore,
        grants_of: Callable[[Principal], Grants | None],
    ) -> None:
        self.request = request
        self.account = account
        self.accounts = accounts
        self.sessions = sessions
        self.grants_of = grants_of
        self.params = Params(request.params)
        self._context: dict[str, ContextValue] | None = None
        self._grants: tuple[Grants | None] | None = None

    @property
    def context(self) -> dict[str, ContextValue]:
        if self._context is None:
            self._context = request_context(self.request)
        return self._context

    @property
    def grants(self) -> Grants | None:
        if self._grants is None:
            self._grants = (self.grants_of(self.request.principal),)
        return self._grants[0]

    def authorize(
        self,
        action: str,
        resource: str,
        *,
        resource_group_id: str | None = None,
        denial_code: str = RAM_DENIAL,
        resource_account: str | None = None,
        cross_account: bool = False,
    ) -> None:
        """Raise the product's permission error unless the caller may do ``action`` on ``resource``."""
        principal = self.request.principal
        if principal.kind == "root" and (resource_account or self.account.uid) == principal.account_id:
            return  # root may do anything in its own account (is_allowed's first rule): no context to build
        if not is_allowed(
            principal,
            None if principal.kind == "root" else self.grants,
            action,
            resource,
            resource_account=resource_account or self.account.uid,
            context=self.context,
            resource_group_id=resource_group_id,
            cross_account=cross_account,
        ):
            raise denial(denial_code, action, resource)
