"""RAM state and rules for one account: roles, users, AccessKeys, custom policies, attachments and tags.

Names are unique case-insensitively (RAM's behaviour) but kept as given. Lists are ordered by creation and paged
with an opaque marker (a creation sequence number), so listing 10,000 roles a page at a time stays linear.
"""

from __future__ import annotations

import binascii
import bisect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Generic, TypeVar

from aliyun_emulator.core.entropy import POOL
from aliyun_emulator.core.errors import ApiError, invalid_parameter
from aliyun_emulator.params import conflict, not_found
from ram_delegate.errors import PolicyValidationError
from ram_delegate.policy import AttachedPolicy, PolicyDocument, parse_policy

DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

ROLE_NAME = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
USER_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
POLICY_NAME = re.compile(r"^[A-Za-z0-9-]{1,128}$")
DISPLAY_NAME = re.compile(r"^[A-Za-z0-9@._-]{1,128}$")

DEFAULT_QUOTAS = {"roles": 1000, "policies": 1500, "users": 5000}
MAX_SYSTEM_POLICIES_PER_PRINCIPAL = 20
MAX_CUSTOM_POLICIES_PER_PRINCIPAL = 10
MAX_ACCESS_KEYS_PER_USER = 2
MAX_POLICY_VERSIONS = 5
MAX_POLICY_DOCUMENT = 6144
MAX_TRUST_POLICY_DOCUMENT = 6144
MAX_DESCRIPTION = 1024
MAX_POLICY_DESCRIPTION = 1024
MAX_COMMENTS = 128
MIN_SESSION_DURATION, MAX_SESSION_DURATION, DEFAULT_SESSION_DURATION = 3600, 43200, 3600
MAX_TAGS_PER_RESOURCE = 20

POLICY_TYPES = ("System", "Custom")
SYSTEM_POLICY_DATE = "2015-04-28T20:12:56Z"
"""Creation and update date of every built-in policy."""


def format_date(when: datetime) -> str:
    """``DATE_FORMAT`` (``YYYY-MM-DDThh:mm:ssZ``) with ``%`` on the fields: several times cheaper than ``strftime``
    and half the cost of ``isoformat`` (formatted on every create, attach and AssumeRole)."""
    fields = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % fields  # noqa: UP031 (printf-style formats these fields fastest)


def random_digits(count: int) -> str:
    """``count`` random digits, the first not 0 (one draw, not one per character)."""
    low = 10 ** (count - 1)
    return str(low + POOL.below(9 * low))


def random_token(count: int, entropy: bytes = b"") -> str:
    """``count`` random letters and digits: URL-safe base64 of random bytes with ``-`` and ``_`` dropped (what is
    left is uniform over the 62 others). ``entropy``: random bytes already drawn for this token (a caller that needs
    several draws once: one system call instead of one per token); more are drawn when they fall short."""
    picked = _alphanumeric(entropy)
    while len(picked) < count:
        picked += _alphanumeric(POOL.take(count))
    return picked[:count]


def _alphanumeric(data: bytes) -> str:
    # Base64 with its two symbols and the padding dropped: the URL-safe alphabet less "-" and "_", in one C pass.
    return binascii.b2a_base64(data, newline=False).translate(None, b"+/=").decode("ascii")


def check_name(kind: str, value: str, pattern: re.Pattern[str], max_length: int) -> str:
    """RAM's two name errors: ``InvalidParameter.<Kind>Name.Length`` and ``.InvalidChars``."""
    if len(value) > max_length:
        raise invalid_parameter(
            f"{kind}Name", f"at most {max_length} characters", f"InvalidParameter.{kind}Name.Length"
        )
    if not pattern.fullmatch(value):
        raise invalid_parameter(
            f"{kind}Name", "contains characters that are not allowed", f"InvalidParameter.{kind}Name.InvalidChars"
        )
    return value


def parse_document(text: str, kind: str, *, max_length: int, parameter: str) -> PolicyDocument:
    """Validate a policy document with the shared policy grammar; problems go into the error message."""
    if len(text) > max_length:
        raise invalid_parameter(
            parameter, f"longer than {max_length} characters", f"InvalidParameter.{parameter}.Length"
        )
    try:
        return parse_policy(text, kind)  # type: ignore[arg-type]
    except PolicyValidationError as exc:
        details = "; ".join(str(problem) for problem in exc.problems) or exc.message
        raise ApiError("MalformedPolicyDocument", f"The policy document is malformed: {details}", 400) from None


def plain(entity: object, *exclude: str) -> dict[str, Any]:
    """An entity's fields as a fresh dict (nested dicts and lists copied), minus ``exclude``."""
    return {
        name: dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
        for name, value in vars(entity).items()
        if name not in exclude
    }


@dataclass(frozen=True)
class SystemPolicy:
    name: str
    description: str
    default_version: str
    text: str
    document: PolicyDocument
    attached: AttachedPolicy
    """The policy as a grant, account-wide (built once: a caller's grants are gathered on every checked call)."""


@cache
def system_policies() -> dict[str, SystemPolicy]:
    """The built-in policies, by lower-cased name (parsed once per process)."""
    raw = json.loads(resources.files("aliyun_emulator.ram").joinpath("system_policies.json").read_text("utf-8"))
    policies: dict[str, SystemPolicy] = {}
    for name, entry in raw.items():
        text = json.dumps(entry["document"], indent=2)
        document = parse_policy(text, "system")
        policies[name.lower()] = SystemPolicy(
            name, entry["description"], entry["version"], text, document, AttachedPolicy(document, None, name)
        )
    return policies


def system_policy(name: str) -> SystemPolicy:
    """A built-in policy by name (any case), or RAM's not-found error."""
    system = system_policies().get(name.lower())
    if system is None:
        raise not_found("EntityNotExist.Policy", f"The policy not exists: {name}.")
    return system


@dataclass
class Attachment:
    policy_type: str
    policy_name: str
    attach_date: str

    @property
    def key(self) -> str:
        return policy_key(self.policy_type, self.policy_name)


def policy_key(policy_type: str, policy_name: str) -> str:
    return f"{policy_type}:{policy_name.lower()}"


@dataclass
class Role:
    seq: int
    role_id: str
    name: str
    account_id: str
    description: str
    trust_policy: str
    max_session_duration: int
    create_date: str
    update_date: str
    tags: dict[str, str] = field(default_factory=dict)
    attachments: dict[str, Attachment] = field(default_factory=dict)
    trust_document: PolicyDocument | None = field(default=None, repr=False, compare=False)

    @property
    def arn(self) -> str:
        return f"acs:ram::{self.account_id}:role/{self.name}"


@dataclass
class AccessKey:
    access_key_id: str
    secret: str
    user_name: str
    status: str
    create_date: str


@dataclass
class User:
    seq: int
    user_id: str
    name: str
    display_name: str
    comments: str
    email: str
    mobile_phone: str
    create_date: str
    update_date: str
    attachments: dict[str, Attachment] = field(default_factory=dict)
    access_key_ids: list[str] = field(default_factory=list)


@dataclass
class PolicyVersion:
    version_id: str
    text: str
    create_date: str
    document: PolicyDocument | None = field(default=None, repr=False, compare=False)


@dataclass
class CustomPolicy:
    seq: int
    name: str
    description: str
    create_date: str
    update_date: str
    default_version: str
    next_version: int
    versions: dict[str, PolicyVersion] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def default(self) -> PolicyVersion:
        return self.versions[self.default_version]


Item = TypeVar("Item")


class OrderedIndex(Generic[Item]):
    """Items in creation order, addressable by sequence number, for marker paging without rescanning."""

    def __init__(self) -> None:
        self._seqs: list[int] = []
        self._items: dict[int, Item] = {}

    def add(self, seq: int, item: Item) -> None:
        if self._seqs and seq <= self._seqs[-1]:
            bisect.insort(self._seqs, seq)
        else:
            self._seqs.append(seq)
        self._items[seq] = item

    def remove(self, seq: int) -> None:
        index = bisect.bisect_left(self._seqs, seq)
        if index < len(self._seqs) and self._seqs[index] == seq:
            del self._seqs[index]
            del self._items[seq]

    def page(
        self, marker: str | None, max_items: int, keep: Callable[[Item], bool] = lambda _item: True
    ) -> tuple[list[Item], str | None]:
        """Up to ``max_items`` kept items from ``marker`` on, and the marker of the next page (None at the end)."""
        start = 0
        if marker is not None:
            if not marker.isdigit() or len(marker) > 18:
                raise invalid_parameter("Marker", "not a marker returned by a previous call")
            start = bisect.bisect_left(self._seqs, int(marker))
        found: list[Item] = []
        for index in range(start, len(self._seqs)):
            seq = self._seqs[index]
            item = self._items[seq]
            if not keep(item):
                continue
            if len(found) == max_items:
                return found, str(seq)
            found.append(item)
        return found, None

    def __iter__(self) -> Iterator[Item]:
        return (self._items[seq] for seq in self._seqs)

    def __len__(self) -> int:
        return len(self._seqs)


class RamStore:
    """One account's RAM entities and every rule that guards them (quotas, conflicts, uniqueness)."""

    def __init__(self, account_id: str, quotas: dict[str, int]) -> None:
        self.account_id = account_id
        self.quotas = {**DEFAULT_QUOTAS, **quotas}
        self.roles: dict[str, Role] = {}
        self.users: dict[str, User] = {}
        self.policies: dict[str, CustomPolicy] = {}
        self.access_keys: dict[str, AccessKey] = {}
        self.role_order: OrderedIndex[Role] = OrderedIndex()
        self.user_order: OrderedIndex[User] = OrderedIndex()
        self.policy_order: OrderedIndex[CustomPolicy] = OrderedIndex()
        self.attachment_counts: dict[str, int] = {}
        self.next_seq = 1

    def _seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    # --- roles -----------------------------------------------------------------------------------------------------

    def role(self, name: str) -> Role:
        role = self.roles.get(name.lower())
        if role is None:
            raise not_found("EntityNotExist.Role", f"The role not exists: {name}.")
        return role

    def create_role(
        self,
        name: str,
        trust_policy: str,
        trust_document: PolicyDocument,
        description: str,
        max_session_duration: int,
        tags: dict[str, str],
        now: datetime,
    ) -> Role:
        if name.lower() in self.roles:
            raise conflict("EntityAlreadyExists.Role", f"The role already exists: {name}.")
        if len(self.roles) >= self.quotas["roles"]:
            raise conflict(
                "LimitExceeded.Role", f"The count of roles beyond the current limits: {self.quotas['roles']}."
            )
        stamp = format_date(now)
        role = Role(
            seq=self._seq(),
            role_id=random_digits(19),
            name=name,
            account_id=self.account_id,
            description=description,
            trust_policy=trust_policy,
            max_session_duration=max_session_duration,
            create_date=stamp,
            update_date=stamp,
            tags=dict(tags),
            trust_document=trust_document,
        )
        self._add_role(role)
        return role

    def _add_role(self, role: Role) -> None:
        self.roles[role.name.lower()] = role
        self.role_order.add(role.seq, role)

    def delete_role(self, name: str) -> None:
        role = self.role(name)
        if role.attachments:
            raise conflict(
                "DeleteConflict.Role.Policy", "The role cannot have any attached policies when you delete it."
            )
        del self.roles[role.name.lower()]
        self.role_order.remove(role.seq)

    # --- users -----------------------------------------------------------------------------------------------------

    def user(self, name: str) -> User:
        user = self.users.get(name.lower())
        if user is None:
            raise not_found("EntityNotExist.User", f"The user not exists: {name}.")
        return user

    def create_user(self, name: str, display_name: str, comments: str, email: str, phone: str, now: datetime) -> User:
        if name.lower() in self.users:
            raise conflict("EntityAlreadyExists.User", f"The user already exists: {name}.")
        if len(self.users) >= self.quotas["users"]:
            raise conflict(
                "LimitExceeded.User", f"The count of users beyond the current limits: {self.quotas['users']}."
            )
        stamp = format_date(now)
        user = User(self._seq(), random_digits(16), name, display_name, comments, email, phone, stamp, stamp)
        self._add_user(user)
        return user

    def _add_user(self, user: User) -> None:
        self.users[user.name.lower()] = user
        self.user_order.add(user.seq, user)

    def rename_user(self, user: User, new_name: str) -> None:
        if new_name.lower() != user.name.lower() and new_name.lower() in self.users:
            raise conflict("EntityAlreadyExists.User", f"The user already exists: {new_name}.")
        del self.users[user.name.lower()]
        user.name = new_name
        self.users[new_name.lower()] = user
        for key_id in user.access_key_ids:
            self.access_keys[key_id].user_name = new_name

    def delete_user(self, name: str) -> None:
        user = self.user(name)
        if user.access_key_ids:
            raise conflict("DeleteConflict.User.AccessKey", "The user has AccessKeys; delete them first.")
        if user.attachments:
            raise conflict("DeleteConflict.User.Policy", "The user has attached policies; detach them first.")
        del self.users[user.name.lower()]
        self.user_order.remove(user.seq)

    # --- access keys -----------------------------------------------------------------------------------------------

    def create_access_key(self, user: User, now: datetime) -> AccessKey:
        if len(user.access_key_ids) >= MAX_ACCESS_KEYS_PER_USER:
            raise conflict(
                "LimitExceeded.User.AccessKey",
                f"The count of AccessKeys of the user beyond the current limits: {MAX_ACCESS_KEYS_PER_USER}.",
            )
        key = AccessKey("LTAI" + random_token(20), random_token(30), user.name, "Active", format_date(now))
        self.access_keys[key.access_key_id] = key
        user.access_key_ids.append(key.access_key_id)
        return key

    def access_key(self, user: User, access_key_id: str) -> AccessKey:
        if access_key_id not in user.access_key_ids:
            raise not_found("EntityNotExist.User.AccessKey", f"The AccessKey not exists: {access_key_id}.")
        return self.access_keys[access_key_id]

    def delete_access_key(self, user: User, access_key_id: str) -> None:
        self.access_key(user, access_key_id)
        user.access_key_ids.remove(access_key_id)
        del self.access_keys[access_key_id]

    # --- policies --------------------------------------------------------------------------------------------------

    def custom_policy(self, name: str) -> CustomPolicy:
        policy = self.policies.get(name.lower())
        if policy is None:
            raise not_found("EntityNotExist.Policy", f"The policy not exists: {name}.")
        return policy

    def resolve_policy(self, policy_type: str, name: str) -> tuple[str, PolicyDocument]:
        """The canonical name and the current default document of a System or Custom policy."""
        if policy_type == "System":
            system = system_policy(name)
            return system.name, system.document
        policy = self.custom_policy(name)
        return policy.name, self.version_document(policy.default)

    @staticmethod
    def version_document(version: PolicyVersion) -> PolicyDocument:
        if version.document is None:
            version.document = parse_policy(version.text, "custom")
        return version.document

    def create_policy(
        self, name: str, text: str, document: PolicyDocument, description: str, tags: dict[str, str], now: datetime
    ) -> CustomPolicy:
        if name.lower() in self.policies or name.lower() in system_policies():
            raise conflict("EntityAlreadyExists.Policy", f"The policy already exists: {name}.")
        if len(self.policies) >= self.quotas["policies"]:
            raise conflict(
                "LimitExceeded.Policy", f"The count of policies beyond the current limits: {self.quotas['policies']}."
            )
        stamp = format_date(now)
        policy = CustomPolicy(self._seq(), name, description, stamp, stamp, "v1", 2, tags=dict(tags))
        policy.versions["v1"] = PolicyVersion("v1", text, stamp, document)
        self._add_policy(policy)
        return policy

    def _add_policy(self, policy: CustomPolicy) -> None:
        self.policies[policy.name.lower()] = policy
        self.policy_order.add(policy.seq, policy)

    def delete_policy(self, name: str, cascade: bool) -> None:
        policy = self.custom_policy(name)
        key = policy_key("Custom", policy.name)
        if self.attachment_counts.get(key, 0):
            if not cascade:
                if any(key in user.attachments for user in self.users.values()):
                    raise conflict("DeleteConflict.Policy.User", "The policy is attached to one or more users.")
                raise conflict("DeleteConflict.Policy.Role", "The policy is attached to one or more roles.")
            holders: list[Role | User] = [*self.roles.values(), *self.users.values()]
            for holder in holders:
                holder.attachments.pop(key, None)
            self.attachment_counts.pop(key, None)
        if len(policy.versions) > 1 and not cascade:
            raise conflict("DeleteConflict.Policy.Version", "The policy has versions other than the default one.")
        del self.policies[policy.name.lower()]
        self.policy_order.remove(policy.seq)

    def create_policy_version(
        self, policy: CustomPolicy, text: str, document: PolicyDocument, set_default: bool, rotate: bool, now: datetime
    ) -> PolicyVersion:
        if len(policy.versions) >= MAX_POLICY_VERSIONS:
            if not rotate:
                raise conflict(
                    "LimitExceeded.Policy.Version",
                    f"The count of versions of the policy beyond the current limits: {MAX_POLICY_VERSIONS}.",
                )
            oldest = next(v for v in policy.versions if v != policy.default_version)
            del policy.versions[oldest]
        stamp = format_date(now)
        version = PolicyVersion(f"v{policy.next_version}", text, stamp, document)
        policy.next_version += 1
        policy.versions[version.version_id] = version
        if set_default:
            policy.default_version = version.version_id
        policy.update_date = stamp
        return version

    @staticmethod
    def policy_version(policy: CustomPolicy, version_id: str) -> PolicyVersion:
        version = policy.versions.get(version_id)
        if version is None:
            raise not_found("EntityNotExist.Policy.Version", f"The policy version not exists: {version_id}.")
        return version

    def delete_policy_version(self, policy: CustomPolicy, version_id: str) -> None:
        self.policy_version(policy, version_id)
        if version_id == policy.default_version:
            raise conflict(
                "DeleteConflict.Policy.Version.Default", "The default version of a policy cannot be deleted."
            )
        del policy.versions[version_id]

    # --- attachments -----------------------------------------------------------------------------------------------

    def attach(
        self, entity: str, attachments: dict[str, Attachment], policy_type: str, name: str, now: datetime
    ) -> None:
        canonical, _document = self.resolve_policy(policy_type, name)
        key = policy_key(policy_type, canonical)
        if key in attachments:
            raise conflict(f"EntityAlreadyExists.{entity}.Policy", f"The policy is already attached: {canonical}.")
        limit = MAX_SYSTEM_POLICIES_PER_PRINCIPAL if policy_type == "System" else MAX_CUSTOM_POLICIES_PER_PRINCIPAL
        if sum(1 for a in attachments.values() if a.policy_type == policy_type) >= limit:
            raise conflict(
                f"LimitExceeded.{entity}.Policy",
                f"The count of {policy_type.lower()} policies attached to the {entity.lower()} beyond the "
                f"current limits: {limit}.",
            )
        attachments[key] = Attachment(policy_type, canonical, format_date(now))
        self.attachment_counts[key] = self.attachment_counts.get(key, 0) + 1

    def detach(self, entity: str, attachments: dict[str, Attachment], policy_type: str, name: str) -> None:
        key = policy_key(policy_type, name)
        if key not in attachments:
            raise not_found(f"EntityNotExist.{entity}.Policy", f"The policy is not attached: {name}.")
        del attachments[key]
        remaining = self.attachment_counts.get(key, 1) - 1
        if remaining:
            self.attachment_counts[key] = remaining
        else:
            self.attachment_counts.pop(key, None)

    def attached_policies(self, attachments: dict[str, Attachment]) -> list[AttachedPolicy]:
        """The attached policies with their current default documents (a policy edit applies to live sessions)."""
        policies = []
        for attachment in attachments.values():
            if attachment.policy_type == "System":
                policies.append(system_policy(attachment.policy_name).attached)
            else:
                custom = self.custom_policy(attachment.policy_name)
                policies.append(AttachedPolicy(self.version_document(custom.default), None, custom.name))
        return policies

    # --- tags ------------------------------------------------------------------------------------------------------

    def tag_target(self, resource_type: str, name: str) -> dict[str, str]:
        if resource_type == "role":
            return self.role(name).tags
        return self.custom_policy(name).tags

    # --- persistence -----------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy (mutating it never touches the store)."""

        def attachments(entity: Role | User) -> list[dict[str, Any]]:
            return [plain(a) for a in entity.attachments.values()]

        return {
            "next_seq": self.next_seq,
            "roles": [
                {**plain(r, "attachments", "trust_document"), "attachments": attachments(r)} for r in self.role_order
            ],
            "users": [{**plain(u, "attachments"), "attachments": attachments(u)} for u in self.user_order],
            "policies": [
                {**plain(p, "versions"), "versions": [plain(v, "document") for v in p.versions.values()]}
                for p in self.policy_order
            ],
            "access_keys": [plain(key) for key in self.access_keys.values()],
        }

    @classmethod
    def from_dict(cls, account_id: str, quotas: dict[str, int], data: dict[str, Any]) -> RamStore:
        store = cls(account_id, quotas)
        store.next_seq = data["next_seq"]
        for raw in data["policies"]:
            versions = {v["version_id"]: PolicyVersion(**v) for v in raw["versions"]}
            store._add_policy(CustomPolicy(**{**raw, "versions": versions}))
        for raw in data["roles"]:
            role = Role(**{**raw, "attachments": {}})
            role.trust_document = parse_policy(role.trust_policy, "trust")
            role.attachments = {a.key: a for a in (Attachment(**item) for item in raw["attachments"])}
            store._add_role(role)
        for raw in data["users"]:
            user = User(**{**raw, "attachments": {}})
            user.attachments = {a.key: a for a in (Attachment(**item) for item in raw["attachments"])}
            store._add_user(user)
        for raw in data["access_keys"]:
            store.access_keys[raw["access_key_id"]] = AccessKey(**raw)
        holders: list[Role | User] = [*store.roles.values(), *store.users.values()]
        for holder in holders:
            for key in holder.attachments:
                store.attachment_counts[key] = store.attachment_counts.get(key, 0) + 1
        return store
