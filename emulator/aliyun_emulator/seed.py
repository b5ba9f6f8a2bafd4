"""The seed file: which accounts exist in the emulator, with their root keys, resource groups and load balancers.

The format is a stable contract (documented in emulator/README.md) because test suites and the local stack write it
by hand:

    {"accounts": [{"uid": "<16 digits>", "alias": "enterprise-a", "access_key_id": "...", "access_key_secret": "...",
                   "resource_groups": [{"id": "rg-...", "name": "..."}],
                   "load_balancers": [{"id": "lb-...", "name": "...", "region": "cn-hangzhou",
                                       "resource_group_id": "rg-..."}],
                   "alb_load_balancers": [...], "nlb_load_balancers": [...], "ecs_instances": [...],
                   "quotas": {"roles": 1000, "policies": 1500, "users": 5000}}]}

``alb_load_balancers``, ``nlb_load_balancers`` and ``ecs_instances`` have the shape of ``load_balancers`` (ids
``alb-…``, ``nlb-…`` and ``i-…``).

Every error is a ``ValueError`` naming the offending field, so a typo in a seed fails loudly at start-up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

_UID = re.compile(r"^[0-9]{16}$")
_ALIAS = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
_ACCESS_KEY_ID = re.compile(r"^[A-Za-z0-9_]{8,64}$")
_RESOURCE_GROUP_ID = re.compile(r"^rg-[A-Za-z0-9]{4,64}$")
_LOAD_BALANCER_ID = re.compile(r"^lb-[A-Za-z0-9-]{4,64}$")
_REGION = re.compile(r"^[a-z]{2,}-[a-z0-9-]+$")
# Instance lists beyond classic SLB: seed key -> (id pattern, what the error says).
INSTANCE_LISTS: dict[str, tuple[re.Pattern[str], str]] = {
    "alb_load_balancers": (re.compile(r"^alb-[A-Za-z0-9]{4,64}$"), "'alb-' followed by 4-64 letters or digits"),
    "nlb_load_balancers": (re.compile(r"^nlb-[A-Za-z0-9]{4,64}$"), "'nlb-' followed by 4-64 letters or digits"),
    "ecs_instances": (re.compile(r"^i-[A-Za-z0-9]{4,64}$"), "'i-' followed by 4-64 letters or digits"),
}
QUOTA_NAMES = ("roles", "policies", "users", "assume_role_per_second")


@dataclass(frozen=True)
class SeedResourceGroup:
    id: str
    name: str


@dataclass(frozen=True)
class SeedLoadBalancer:
    id: str
    name: str
    region: str
    resource_group_id: str | None = None


@dataclass(frozen=True)
class SeedAccount:
    uid: str
    alias: str
    access_key_id: str
    access_key_secret: str
    resource_groups: tuple[SeedResourceGroup, ...] = ()
    load_balancers: tuple[SeedLoadBalancer, ...] = ()
    alb_load_balancers: tuple[SeedLoadBalancer, ...] = ()
    nlb_load_balancers: tuple[SeedLoadBalancer, ...] = ()
    ecs_instances: tuple[SeedLoadBalancer, ...] = ()
    quotas: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Seed:
    accounts: tuple[SeedAccount, ...]

    def to_dict(self) -> dict[str, Any]:
        """The seed in its file format (``load_seed(seed.to_dict()) == seed``)."""
        accounts: list[dict[str, Any]] = []
        for account in self.accounts:
            entry: dict[str, Any] = {
                "uid": account.uid,
                "alias": account.alias,
                "access_key_id": account.access_key_id,
                "access_key_secret": account.access_key_secret,
                "resource_groups": [{"id": group.id, "name": group.name} for group in account.resource_groups],
                "load_balancers": [
                    {"id": lb.id, "name": lb.name, "region": lb.region, "resource_group_id": lb.resource_group_id}
                    for lb in account.load_balancers
                ],
            }
            for key in INSTANCE_LISTS:
                if getattr(account, key):
                    entry[key] = [
                        {
                            "id": item.id,
                            "name": item.name,
                            "region": item.region,
                            "resource_group_id": item.resource_group_id,
                        }
                        for item in getattr(account, key)
                    ]
            if account.quotas:
                entry["quotas"] = dict(account.quotas)
            accounts.append(entry)
        return {"accounts": accounts}

    def account(self, uid: str) -> SeedAccount:
        for account in self.accounts:
            if account.uid == uid:
                return account
        raise KeyError(uid)


def load_seed(source: str | Path | Mapping[str, Any]) -> Seed:
    """Parse and validate a seed given as a mapping, a path to a JSON file, or JSON text."""
    if isinstance(source, Mapping):
        raw: Any = source
    else:
        text = _read_source(source)
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"seed: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    return _parse_seed(raw)


def _read_source(source: str | Path) -> str:
    if isinstance(source, Path):
        return source.read_text(encoding="utf-8")
    if source.lstrip().startswith("{"):
        return source
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"seed: no such file: {source}")
    return path.read_text(encoding="utf-8")


def _parse_seed(raw: Any) -> Seed:
    top = _object(raw, "seed", required=("accounts",), optional=())
    accounts_raw = top["accounts"]
    if not isinstance(accounts_raw, list) or not accounts_raw:
        raise ValueError("seed.accounts: must be a non-empty list")
    accounts = tuple(_parse_account(item, f"seed.accounts[{index}]") for index, item in enumerate(accounts_raw))
    _require_unique([a.uid for a in accounts], "uid")
    _require_unique([a.alias for a in accounts], "alias")
    _require_unique([a.access_key_id for a in accounts], "access_key_id")
    _require_unique([g.id for a in accounts for g in a.resource_groups], "resource group id")
    _require_unique([lb.id for a in accounts for lb in a.load_balancers], "load balancer id")
    for key in INSTANCE_LISTS:
        _require_unique([item.id for a in accounts for item in getattr(a, key)], key.removesuffix("s") + " id")
    return Seed(accounts=accounts)


def _parse_account(raw: Any, path: str) -> SeedAccount:
    obj = _object(
        raw,
        path,
        required=("uid", "alias", "access_key_id", "access_key_secret"),
        optional=("resource_groups", "load_balancers", "quotas", *INSTANCE_LISTS),
    )
    uid = _matching(obj, "uid", _UID, path, "16 digits")
    alias = _matching(obj, "alias", _ALIAS, path, "3-63 lower-case letters, digits and single inner hyphens")
    key_id = _matching(obj, "access_key_id", _ACCESS_KEY_ID, path, "8-64 letters, digits or underscores")
    if key_id.startswith("STS."):
        raise ValueError(f"{path}.access_key_id: must not start with 'STS.'")
    secret = _string(obj, "access_key_secret", path)
    if not secret:
        raise ValueError(f"{path}.access_key_secret: must not be empty")
    groups = tuple(
        _parse_group(item, f"{path}.resource_groups[{i}]")
        for i, item in enumerate(_list(obj.get("resource_groups", []), f"{path}.resource_groups"))
    )
    group_ids = {group.id for group in groups}
    balancers = tuple(
        _parse_load_balancer(item, f"{path}.load_balancers[{i}]", group_ids)
        for i, item in enumerate(_list(obj.get("load_balancers", []), f"{path}.load_balancers"))
    )
    instances = {
        key: tuple(
            _parse_load_balancer(item, f"{path}.{key}[{i}]", group_ids, INSTANCE_LISTS[key])
            for i, item in enumerate(_list(obj.get(key, []), f"{path}.{key}"))
        )
        for key in INSTANCE_LISTS
    }
    return SeedAccount(
        uid=uid,
        alias=alias,
        access_key_id=key_id,
        access_key_secret=secret,
        resource_groups=groups,
        load_balancers=balancers,
        alb_load_balancers=instances["alb_load_balancers"],
        nlb_load_balancers=instances["nlb_load_balancers"],
        ecs_instances=instances["ecs_instances"],
        quotas=MappingProxyType(_parse_quotas(obj.get("quotas", {}), f"{path}.quotas")),
    )


def _parse_group(raw: Any, path: str) -> SeedResourceGroup:
    obj = _object(raw, path, required=("id", "name"), optional=())
    return SeedResourceGroup(
        id=_matching(obj, "id", _RESOURCE_GROUP_ID, path, "'rg-' followed by 4-64 letters or digits"),
        name=_non_empty(obj, "name", path),
    )


def _parse_load_balancer(
    raw: Any,
    path: str,
    group_ids: set[str],
    id_rule: tuple[re.Pattern[str], str] = (_LOAD_BALANCER_ID, "'lb-' followed by 4-64 letters, digits or hyphens"),
) -> SeedLoadBalancer:
    obj = _object(raw, path, required=("id", "name", "region"), optional=("resource_group_id",))
    group_id = obj.get("resource_group_id")
    if group_id is not None and (not isinstance(group_id, str) or group_id not in group_ids):
        raise ValueError(f"{path}.resource_group_id: must name one of this account's resource groups")
    return SeedLoadBalancer(
        id=_matching(obj, "id", id_rule[0], path, id_rule[1]),
        name=_non_empty(obj, "name", path),
        region=_matching(obj, "region", _REGION, path, "a region id such as cn-hangzhou"),
        resource_group_id=group_id,
    )


def _parse_quotas(raw: Any, path: str) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: must be an object")
    quotas: dict[str, int] = {}
    for name, value in raw.items():
        if name not in QUOTA_NAMES:
            raise ValueError(f"{path}: unknown quota {name!r} (known: {', '.join(QUOTA_NAMES)})")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{path}.{name}: must be a positive integer")
        quotas[name] = value
    return quotas


def _object(raw: Any, path: str, *, required: tuple[str, ...], optional: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: must be an object")
    for name in required:
        if name not in raw:
            raise ValueError(f"{path}.{name}: is required")
    unknown = sorted(set(raw) - set(required) - set(optional))
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {', '.join(map(repr, unknown))}")
    return raw


def _list(raw: Any, path: str) -> list[Any]:
    if not isinstance(raw, list):
        raise ValueError(f"{path}: must be a list")
    return raw


def _string(obj: Mapping[str, Any], name: str, path: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise ValueError(f"{path}.{name}: must be a string")
    return value


def _non_empty(obj: Mapping[str, Any], name: str, path: str) -> str:
    value = _string(obj, name, path)
    if not value or len(value) > 128:
        raise ValueError(f"{path}.{name}: must be 1-128 characters")
    return value


def _matching(obj: Mapping[str, Any], name: str, pattern: re.Pattern[str], path: str, rule: str) -> str:
    value = _string(obj, name, path)
    if not pattern.fullmatch(value):
        raise ValueError(f"{path}.{name}: {value!r} is not {rule}")
    return value


def _require_unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"seed: duplicate {what} {value!r}")
        seen.add(value)
