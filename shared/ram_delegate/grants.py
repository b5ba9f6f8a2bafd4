"""What a grant looks like in RAM: deterministic names, the tag schema, and reading grants back.

There is no database: the state of every grant lives in tags on the resources ram-delegate creates. Everything the
tool creates carries ``TAG_MANAGED_BY = ram-delegate``; nothing without it is ever modified or deleted.

Owner side (account A), per ticket: role ``rd-<slug>``, access policy ``rd-access-<slug>``, and after a revoke or
expiry a never-attached tombstone policy ``rd-tomb-<slug>``. Partner side (account B): assume policy
``rd-assume-<owner account>-<slug>`` per grant, and one ``rd-verify-<owner account>`` per owner account for the
verifier role. ``<slug>`` is the ticket lower-cased with characters RAM refuses replaced by
``-``, shortened with a hash suffix when the name would be too long (role names <= 64, policy names <= 128).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from ram_delegate import seal
from ram_delegate.errors import GuardrailError, Problem
from ram_delegate.seal import SealKeys

if TYPE_CHECKING:
    from ram_delegate.cloud import CloudClients, TaggedResource

GrantState = Literal["active", "expired", "revoked"]

MANAGED_BY_VALUE = "ram-delegate"
_PREFIX = "ram-delegate:"
TAG_MANAGED_BY = _PREFIX + "managed-by"
TAG_KIND = _PREFIX + "kind"  # role | access | tombstone | assume | verify
TAG_TICKET = _PREFIX + "ticket"
TAG_PARTNER_ACCOUNT = _PREFIX + "partner-account"
TAG_PARTNER_USER = _PREFIX + "partner-user"
TAG_OWNER_ACCOUNT = _PREFIX + "owner-account"
TAG_PROFILE = _PREFIX + "profile"
TAG_REGION = _PREFIX + "region"
TAG_RESOURCE_GROUP = _PREFIX + "resource-group"
TAG_EXPIRES_AT = _PREFIX + "expires-at"
TAG_EVENT_TIME = _PREFIX + "event-time"
TAG_EVENT_ID = _PREFIX + "event-id"
TAG_STATE = _PREFIX + "state"
TAG_REVOKED_AT = _PREFIX + "revoked-at"
TAG_REASON = _PREFIX + "reason"  # why a tombstone exists: revoked | expired
TAG_ROLE_ARN = _PREFIX + "role-arn"
TAG_EXTERNAL_ID = _PREFIX + "external-id"
TAG_RESOURCE_IDS = _PREFIX + "resource-ids"  # owner side: the named instances (or their digest when too long)
TAG_PROBE_RESOURCE = _PREFIX + "probe-resource"  # partner side: a named instance the verifier's probe reads
TAG_NAME_KEY = _PREFIX + "name-key"  # the ticket's slug: tickets that differ only in case or punctuation share it
TAG_SEAL = _PREFIX + "seal"  # HMAC over the name and SEALED_TAGS, keyed by the function's seal secret (seal.py)

KIND_ROLE = "role"
KIND_ACCESS = "access"
KIND_TOMBSTONE = "tombstone"
KIND_ASSUME = "assume"
KIND_VERIFY = "verify"

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TAG_VALUE_MAX = 128
_INVALID = re.compile(r"[^a-z0-9-]+")


def managed_filter(kind: str | None = None, ticket: str | None = None) -> dict[str, str]:
    """The tag filter of the list calls: managed by us, optionally one kind, and the names of one ticket.

    A ticket is looked up by its name key, not by its own tag, so that resources of another ticket with the same
    names (``OPS-1`` and ``ops_1`` are both ``rd-ops-1``) are found too and the collision is refused, not merged.
    """
    tags = {TAG_MANAGED_BY: MANAGED_BY_VALUE}
    if kind is not None:
        tags[TAG_KIND] = kind
    if ticket is not None:
        tags[TAG_NAME_KEY] = name_key(ticket)
    return tags


def is_managed(tags: Mapping[str, str]) -> bool:
    return tags.get(TAG_MANAGED_BY) == MANAGED_BY_VALUE


# What the sweeps and revocation act on: a change to any of these tags breaks the seal.
SEALED_TAGS = (
    TAG_MANAGED_BY,
    TAG_KIND,
    TAG_TICKET,
    TAG_EXPIRES_AT,
    TAG_PARTNER_ACCOUNT,
    TAG_PARTNER_USER,
    TAG_OWNER_ACCOUNT,
    TAG_ROLE_ARN,
    TAG_REGION,
    TAG_RESOURCE_GROUP,
    TAG_PROFILE,
    TAG_STATE,
    TAG_REVOKED_AT,
)


def with_seal(tags: Mapping[str, str], name: str, keys: SealKeys | None) -> dict[str, str]:
    """``tags`` plus the seal of resource ``name`` under the current key (unchanged without seal keys)."""
    if keys is None:
        return dict(tags)
    unsealed = {k: v for k, v in tags.items() if k != TAG_SEAL}
    return {**unsealed, TAG_SEAL: seal.seal(keys.current, name, unsealed, SEALED_TAGS)}


def clear_dropped(desired: Mapping[str, str], existing: Mapping[str, str] | None) -> dict[str, str]:
    """``desired`` plus an empty value for each of our tags ``existing`` carries and ``desired`` no longer does (a
    resource group no longer named, the revocation time of a grant given again, a former grant's instances).
    TagResources never removes a tag and a seal reads an absent tag as empty, so the record, its seal and the removal
    stay one write: an UntagResources beside it would leave a moment (after a crash, for good) in which the seal does
    not verify and the grant looks foreign."""
    if existing is None:
        return dict(desired)
    dropped = {key: "" for key, value in existing.items() if key.startswith(_PREFIX) and value and key not in desired}
    dropped.pop(TAG_SEAL, None)
    return {**dropped, **desired}


def is_sealed(tags: Mapping[str, str], name: str, keys: SealKeys | None) -> bool:
    """Whether resource ``name`` is ours: managed-by tag and, when seal keys are configured, a valid seal under one
    of them (the current key or one kept from before a rotation).

    Without keys (a deployment that has not set one yet) only the tag counts, as before sealing existed.
    """
    if keys is None:
        return is_managed(tags)
    return sealed_by(tags, name, keys) is not None


def sealed_by(tags: Mapping[str, str], name: str, keys: SealKeys) -> str | None:
    """The held key that sealed resource ``name`` (None: not ours)."""
    if not is_managed(tags):
        return None
    return seal.sealing_key(keys, name, tags, SEALED_TAGS, tags.get(TAG_SEAL))


def sealed_with_previous_key(tags: Mapping[str, str], name: str, keys: SealKeys | None) -> bool:
    """Ours, but in need of another key than the newest (one from before a rotation, or, while a new KMS version
    settles, the current one): its seal, or the ExternalId it keeps encrypted. The sweeps count these."""
    if keys is None or len(keys.all) == 1:
        return False
    key = sealed_by(tags, name, keys)
    if key is None:
        return False
    encrypted = tags.get(TAG_EXTERNAL_ID, "")
    newest_only = SealKeys(keys.newest)
    return key != keys.newest or (
        encrypted.startswith(seal.ENCRYPTED_PREFIX)
        and seal.decrypt(newest_only, name, encrypted) is None
        and seal.decrypt(keys, name, encrypted) is not None
    )


def previous_key_report(
    resources: Iterable[TaggedResource],
    keys: SealKeys | None,
    tombstone_hours: int,
    end_of: Callable[[TaggedResource], datetime | None] | None = None,
) -> dict[str, object]:
    """What still needs a key other than the newest: how many of ``resources`` it sealed (or encrypted for), and
    until when (the latest expiry among them; a tombstone's end of retention; ``end_of`` for other kinds). A key
    dropped earlier would make those resources look foreign, so no sweep or revocation would act on them. Empty when
    only one key is held."""
    if keys is None or len(keys.all) == 1:
        return {}
    ends: list[datetime | None] = []
    for resource in resources:
        tags = resource.tags
        if not sealed_with_previous_key(tags, resource.name, keys):
            continue
        if tags.get(TAG_KIND) == KIND_TOMBSTONE:
            revoked_at = parse_time(tags.get(TAG_REVOKED_AT))
            ends.append(revoked_at + timedelta(hours=tombstone_hours) if revoked_at is not None else None)
        elif end_of is not None and TAG_EXPIRES_AT not in tags:
            ends.append(end_of(resource))
        else:
            ends.append(parse_time(tags.get(TAG_EXPIRES_AT)))
    known = [end for end in ends if end is not None]
    report: dict[str, object] = {"sealed_with_previous_key": len(ends)}
    if keys.pending:
        report["seal_key_settling"] = True  # a new KMS version verifies but does not seal yet: do not rotate again
    if ends:
        # A resource without a readable end keeps the key needed until an operator has looked at it.
        report["previous_key_needed_until"] = format_time(max(known)) if len(known) == len(ends) else "unknown"
    return report


def is_unsealed(tags: Mapping[str, str], name: str, keys: SealKeys | None) -> bool:
    """Our tags without a valid seal: a forgery (or a copy) to report, never to act on."""
    return is_managed(tags) and not is_sealed(tags, name, keys)


USER_MARKER = "created by ram-delegate"


def user_marker(user: str, keys: SealKeys | None) -> str:
    """The Comments of a user ram-delegate creates: the marker, sealed under the current key (users cannot carry
    tags)."""
    if keys is None:
        return USER_MARKER
    return _user_marker(user, keys.current)


def _user_marker(user: str, secret: str) -> str:
    return f"{USER_MARKER} {seal.seal(secret, 'user/' + user, {}, ())}"


def is_user_marker(comments: str, user: str, keys: SealKeys | None) -> bool:
    """Whether ram-delegate created ``user``: anyone with ram:UpdateUser can write the marker, not its seal."""
    if keys is None:
        return USER_MARKER in comments
    return any(hmac.compare_digest(comments.encode(), _user_marker(user, key).encode()) for key in keys.all)


def find_sealed(resources: Iterable[TaggedResource], name: str, keys: SealKeys | None) -> TaggedResource | None:
    """The resource called ``name`` among ``resources``, if it is ours (``is_sealed``)."""
    return next((r for r in resources if r.name == name and is_sealed(r.tags, name, keys)), None)


def find_managed(resources: Iterable[TaggedResource], name: str) -> TaggedResource | None:
    """The resource called ``name`` among ``resources``, if it carries our managed-by tag."""
    return next((r for r in resources if r.name == name and is_managed(r.tags)), None)


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime(TIME_FORMAT)


def parse_time(value: str | None) -> datetime | None:
    """A tag's time, or None when absent or unreadable (such a grant is treated as expired by the sweeps)."""
    if not value:
        return None
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def event_id_tag(event_id: str) -> str:
    """Event ids may be up to 256 characters; tag values only 128, so long ids are stored as a digest."""
    if len(event_id) <= _TAG_VALUE_MAX:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def name_key(ticket: str) -> str:
    """What a ticket's resource names are made of; two tickets with the same key would share their resources."""
    return _slug(ticket, _TAG_VALUE_MAX)


def other_ticket(resources: Iterable[Mapping[str, str]], ticket: str) -> str | None:
    """The ticket of the first managed resource in ``resources`` that belongs to a ticket other than ``ticket``."""
    for tags in resources:
        recorded = tags.get(TAG_TICKET)
        if is_managed(tags) and recorded is not None and recorded != ticket:
            return recorded
    return None


def name_collision(ticket: str, other: str) -> GuardrailError:
    """The refusal of a ticket whose resource names another ticket already holds (neither is merged nor replaced)."""
    return GuardrailError(
        f"ticket {ticket} maps to the same resource names as ticket {other}; refused, the other grant is left as is",
        problems=[Problem("data.ticket", f"same resource names as ticket {other}")],
    )


# What an event decides about a grant; the same event id must always decide the same (checked on redelivery).
DECIDED_BY_EVENT = (
    TAG_PARTNER_ACCOUNT,
    TAG_PARTNER_USER,
    TAG_OWNER_ACCOUNT,
    TAG_ROLE_ARN,
    TAG_PROFILE,
    TAG_REGION,
    TAG_RESOURCE_GROUP,
    TAG_RESOURCE_IDS,
    TAG_PROBE_RESOURCE,
    TAG_EXPIRES_AT,
    TAG_EVENT_TIME,
)


def refuse_changed_redelivery(recorded: Mapping[str, str] | None, desired: Mapping[str, str]) -> None:
    """GuardrailError when ``desired`` carries the event id ``recorded`` was made from but decides differently.

    A sender that reuses an event id with another expiry or access is in conflict with itself: the change is
    neither ignored nor applied (a real change comes as a new event).
    """
    if recorded is None or not is_managed(recorded) or recorded.get(TAG_EVENT_ID) != desired.get(TAG_EVENT_ID):
        return
    # An empty value is an absent one (clear_dropped writes a dropped field empty).
    changed = sorted(
        key.removeprefix(_PREFIX)
        for key in DECIDED_BY_EVENT
        if (recorded.get(key) or None) != (desired.get(key) or None)
    )
    if changed:
        raise GuardrailError(
            f"event {desired.get(TAG_EVENT_ID)} was applied with other values; a change needs a new event",
            problems=[Problem("id", f"same event id, different {', '.join(changed)}")],
        )


def tags_differ(actual: Mapping[str, str], desired: Mapping[str, str]) -> bool:
    """Whether writing ``desired`` would change the record. The seal is not compared: the observed resource is ours
    (sealed under a key the function holds, perhaps one from before a rotation), so equal fields are the same record
    and a redelivery writes nothing."""
    return any(actual.get(key) != value for key, value in desired.items() if key != TAG_SEAL)


def record_differs(existing: Mapping[str, str], desired: Mapping[str, str], name: str, keys: SealKeys | None) -> bool:
    """``tags_differ`` for a record that keeps an encrypted ExternalId: its ciphertext is not compared either when
    both say the same under the held keys, so a redelivery after a rotation writes nothing."""
    external_id = desired.get(TAG_EXTERNAL_ID)
    if external_id is not None and _same_encrypted(existing.get(TAG_EXTERNAL_ID), external_id, name, keys):
        desired = {key: value for key, value in desired.items() if key != TAG_EXTERNAL_ID}
    return tags_differ(existing, desired)


def _same_encrypted(actual: str | None, value: str, name: str, keys: SealKeys | None) -> bool:
    """Whether two ExternalId tags say the same; a plain value (stored before encryption) is re-encrypted with the
    next change the record gets, never by a redelivery alone."""
    if keys is None or actual is None:
        return False
    plain = seal.decrypt(keys, name, actual)
    return plain is not None and plain == seal.decrypt(keys, name, value)


def is_stale(event_time: datetime, event_id: str, recorded: Mapping[str, str] | None, *, inclusive: bool) -> bool:
    """Older than what ``recorded`` tags say (or, when ``inclusive``, not newer); the same event is never stale."""
    if recorded is None or recorded.get(TAG_EVENT_ID) == event_id_tag(event_id):
        return False
    recorded_time = parse_time(recorded.get(TAG_EVENT_TIME))
    if recorded_time is None:
        return False
    event_second = event_time.replace(microsecond=0)
    return event_second <= recorded_time if inclusive else event_second < recorded_time


def expiry_problems(expires_at: datetime, now: datetime, max_days: int) -> list[Problem]:
    """A grant's expiry must lie in the future and within the configured maximum."""
    if expires_at <= now:
        return [Problem("data.expires_at", "must be in the future")]
    if expires_at > now + timedelta(days=max_days):
        return [Problem("data.expires_at", f"must be within {max_days} days")]
    return []


def _slug(ticket: str, budget: int) -> str:
    slug = _INVALID.sub("-", ticket.lower()).strip("-") or "ticket"
    if len(slug) <= budget:
        return slug
    digest = hashlib.sha256(ticket.encode()).hexdigest()[:8]
    return f"{slug[: budget - 9].rstrip('-')}-{digest}"


def role_name(ticket: str) -> str:
    """``rd-<slug>``, at most 64 characters (RAM's role-name limit)."""
    return "rd-" + _slug(ticket, 64 - 3)


def access_policy_name(ticket: str) -> str:
    return "rd-access-" + _slug(ticket, 128 - 10)


def tombstone_policy_name(ticket: str) -> str:
    return "rd-tomb-" + _slug(ticket, 128 - 8)


def assume_policy_name(owner_account_id: str, ticket: str) -> str:
    prefix = f"rd-assume-{owner_account_id}-"
    return prefix + _slug(ticket, 128 - len(prefix))


def verifier_policy_name(owner_account_id: str) -> str:
    return f"rd-verify-{owner_account_id}"


def role_arn(account_id: str, name: str) -> str:
    return f"acs:ram::{account_id}:role/{name}"


def policy_arn(account_id: str, name: str) -> str:
    return f"acs:ram::{account_id}:policy/{name}"


def user_arn(account_id: str, name: str) -> str:
    return f"acs:ram::{account_id}:user/{name}"


def role_principal_name(role: str, account_id: str) -> str:
    """The ResourceManager principal name of a role (the account uid stands in for the alias)."""
    return f"{role}@role.{account_id}.onaliyunservice.com"


def principal_role(principal_name: str) -> str | None:
    """The role a ResourceManager principal names, None for a user (RAM answers with the account alias, we attach
    with the uid: either form counts)."""
    name, at, domain = principal_name.partition("@")
    is_role = bool(at) and domain.startswith("role.") and domain.endswith(".onaliyunservice.com")
    return name if is_role else None


def is_role_principal(principal_name: str, role: str) -> bool:
    """Whether a ResourceManager principal is ``role``."""
    return principal_role(principal_name) == role


_DIGEST_PREFIX = "sha256:"


def resource_ids_tag(resource_ids: Iterable[str]) -> str:
    """The named instances as one tag value: the ids themselves when they fit, else a digest of them (the access
    policy holds the list; the tag lets a redelivered event with another list be told apart)."""
    joined = ",".join(resource_ids)
    if len(joined) <= _TAG_VALUE_MAX:
        return joined
    return _DIGEST_PREFIX + hashlib.sha256(joined.encode()).hexdigest()[:32]


def state_of(tags: Mapping[str, str], now: datetime) -> GrantState:
    """``revoked`` when the tags say so; ``expired`` once the recorded expiry has passed (or is unreadable)."""
    if tags.get(TAG_STATE) == "revoked":
        return "revoked"
    expires_at = parse_time(tags.get(TAG_EXPIRES_AT))
    if expires_at is None or expires_at <= now:
        return "expired"
    return "active"


@dataclass(frozen=True)
class OwnerGrant:
    """One grant in the owner account, as its role's tags describe it."""

    ticket: str
    partner_account_id: str
    partner_user: str
    profile: str
    region: str
    resource_group_id: str | None
    expires_at: datetime | None
    event_time: datetime | None
    role_name: str
    role_arn: str
    policy_name: str
    state: GrantState
    resource_ids: tuple[str, ...] = ()
    """The named instances the grant is limited to (empty: every instance the profile covers in its scope)."""
    resource_ids_digest: str | None = None
    """When the list was too long for a tag: its digest (the list itself is in the access policy)."""


@dataclass(frozen=True)
class PartnerGrant:
    """One grant in the partner account, as its assume policy's tags describe it."""

    ticket: str
    owner_account_id: str
    role_arn: str
    external_id: str
    user: str
    profile: str
    region: str
    resource_group_id: str | None
    expires_at: datetime | None
    policy_name: str
    state: GrantState
    probe_resource_id: str | None = None  # the first instance a scoped grant names


def owner_grant_from(resource: TaggedResource, account_id: str, now: datetime) -> OwnerGrant:
    tags = resource.tags
    ticket = tags.get(TAG_TICKET, "")
    named = tags.get(TAG_RESOURCE_IDS, "")
    digest = named if named.startswith(_DIGEST_PREFIX) else None
    return OwnerGrant(
        ticket=ticket,
        partner_account_id=tags.get(TAG_PARTNER_ACCOUNT, ""),
        partner_user=tags.get(TAG_PARTNER_USER, ""),
        profile=tags.get(TAG_PROFILE, ""),
        region=tags.get(TAG_REGION, ""),
        resource_group_id=tags.get(TAG_RESOURCE_GROUP) or None,
        expires_at=parse_time(tags.get(TAG_EXPIRES_AT)),
        event_time=parse_time(tags.get(TAG_EVENT_TIME)),
        role_name=resource.name,
        role_arn=resource.arn or role_arn(account_id, resource.name),
        policy_name=access_policy_name(ticket),
        state=state_of(tags, now),
        resource_ids=tuple(named.split(",")) if named and digest is None else (),
        resource_ids_digest=digest,
    )


def stored_external_id(external_id: str, policy: str, keys: SealKeys | None) -> str:
    """What the partner writes into the assume policy's tag: the ExternalId encrypted (current key) when seal keys
    are set."""
    return external_id if keys is None else seal.encrypt(keys.current, policy, external_id)


def partner_grant_from(resource: TaggedResource, now: datetime, keys: SealKeys | None = None) -> PartnerGrant:
    """A partner grant from its assume policy; the ExternalId decrypted with ``keys`` ("" when unreadable)."""
    tags = resource.tags
    return PartnerGrant(
        ticket=tags.get(TAG_TICKET, ""),
        owner_account_id=tags.get(TAG_OWNER_ACCOUNT, ""),
        role_arn=tags.get(TAG_ROLE_ARN, ""),
        external_id=seal.decrypt(keys, resource.name, tags.get(TAG_EXTERNAL_ID, "")) or "",
        user=tags.get(TAG_PARTNER_USER, ""),
        profile=tags.get(TAG_PROFILE, ""),
        region=tags.get(TAG_REGION, ""),
        resource_group_id=tags.get(TAG_RESOURCE_GROUP) or None,
        expires_at=parse_time(tags.get(TAG_EXPIRES_AT)),
        policy_name=resource.name,
        state=state_of(tags, now),
        probe_resource_id=tags.get(TAG_PROBE_RESOURCE) or None,
    )


def list_owner_grants(cloud: CloudClients, now: datetime) -> list[OwnerGrant]:
    """Every grant role in the owner account: ``ceil(N / 1000)`` ListRoles calls with the managed-by filter."""
    account_id = cloud.settings.account_id or ""
    roles = cloud.ram.list_roles(managed_filter(KIND_ROLE))
    return [owner_grant_from(role, account_id, now) for role in roles if is_managed(role.tags)]


def list_partner_grants(cloud: CloudClients, now: datetime) -> list[PartnerGrant]:
    """Every assume policy in the partner account: ``ceil(N / 1000)`` ListPolicies calls with the managed-by filter."""
    policies = cloud.ram.list_policies(managed_filter(KIND_ASSUME))
    keys = cloud.settings.seal_keys
    return [partner_grant_from(policy, now, keys) for policy in policies if is_managed(policy.tags)]
