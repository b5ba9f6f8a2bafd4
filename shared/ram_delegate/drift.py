"""The drift audit that heals: every sealed grant compared with what ram-delegate would render for it now.

This module holds what both sides share (the audit's findings, reading a trust policy) and the partner's audit; the
owner's is ``ram_delegate.owner.drift``.

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
from ram_delegate.deps import Deps
from ram_delegate.errors import NotFoundError, RamDelegateError
from ram_delegate.plan import Step, execute
from ram_delegate.policy import (
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
