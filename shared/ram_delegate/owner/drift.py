"""The owner's drift audit (see ``ram_delegate.drift``): every sealed, active grant role re-rendered and compared.

For each grant the trust policy, the access policy and the attachments (through RAM, and through Resource Manager in
a resource group or at account scope) are compared with what the grant's sealed tags render now; a difference is
healed, or the grant is revoked through the normal path when healing would be unsafe. Its own module because only the
owner reads Resource Manager: the partner's functions, which share the plan executor and the partner audit, carry
no Resource Manager client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ram_delegate import grants as g
from ram_delegate.cloud import AttachedPolicyRef, RgAttachment, TaggedResource
from ram_delegate.deps import Deps
from ram_delegate.drift import Action, AuditFinding, TrustFacts, trust_facts
from ram_delegate.errors import NotFoundError, RamDelegateError
from ram_delegate.events import RevokedEvent
from ram_delegate.owner.grant import recorded_resource_ids
from ram_delegate.owner.revoke import handle_revoked
from ram_delegate.plan import Step, execute
from ram_delegate.policy import (
    AccessProfile,
    PolicyDocument,
    owner_access_policy,
    owner_trust_policy,
    same_policy,
    to_json,
)

logger = logging.getLogger(__name__)


@dataclass
class _Drift:
    differences: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    unsafe: str | None = None
    access_missing: bool = False
    """The access policy is gone: an approval in flight looks the same, so alone it is only an orphan to report."""


def _owner_drift(
    deps: Deps, role: TaggedResource, account_id: str, held: list[RgAttachment] | None
) -> tuple[_Drift, TrustFacts, list[str]]:
    """Compare one sealed grant role with its rendering; the steps that heal it, or why healing is unsafe.

    ``held``: what Resource Manager lists as attached to this role (every resource group and account scope); None
    when that listing could not be read this run (the other checks still run).
    """
    ram = deps.cloud.ram
    tags = role.tags
    ticket = tags.get(g.TAG_TICKET, "")
    drift = _Drift()
    info = ram.get_role(role.name)
    facts = trust_facts(info.trust_policy)
    policy = g.access_policy_name(ticket)
    attached = ram.list_policies_for_role(role.name)
    names = [f"{p.policy_type}:{p.name}" for p in attached]
    names += [f"{a.policy_type}:{a.policy_name}@{a.resource_group_id}" for a in held or ()]
    expires_at = g.parse_time(tags.get(g.TAG_EXPIRES_AT))
    profile = deps.profiles.get(tags.get(g.TAG_PROFILE, ""))
    partner = tags.get(g.TAG_PARTNER_ACCOUNT, "")
    if role.name != g.role_name(ticket) or expires_at is None:
        drift.unsafe = "the role's name or expiry does not match its ticket"
        return drift, facts, names
    if facts.external_id is None:
        drift.differences.append("trust: the sts:ExternalId condition was removed")
        drift.unsafe = "the ExternalId is lost; the partner's copy cannot be matched again"
        return drift, facts, names
    if profile is None:
        drift.unsafe = f"profile {tags.get(g.TAG_PROFILE)!r} no longer exists"
        return drift, facts, names
    verifier = deps.settings.verifier_role
    trust = owner_trust_policy(
        partner_account_id=partner,
        partner_users=[tags.get(g.TAG_PARTNER_USER, "")],
        external_id=facts.external_id,
        expires_at=expires_at,
        verifier_role=g.role_arn(partner, verifier) if verifier else None,
    )
    arn = role.arn or g.role_arn(account_id, role.name)
    if not same_policy(info.trust_policy, trust, "trust"):
        drift.differences.append(f"trust: {_trust_change(facts, trust)}")
        drift.steps.append(Step("UpdateRole", arn, {"role": role.name, "trust_policy": to_json(trust)}, "heal trust"))
    try:
        document: str | None = ram.get_policy(policy).document
    except NotFoundError:
        # An approval between CreateRole and CreatePolicy looks like this: never revoke or re-create it here. A role
        # without its access policy grants nothing by itself; other attachments are still detached below.
        document = None
        drift.access_missing = True
        drift.differences.append(f"access: {policy} is missing (an approval in flight, or deleted); reported")
    region = tags.get(g.TAG_REGION, "")
    if document is not None:
        instances = _instances_to_render(drift, profile, tags, document, region, account_id)
        if drift.unsafe is not None:
            return drift, facts, names
        try:
            access = owner_access_policy(
                profile=profile,
                owner_account_id=account_id,
                region=region,
                expires_at=expires_at,
                resource_ids=instances,
            )
        except RamDelegateError:
            drift.unsafe = "the grant's instances no longer render an access policy"
            return drift, facts, names
        if not same_policy(document, access, "custom"):
            drift.differences.append(f"access: {policy} differs from the profile's rendering (widened or edited)")
            drift.steps.append(
                Step(
                    "CreatePolicyVersion",
                    g.policy_arn(account_id, policy),
                    {"policy": policy, "document": to_json(access)},
                    "heal access",
                )
            )
    group = tags.get(g.TAG_RESOURCE_GROUP) or None  # an empty value is a group no longer named (clear_dropped)
    for ref in attached:
        if ref.name == policy and ref.policy_type == "Custom" and group is None:
            continue
        drift.differences.append(f"attachments: {ref.policy_type} policy {ref.name} attached to the role")
        params = {"policy": ref.name, "role": role.name, "policy_type": ref.policy_type}
        drift.steps.append(Step("DetachPolicyFromRole", arn, params, "heal attachments"))
    if held is not None:
        _extra_scoped_attachments(drift, held, attached, arn, policy, group, account_id)
    if document is None:
        return drift, facts, names
    if group is None and not any(r.name == policy and r.policy_type == "Custom" for r in attached):
        drift.differences.append(f"attachments: {policy} was detached")
        drift.steps.append(Step("AttachPolicyToRole", arn, {"policy": policy, "role": role.name}, "heal attachments"))
    if group is not None and not _holds_own_in_group(deps, held, role.name, policy, group):
        drift.differences.append(f"attachments: {policy} was detached from resource group {group}")
        principal = g.role_principal_name(role.name, account_id)
        params = {"policy": policy, "principal_name": principal, "resource_group_id": group}
        drift.steps.append(Step("AttachPolicy", arn, params, "heal attachments"))
    return drift, facts, names


def _instances_to_render(
    drift: _Drift, profile: AccessProfile, tags: Mapping[str, str], document: str, region: str, account_id: str
) -> list[str] | None:
    """The named instances to render a grant's access policy with, never more than its current document names.

    The grant records its instances in a tag outside the seal (or only their digest, when too many): anyone allowed
    ``ram:TagResources`` may edit it. So the record can only narrow what the document names: instances the document
    names beyond the record are healed away (every instance, ``*``, down to the record); instances the record names
    beyond the document are never added, only reported (a renewal between its two writes, or an edit), and the
    document's own are kept. A document naming none of its instances cannot be rendered from an authentic record
    (unsafe: the grant is revoked). In the document's order, so the record's order or repeats change nothing.
    """
    if profile.resource_ids == "refuse" or profile.instances is None:
        return None  # a profile without instance scoping: a resource-ids tag, if any, means nothing
    named = _document_instances(document, profile, region, account_id)
    if not named:
        drift.unsafe = "the access policy names none of the grant's instances"
        return None
    try:
        recorded = recorded_resource_ids(tags)
    except KeyError:  # a digest only: the document's instances are all there is, checked against it
        if g.resource_ids_tag(named) != tags.get(g.TAG_RESOURCE_IDS):
            drift.differences.append("access: the instances named differ from the recorded digest; reported")
        recorded = None
    if recorded is None:
        return None if named == ["*"] else named
    if "*" in named:
        return list(dict.fromkeys(recorded))
    lacking = [item for item in recorded if item not in named]
    if lacking:
        drift.differences.append("access: the record names instances the access policy does not; reported")
        return named
    return [item for item in named if item in recorded]


def _document_instances(document: str, profile: AccessProfile, region: str, account_id: str) -> list[str]:
    """The instance ids an access document allows in its instance statement (the one with exactly the profile's
    instance actions), in order (``*`` for every instance)."""
    assert profile.instances is not None
    actions = set(profile.instances.actions)
    prefix, _, suffix = profile.instances.arn(region=region, account_id=account_id, resource_id="\x00").partition(
        "\x00"
    )
    try:
        raw = json.loads(document)
    except (ValueError, RecursionError):
        return []
    statements = raw.get("Statement", []) if isinstance(raw, dict) else []
    found: list[str] = []
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        action = statement.get("Action")
        if set([action] if isinstance(action, str) else action if isinstance(action, list) else []) != actions:
            continue
        resource = statement.get("Resource")
        for arn in [resource] if isinstance(resource, str) else resource if isinstance(resource, list) else []:
            if isinstance(arn, str) and len(arn) > len(prefix) + len(suffix) and arn.startswith(prefix):
                item = arn[len(prefix) : len(arn) - len(suffix)] if suffix else arn[len(prefix) :]
                if (not suffix or arn.endswith(suffix)) and item not in found:
                    found.append(item)
    return found


def _holds_own_in_group(deps: Deps, held: list[RgAttachment] | None, role: str, policy: str, group: str) -> bool:
    """Whether the grant's access policy is attached to its role in its group: read from the account-wide listing,
    or, when that listing failed this run, from the group's own."""
    if held is None:
        in_group = deps.cloud.resource_manager.list_policy_attachments(policy=policy, resource_group_id=group)
        return any(g.is_role_principal(a.principal_name, role) for a in in_group)
    return any(_is_own_scoped(a, policy, group) for a in held)


def _is_own_scoped(attachment: RgAttachment, policy: str, group: str | None) -> bool:
    """The grant's own access policy in the grant's own resource group."""
    return (
        group is not None
        and attachment.resource_group_id == group
        and attachment.policy_type == "Custom"
        and attachment.policy_name == policy
    )


def _extra_scoped_attachments(
    drift: _Drift,
    held: list[RgAttachment],
    attached: list[AttachedPolicyRef],
    arn: str,
    policy: str,
    group: str | None,
    account_id: str,
) -> None:
    """Policies attached to the role through Resource Manager beyond the grant's own: detached when they sit in a
    resource group; at account scope the function's role may not detach them (its grants stop at ``rg-*``), so the
    grant is unsafe and is revoked. An account-scope entry that is one of RAM's own attachments (if Resource Manager
    lists those too) is left to the RAM check above."""
    for extra in held:
        if _is_own_scoped(extra, policy, group):
            continue
        if extra.resource_group_id in ("", account_id):
            if any(ref.name == extra.policy_name and ref.policy_type == extra.policy_type for ref in attached):
                continue
            drift.differences.append(
                f"attachments: {extra.policy_type} policy {extra.policy_name} attached to the role at account scope "
                "through Resource Manager"
            )
            drift.unsafe = "a policy is attached to the role at account scope through Resource Manager"
            continue
        drift.differences.append(
            f"attachments: {extra.policy_type} policy {extra.policy_name} attached to the role in resource group "
            f"{extra.resource_group_id}"
        )
        params = {
            "policy": extra.policy_name,
            "policy_type": extra.policy_type,
            "principal_name": extra.principal_name,
            "resource_group_id": extra.resource_group_id,
        }
        drift.steps.append(Step("DetachPolicy", arn, params, "heal attachments"))


def _role_attachments(deps: Deps) -> dict[str, list[RgAttachment]] | None:
    """Every role's Resource Manager attachments by role name, or None (logged and alerted) when they cannot be
    listed: the rest of the audit still runs, without the check for policies added to a grant role through Resource
    Manager."""
    try:
        listed = deps.cloud.resource_manager.list_service_role_attachments()
    except RamDelegateError as exc:
        logger.error("drift audit: Resource Manager attachments cannot be listed: %s", exc.code)
        deps.critical_alert(
            "ram-delegate: drift audit incomplete",
            f"Resource Manager ListPolicyAttachments failed ({exc.code}); policies added to grant roles through "
            "Resource Manager were not checked this run.",
        )
        return None
    by_role: dict[str, list[RgAttachment]] = {}
    for attachment in listed:
        role = g.principal_role(attachment.principal_name)
        if role is not None:
            by_role.setdefault(role, []).append(attachment)
    return by_role


def _trust_change(facts: TrustFacts, desired: PolicyDocument) -> str:
    wanted = {p for s in desired.statements if s.principals for p in s.principals.ram}
    added = sorted(set(facts.principals) - wanted)
    if added:
        return f"principals added: {', '.join(added)}"
    if facts.expiry is None:
        return "the expiry condition was removed"
    return "the trust policy differs from the grant's rendering"


def _revoke(deps: Deps, ticket: str, now: datetime, why: str) -> bool:
    """Revoke through the normal path (door shut, tombstone, partner told); False if that failed."""
    event = RevokedEvent.model_validate(
        {
            "specversion": "1.0",
            "id": f"drift-{g.name_key(ticket)}-{g.format_time(now)}",
            "source": "ram-delegate:drift-audit",
            "type": "partner.access.revoked",
            "time": g.format_time(now),
            "data": {"ticket": ticket, "reason": f"drift audit: {why}"[:512]},
        }
    )
    try:
        handle_revoked(event, deps, now=now)
    except RamDelegateError as exc:
        logger.error("drift audit could not revoke %s: %s", ticket, exc)
        return False
    return True


def audit_owner_grants(deps: Deps, *, now: datetime, heal: bool = True) -> list[AuditFinding]:
    """Check (and, with ``heal``, heal or revoke) every sealed active grant of the owner account."""
    account_id = deps.account_id()
    keys = deps.settings.seal_keys
    findings: list[AuditFinding] = []
    scoped: dict[str, list[RgAttachment]] | None = None
    listed = False  # Resource Manager's attachments are listed once, when the first active grant is reached
    for role in deps.cloud.ram.list_roles(g.managed_filter(g.KIND_ROLE)):
        if not g.is_sealed(role.tags, role.name, keys) or g.state_of(role.tags, now) != "active":
            continue
        ticket = role.tags.get(g.TAG_TICKET, "")
        if not listed:
            scoped, listed = _role_attachments(deps), True
        held = None if scoped is None else scoped.get(role.name, [])
        try:
            drift, facts, policies = _owner_drift(deps, role, account_id, held)
        except NotFoundError:
            continue  # removed meanwhile
        except RamDelegateError as exc:  # one grant that cannot be read (throttled, refused) stops no other's check
            logger.error("drift audit: grant %s could not be read: %s", ticket, exc.code)
            continue
        if not drift.differences and drift.unsafe is None:
            continue
        action: Action = "reported"
        text = "; ".join(drift.differences) or drift.unsafe or ""
        if heal and drift.unsafe is None and drift.steps:
            try:
                execute(drift.steps, deps.cloud, deps.audit, ticket=ticket, event_id=None)
                action = "healed"
            except RamDelegateError as exc:
                drift.unsafe = f"healing failed: {exc}"
        if heal and drift.unsafe is not None and _revoke(deps, ticket, now, drift.unsafe):
            action = "revoked"
        # Only the access policy is missing: the role grants nothing by itself.
        incomplete = drift.access_missing and not drift.steps and drift.unsafe is None and len(drift.differences) == 1
        if not incomplete:
            deps.critical_alert(f"ram-delegate: grant {ticket} was tampered with ({action})", text)
        findings.append(
            AuditFinding(
                kind="orphan" if incomplete else "tampered-grant",
                resource=role.arn or g.role_arn(account_id, role.name),
                managed=True,
                principals=facts.principals,
                external_id=facts.external_id is not None,
                expiry=facts.expiry,
                policies=tuple(policies),
                severity="medium" if incomplete else "critical",
                action=action,
                detail=text,
            )
        )
    return findings
