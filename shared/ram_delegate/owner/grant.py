"""The owner's approval: converge RAM to exactly what a ``partner.access.approved`` says, then tell the partner.

API calls of an approval for a new ticket: ``ListPolicies(tag ticket)`` -> ``GetRole`` (EntityNotExist) ->
``CreateRole`` (tags ride on the create) -> ``CreatePolicy`` (tags too) -> ``AttachPolicyToRole`` (or Resource
Manager ``AttachPolicy`` when scoped), then the post-write check ``ListPolicies(tag ticket)``: 6 calls. The three
writes are irreducible (RAM has no call that creates a role with a policy attached); the first read decides whether
a newer approval or a revocation (its tombstone) is recorded, ``GetRole`` finds the ExternalId of an existing grant
(reused, never regenerated), and the last read is what makes a racing revocation win (see ``ram_delegate.owner``).
A duplicate or a change reads what it compares (tags, document, attachments) and writes only the difference.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ram_delegate import grants as g
from ram_delegate.cloud import TaggedResource
from ram_delegate.deps import Deps
from ram_delegate.errors import (
    GuardrailError,
    InvalidInputError,
    NotFoundError,
    Problem,
    RetryableCloudError,
)
from ram_delegate.events import APPROVED, GRANTED, ApprovedEvent, GrantedEvent
from ram_delegate.outcome import Outcome
from ram_delegate.owner.state import Observed, observe, retire
from ram_delegate.plan import CreateConflict, Step, execute, execute_or_undo, undo_steps
from ram_delegate.policy import (
    PolicyDocument,
    owner_access_policy,
    owner_trust_policy,
    same_policy,
    scope_problems,
    to_json,
)
from ram_delegate.seal import SealKeys

logger = logging.getLogger(__name__)

ROLE_MAX_SESSION_SECONDS = 3600
# Plan-execute-check rounds: the first writes, the next confirms (a create that found its resource already there,
# or a resource that vanished under a concurrent revocation, costs one more).
_PLAN_ATTEMPTS = 4

# Regions where Alibaba Cloud offers RAM-scoped services today; an approval for another region is refused.
KNOWN_REGIONS = frozenset(
    {
        "cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "cn-qingdao", "cn-zhangjiakou", "cn-huhehaote",
        "cn-wulanchabu", "cn-chengdu", "cn-heyuan", "cn-guangzhou", "cn-nanjing", "cn-fuzhou", "cn-wuhan-lr",
        "cn-hongkong", "ap-southeast-1", "ap-southeast-3", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
        "ap-northeast-1", "ap-northeast-2", "ap-south-1", "us-west-1", "us-east-1", "eu-central-1", "eu-west-1",
        "me-east-1", "me-central-1", "na-south-1",
    }
)  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Validation (pure: no cloud call before it passes)
# ---------------------------------------------------------------------------------------------------------------


def event_time_problems(event_time: datetime, now: datetime, deps: Deps) -> list[Problem]:
    """An approval stamped ahead of the clock could outrank later revocations; one older than the maximum age could
    outlive its ticket's tombstone. Both are refused, whatever authenticated the delivery."""
    settings = deps.settings
    if event_time > now + timedelta(seconds=settings.webhook_tolerance_seconds):
        return [Problem("time", f"more than {settings.webhook_tolerance_seconds} s ahead of the clock")]
    if event_time < now - timedelta(hours=settings.max_event_age_hours):
        return [Problem("time", f"older than the maximum event age ({settings.max_event_age_hours} h)")]
    return []


def validate_approved(event: ApprovedEvent, deps: Deps, now: datetime) -> None:
    """The contextual rules the event cannot check about itself; every problem at once."""
    data = event.data
    settings = deps.settings
    problems = event_time_problems(event.time, now, deps)
    if data.partner.account_id == deps.account_id():
        problems.append(Problem("data.partner.account_id", "the partner account must not be the owner's own"))
    if not settings.allowed_partners:
        problems.append(Problem("data.partner.account_id", "no partner account is allowed (empty allow-list)"))
    elif data.partner.account_id not in settings.allowed_partners:
        problems.append(Problem("data.partner.account_id", "the partner account is not on the allow-list"))
    profile = deps.profiles.get(data.access.profile)
    if profile is None:
        known = ", ".join(sorted(deps.profiles)) or "none"
        problems.append(Problem("data.access.profile", f"unknown profile (known: {known})"))
    else:
        access = data.access
        problems += scope_problems(
            profile, resource_group_id=access.resource_group_id, resource_ids=access.resource_ids
        )
    if data.access.region not in KNOWN_REGIONS:
        problems.append(Problem("data.access.region", "not a known Alibaba Cloud region"))
    problems += g.expiry_problems(data.expires_at, now, settings.max_grant_days)
    if data.requested_by.strip().casefold() == data.approved_by.strip().casefold():
        problems.append(Problem("data.approved_by", "approved_by must differ from requested_by (no self-approval)"))
    if problems:
        raise InvalidInputError("the approval is invalid", problems=problems)


# ---------------------------------------------------------------------------------------------------------------
# Desired state and plan
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Desired:
    account_id: str
    role: str
    role_arn: str
    policy: str
    access_doc: PolicyDocument
    resource_group_id: str | None
    tags: Mapping[str, str]


def _grant_tags(event: ApprovedEvent, account_id: str) -> dict[str, str]:
    data = event.data
    tags = {
        g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE,
        g.TAG_TICKET: data.ticket,
        g.TAG_NAME_KEY: g.name_key(data.ticket),
        g.TAG_PARTNER_ACCOUNT: data.partner.account_id,
        g.TAG_PARTNER_USER: data.partner.user,
        g.TAG_PROFILE: data.access.profile,
        g.TAG_REGION: data.access.region,
        g.TAG_EXPIRES_AT: g.format_time(data.expires_at),
        g.TAG_EVENT_TIME: g.format_time(event.time),
        g.TAG_EVENT_ID: g.event_id_tag(event.id),
        g.TAG_STATE: "active",
        g.TAG_OWNER_ACCOUNT: account_id,
    }
    if data.access.resource_group_id:
        tags[g.TAG_RESOURCE_GROUP] = data.access.resource_group_id
    if data.access.resource_ids:
        tags[g.TAG_RESOURCE_IDS] = g.resource_ids_tag(data.access.resource_ids)
    return tags


def _external_id_of(trust_policy: str) -> str | None:
    """The ExternalId a role's trust policy requires (reused for the life of the grant)."""
    try:
        document = json.loads(trust_policy)
    except ValueError:
        return None
    for statement in document.get("Statement", []) if isinstance(document, dict) else []:
        value = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if isinstance(value, str):
            return value
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0]
    return None


def _trust_for(event: ApprovedEvent, deps: Deps, external_id: str) -> PolicyDocument:
    verifier = deps.settings.verifier_role
    return owner_trust_policy(
        partner_account_id=event.data.partner.account_id,
        partner_users=[event.data.partner.user],
        external_id=external_id,
        expires_at=event.data.expires_at,
        verifier_role=g.role_arn(event.data.partner.account_id, verifier) if verifier else None,
    )


def _plan_grant(desired: _Desired, observed: Observed, trust: PolicyDocument, seal_keys: SealKeys | None) -> list[Step]:
    steps: list[Step] = []
    role, policy = desired.role, desired.policy
    recorded_role = observed.role_tags if observed.role is not None else None
    recorded_access = observed.access.tags if observed.access is not None else None
    role_tags = g.with_seal(g.clear_dropped({**desired.tags, g.TAG_KIND: g.KIND_ROLE}, recorded_role), role, seal_keys)
    policy_tags = g.with_seal(
        g.clear_dropped({**desired.tags, g.TAG_KIND: g.KIND_ACCESS}, recorded_access), policy, seal_keys
    )
    trust_json = to_json(trust)
    ticket = desired.tags[g.TAG_TICKET]
    if observed.role is None:
        params = {
            "role": role,
            "trust_policy": trust_json,
            "description": f"ram-delegate grant for ticket {ticket}",
            "max_session_duration": ROLE_MAX_SESSION_SECONDS,
            "tags": role_tags,
        }
        steps.append(Step("CreateRole", desired.role_arn, params, "the grant's role does not exist"))
    elif not same_policy(observed.role.trust_policy, trust, "trust"):
        params = {"role": role, "trust_policy": trust_json}
        steps.append(Step("UpdateRole", desired.role_arn, params, "trust policy differs"))
    policy_arn = g.policy_arn(desired.account_id, policy)
    access_json = to_json(desired.access_doc)
    if observed.access is None:
        params = {
            "policy": policy,
            "document": access_json,
            "description": f"ram-delegate access for ticket {ticket}",
            "tags": policy_tags,
        }
        steps.append(Step("CreatePolicy", policy_arn, params, "the grant's access policy does not exist"))
    elif not same_policy(observed.policy_document, desired.access_doc, "custom"):
        params = {"policy": policy, "document": access_json}
        steps.append(Step("CreatePolicyVersion", policy_arn, params, "access differs"))
    steps += _attachment_steps(desired, observed)
    # The record goes first: a concurrent older approval that reads it now backs off before writing anything.
    claims: list[Step] = []
    if observed.access is not None and g.tags_differ(observed.access.tags, policy_tags):
        params = {"resource_type": "policy", "name": policy, "tags": policy_tags}
        claims.append(Step("TagResources", policy_arn, params, "record the event"))
    if observed.role is not None and g.tags_differ(observed.role_tags, role_tags):
        params = {"resource_type": "role", "name": role, "tags": role_tags}
        claims.append(Step("TagResources", desired.role_arn, params, "record the event"))
    return claims + steps


def _attachment_steps(desired: _Desired, observed: Observed) -> list[Step]:
    """Attach where the approval says (account-wide or one group) and detach from anywhere else."""
    role, policy = desired.role, desired.policy
    principal = g.role_principal_name(role, desired.account_id)
    wanted_group = desired.resource_group_id
    steps: list[Step] = []
    if wanted_group is not None and observed.attached_account:
        steps.append(
            Step("DetachPolicyFromRole", desired.role_arn, {"policy": policy, "role": role}, "now group-scoped")
        )
    for group in sorted(observed.attached_groups - {wanted_group}):
        params = {"policy": policy, "principal_name": principal, "resource_group_id": group}
        steps.append(Step("DetachPolicy", desired.role_arn, params, "no longer scoped to this resource group"))
    if wanted_group is None and not observed.attached_account:
        steps.append(
            Step("AttachPolicyToRole", desired.role_arn, {"policy": policy, "role": role}, "attach account-wide")
        )
    if wanted_group is not None and wanted_group not in observed.attached_groups:
        params = {"policy": policy, "principal_name": principal, "resource_group_id": wanted_group}
        steps.append(Step("AttachPolicy", desired.role_arn, params, "attach in the resource group"))
    return steps


# ---------------------------------------------------------------------------------------------------------------
# Approved
# ---------------------------------------------------------------------------------------------------------------


def _blocked_by_tombstone(event: ApprovedEvent, tombstone: TaggedResource | None) -> bool:
    """Only an approval newer than the ticket's recorded revocation may grant it again."""
    return tombstone is not None and g.is_stale(event.time, event.id, tombstone.tags, inclusive=True)


def _record_moved(deps: Deps, desired: _Desired, observed: TaggedResource) -> bool:
    """Read the grant's record again right before changing it: an older approval whose observation began before a
    newer one wrote must not overwrite it (RAM has no conditional write; this leaves a window of one call)."""
    listed = deps.cloud.ram.list_policies(g.managed_filter(ticket=desired.tags[g.TAG_TICKET]))
    current = g.find_managed(listed, desired.policy)
    return current is None or current.tags.get(g.TAG_EVENT_ID) != observed.tags.get(g.TAG_EVENT_ID)


def _check_after_writes(deps: Deps, event: ApprovedEvent, desired: _Desired) -> Literal["intact", "revoked", "changed"]:
    """One read after the last write: the step that makes a concurrent revocation win.

    A revocation records its tombstone before its final observation; so either this read sees the tombstone (and
    the approval takes itself back), or every write of the approval happened before the tombstone and the
    revocation's final observation finds and retires them. "changed": another writer touched the grant; re-plan.
    """
    listed = deps.cloud.ram.list_policies(g.managed_filter(ticket=event.data.ticket))
    if _blocked_by_tombstone(event, g.find_managed(listed, g.tombstone_policy_name(event.data.ticket))):
        return "revoked"
    access = g.find_managed(listed, desired.policy)
    if access is not None and not g.tags_differ(access.tags, {**desired.tags, g.TAG_KIND: g.KIND_ACCESS}):
        return "intact"
    return "changed"


def handle_approved(event: ApprovedEvent, deps: Deps, *, now: datetime, dry_run: bool = False) -> Outcome:
    """Grant, or change the grant of the same ticket, converging RAM to exactly what the approval says.

    Each round observes, plans and executes; the round after the last write is the check that nothing changed
    under it. A revocation recorded meanwhile makes the approval take back everything of the ticket (it never
    answers ``applied`` for access a revocation has ended); a newer approval recorded meanwhile makes it restore
    what the newer one says (an older approval never leaves its own user or expiry behind).
    """
    validate_approved(event, deps, now)
    return _converge(event, _desired_for(event, deps), deps, now=now, dry_run=dry_run, notify=True)


def _desired_for(event: ApprovedEvent, deps: Deps) -> _Desired:
    """What RAM must hold for ``event``; every document is built and linted here, before any call."""
    data = event.data
    account_id = deps.account_id()
    profile = deps.profiles[data.access.profile]
    access_doc = owner_access_policy(
        profile=profile,
        owner_account_id=account_id,
        region=data.access.region,
        expires_at=data.expires_at,
        resource_ids=data.access.resource_ids,
    )
    # Lint the trust policy before the first call too (the real ExternalId is only known after observing).
    _trust_for(event, deps, secrets.token_urlsafe(24))
    role = g.role_name(data.ticket)
    return _Desired(
        account_id=account_id,
        role=role,
        role_arn=g.role_arn(account_id, role),
        policy=g.access_policy_name(data.ticket),
        access_doc=access_doc,
        resource_group_id=data.access.resource_group_id,
        tags=_grant_tags(event, account_id),
    )


def _recorded_approval(tags: Mapping[str, str]) -> ApprovedEvent | None:
    """The approval a grant's tags record, rebuilt to re-render it; None when the tags cannot describe one."""
    try:
        return ApprovedEvent.model_validate(
            {
                "specversion": "1.0",
                "id": tags[g.TAG_EVENT_ID],
                "source": "ram-delegate://recorded",
                "type": APPROVED,
                "time": tags[g.TAG_EVENT_TIME],
                "data": {
                    "ticket": tags[g.TAG_TICKET],
                    "partner": {
                        "name": "recorded",
                        "account_id": tags[g.TAG_PARTNER_ACCOUNT],
                        "user": tags[g.TAG_PARTNER_USER],
                    },
                    "access": {
                        "profile": tags[g.TAG_PROFILE],
                        "region": tags[g.TAG_REGION],
                        "resource_group_id": tags.get(g.TAG_RESOURCE_GROUP) or None,
                        "resource_ids": recorded_resource_ids(tags),
                    },
                    "expires_at": tags[g.TAG_EXPIRES_AT],
                    "requested_by": "recorded requester",
                    "approved_by": "recorded approver",
                },
            }
        )
    except (KeyError, ValueError):
        return None


def recorded_resource_ids(tags: Mapping[str, str]) -> list[str] | None:
    """The named instances a grant's tags record; KeyError when only their digest was recorded (not re-renderable)."""
    recorded = tags.get(g.TAG_RESOURCE_IDS)
    if not recorded:
        return None
    if recorded.startswith("sha256:"):
        raise KeyError(g.TAG_RESOURCE_IDS)
    return recorded.split(",")


def _restore_recorded(deps: Deps, tags: Mapping[str, str], now: datetime, ours: ApprovedEvent) -> None:
    """After losing a race to a newer approval, re-render what the newer one recorded over our writes.

    The record's instance list is a tag outside the seal, so it is re-rendered only with instances our own (authentic)
    approval named as well: an edited record cannot widen the grant through this path; at worst it narrows it until
    the newer approval's next delivery."""
    recorded = _recorded_approval(tags)
    ticket = tags.get(g.TAG_TICKET, "")
    if recorded is None or recorded.data.access.profile not in deps.profiles:
        logger.warning("ticket %s: the recorded approval cannot be re-rendered; the next delivery converges", ticket)
        return
    named = recorded.data.access.resource_ids
    if named:
        if ours.data.access.resource_ids:
            kept = [item for item in named if item in ours.data.access.resource_ids]
        else:  # ours named no instance: every instance of its profile, if it is the same profile
            kept = named if ours.data.access.profile == recorded.data.access.profile else []
        if not kept:
            logger.warning("ticket %s: the recorded instances are none of ours; the next delivery converges", ticket)
            return
        access = recorded.data.access.model_copy(update={"resource_ids": kept})
        recorded = recorded.model_copy(update={"data": recorded.data.model_copy(update={"access": access})})
    _converge(recorded, _desired_for(recorded, deps), deps, now=now, dry_run=False, notify=False)


def _converge(
    event: ApprovedEvent, desired: _Desired, deps: Deps, *, now: datetime, dry_run: bool, notify: bool
) -> Outcome:
    """Observe, plan, execute and check until RAM holds ``desired`` (see ``handle_approved``)."""
    data = event.data
    role = desired.role
    created: list[Step] = []  # what this delivery wrote; its creates are taken back if the partner refuses
    written: list[Step] = []
    detail: dict[str, Any] = {"role_arn": desired.role_arn, "policy": desired.policy}
    for _attempt in range(_PLAN_ATTEMPTS):
        observed = observe(deps, data.ticket, wanted_group=data.access.resource_group_id)
        if observed.other_ticket is not None:
            raise g.name_collision(data.ticket, observed.other_ticket)
        recorded = observed.access.tags if observed.access else observed.role_tags
        if not written:
            g.refuse_changed_redelivery(recorded, {**desired.tags, g.TAG_KIND: g.KIND_ACCESS})
        # A tombstone this function cannot verify counts too (when in doubt, less access): the check after the
        # writes honours it anyway, so heeding it now only spares the writes and their moment of access.
        if _blocked_by_tombstone(event, observed.tombstone or observed.unverified_tombstone):
            if written:
                _take_back(deps, event, "revoked while the approval was applied")
            return Outcome("stale", data.ticket, detail={"reason": "the ticket was revoked by a later or equal event"})
        if g.is_stale(event.time, event.id, recorded or None, inclusive=True):
            if written:
                _restore_recorded(deps, recorded, now, event)
            return Outcome("stale", data.ticket, detail={"reason": "a newer approval is already applied"})
        if observed.role is not None and not observed.role_is_ours:
            raise GuardrailError(
                f"role {role} exists but is not managed (sealed) by ram-delegate for this ticket; it is left untouched",
                problems=[Problem("role", f"{role}: foreign or unsealed role with the grant's name")],
            )
        external_id = (_external_id_of(observed.role.trust_policy) if observed.role else None) or secrets.token_urlsafe(
            24
        )
        steps = _plan_grant(desired, observed, _trust_for(event, deps, external_id), deps.settings.seal_keys)
        if dry_run:
            return Outcome("dry-run", data.ticket, tuple(steps), detail)
        if not steps:
            if notify:
                _notify_partner(event, deps, desired.role_arn, external_id, now, created)
            if written:
                return Outcome("applied", data.ticket, tuple(written), detail)
            same_event = observed.access is not None and observed.access.tags.get(g.TAG_EVENT_ID) == g.event_id_tag(
                event.id
            )
            return Outcome("duplicate" if same_event else "unchanged", data.ticket, (), detail)
        if observed.access is not None and _record_moved(deps, desired, observed.access):
            continue  # another delivery recorded itself since our observation began: observe again
        completed: list[Step] = []
        conflict = False
        try:
            detail["results"] = execute_or_undo(
                steps, deps.cloud, deps.audit, ticket=data.ticket, event_id=event.id, completed=completed
            )
        except CreateConflict:
            conflict = True
            continue  # someone (a concurrent delivery, or our own lost answer) created it: observe again
        except NotFoundError as exc:
            if exc.cloud_code.startswith("EntityNotExists.ResourceGroup"):
                raise GuardrailError(
                    f"resource group {data.access.resource_group_id} does not exist; nothing was granted",
                    problems=[Problem("data.access.resource_group_id", "no such resource group in the account")],
                ) from None
            continue  # a resource vanished under us (a concurrent revocation): observe again
        finally:
            created += completed  # undo_steps takes back only its creates and attaches
        written += steps
        check = _check_after_writes(deps, event, desired)
        if check == "revoked":
            _take_back(deps, event, "revoked while the approval was applied")
            return Outcome("stale", data.ticket, detail={"reason": "the ticket was revoked while it was granted"})
        if check == "intact":
            if notify:
                _notify_partner(event, deps, desired.role_arn, external_id, now, created)
            return Outcome("applied", data.ticket, tuple(written), detail)
    if conflict:  # the name is held by something without our tags: take back what this delivery made
        execute(undo_steps(created), deps.cloud, deps.audit, ticket=data.ticket, event_id=event.id)
        raise GuardrailError(
            f"the resources of ticket {data.ticket} keep conflicting with resources ram-delegate does not manage",
            problems=[Problem("ticket", "a role or policy with the grant's name exists without ram-delegate's tags")],
        )
    raise RetryableCloudError(f"the grant of {data.ticket} kept changing while it was applied; retry to finish")


def _take_back(deps: Deps, event: ApprovedEvent, reason: str) -> None:
    """Retire everything of the ticket without touching its tombstone: the approval lost a race to a revocation."""
    logger.warning("approval %s of %s: %s; taking back its writes", event.id[:64], event.data.ticket, reason)
    retire(deps, event.data.ticket, lambda _existing: None, reason=reason, event_id=event.id)


def _notify_partner(
    event: ApprovedEvent, deps: Deps, role_arn: str, external_id: str, now: datetime, created: list[Step]
) -> None:
    """Tell the partner the role exists.

    No answer or a 5xx is retryable (the sender redelivers and the retry resends). A 4xx is the partner's final
    refusal (its quota, its allow-list): what this delivery created is taken back and the approval answers 422.
    """
    settings = deps.settings
    secret = settings.partner_signing_secret
    if not settings.partner_endpoint or not secret:
        return
    data = event.data
    granted = GrantedEvent.model_validate(
        {
            "specversion": "1.0",
            "id": f"{event.id}.granted"[-256:],
            "source": f"ram-delegate://owner/{deps.account_id()}",
            "type": GRANTED,
            "time": event.time,
            "data": {
                "ticket": data.ticket,
                "owner_account_id": deps.account_id(),
                "partner": data.partner.model_dump(),
                "access": data.access.model_dump(),
                "role_arn": role_arn,
                "external_id": external_id,
                "expires_at": data.expires_at,
            },
        }
    )
    try:
        status = deps.notifier.send_event(settings.partner_endpoint, secret, granted, now=now)
    except OSError:
        status = 0
    if status == 0 or status >= 500:
        raise RetryableCloudError(f"the partner endpoint did not accept the grant of {data.ticket} (status {status})")
    if not 200 <= status < 300:
        execute(undo_steps(created), deps.cloud, deps.audit, ticket=data.ticket, event_id=event.id)
        raise GuardrailError(
            f"the partner refused the grant of {data.ticket} (status {status}); what this delivery created was "
            "taken back",
            problems=[Problem("data.partner", f"the partner endpoint answered {status}")],
        )
