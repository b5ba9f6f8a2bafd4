"""The partner side (account B): act on ``partner.access.granted`` and sweep expired grants.

On granted: the RAM user (created only if absent, marked in Comments, never given an AccessKey), a per-grant custom
policy allowing ``sts:AssumeRole`` on exactly the owner's role ARN until the expiry, attached to the user. Its tags
record everything the verifier and the sweep need (role ARN, ExternalId, region, resource group, expiry, event).
The verifier role gets one standing policy per owner account (``rd-verify-<owner>``: ``sts:AssumeRole`` on that
owner's ``rd-*`` roles), not one per grant: RAM allows 10 custom policies per role, and the verifier must check
thousands of grants. Each grant's trust policy still names the verifier, requires the ExternalId and carries the
expiry, so the wider permission admits nothing the owner has not granted. The broad ``AliyunSTSAssumeRoleAccess``
is attached to the user only with ``allow_broad_assume`` and logs its lint finding as a warning.

On revoked (forwarded by the owner once its role is gone): the grant's assume policy is detached from the user and
marked revoked, and kept until the grant's expiry so the verifier goes on proving that the owner refuses it. A later
``granted`` not newer than the recorded revocation is stale; a newer one (a new approval) grants again.

The sweep detaches and deletes expired assume policies (``ceil(N / 1000)`` ListPolicies calls when nothing expired),
drops an owner's verifier policy once that owner has no grant left, then deletes a user only if ram-delegate
created it (the Comments marker), it holds no other policy and no AccessKey.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from ram_delegate import grants as g
from ram_delegate import seal
from ram_delegate.cloud import RamApi, TaggedResource, UserInfo
from ram_delegate.deps import Deps
from ram_delegate.errors import (
    GuardrailError,
    InvalidInputError,
    NotFoundError,
    Problem,
    RamDelegateError,
)
from ram_delegate.events import GrantedEvent, RevokedEvent
from ram_delegate.outcome import Outcome, Progress, SweepReport
from ram_delegate.partner_trust import check_granted, refuse_foreign_user
from ram_delegate.plan import CreateConflict, Step, execute, execute_or_undo
from ram_delegate.policy import (
    lint,
    lint_system_policy,
    partner_assume_policy,
    partner_verifier_policy,
    same_policy,
    to_json,
)
from ram_delegate.seal import SealKeys

logger = logging.getLogger(__name__)

USER_MARKER = g.USER_MARKER
BROAD_ASSUME_POLICY = "AliyunSTSAssumeRoleAccess"
_PLAN_ATTEMPTS = 3


def validate_granted(event: GrantedEvent, deps: Deps, now: datetime) -> None:
    data = event.data
    own = deps.account_id()
    problems: list[Problem] = []
    if data.partner.account_id != own:
        problems.append(Problem("data.partner.account_id", "the grant is for another partner account"))
    if data.owner_account_id == own:
        problems.append(Problem("data.owner_account_id", "the owner account must not be this account"))
    if not data.role_arn.startswith(f"acs:ram::{data.owner_account_id}:role/"):
        problems.append(Problem("data.role_arn", "the role must belong to the owner account"))
    problems += g.expiry_problems(data.expires_at, now, deps.settings.max_grant_days)
    if problems:
        raise InvalidInputError("the grant is invalid", problems=problems)
    check_granted(event, deps.settings)


def _assume_tags(event: GrantedEvent) -> dict[str, str]:
    data = event.data
    tags = {
        g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE,
        g.TAG_KIND: g.KIND_ASSUME,
        g.TAG_TICKET: data.ticket,
        g.TAG_NAME_KEY: g.name_key(data.ticket),
        g.TAG_OWNER_ACCOUNT: data.owner_account_id,
        g.TAG_ROLE_ARN: data.role_arn,
        g.TAG_EXTERNAL_ID: data.external_id,
        g.TAG_PARTNER_USER: data.partner.user,
        g.TAG_REGION: data.access.region,
        g.TAG_PROFILE: data.access.profile,
        g.TAG_EXPIRES_AT: g.format_time(data.expires_at),
        g.TAG_EVENT_TIME: g.format_time(event.time),
        g.TAG_EVENT_ID: g.event_id_tag(event.id),
        g.TAG_STATE: "active",
    }
    if data.access.resource_group_id:
        tags[g.TAG_RESOURCE_GROUP] = data.access.resource_group_id
    if data.access.resource_ids:
        tags[g.TAG_PROBE_RESOURCE] = data.access.resource_ids[0]
    return tags


def _verify_tags(owner_account_id: str) -> dict[str, str]:
    return {
        g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE,
        g.TAG_KIND: g.KIND_VERIFY,
        g.TAG_OWNER_ACCOUNT: owner_account_id,
    }


def _get_user(deps: Deps, name: str) -> UserInfo | None:
    try:
        return deps.cloud.ram.get_user(name)
    except NotFoundError:
        return None


def handle_granted(event: GrantedEvent, deps: Deps, *, now: datetime, dry_run: bool = False) -> Outcome:
    """Converge the partner account to: user present, assume policy with this grant's document, attached."""
    validate_granted(event, deps, now)
    data = event.data
    own = deps.account_id()
    settings = deps.settings
    document = partner_assume_policy(role_arn=data.role_arn, expires_at=data.expires_at)
    if settings.allow_broad_assume:
        for finding in lint_system_policy(BROAD_ASSUME_POLICY):
            logger.warning("broad assume opt-in: %s %s: %s", BROAD_ASSUME_POLICY, finding.rule_id, finding.message)
    policy = g.assume_policy_name(data.owner_account_id, data.ticket)
    verify_policy = g.verifier_policy_name(data.owner_account_id)
    verify_document = partner_verifier_policy(owner_account_id=data.owner_account_id)
    if settings.verifier_role:
        for finding in lint(verify_document):
            if finding.severity == "warning":
                logger.info("verifier policy %s: %s: %s", verify_policy, finding.rule_id, finding.message)
    policy_arn = g.policy_arn(own, policy)
    user = data.partner.user
    user_arn = g.user_arn(own, user)
    keys = settings.seal_keys
    record = _assume_tags(event)
    record[g.TAG_EXTERNAL_ID] = g.stored_external_id(data.external_id, policy, keys)
    ram = deps.cloud.ram
    for _attempt in range(_PLAN_ATTEMPTS):
        listed = ram.list_policies(g.managed_filter(g.KIND_ASSUME, data.ticket))
        existing = g.find_managed(listed, policy)
        tags = g.with_seal(g.clear_dropped(record, existing.tags if existing else None), policy, keys)
        other = g.other_ticket([existing.tags] if existing else [], data.ticket)
        if other is not None:
            raise g.name_collision(data.ticket, other)
        if existing is not None and not g.is_sealed(existing.tags, policy, keys):
            raise GuardrailError(
                f"policy {policy} carries ram-delegate's tags without a valid seal; it is left untouched",
                problems=[Problem("ticket", f"{policy}: unsealed policy with the grant's name")],
            )
        g.refuse_changed_redelivery(existing.tags if existing else None, tags)
        if existing is not None and g.is_stale(event.time, event.id, existing.tags, inclusive=True):
            return Outcome("stale", data.ticket, detail={"reason": "a newer grant is already applied"})
        current_document = ram.get_policy(policy).document if existing is not None else None
        user_info = _get_user(deps, user)
        if user_info is not None:
            refuse_foreign_user(user, g.is_user_marker(user_info.comments, user, keys), settings)
        user_policies = {p.name for p in ram.list_policies_for_user(user)} if user_info is not None else set()
        verifier = settings.verifier_role
        verifier_policies = {p.name for p in ram.list_policies_for_role(verifier)} if verifier else set()
        verify_policy_exists = (
            verifier is not None
            and verify_policy not in verifier_policies
            and g.find_sealed(ram.list_policies(g.managed_filter(g.KIND_VERIFY)), verify_policy, keys) is not None
        )
        steps: list[Step] = []
        if user_info is None:
            steps.append(
                Step(
                    "CreateUser",
                    user_arn,
                    {"user": user, "display_name": user, "comments": g.user_marker(user, keys)},
                    "the partner user does not exist (created without any AccessKey)",
                )
            )
        desired_json = to_json(document)
        if existing is None:
            steps.append(
                Step(
                    "CreatePolicy",
                    policy_arn,
                    {
                        "policy": policy,
                        "document": desired_json,
                        "description": f"ram-delegate: assume {data.role_arn} ({data.ticket})",
                        "tags": tags,
                    },
                    "the grant's assume policy does not exist",
                )
            )
        elif not same_policy(current_document, document):
            steps.append(
                Step("CreatePolicyVersion", policy_arn, {"policy": policy, "document": desired_json}, "role or expiry")
            )
        previous_user = existing.tags.get(g.TAG_PARTNER_USER) if existing is not None else None
        if previous_user and previous_user != user:
            steps.append(
                Step(
                    "DetachPolicyFromUser",
                    g.user_arn(own, previous_user),
                    {"policy": policy, "user": previous_user},
                    "the grant moved to another user",
                )
            )
        if policy not in user_policies:
            steps.append(Step("AttachPolicyToUser", user_arn, {"policy": policy, "user": user}, "let the user assume"))
        if settings.allow_broad_assume and BROAD_ASSUME_POLICY not in user_policies:
            steps.append(
                Step(
                    "AttachPolicyToUser",
                    user_arn,
                    {"policy": BROAD_ASSUME_POLICY, "user": user, "policy_type": "System"},
                    "explicit opt-in: allow_broad_assume",
                )
            )
        if verifier and verify_policy not in verifier_policies:
            if not verify_policy_exists:
                steps.append(
                    Step(
                        "CreatePolicy",
                        g.policy_arn(own, verify_policy),
                        {
                            "policy": verify_policy,
                            "document": to_json(verify_document),
                            "description": f"ram-delegate: the verifier may check grants of {data.owner_account_id}",
                            "tags": g.with_seal(_verify_tags(data.owner_account_id), verify_policy, keys),
                        },
                        "the verifier has no policy for this owner account yet",
                    )
                )
            steps.append(
                Step(
                    "AttachPolicyToRole",
                    g.role_arn(own, verifier),
                    {"policy": verify_policy, "role": verifier},
                    "let the verifier check this owner's grants",
                )
            )
        if existing is not None and g.record_differs(existing.tags, tags, policy, keys):
            steps.append(
                Step("TagResources", policy_arn, {"resource_type": "policy", "name": policy, "tags": tags}, "record")
            )
        if steps and verifier and _verify_policy_sealed_before(ram, verify_policy, keys):
            # Only with a change this delivery writes anyway: a duplicate writes nothing.
            resealed = g.with_seal(_verify_tags(data.owner_account_id), verify_policy, keys)
            params = {"resource_type": "policy", "name": verify_policy, "tags": resealed}
            steps.append(Step("TagResources", g.policy_arn(own, verify_policy), params, "seal under the current key"))
        if dry_run:
            return Outcome("dry-run", data.ticket, tuple(steps))
        if not steps:
            same = existing is not None and existing.tags.get(g.TAG_EVENT_ID) == g.event_id_tag(event.id)
            return Outcome("duplicate" if same else "unchanged", data.ticket)
        try:
            results = execute_or_undo(steps, deps.cloud, deps.audit, ticket=data.ticket, event_id=event.id)
        except CreateConflict:
            continue  # created concurrently (or our answer was lost): observe again and adopt if it is ours
        if previous_user and previous_user != user:
            cleanup = _user_cleanup(deps, own, previous_user)
            execute(cleanup, deps.cloud, deps.audit, ticket=data.ticket, event_id=event.id)
            steps += cleanup
        return Outcome("applied", data.ticket, tuple(steps), {"policy": policy, "results": results})
    raise GuardrailError(
        f"the assume policy of {data.ticket} keeps conflicting with a policy ram-delegate does not manage",
        problems=[Problem("ticket", f"{policy} exists without ram-delegate's tags")],
    )


def handle_revoked_forward(event: RevokedEvent, deps: Deps, *, now: datetime, dry_run: bool = False) -> Outcome:
    """Record the owner's revocation: detach the grant's assume policy from its user and mark it revoked.

    Never refused for what it carries: without ``owner_account_id`` every owner's grant of the ticket is revoked
    (when in doubt, less access). The policy stays until the grant's expiry, for the verifier.
    """
    ticket = event.data.ticket
    owner = event.data.owner_account_id
    own = deps.account_id()
    listed = deps.cloud.ram.list_policies(g.managed_filter(g.KIND_ASSUME, ticket))
    keys = deps.settings.seal_keys
    mine = [
        p
        for p in listed
        if g.is_sealed(p.tags, p.name, keys)
        and p.tags.get(g.TAG_TICKET) == ticket
        and (owner is None or p.tags.get(g.TAG_OWNER_ACCOUNT) == owner)
    ]
    _alert_unverified(deps, ticket, [p for p in listed if p not in mine and g.is_unsealed(p.tags, p.name, keys)])
    steps: list[Step] = []
    for policy in mine:
        user = policy.tags.get(g.TAG_PARTNER_USER, "")
        if user and policy.tags.get(g.TAG_STATE) != "revoked":  # marked revoked only after it was detached
            detach = {"policy": policy.name, "user": user}
            steps.append(Step("DetachPolicyFromUser", g.user_arn(own, user), detach, "revoked by the owner"))
        recorded = g.parse_time(policy.tags.get(g.TAG_EVENT_TIME))
        revoked_time = max(event.time, recorded) if recorded is not None else event.time
        tags = {
            **policy.tags,
            g.TAG_STATE: "revoked",
            g.TAG_EVENT_ID: g.event_id_tag(event.id),
            g.TAG_EVENT_TIME: g.format_time(revoked_time),
            g.TAG_REVOKED_AT: g.format_time(now),
        }
        if g.record_differs(policy.tags, {k: v for k, v in tags.items() if k != g.TAG_REVOKED_AT}, policy.name, keys):
            external_id = seal.decrypt(keys, policy.name, policy.tags.get(g.TAG_EXTERNAL_ID, ""))
            if external_id:  # rewritten under the current key with the rest: no older key stays needed for it
                tags[g.TAG_EXTERNAL_ID] = g.stored_external_id(external_id, policy.name, keys)
            record = {"resource_type": "policy", "name": policy.name, "tags": g.with_seal(tags, policy.name, keys)}
            steps.append(Step("TagResources", g.policy_arn(own, policy.name), record, "record the revocation"))
    if dry_run:
        return Outcome("dry-run", ticket, tuple(steps))
    if not mine:
        return Outcome("unchanged", ticket, detail={"reason": "no grant of this ticket is recorded here"})
    results = execute(steps, deps.cloud, deps.audit, ticket=ticket, event_id=event.id)
    revoked_users = {p.tags.get(g.TAG_PARTNER_USER, "") for p in mine} - {""}
    for user in sorted(revoked_users):  # also on a redelivery: a run stopped before this point is finished here
        cleanup = _user_cleanup(deps, own, user)
        execute(cleanup, deps.cloud, deps.audit, ticket=ticket, event_id=event.id)
        steps += cleanup
    if not steps:
        return Outcome("duplicate", ticket)
    return Outcome("applied", ticket, tuple(steps), {"results": results})


def _verify_policy_sealed_before(ram: RamApi, name: str, keys: SealKeys | None) -> bool:
    """Whether the owner's verifier policy is ours but sealed under a key from before a rotation (one of the previous
    keys: never the current or a pending one, so instances on either side of a settling KMS version do not seal it
    back and forth). It lives as long as that owner keeps granting, longer than any grant, so each new grant seals it
    again (its tags never change) instead of leaving it to a key that will be dropped. One list call, and only while
    a previous key is held."""
    if keys is None or not keys.previous:
        return False
    found = g.find_sealed(ram.list_policies(g.managed_filter(g.KIND_VERIFY)), name, keys)
    return found is not None and g.sealed_by(found.tags, name, keys) in keys.previous


def _alert_unverified(deps: Deps, ticket: str, policies: list[TaggedResource]) -> None:
    """Assume policies of the ticket with our tags but no seal this function can verify (a forgery, or a seal key it
    does not hold) are not detached: said loudly. The owner's side, which deleted the role, is what ends the access."""
    if policies:
        names = ", ".join(p.name for p in policies)
        deps.critical_alert(
            f"ram-delegate: partner revocation of {ticket} left {names}",
            f"{names} carries ram-delegate's tags without a seal this function can verify; it was not detached. "
            "The owner's role is gone; an operator must look.",
        )


def _due(tags: Mapping[str, str], now: datetime) -> bool:
    """Whether an assume policy's grant has reached its expiry (or records none): only then is it removed.

    A revoked grant is kept, detached, until its expiry, so the verifier can prove the owner refuses it.
    """
    expires_at = g.parse_time(tags.get(g.TAG_EXPIRES_AT))
    return expires_at is None or expires_at <= now


def sweep_partner(deps: Deps, *, now: datetime, dry_run: bool = False, progress: Progress | None = None) -> SweepReport:
    """Detach expired assume policies, remove what only they justified, then delete the policies themselves.

    The policies go last: while one is still listed, the next run finds its user and its owner account again, so a
    run that stops after any call leaves nothing behind for good (no orphaned user or verifier policy).
    """
    own = deps.account_id()
    ram = deps.cloud.ram
    keys = deps.settings.seal_keys
    listed = ram.list_policies(g.managed_filter(g.KIND_ASSUME))
    policies = [p for p in listed if g.is_sealed(p.tags, p.name, keys)]
    verifier = deps.settings.verifier_role
    all_steps: list[Step] = []
    errors = [
        f"{p.name}: carries ram-delegate's tags without a valid seal; reported, never deleted"
        for p in listed
        if g.is_unsealed(p.tags, p.name, keys)
    ]
    detached: list[tuple[str, str]] = []  # (ticket, policy) whose user no longer holds it
    users: set[str] = set()
    owners_kept: set[str] = set()
    owners_retired: set[str] = set()
    expired_total = sum(1 for p in policies if _due(p.tags, now))
    seen = 0
    for policy in policies:
        owner = policy.tags.get(g.TAG_OWNER_ACCOUNT, "")
        if not _due(policy.tags, now):
            owners_kept.add(owner)
            continue
        if progress is not None:
            progress(seen, expired_total)
        seen += 1
        ticket = policy.tags.get(g.TAG_TICKET, "")
        user = policy.tags.get(g.TAG_PARTNER_USER, "")
        steps: list[Step] = []
        if user:
            users.add(user)
            user_arn = g.user_arn(own, user)
            steps.append(Step("DetachPolicyFromUser", user_arn, {"policy": policy.name, "user": user}, "expired"))
        all_steps.extend(steps)
        if dry_run:
            continue
        try:
            execute(steps, deps.cloud, deps.audit, ticket=ticket, event_id=None)
        except RamDelegateError as exc:
            owners_kept.add(owner)
            errors.append(f"{ticket}: {exc}")
            continue
        detached.append((ticket, policy.name))
        owners_retired.add(owner)
    if progress is not None:
        progress(expired_total, expired_total)
    idle_owners = owners_retired - owners_kept
    cleanups: list[tuple[str, Callable[[], list[Step]]]] = []
    if idle_owners:
        cleanups.append(("verifier policies", lambda: _verifier_cleanup(deps, own, verifier, idle_owners)))
    for user in sorted(users):
        cleanups.append((f"user {user}", lambda user=user: _user_cleanup(deps, own, user)))  # type: ignore[misc]
    for label, plan in cleanups:
        if dry_run:
            continue
        try:
            steps = plan()
            all_steps.extend(steps)
            execute(steps, deps.cloud, deps.audit, ticket="", event_id=None)
        except RamDelegateError as exc:
            errors.append(f"{label}: {exc}")
    retired: list[str] = []
    for ticket, name in detached:
        step = Step("DeletePolicy", g.policy_arn(own, name), {"policy": name}, "expired")
        all_steps.append(step)
        try:
            execute([step], deps.cloud, deps.audit, ticket=ticket, event_id=None)
        except RamDelegateError as exc:
            errors.append(f"{ticket}: {exc}")
            continue
        retired.append(ticket)
    return SweepReport(
        examined=len(policies),
        expired=expired_total,
        revoked=tuple(retired),
        steps=tuple(all_steps),
        errors=tuple(errors),
        dry_run=dry_run,
        detail=_previous_key_report(deps, policies, keys),
    )


def _previous_key_report(deps: Deps, policies: list[TaggedResource], keys: SealKeys | None) -> dict[str, object]:
    """The sweep's report of what still needs an older seal key: the assume policies, and (one more list call, only
    while more than one key is held) the verifier policies, which end with their owner's last grant."""
    if keys is None or len(keys.all) == 1:
        return {}
    last_grant: dict[str, datetime] = {}
    for policy in policies:
        owner, expires_at = policy.tags.get(g.TAG_OWNER_ACCOUNT, ""), g.parse_time(policy.tags.get(g.TAG_EXPIRES_AT))
        if expires_at is not None:
            last_grant[owner] = max(expires_at, last_grant.get(owner, expires_at))
    try:
        verifiers = deps.cloud.ram.list_policies(g.managed_filter(g.KIND_VERIFY))
    except RamDelegateError as exc:  # the report must not cost the sweep its answer
        logger.warning("previous seal key report: verifier policies cannot be listed: %s", exc.code)
        report = g.previous_key_report(policies, keys, deps.settings.tombstone_hours)
        return {**report, "verifier_policies": "unknown", "previous_key_needed_until": "unknown"}

    def end_of(verifier: TaggedResource) -> datetime | None:
        return last_grant.get(verifier.tags.get(g.TAG_OWNER_ACCOUNT, ""))

    return g.previous_key_report([*policies, *verifiers], keys, deps.settings.tombstone_hours, end_of=end_of)


def _verifier_cleanup(deps: Deps, own: str, verifier: str | None, owners: set[str]) -> list[Step]:
    """Drop the verifier policy of each owner account that no longer has a grant here (one list call, only then)."""
    listed = deps.cloud.ram.list_policies(g.managed_filter(g.KIND_VERIFY))
    steps: list[Step] = []
    for policy in listed:
        sealed = g.is_sealed(policy.tags, policy.name, deps.settings.seal_keys)
        if not sealed or policy.tags.get(g.TAG_OWNER_ACCOUNT) not in owners:
            continue
        if verifier:
            steps.append(
                Step("DetachPolicyFromRole", g.role_arn(own, verifier), {"policy": policy.name, "role": verifier}, "")
            )
        steps.append(Step("DeletePolicy", g.policy_arn(own, policy.name), {"policy": policy.name}, "idle"))
    return steps


def _user_cleanup(deps: Deps, own: str, user: str) -> list[Step]:
    """Delete the user only if we made it and it holds nothing (the broad opt-in policy is ours to take back)."""
    info = _get_user(deps, user)
    if info is None or not g.is_user_marker(info.comments, user, deps.settings.seal_keys):
        return []
    ram = deps.cloud.ram
    attached = ram.list_policies_for_user(user)
    ours_broad = [p for p in attached if p.name == BROAD_ASSUME_POLICY and deps.settings.allow_broad_assume]
    if len(attached) != len(ours_broad) or ram.count_access_keys(user) > 0:
        return []
    arn = g.user_arn(own, user)
    steps = [
        Step("DetachPolicyFromUser", arn, {"policy": p.name, "user": user, "policy_type": "System"}, "last grant gone")
        for p in ours_broad
    ]
    steps.append(Step("DeleteUser", arn, {"user": user}, "created by ram-delegate and holds no grant"))
    return steps
