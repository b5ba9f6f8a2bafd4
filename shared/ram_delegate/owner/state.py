"""What the owner side reads of one ticket's grant, and how a grant is retired (revocation, expiry, self-undo).

Retirement order, chosen so that access is cut before anything that could fail for lack of quota: detach the
access policy (live sessions lose access), replace the trust with a Deny (no new session), delete the access policy
(this frees the custom-policy quota the tombstone needs), record the tombstone, and delete the role last (while the
role exists, a sweep stopped half-way finds the grant again and finishes it). ``retire`` then observes again and
repeats until an observation finds nothing of the grant left: a grant written concurrently by an approval that read
the ticket before the tombstone existed is found and retired too, so the revocation answers only once the ticket is
clean (see ``ram_delegate.owner`` for the whole protocol).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ram_delegate import grants as g
from ram_delegate.cloud import RoleInfo, TaggedResource
from ram_delegate.deps import Deps
from ram_delegate.errors import CloudError, NotFoundError, QuotaExceededError, RetryableCloudError
from ram_delegate.plan import CreateConflict, Step, execute

RETIRE_ROUNDS = 4  # observe-and-retire rounds before a revocation gives up for now (5xx, the sender retries)


@dataclass(frozen=True)
class Observed:
    """One ticket's resources as RAM shows them now (only what carries our tags counts as ours)."""

    access: TaggedResource | None
    tombstone: TaggedResource | None
    role: RoleInfo | None
    role_tags: Mapping[str, str]
    policy_document: str | None
    attached_account: bool
    attached_groups: frozenset[str]
    other_ticket: str | None  # another ticket holding this ticket's resource names
    unverified_tombstone: TaggedResource | None = None
    """Our tags on the tombstone's name without a seal this function can verify (a forgery, or a seal key it does not
    hold): never changed, but an approval it says was revoked later does not proceed."""
    unverified: tuple[str, ...] = ()
    """The ticket's role or access policy carrying our tags without a seal this function can verify: never touched,
    so a revocation cannot confirm that no access remains."""

    @property
    def role_is_ours(self) -> bool:
        return self.role is not None and g.is_managed(self.role_tags)

    @property
    def holds_grant(self) -> bool:
        """Whether anything that could give access is left: our role or our access policy."""
        return self.role_is_ours or self.access is not None

    def grant_event_time(self) -> datetime | None:
        """The time of the approval the grant's resources record (the newer of policy and role)."""
        times = [g.parse_time(tags.get(g.TAG_EVENT_TIME)) for tags in self._grant_tags()]
        known = [time for time in times if time is not None]
        return max(known) if known else None

    def _grant_tags(self) -> list[Mapping[str, str]]:
        tags: list[Mapping[str, str]] = [self.access.tags] if self.access else []
        return [*tags, self.role_tags] if self.role_is_ours else tags


def observe(deps: Deps, ticket: str, *, wanted_group: str | None = None) -> Observed:
    """Read what a plan depends on: the ticket's tagged policies, its role, and where the access policy is attached.

    Attachments are looked for account-wide and in every resource group the approval, the policy or the role names
    (a grant moving between groups is detached from the old one; a revocation finds every attachment).
    """
    ram = deps.cloud.ram
    role = g.role_name(ticket)
    policy = g.access_policy_name(ticket)
    listed = ram.list_policies(g.managed_filter(ticket=ticket))
    keys = deps.settings.seal_keys
    # Only sealed resources are ours (seal.py): a forged tag or seal is neither adopted, nor changed, nor deleted.
    access = g.find_sealed(listed, policy, keys)
    tomb_name = g.tombstone_policy_name(ticket)
    tombstone = g.find_sealed(listed, tomb_name, keys)
    unverified_tombstone = None if tombstone is not None else g.find_managed(listed, tomb_name)
    role_info, role_tags = _read_role(deps, role)
    listed_access = g.find_managed(listed, policy)
    unverified = tuple(
        name
        for name, tags in ((role, role_tags), (policy, listed_access.tags if listed_access else {}))
        if g.is_unsealed(tags, name, keys)
    )
    other = g.other_ticket([*(p.tags for p in listed), role_tags], ticket)
    ours = g.is_sealed(role_tags, role, keys) and role_tags.get(g.TAG_TICKET) == ticket
    attached_account = False
    attached_groups: frozenset[str] = frozenset()
    if ours and other is None and access is not None:
        attached_account = _is_attached(deps, role, policy)
        recorded = (access.tags.get(g.TAG_RESOURCE_GROUP), role_tags.get(g.TAG_RESOURCE_GROUP))
        groups = sorted({group for group in (wanted_group, *recorded) if group})
        attached_groups = frozenset(group for group in groups if _is_attached_in_group(deps, role, policy, group))
    document = None
    if access is not None:
        try:
            document = ram.get_policy(policy).document
        except NotFoundError:  # deleted since the listing (a concurrent retirement)
            access, attached_account, attached_groups = None, False, frozenset()
    return Observed(
        access=access,
        tombstone=tombstone,
        role=role_info,
        role_tags=role_tags if ours else {},
        policy_document=document,
        attached_account=attached_account,
        attached_groups=attached_groups,
        other_ticket=other,
        unverified_tombstone=unverified_tombstone,
        unverified=unverified,
    )


def _read_role(deps: Deps, role: str) -> tuple[RoleInfo | None, Mapping[str, str]]:
    """The role and its tags; (None, {}) when it does not exist, or stops existing between the two reads."""
    try:
        return deps.cloud.ram.get_role(role), deps.cloud.ram.list_role_tags(role)
    except NotFoundError:
        return None, {}


def _is_attached(deps: Deps, role: str, policy: str) -> bool:
    """Whether ``policy`` is attached to ``role`` account-wide (a role deleted meanwhile holds nothing)."""
    try:
        return any(p.name == policy for p in deps.cloud.ram.list_policies_for_role(role))
    except NotFoundError:
        return False


def _is_attached_in_group(deps: Deps, role: str, policy: str, group: str) -> bool:
    """Whether ``policy`` is attached to ``role`` within one resource group (a deleted group holds nothing)."""
    try:
        attachments = deps.cloud.resource_manager.list_policy_attachments(policy=policy, resource_group_id=group)
    except NotFoundError:
        return False
    return any(g.is_role_principal(a.principal_name, role) and a.policy_name == policy for a in attachments)


# ---------------------------------------------------------------------------------------------------------------
# Retirement
# ---------------------------------------------------------------------------------------------------------------


def deny_trust(partner_account_id: str) -> str:
    """A trust policy that admits nobody from the partner account: new sessions are refused at once."""
    return json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": "sts:AssumeRole",
                    "Principal": {"RAM": [f"acs:ram::{partner_account_id}:root"]},
                }
            ],
        },
        separators=(",", ":"),
    )


def _tombstone_document(role_arn: str) -> str:
    """Never attached; a harmless Deny that only documents which role was revoked."""
    return json.dumps(
        {"Version": "1", "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": role_arn}]},
        separators=(",", ":"),
    )


def tombstone_tags(ticket: str, event_id: str, recorded_time: datetime, now: datetime, cause: str) -> dict[str, str]:
    """The tombstone's record: which event retired the ticket and the time approvals must be newer than."""
    return {
        g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE,
        g.TAG_KIND: g.KIND_TOMBSTONE,
        g.TAG_TICKET: ticket,
        g.TAG_NAME_KEY: g.name_key(ticket),
        g.TAG_STATE: "revoked",
        g.TAG_EVENT_ID: g.event_id_tag(event_id),
        g.TAG_EVENT_TIME: g.format_time(recorded_time),
        g.TAG_REVOKED_AT: g.format_time(now),
        g.TAG_REASON: cause,
    }


def retire_steps(
    deps: Deps, ticket: str, observed: Observed, tombstone: Mapping[str, str] | None, reason: str
) -> list[Step]:
    """The calls that retire what ``observed`` shows, in the order of the module docstring; [] when clean."""
    account_id = deps.account_id()
    role = g.role_name(ticket)
    arn = g.role_arn(account_id, role)
    policy = g.access_policy_name(ticket)
    steps: list[Step] = []
    if observed.attached_account:
        steps.append(Step("DetachPolicyFromRole", arn, {"policy": policy, "role": role}, f"{reason}: cut access"))
    principal = g.role_principal_name(role, account_id)
    for group in sorted(observed.attached_groups):
        params = {"policy": policy, "principal_name": principal, "resource_group_id": group}
        steps.append(Step("DetachPolicy", arn, params, f"{reason}: cut access"))
    partner = observed.role_tags.get(g.TAG_PARTNER_ACCOUNT)
    if observed.role_is_ours and partner and observed.role and '"Deny"' not in observed.role.trust_policy:
        params = {"role": role, "trust_policy": deny_trust(partner)}
        steps.append(Step("UpdateRole", arn, params, f"{reason}: no new sessions", absent_is_done=True))
    if observed.access is not None:
        steps.append(Step("DeletePolicy", g.policy_arn(account_id, policy), {"policy": policy}, reason))
    if (
        tombstone is not None and observed.unverified_tombstone is None
    ):  # a forged one holds the name: cut access anyway
        sealed = g.with_seal(tombstone, g.tombstone_policy_name(ticket), deps.settings.seal_keys)
        steps += _tombstone_steps(account_id, ticket, arn, observed.tombstone, sealed)
    if observed.role_is_ours:
        steps.append(Step("DeleteRole", arn, {"role": role}, reason))
    return steps


def _tombstone_steps(
    account_id: str, ticket: str, role_arn: str, existing: TaggedResource | None, tags: Mapping[str, str]
) -> list[Step]:
    name = g.tombstone_policy_name(ticket)
    arn = g.policy_arn(account_id, name)
    if existing is None:
        params = {
            "policy": name,
            "document": _tombstone_document(role_arn),
            "description": f"ram-delegate tombstone of ticket {ticket}",
            "tags": dict(tags),
        }
        return [Step("CreatePolicy", arn, params, "remember the revocation so older approvals stay refused")]
    if g.tags_differ(existing.tags, {key: value for key, value in tags.items() if key != g.TAG_REVOKED_AT}):
        params = {"resource_type": "policy", "name": name, "tags": dict(tags)}
        return [Step("TagResources", arn, params, "record the later revocation")]
    return []


TombstoneFor = Callable[[TaggedResource | None], Mapping[str, str] | None]


def retire(
    deps: Deps,
    ticket: str,
    tombstone_for: TombstoneFor,
    *,
    reason: str,
    event_id: str | None,
    proceed: Callable[[Observed], bool] = lambda _observed: True,
    observed: Observed | None = None,
) -> tuple[list[Step], Observed]:
    """Retire the ticket's grant until an observation finds it clean; returns the steps that ran and that last
    observation (a revocation checks it for what it could not verify: see ``Observed.unverified``).

    ``observed``: the caller's own fresh observation, used for the first round instead of reading again.

    ``tombstone_for(existing)`` gives the tombstone tags to record (None: leave the tombstone as it is);
    ``proceed(observed)`` may stop the retirement when what it finds is no longer what it was asked to retire (a
    sweep meeting a renewed grant). A quota refusal or a grant that keeps reappearing is a RetryableCloudError:
    access is cut as far as it got, and the retry (a 5xx makes the sender redeliver) continues from what it finds.
    """
    ran: list[Step] = []
    for _round in range(RETIRE_ROUNDS):
        observed = observed or observe(deps, ticket)
        if observed.other_ticket is not None:
            raise g.name_collision(ticket, observed.other_ticket)
        if not proceed(observed):
            return ran, observed
        steps = retire_steps(deps, ticket, observed, tombstone_for(observed.tombstone), reason)
        if not steps:
            return ran, observed
        observed = None  # every later round observes what the writes left
        try:
            execute(steps, deps.cloud, deps.audit, ticket=ticket, event_id=event_id)
        except CreateConflict:
            continue  # a concurrent retirement wrote the tombstone first: observe again and record ours on it
        except QuotaExceededError as exc:
            raise RetryableCloudError(
                f"access of {ticket} is cut, but its tombstone could not be recorded: {exc.message}",
                action=exc.action,
                cloud_code=exc.cloud_code,
            ) from None
        except CloudError as exc:
            if not exc.cloud_code.startswith("DeleteConflict"):
                raise
            continue  # something was attached since the observation (a racing approval): observe again
        ran += steps
    raise RetryableCloudError(f"the grant of {ticket} kept changing while it was retired; retry to finish")
