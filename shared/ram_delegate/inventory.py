"""``ram-delegate audit``: who outside the account can get in, managed by ram-delegate or not.

Owner side: every RAM role whose trust policy admits a principal of another account (its root, a user or a role) or
``*``, with who, whether an ExternalId and an expiry condition guard it, the policies attached and whether one is
high-risk, and whether ram-delegate manages (sealed) it. Sealed grants are first checked by the drift audit
(``drift.py``) and healed or revoked; roles carrying our tags without a valid seal, and sealed leftovers whose grant
is gone, are reported. Nothing unmanaged is ever changed.

Partner side: every policy named like ours (``rd-*``) or attached to a user a grant names, whose document allows
more than ``sts:AssumeRole`` on an allowed owner's ``rd-*`` roles, with every user holding it.

Severity: ``critical`` when a finding opens more than a grant could (anyone, an account root, no ExternalId, no
expiry, a high-risk policy, a policy beyond assume) or a grant was tampered with; ``high`` for a forged or broken
seal that opens no more than a grant; ``medium`` for leftovers; ``low`` for what is exactly a grant.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ram_delegate import grants as g
from ram_delegate.cloud import AttachedPolicyRef, RamApi
from ram_delegate.deps import Deps
from ram_delegate.drift import (
    SEVERITY_ORDER,
    AuditFinding,
    Kind,
    Severity,
    TrustFacts,
    audit_partner_grants,
    trust_facts,
)
from ram_delegate.errors import NotFoundError, RamDelegateError
from ram_delegate.owner.drift import audit_owner_grants
from ram_delegate.policy import errors_of, lint, parse_policy
from ram_delegate.policy.lint import ASSUME_ANY_ROLE_SYSTEM_POLICIES, HIGH_RISK_SYSTEM_POLICIES

_PRINCIPAL_ACCOUNT = re.compile(r"acs:ram::(\d+):")
_ASSUME = "sts:assumerole"


@dataclass(frozen=True)
class AuditReport:
    """The findings of one audit run, worst first, and the counts the JSON summary carries."""

    side: str
    examined: int
    findings: tuple[AuditFinding, ...]

    @property
    def failed(self) -> bool:
        """Exit 1: some finding is high or critical."""
        return any(f.severity in ("critical", "high") for f in self.findings)

    def to_dict(self) -> dict[str, object]:
        severities: Counter[str] = Counter(f.severity for f in self.findings)
        return {
            "findings": [f.to_dict() for f in self.findings],
            "summary": {
                "side": self.side,
                "examined": self.examined,
                "findings": len(self.findings),
                "by_severity": {name: severities[name] for name in SEVERITY_ORDER},
                "by_kind": dict(sorted(Counter(f.kind for f in self.findings).items())),
                "healed": sum(1 for f in self.findings if f.action == "healed"),
                "revoked": sum(1 for f in self.findings if f.action == "revoked"),
            },
        }


def _ordered(findings: Iterable[AuditFinding]) -> tuple[AuditFinding, ...]:
    return tuple(sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.kind, f.resource)))


def is_external(principal: str, account_id: str) -> bool:
    """A RAM principal that is not provably of this account: another account's root, user or role, a bare account
    id, ``*``, or anything with a wildcard or an unreadable account (``acs:ram::*:root``) — when in doubt, outside."""
    if principal.isdigit():
        return principal != account_id
    match = _PRINCIPAL_ACCOUNT.match(principal)
    return match is None or match.group(1) != account_id


def _high_risk(ram: RamApi, attached: Iterable[AttachedPolicyRef]) -> list[str]:
    """The attached policies that hand out more than a scoped grant: admin, RAM, assume-anything, or lint errors."""
    risky: list[str] = []
    for ref in attached:
        if ref.policy_type == "System":
            if ref.name in HIGH_RISK_SYSTEM_POLICIES | ASSUME_ANY_ROLE_SYSTEM_POLICIES or ref.name.endswith(
                "FullAccess"
            ):
                risky.append(ref.name)
            continue
        try:
            document = parse_policy(ram.get_policy(ref.name).document, kind="custom")
        except RamDelegateError:  # gone meanwhile, or a document RAM accepted that our parser does not
            continue
        if errors_of(lint(document)):
            risky.append(ref.name)
    return risky


def _opens_more_than_a_grant(facts: TrustFacts, external: list[str], risky: list[str]) -> bool:
    roots = any(p == "*" or p.endswith(":root") or p.isdigit() for p in external)
    return facts.anyone or roots or facts.external_id is None or facts.expiry is None or bool(risky)


def owner_audit(deps: Deps, *, now: datetime, heal: bool = True) -> AuditReport:
    """The owner's inventory of external access (module docstring); sealed grants healed or revoked first."""
    account_id = deps.account_id()
    keys = deps.settings.seal_keys
    ram = deps.cloud.ram
    findings = audit_owner_grants(deps, now=now, heal=heal)
    seen = {f.resource for f in findings}
    roles = ram.list_roles({})
    role_names = {r.name for r in roles}
    for role in roles:
        arn = role.arn or g.role_arn(account_id, role.name)
        if arn in seen:
            continue
        try:
            info = ram.get_role(role.name)
        except NotFoundError:
            continue
        facts = trust_facts(info.trust_policy)
        external = [p for p in facts.principals if is_external(p, account_id)]
        unsealed = g.is_unsealed(role.tags, role.name, keys)
        if not external and not unsealed:
            continue
        try:
            attached = ram.list_policies_for_role(role.name)
        except NotFoundError:
            continue
        risky = _high_risk(ram, attached)
        wider = _opens_more_than_a_grant(facts, external, risky)
        sealed = g.is_sealed(role.tags, role.name, keys)
        kind: Kind
        severity: Severity
        if unsealed:
            kind, severity = "unsealed-managed-tag", "critical" if external and wider else "high"
            detail = "carries ram-delegate's tags without a valid seal: never acted on"
        elif sealed and g.state_of(role.tags, now) != "active":
            kind, severity, detail = "orphan", "medium", "an expired or revoked grant the sweep has not removed yet"
        elif sealed:
            kind, severity, detail = "external-trust", "low", f"grant {role.tags.get(g.TAG_TICKET, '')}"
        else:
            kind, severity = "external-trust", "critical" if wider else "low"
            detail = "not managed by ram-delegate" + (f"; high-risk: {', '.join(risky)}" if risky else "")
        findings.append(
            AuditFinding(
                kind=kind,
                resource=arn,
                managed=sealed,
                principals=tuple(external) if external else facts.principals,
                external_id=facts.external_id is not None,
                expiry=facts.expiry,
                policies=tuple(f"{p.policy_type}:{p.name}" for p in attached),
                severity=severity,
                action="reported",
                detail=detail,
            )
        )
    for policy in ram.list_policies(g.managed_filter(g.KIND_ACCESS)):
        ticket = policy.tags.get(g.TAG_TICKET, "")
        if g.is_sealed(policy.tags, policy.name, keys) and g.role_name(ticket) not in role_names:
            findings.append(_leftover_policy(account_id, policy.name, f"its role {g.role_name(ticket)} is gone"))
    return AuditReport("owner", len(roles), _ordered(findings))


def _leftover_policy(account_id: str, name: str, why: str) -> AuditFinding:
    return AuditFinding(
        kind="orphan",
        resource=g.policy_arn(account_id, name),
        managed=True,
        principals=(),
        external_id=False,
        expiry=None,
        policies=(name,),
        severity="medium",
        action="reported",
        detail=why,
    )


def _only_assumes_allowed_rd_roles(text: str, owners: frozenset[str]) -> bool:
    """Every Allow is ``sts:AssumeRole`` on ``acs:ram::<allowed owner>:role/rd-...`` (no NotAction/NotResource)."""
    try:
        document = parse_policy(text, kind="custom")
    except RamDelegateError:
        return False
    for statement in document.statements:
        if statement.effect != "Allow":
            continue
        if statement.not_actions or statement.not_resources:
            return False
        if any(a.lower() != _ASSUME for a in statement.actions):
            return False
        for resource in statement.resources:
            match = re.fullmatch(r"acs:ram::(\d+):role/rd-[A-Za-z0-9.*-]*", resource)
            if match is None or match.group(1) not in owners:
                return False
    return True


def partner_audit(deps: Deps, *, now: datetime, heal: bool = True) -> AuditReport:
    """The partner's inventory: policies like ours, or held by grant users, that allow more than a grant could."""
    own = deps.account_id()
    keys = deps.settings.seal_keys
    owners = frozenset(deps.settings.allowed_owners)
    ram = deps.cloud.ram
    findings = audit_partner_grants(deps, now=now, heal=heal)
    seen = {f.resource for f in findings}
    assume = [p for p in ram.list_policies(g.managed_filter(g.KIND_ASSUME)) if g.is_sealed(p.tags, p.name, keys)]
    users = sorted({p.tags.get(g.TAG_PARTNER_USER, "") for p in assume} - {""})
    policies = ram.list_policies({})
    tagged = {p.name: p for p in policies}
    candidates = {p.name for p in policies if p.name.startswith("rd-")}
    system_held: dict[str, list[str]] = {}
    for user in users:
        try:
            for ref in ram.list_policies_for_user(user):
                if ref.policy_type == "System":
                    system_held.setdefault(ref.name, []).append(user)
                else:
                    candidates.add(ref.name)
        except NotFoundError:
            continue
    for name in sorted(candidates):
        arn = g.policy_arn(own, name)
        resource = tagged.get(name)
        tags = resource.tags if resource is not None else {}
        if arn in seen or (g.is_sealed(tags, name, keys) and tags.get(g.TAG_KIND) == g.KIND_VERIFY):
            continue
        try:
            text = ram.get_policy(name).document
        except NotFoundError:
            continue
        unsealed = g.is_unsealed(tags, name, keys)
        if _only_assumes_allowed_rd_roles(text, owners) and not unsealed:
            continue
        holders = ram.list_entities_for_policy(name)
        wider = not _only_assumes_allowed_rd_roles(text, owners)
        findings.append(
            AuditFinding(
                kind="unsealed-managed-tag" if unsealed else "orphan",
                resource=arn,
                managed=False,
                principals=tuple(
                    g.user_arn(own, n) if k == "User" else g.role_arn(own, n) if k == "Role" else f"group/{n}"
                    for k, n in holders
                ),
                external_id=False,
                expiry=tags.get(g.TAG_EXPIRES_AT),
                policies=(name,),
                severity="critical" if wider else "high",
                action="reported",
                detail="allows more than sts:AssumeRole on an allowed owner's rd-* roles"
                if wider
                else "carries ram-delegate's tags without a valid seal",
            )
        )
    for name, held_by in sorted(system_held.items()):
        broad_opt_in = name in ASSUME_ANY_ROLE_SYSTEM_POLICIES and deps.settings.allow_broad_assume
        findings.append(
            AuditFinding(
                kind="orphan",
                resource=f"acs:ram::system:policy/{name}",
                managed=False,
                principals=tuple(g.user_arn(own, u) for u in held_by),
                external_id=False,
                expiry=None,
                policies=(name,),
                severity="high" if broad_opt_in else "critical",
                action="reported",
                detail="a system policy held by a grant's user",
            )
        )
    return AuditReport("partner", len(policies), _ordered(findings))
