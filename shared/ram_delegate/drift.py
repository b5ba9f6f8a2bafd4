"""The drift audit that heals: every sealed grant compared with what ram-delegate would render for it now.

RAM cannot limit what the function roles write into the documents they own (an ``rd-*`` trust policy, an
``rd-access-*`` or ``rd-assume-*`` document), and an administrator or an attacker can edit them too. This module is
the compensating control: for each sealed, active grant it re-renders the trust policy, the access (owner) or assume
(partner) policy and the attachments from the grant's recorded state (its sealed tags; the ExternalId from the trust
policy, since it is never stored elsewhere on the owner side) and compares. A difference is healed by writing the
rendering back (``UpdateRole``, ``CreatePolicyVersion``, detaching extra policies, re-attaching), or, when healing
would be unsafe (the ExternalId condition is gone, so the partner's copy can no longer be trusted; the profile no
longer exists), the grant is revoked through the normal revocation path. A missing access policy is only reported: an
approval in flight between its CreateRole and CreatePolicy looks the same. Every difference raises a critical alert
that names it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ram_delegate import grants as g
from ram_delegate.cloud import AttachedPolicyRef, RgAttachment, TaggedResource
from ram_delegate.deps import Deps
from ram_delegate.errors import NotFoundError, RamDelegateError
from ram_delegate.events import RevokedEvent
from ram_delegate.plan import Step, execute
from ram_delegate.policy import (
    PolicyDocument,
    owner_access_policy,
    owner_trust_policy,
    partner_assume_policy,
    partner_verifier_policy,
    same_policy,
    to_json,
)

logger = logging.getLogger(__name__)

Kind = Literal["external-trust", "tampered-grant", "unsealed-managed-tag", "orphan"]
Severity = Literal["critical", "high", "medium", "low"]
Action = Literal["healed", "revoked", "reported"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class AuditFinding:
    """One line of ``ram-delegate audit``: the JSON contract's fields, and ``detail`` for people (table, alert)."""

    kind: Kind
    resource: str
    managed: bool
    principals: tuple[str, ...]
    external_id: bool
    expiry: str | None
    policies: tuple[str, ...]
    severity: Severity
    action: Action
    detail: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, object]:
        """Exactly the contract's fields, in the contract's order."""
        return {
            "kind": self.kind,
            "resource": self.resource,
            "managed": self.managed,
            "principals": list(self.principals),
            "external_id": self.external_id,
            "expiry": self.expiry,
            "policies": list(self.policies),
            "severity": self.severity,
            "action": self.action,
        }


@dataclass(frozen=True)
class TrustFacts:
    """What a trust policy lets in: RAM principals (and ``*``), and whether an ExternalId and an expiry guard them."""

    principals: tuple[str, ...]
    external_id: str | None
    expiry: str | None
    anyone: bool


def trust_facts(text: str) -> TrustFacts:
    """The Allow side of a trust policy, read leniently (a document RAM accepted but our parser may not)."""
    try:
        raw = json.loads(text)
    except ValueError:
        return TrustFacts((), None, None, False)
    principals: list[str] = []
    external_id: str | None = None
    expiry: str | None = None
    anyone = False
    statements = raw.get("Statement", []) if isinstance(raw, dict) else []
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*":
            anyone = True
            principals.append("*")
        elif isinstance(principal, dict):
            ram = principal.get("RAM", [])
            principals.extend([ram] if isinstance(ram, str) else [str(p) for p in ram])
        condition = statement.get("Condition") or {}
        value = (condition.get("StringEquals") or {}).get("sts:ExternalId")
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, str):
            external_id = value
        for operator in ("DateLessThan", "DateLessThanEquals"):
            limit = (condition.get(operator) or {}).get("acs:CurrentTime")
            if isinstance(limit, str):
                expiry = limit
    return TrustFacts(tuple(principals), external_id, expiry, anyone or "*" in principals)


@dataclass
class _Drift:
    differences: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    unsafe: str | None = None


# --- owner side ------------------------------------------------------------------------------------------------------


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
    access = owner_access_policy(
        profile=profile, owner_account_id=account_id, region=tags.get(g.TAG_REGION, ""), expires_at=expires_at
    )
    try:
        document: str | None = ram.get_policy(policy).document
    except NotFoundError:
        # An approval between CreateRole and CreatePolicy looks like this: never revoke or re-create it here. A role
        # without its access policy grants nothing by itself; other attachments are still detached below.
        document = None
        drift.differences.append(f"access: {policy} is missing (an approval in flight, or deleted); reported")
    if document is not None and not same_policy(document, access, "custom"):
        drift.differences.append(f"access: {policy} differs from the profile's rendering (widened or edited)")
        drift.steps.append(
            Step(
                "CreatePolicyVersion",
                g.policy_arn(account_id, policy),
                {"policy": policy, "document": to_json(access)},
                "heal access",
            )
        )
    group = tags.get(g.TAG_RESOURCE_GROUP)
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
    from ram_delegate import owner

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
        owner.handle_revoked(event, deps, now=now)
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
        incomplete = not drift.steps and drift.unsafe is None  # only the access policy is missing: grants nothing
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


# --- partner side ----------------------------------------------------------------------------------------------------


def audit_partner_grants(deps: Deps, *, now: datetime, heal: bool = True) -> list[AuditFinding]:
    """Check (and heal) every sealed active assume policy: its document and that only its user holds it."""
    own = deps.account_id()
    keys = deps.settings.seal_keys
    ram = deps.cloud.ram
    findings: list[AuditFinding] = []
    for policy in ram.list_policies(g.managed_filter(g.KIND_ASSUME)):
        tags = policy.tags
        if not g.is_sealed(tags, policy.name, keys) or g.state_of(tags, now) != "active":
            continue
        expires_at = g.parse_time(tags.get(g.TAG_EXPIRES_AT))
        role_arn = tags.get(g.TAG_ROLE_ARN, "")
        user = tags.get(g.TAG_PARTNER_USER, "")
        if expires_at is None:
            continue
        desired = partner_assume_policy(role_arn=role_arn, expires_at=expires_at)
        try:
            document = ram.get_policy(policy.name).document
        except NotFoundError:
            continue
        differences: list[str] = []
        steps: list[Step] = []
        arn = g.policy_arn(own, policy.name)
        if not same_policy(document, desired, "custom"):
            differences.append(f"assume: {policy.name} allows more than sts:AssumeRole on {role_arn} until expiry")
            steps.append(
                Step("CreatePolicyVersion", arn, {"policy": policy.name, "document": to_json(desired)}, "heal")
            )
        holders = ram.list_entities_for_policy(policy.name)
        for kind, name in holders:
            if (kind, name) != ("User", user):
                differences.append(f"attachments: {policy.name} is held by {kind.lower()} {name}")
                if kind == "User":
                    steps.append(
                        Step(
                            "DetachPolicyFromUser", g.user_arn(own, name), {"policy": policy.name, "user": name}, "heal"
                        )
                    )
        if not differences:
            continue
        action: Action = "reported"
        if heal:
            try:
                execute(steps, deps.cloud, deps.audit, ticket=tags.get(g.TAG_TICKET, ""), event_id=None)
                action = "healed"
            except RamDelegateError as exc:
                differences.append(f"healing failed: {exc}")
        text = "; ".join(differences)
        deps.critical_alert(f"ram-delegate: assume policy {policy.name} was tampered with ({action})", text)
        findings.append(
            AuditFinding(
                kind="tampered-grant",
                resource=arn,
                managed=True,
                principals=(g.user_arn(own, user),),
                external_id=bool(tags.get(g.TAG_EXTERNAL_ID)),
                expiry=tags.get(g.TAG_EXPIRES_AT),
                policies=(policy.name,),
                severity="critical",
                action=action,
                detail=text,
            )
        )
    return findings + _audit_verifier_policies(deps, heal=heal)


def _audit_verifier_policies(deps: Deps, *, heal: bool) -> list[AuditFinding]:
    """Each sealed ``rd-verify-<owner>`` policy: exactly the rendering (assume that owner's ``rd-*`` roles), held by
    the verifier role only. The document is healed; another holder is reported (the partner role may detach these
    policies from the verifier role only)."""
    own = deps.account_id()
    keys = deps.settings.seal_keys
    verifier = deps.settings.verifier_role
    ram = deps.cloud.ram
    findings: list[AuditFinding] = []
    for policy in ram.list_policies(g.managed_filter(g.KIND_VERIFY)):
        owner = policy.tags.get(g.TAG_OWNER_ACCOUNT, "")
        if not g.is_sealed(policy.tags, policy.name, keys) or policy.name != g.verifier_policy_name(owner):
            continue
        try:
            document = ram.get_policy(policy.name).document
            holders = ram.list_entities_for_policy(policy.name)
        except NotFoundError:
            continue
        desired = partner_verifier_policy(owner_account_id=owner)
        differences: list[str] = []
        steps: list[Step] = []
        arn = g.policy_arn(own, policy.name)
        if not same_policy(document, desired, "custom"):
            differences.append(f"verify: {policy.name} allows more than sts:AssumeRole on {owner}'s rd-* roles")
            steps.append(
                Step("CreatePolicyVersion", arn, {"policy": policy.name, "document": to_json(desired)}, "heal")
            )
        others = [f"{kind.lower()} {name}" for kind, name in holders if (kind, name) != ("Role", verifier)]
        if others:
            differences.append(f"attachments: {policy.name} is held by {', '.join(others)}")
        if not differences:
            continue
        action: Action = "reported"
        if heal and steps:
            try:
                execute(steps, deps.cloud, deps.audit, ticket="", event_id=None)
                action = "reported" if others else "healed"
            except RamDelegateError as exc:
                differences.append(f"healing failed: {exc}")
        text = "; ".join(differences)
        deps.critical_alert(f"ram-delegate: verifier policy {policy.name} was tampered with ({action})", text)
        findings.append(
            AuditFinding(
                kind="tampered-grant",
                resource=arn,
                managed=True,
                principals=tuple(others),
                external_id=False,
                expiry=None,
                policies=(policy.name,),
                severity="critical",
                action=action,
                detail=text,
            )
        )
    return findings
