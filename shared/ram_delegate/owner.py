"""The owner side (account A): grant on ``partner.access.approved``, revoke on ``partner.access.revoked``, and the
expiry sweep. Each handler validates, builds and lints every document, observes RAM, plans, then executes.

API calls of an approval for a new ticket: 1 read + 3 writes =
``ListPolicies(tag ticket)`` -> ``GetRole`` (EntityNotExist) -> ``CreateRole`` (tags ride on the create) ->
``CreatePolicy`` (tags too) -> ``AttachPolicyToRole`` (or ResourceManager ``AttachPolicy`` when scoped), i.e. 5.
Lower bound: the three writes are irreducible (RAM has no call that creates a role with a policy attached); tags
need no extra call because CreateRole/CreatePolicy take them. One read is irreducible too: the approval must be
refused if a newer approval or a revocation (its tombstone policy) is recorded, and only a read can tell; the
tag-filtered ``ListPolicies`` answers both for the ticket in one call. ``GetRole`` is the second read because the
ExternalId of an existing grant must be reused, never regenerated (a crash after CreateRole is found this way),
and no list call returns trust policies. So a new grant costs the minimum writes plus two reads.
A duplicate or a change reads what it compares: ``ListTagResources`` (ownership of the role), ``GetPolicy``
(document) and ``ListPoliciesForRole`` / ``ListPolicyAttachments`` (attachment), then writes only the difference.

Ordering: the access policy's tags record the event (id and time) the grant reflects; an approval older than it, or
at the same time with another id, is ``stale``. A revocation deletes the grant and leaves a tombstone policy
``rd-tomb-<ticket>`` (a never-attached Deny) recording the revocation's event time; an approval not newer than the
tombstone is ``stale``, so a redelivered or replayed approval never brings a revoked grant back. A *newer* approval
for a revoked ticket does grant again (a new decision by the approvers). The sweep drops tombstones after
``settings.tombstone_hours`` (>= 76 h, beyond senders' redelivery horizon).

Names: tickets that differ only in case or punctuation (``OPS-1``, ``ops-1``, ``ops_1``) map to the same resource
names. Every resource records the ticket's name key, and the tag-filtered reads look the ticket up by that key, so
the second such ticket finds the first one's resources and is refused (422); it never adopts, changes or revokes them.

The sweep lists the managed roles and tombstones (``ceil(N / 1000)`` calls each when nothing expired), then, per
expired grant, reads its policies by name key once: the access policy is deleted only if it carries our tags.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ram_delegate import grants as g
from ram_delegate.cloud import LIST_PAGE_SIZE, RamApi, RoleInfo, TaggedResource
from ram_delegate.deps import Deps
from ram_delegate.errors import (
    CloudError,
    GuardrailError,
    InvalidInputError,
    NotFoundError,
    Problem,
    RamDelegateError,
    RetryableCloudError,
)
from ram_delegate.events import GRANTED, ApprovedEvent, GrantedEvent, RevokedEvent
from ram_delegate.outcome import Outcome, Progress, SweepReport
from ram_delegate.plan import CreateConflict, Step, execute, execute_or_undo
from ram_delegate.policy import (
    PolicyDocument,
    owner_access_policy,
    owner_trust_policy,
    same_policy,
    scope_problems,
    to_json,
)

logger = logging.getLogger(__name__)

ROLE_MAX_SESSION_SECONDS = 3600
_PLAN_ATTEMPTS = 3  # re-plans after a create found its resource already there (concurrent delivery, lost answer)

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


def validate_approved(event: ApprovedEvent, deps: Deps, now: datetime) -> None:
    """The contextual rules the event cannot check about itself; every problem at once."""
    data = event.data
    settings = deps.settings
    problems: list[Problem] = []
    if data.partner.account_id == deps.account_id():
        problems.append(Problem("data.partner.account_id", "the partner account must not be the owner's own"))
    if settings.allowed_partners and data.partner.account_id not in settings.allowed_partners:
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
# Desired and observed state
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


@dataclass(frozen=True)
class _Observed:
    access: TaggedResource | None
    tombstone: TaggedResource | None
    role: RoleInfo | None
    role_tags: Mapping[str, str]
    policy_document: str | None
    attached_account: bool
    attached_groups: frozenset[str]
    other_ticket: str | None  # another ticket holding this ticket's resource names


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


def _observe(deps: Deps, ticket: str, role: str, policy: str, wanted_group: str | None) -> _Observed:
    """Read what the plan depends on, and nothing more (see the module docstring for the count).

    Attachments are looked for in the wanted resource group and in the one the grant records (a grant moving
    between groups is detached from the old one).
    """
    ram = deps.cloud.ram
    listed = ram.list_policies(g.managed_filter(ticket=ticket))
    access = g.find_managed(listed, policy)
    tombstone = g.find_managed(listed, g.tombstone_policy_name(ticket))
    role_info, role_tags = _read_role(deps, role)
    attached_account = False
    attached_groups: frozenset[str] = frozenset()
    other = g.other_ticket([*(p.tags for p in listed), role_tags], ticket)
    ours = g.is_managed(role_tags) and role_tags.get(g.TAG_TICKET) == ticket
    if ours and other is None and access is not None:
        attached_account = _is_attached(deps, role, policy)
        groups = sorted({group for group in (wanted_group, access.tags.get(g.TAG_RESOURCE_GROUP)) if group})
        attached_groups = frozenset(group for group in groups if _is_attached_in_group(deps, role, policy, group))
    document = ram.get_policy(policy).document if access is not None else None
    return _Observed(
        access=access,
        tombstone=tombstone,
        role=role_info,
        role_tags=role_tags,
        policy_document=document,
        attached_account=attached_account,
        attached_groups=attached_groups,
        other_ticket=other,
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
    """Whether ``policy`` is attached to ``role`` within one resource group."""
    attachments = deps.cloud.resource_manager.list_policy_attachments(policy=policy, resource_group_id=group)
    return any(g.is_role_principal(a.principal_name, role) and a.policy_name == policy for a in attachments)


def _tags_differ(actual: Mapping[str, str], desired: Mapping[str, str]) -> bool:
    return any(actual.get(key) != value for key, value in desired.items())


def _plan_grant(desired: _Desired, observed: _Observed, trust: PolicyDocument) -> list[Step]:
    steps: list[Step] = []
    role, policy = desired.role, desired.policy
    role_tags = {**desired.tags, g.TAG_KIND: g.KIND_ROLE}
    policy_tags = {**desired.tags, g.TAG_KIND: g.KIND_ACCESS}
    trust_json = to_json(trust)
    if observed.role is None:
        steps.append(
            Step(
                "CreateRole",
                desired.role_arn,
                {
                    "role": role,
                    "trust_policy": trust_json,
                    "description": f"ram-delegate grant for ticket {desired.tags[g.TAG_TICKET]}",
                    "max_session_duration": ROLE_MAX_SESSION_SECONDS,
                    "tags": role_tags,
                },
                "the grant's role does not exist",
            )
        )
    elif not same_policy(observed.role.trust_policy, trust, "trust"):
        steps.append(
            Step("UpdateRole", desired.role_arn, {"role": role, "trust_policy": trust_json}, "trust policy differs")
        )
    policy_arn = g.policy_arn(desired.account_id, policy)
    access_json = to_json(desired.access_doc)
    if observed.access is None:
        steps.append(
            Step(
                "CreatePolicy",
                policy_arn,
                {
                    "policy": policy,
                    "document": access_json,
                    "description": f"ram-delegate access for ticket {desired.tags[g.TAG_TICKET]}",
                    "tags": policy_tags,
                },
                "the grant's access policy does not exist",
            )
        )
    elif not same_policy(observed.policy_document, desired.access_doc, "custom"):
        steps.append(
            Step("CreatePolicyVersion", policy_arn, {"policy": policy, "document": access_json}, "access differs")
        )
    principal = g.role_principal_name(role, desired.account_id)
    wanted_group = desired.resource_group_id
    if wanted_group is not None and observed.attached_account:
        steps.append(
            Step("DetachPolicyFromRole", desired.role_arn, {"policy": policy, "role": role}, "now group-scoped")
        )
    for group in sorted(observed.attached_groups - {wanted_group} if wanted_group else observed.attached_groups):
        steps.append(
            Step(
                "DetachPolicy",
                desired.role_arn,
                {"policy": policy, "principal_name": principal, "resource_group_id": group},
                "no longer scoped to this resource group",
            )
        )
    if wanted_group is None and not observed.attached_account:
        steps.append(
            Step("AttachPolicyToRole", desired.role_arn, {"policy": policy, "role": role}, "attach account-wide")
        )
    if wanted_group is not None and wanted_group not in observed.attached_groups:
        steps.append(
            Step(
                "AttachPolicy",
                desired.role_arn,
                {"policy": policy, "principal_name": principal, "resource_group_id": wanted_group},
                "attach in the resource group",
            )
        )
    if observed.role is not None and _tags_differ(observed.role_tags, role_tags):
        steps.append(
            Step(
                "TagResources",
                desired.role_arn,
                {"resource_type": "role", "name": role, "tags": role_tags},
                "record the event",
            )
        )
    if observed.access is not None and _tags_differ(observed.access.tags, policy_tags):
        steps.append(
            Step(
                "TagResources",
                policy_arn,
                {"resource_type": "policy", "name": policy, "tags": policy_tags},
                "record the event",
            )
        )
    return steps


# ---------------------------------------------------------------------------------------------------------------
# Approved
# ---------------------------------------------------------------------------------------------------------------


def handle_approved(event: ApprovedEvent, deps: Deps, *, now: datetime, dry_run: bool = False) -> Outcome:
    """Grant, or change the grant of the same ticket, converging RAM to exactly what the approval says."""
    validate_approved(event, deps, now)
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
    desired = _Desired(
        account_id=account_id,
        role=role,
        role_arn=g.role_arn(account_id, role),
        policy=g.access_policy_name(data.ticket),
        access_doc=access_doc,
        resource_group_id=data.access.resource_group_id,
        tags=_grant_tags(event, account_id),
    )
    for _attempt in range(_PLAN_ATTEMPTS):
        observed = _observe(deps, data.ticket, role, desired.policy, data.access.resource_group_id)
        if observed.other_ticket is not None:
            raise g.name_collision(data.ticket, observed.other_ticket)
        recorded = observed.access.tags if observed.access else observed.role_tags
        g.refuse_changed_redelivery(recorded, {**desired.tags, g.TAG_KIND: g.KIND_ACCESS})
        if g.is_stale(event.time, event.id, observed.tombstone.tags if observed.tombstone else None, inclusive=True):
            return Outcome("stale", data.ticket, detail={"reason": "the ticket was revoked by a later or equal event"})
        if g.is_stale(event.time, event.id, observed.access.tags if observed.access else None, inclusive=True):
            return Outcome("stale", data.ticket, detail={"reason": "a newer approval is already applied"})
        if observed.role is not None and not (
            g.is_managed(observed.role_tags) and observed.role_tags.get(g.TAG_TICKET) == data.ticket
        ):
            raise GuardrailError(
                f"role {role} exists but is not managed by ram-delegate for this ticket; it is left untouched",
                problems=[Problem("role", f"{role}: foreign role with the grant's name")],
            )
        external_id = (_external_id_of(observed.role.trust_policy) if observed.role else None) or secrets.token_urlsafe(
            24
        )
        trust = _trust_for(event, deps, external_id)
        steps = _plan_grant(desired, observed, trust)
        detail: dict[str, Any] = {"role_arn": desired.role_arn, "policy": desired.policy}
        if dry_run:
            return Outcome("dry-run", data.ticket, tuple(steps), detail)
        if not steps:
            same_event = observed.access is not None and observed.access.tags.get(g.TAG_EVENT_ID) == g.event_id_tag(
                event.id
            )
            _notify_partner(event, deps, desired.role_arn, external_id, now)
            return Outcome("duplicate" if same_event else "unchanged", data.ticket, (), detail)
        try:
            detail["results"] = execute_or_undo(steps, deps.cloud, deps.audit, ticket=data.ticket, event_id=event.id)
        except CreateConflict:
            continue  # someone (a concurrent delivery, or our own lost answer) created it: observe again
        _notify_partner(event, deps, desired.role_arn, external_id, now)
        return Outcome("applied", data.ticket, tuple(steps), detail)
    raise GuardrailError(
        f"the resources of ticket {data.ticket} keep conflicting with resources ram-delegate does not manage",
        problems=[Problem("ticket", "a role or policy with the grant's name exists without ram-delegate's tags")],
    )


def _notify_partner(event: ApprovedEvent, deps: Deps, role_arn: str, external_id: str, now: datetime) -> None:
    """Tell the partner the role exists. A failure is retryable: the sender redelivers, and the retry resends."""
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
        raise CloudError(f"the partner endpoint refused the grant of {data.ticket} (status {status})")


# ---------------------------------------------------------------------------------------------------------------
# Revoked, and the expiry sweep
# ---------------------------------------------------------------------------------------------------------------


def _deny_trust(partner_account_id: str) -> str:
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


def _retire_steps(
    *,
    account_id: str,
    ticket: str,
    role_tags: Mapping[str, str] | None,
    role_exists: bool,
    trust_is_deny: bool,
    attached_account: bool,
    attached_groups: frozenset[str],
    access_exists: bool,
    tombstone: TaggedResource | None,
    tombstone_tags: Mapping[str, str] | None,
    reason: str,
) -> list[Step]:
    """Shut the door first: detach (live sessions lose access) and refuse new sessions; record the tombstone; then
    delete the policy and, last, the role, so that a run stopped after any call is found and finished by the next."""
    role = g.role_name(ticket)
    arn = g.role_arn(account_id, role)
    policy = g.access_policy_name(ticket)
    policy_arn = g.policy_arn(account_id, policy)
    steps: list[Step] = []
    if attached_account:
        steps.append(Step("DetachPolicyFromRole", arn, {"policy": policy, "role": role}, f"{reason}: cut access"))
    principal = g.role_principal_name(role, account_id)
    for group in sorted(attached_groups):
        steps.append(
            Step(
                "DetachPolicy",
                arn,
                {"policy": policy, "principal_name": principal, "resource_group_id": group},
                f"{reason}: cut access",
            )
        )
    partner = (role_tags or {}).get(g.TAG_PARTNER_ACCOUNT)
    if role_exists and partner and not trust_is_deny:
        steps.append(
            Step(
                "UpdateRole",
                arn,
                {"role": role, "trust_policy": _deny_trust(partner)},
                f"{reason}: no new sessions",
                absent_is_done=True,
            )
        )
    if tombstone_tags is not None:
        tomb = g.tombstone_policy_name(ticket)
        tomb_arn = g.policy_arn(account_id, tomb)
        if tombstone is None:
            steps.append(
                Step(
                    "CreatePolicy",
                    tomb_arn,
                    {
                        "policy": tomb,
                        "document": _tombstone_document(arn),
                        "description": f"ram-delegate tombstone of ticket {ticket}",
                        "tags": tombstone_tags,
                    },
                    "remember the revocation so older approvals stay refused",
                )
            )
        elif _tags_differ(tombstone.tags, {k: v for k, v in tombstone_tags.items() if k != g.TAG_REVOKED_AT}):
            steps.append(
                Step(
                    "TagResources",
                    tomb_arn,
                    {"resource_type": "policy", "name": tomb, "tags": tombstone_tags},
                    "record the later revocation",
                )
            )
    if access_exists:
        steps.append(Step("DeletePolicy", policy_arn, {"policy": policy}, reason))
    if role_exists:
        steps.append(Step("DeleteRole", arn, {"role": role}, reason))
    return steps


def _tombstone_tags(ticket: str, event_id: str, event_time: datetime, now: datetime, cause: str) -> dict[str, str]:
    return {
        g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE,
        g.TAG_KIND: g.KIND_TOMBSTONE,
        g.TAG_TICKET: ticket,
        g.TAG_NAME_KEY: g.name_key(ticket),
        g.TAG_STATE: "revoked",
        g.TAG_EVENT_ID: g.event_id_tag(event_id),
        g.TAG_EVENT_TIME: g.format_time(event_time),
        g.TAG_REVOKED_AT: g.format_time(now),
        g.TAG_REASON: cause,
    }


def handle_revoked(event: RevokedEvent, deps: Deps, *, now: datetime, dry_run: bool = False) -> Outcome:
    """Revoke now: detach, refuse new sessions, delete; keep a tombstone. Nothing recorded -> tombstone only."""
    ticket = event.data.ticket
    for _attempt in range(_PLAN_ATTEMPTS):
        planned = _plan_revocation(event, deps, now)
        if isinstance(planned, Outcome):
            return planned
        if dry_run:
            return Outcome("dry-run", ticket, tuple(planned))
        if not planned:
            return Outcome("duplicate", ticket)
        try:
            results = execute(planned, deps.cloud, deps.audit, ticket=ticket, event_id=event.id)
        except CreateConflict:
            continue  # a concurrent revocation wrote the tombstone first: observe again
        _forward_revocation(event, deps, now)
        return Outcome("applied", ticket, tuple(planned), {"results": results})
    raise GuardrailError(
        f"the tombstone of {ticket} exists without ram-delegate's tags; the revocation could not be recorded",
        problems=[Problem("ticket", "foreign policy with the tombstone's name")],
    )


def _plan_revocation(event: RevokedEvent, deps: Deps, now: datetime) -> Outcome | list[Step]:
    """The steps that retire the ticket's grant, or the outcome when there is nothing this event may change."""
    ticket = event.data.ticket
    account_id = deps.account_id()
    role = g.role_name(ticket)
    policy = g.access_policy_name(ticket)
    ram = deps.cloud.ram
    listed = ram.list_policies(g.managed_filter(ticket=ticket))
    other = g.other_ticket((p.tags for p in listed), ticket)
    if other is not None:
        raise g.name_collision(ticket, other)
    access = g.find_managed(listed, policy)
    tombstone = g.find_managed(listed, g.tombstone_policy_name(ticket))
    if g.is_stale(event.time, event.id, access.tags if access else None, inclusive=False):
        return Outcome("stale", ticket, detail={"reason": "a newer approval is applied"})
    if tombstone is not None and g.is_stale(event.time, event.id, tombstone.tags, inclusive=True):
        return Outcome("duplicate", ticket, detail={"reason": "already revoked by a later or equal event"})
    role_info, role_tags = _read_role(deps, role)
    other = g.other_ticket([role_tags], ticket)
    if other is not None:
        raise g.name_collision(ticket, other)
    ours = role_info is not None and g.is_managed(role_tags) and role_tags.get(g.TAG_TICKET) == ticket
    attached_account = ours and _is_attached(deps, role, policy)
    group = (access.tags if access else role_tags).get(g.TAG_RESOURCE_GROUP)
    attached_groups = {group} if ours and group and _is_attached_in_group(deps, role, policy, group) else set()
    return _retire_steps(
        account_id=account_id,
        ticket=ticket,
        role_tags=role_tags if ours else None,
        role_exists=ours,
        trust_is_deny=bool(ours and role_info and '"Deny"' in role_info.trust_policy),
        attached_account=attached_account,
        attached_groups=frozenset(attached_groups),
        access_exists=access is not None,
        tombstone=tombstone,
        tombstone_tags=_tombstone_tags(ticket, event.id, event.time, now, "revoked"),
        reason="revoked",
    )


def _forward_revocation(event: RevokedEvent, deps: Deps, now: datetime) -> None:
    """Best effort: the partner cleans up at once; its sweep does it at expiry anyway."""
    settings = deps.settings
    secret = settings.partner_signing_secret
    if not settings.partner_endpoint or not secret:
        return
    try:
        deps.notifier.send_event(settings.partner_endpoint, secret, event, now=now)
    except OSError as exc:
        logger.warning("forwarding the revocation of %s failed: %s", event.data.ticket, type(exc).__name__)


def _retire(deps: Deps, ticket: str, steps: list[Step]) -> str | None:
    """Run one expired grant's retirement; the reason it stopped, if it did (the next sweep retries)."""
    try:
        execute(steps, deps.cloud, deps.audit, ticket=ticket, event_id=None)
        return None
    except CreateConflict as conflict:
        # The tombstone is there already: an overlapping sweep, or our own create whose answer was lost.
        tomb = conflict.step.params["policy"]
        try:
            listed = deps.cloud.ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE, ticket))
            if g.find_managed(listed, tomb) is None:
                return f"{tomb} exists without ram-delegate's tags"
            execute(steps[steps.index(conflict.step) + 1 :], deps.cloud, deps.audit, ticket=ticket, event_id=None)
        except (RamDelegateError, CreateConflict) as exc:
            return str(exc)
        return None
    except RamDelegateError as exc:
        return str(exc)


def _managed_access_policies(
    ram: RamApi, expired_roles: list[TaggedResource], *, pages: int
) -> dict[str, list[TaggedResource]] | None:
    """The managed access policies of the expired grants, read the cheaper way.

    One tag-filtered read per expired grant costs ``E`` calls; listing every managed access policy costs about as
    many pages as the role listing did. The sweep reads per grant when few expired (the usual 5-minute tick), and
    lists once when many did, so it never costs more than ``min(E, pages)`` extra list calls. ``None`` means "read
    per grant".
    """
    if len(expired_roles) <= pages:
        return None
    by_ticket: dict[str, list[TaggedResource]] = {r.tags.get(g.TAG_TICKET, ""): [] for r in expired_roles}
    for policy in ram.list_policies(g.managed_filter(g.KIND_ACCESS)):
        ticket = policy.tags.get(g.TAG_TICKET, "")
        if ticket in by_ticket:
            by_ticket[ticket].append(policy)
    return by_ticket


def sweep_owner(deps: Deps, *, now: datetime, dry_run: bool = False, progress: Progress | None = None) -> SweepReport:
    """Retire expired grants and drop old tombstones. With nothing to do it makes only the list calls."""
    account_id = deps.account_id()
    ram = deps.cloud.ram
    roles = ram.list_roles(g.managed_filter(g.KIND_ROLE))
    tombstones = {t.name: t for t in ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE)) if g.is_managed(t.tags)}
    all_steps: list[Step] = []
    retired: list[str] = []
    errors: list[str] = []
    expired_roles = [r for r in roles if g.is_managed(r.tags) and g.state_of(r.tags, now) != "active"]
    expired = len(expired_roles)
    access_policies = _managed_access_policies(ram, expired_roles, pages=-(-len(roles) // LIST_PAGE_SIZE))
    for index, role in enumerate(expired_roles, start=1):
        if progress is not None:
            progress(index - 1, expired)
        ticket = role.tags.get(g.TAG_TICKET, "")
        if not ticket or role.name != g.role_name(ticket):
            errors.append(f"{role.name}: managed role without a matching ticket tag; left for an operator")
            continue
        group = role.tags.get(g.TAG_RESOURCE_GROUP)
        # The access policy is deleted only if it carries our tags for this ticket; detaches and deletes are
        # otherwise blind ("not found" is success).
        try:
            if access_policies is not None:
                listed = access_policies[ticket]
            else:
                listed = ram.list_policies(g.managed_filter(ticket=ticket))
        except RamDelegateError as exc:
            errors.append(f"{ticket}: {exc}")
            continue
        access = g.find_managed([p for p in listed if p.tags.get(g.TAG_TICKET) == ticket], g.access_policy_name(ticket))
        steps = _retire_steps(
            account_id=account_id,
            ticket=ticket,
            role_tags=role.tags,
            role_exists=True,
            trust_is_deny=False,
            attached_account=access is not None and group is None,
            attached_groups=frozenset({group}) if access is not None and group else frozenset(),
            access_exists=access is not None,
            tombstone=tombstones.get(g.tombstone_policy_name(ticket)),
            tombstone_tags=_tombstone_tags(
                ticket,
                role.tags.get(g.TAG_EVENT_ID, "expired"),
                g.parse_time(role.tags.get(g.TAG_EVENT_TIME)) or now,
                now,
                "expired",
            ),
            reason="expired",
        )
        all_steps.extend(steps)
        if dry_run:
            continue
        failure = _retire(deps, ticket, steps)
        if failure:
            errors.append(f"{ticket}: {failure}")
        else:
            retired.append(ticket)
    if progress is not None:
        progress(expired, expired)
    horizon = now - timedelta(hours=deps.settings.tombstone_hours)
    for tomb in tombstones.values():
        revoked_at = g.parse_time(tomb.tags.get(g.TAG_REVOKED_AT))
        if revoked_at is None or revoked_at > horizon:
            continue
        step = Step("DeletePolicy", g.policy_arn(account_id, tomb.name), {"policy": tomb.name}, "tombstone aged")
        all_steps.append(step)
        if dry_run:
            continue
        try:
            execute([step], deps.cloud, deps.audit, ticket=tomb.tags.get(g.TAG_TICKET, ""), event_id=None)
        except RamDelegateError as exc:
            errors.append(f"{tomb.name}: {exc}")
    return SweepReport(
        examined=len(roles),
        expired=expired,
        revoked=tuple(retired),
        steps=tuple(all_steps),
        errors=tuple(errors),
        dry_run=dry_run,
        detail={"tombstones": len(tombstones)},
    )
