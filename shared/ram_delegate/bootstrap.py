"""Create (or converge) the RAM roles the functions themselves run as, from the policy files in ``roles/``.

``ram-delegate bootstrap --side owner|partner`` runs this once per account with an administrator's credentials:

* owner: ``ram-delegate-owner`` (owner-onboard, owner-expire) with ``roles/owner-function.json``;
* partner: ``ram-delegate-partner`` (partner-onboard, partner-expire) with ``roles/partner-function.json`` and the
  verifier role (``settings.verifier_role``, default ``ram-delegate-verifier``; partner-verify runs as it) with
  ``roles/partner-verifier.json``.

The function roles are deliberately *not* named ``rd-*``: the owner function may update and delete ``rd-*`` roles,
and must not be able to rewrite its own. Each role is trusted by the Function Compute service only, carries the
managed-by tag, and gets one custom policy of the same name. Every policy is linted first; the RAM writes a
function role genuinely needs are escalation findings by construction, so each role lists every finding it accepts
by (rule id, action) with the reason, and any other error refuses the bootstrap (no rule is waived wholesale).
A second run reads and changes nothing; a role or policy of the same name without our tag is never touched
(GuardrailError).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Literal

from ram_delegate.cloud import CloudClients
from ram_delegate.errors import GuardrailError, NotFoundError, PolicyLintError, Problem
from ram_delegate.grants import MANAGED_BY_VALUE, TAG_MANAGED_BY
from ram_delegate.policy import Finding, PolicyDocument, errors_of, lint, parse_policy, render, same_policy
from ram_delegate.settings import Settings

logger = logging.getLogger(__name__)

Side = Literal["owner", "partner"]

FC_SERVICE = "fc.aliyuncs.com"
OWNER_FUNCTION_ROLE = "ram-delegate-owner"
PARTNER_FUNCTION_ROLE = "ram-delegate-partner"
DEFAULT_VERIFIER_ROLE = "ram-delegate-verifier"
MAX_SESSION_SECONDS = 3600
TRUST_POLICY = {
    "Version": "1",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": [FC_SERVICE]}}],
}


@dataclass(frozen=True)
class RoleSpec:
    """One function role: its name, its policy file, and the lint errors it accepts, each by (rule id, action)."""

    name: str
    policy_file: str
    accepted_findings: Mapping[tuple[str, str], str]
    description: str


# Every lint error a function role may carry, named one by one (rule id, action) with the reason; there is no
# blanket waiver of a rule: a new RAM write in a role file fails bootstrap until it is listed here with its reason.
_ESCALATION = "action-privilege-escalation"
_OWNER_ACCEPTS: Mapping[tuple[str, str], str] = {
    (_ESCALATION, "ram:CreateRole"): "one rd-<ticket> role per grant; RAM cannot constrain the trust it carries, "
    "the drift audit re-renders it every sweep",
    (_ESCALATION, "ram:UpdateRole"): "renders a grant's trust (change, heal, and the Deny trust of a revocation); "
    "rd-* roles only, never the function's own role",
    (_ESCALATION, "ram:CreatePolicy"): "rd-access-<ticket> and rd-tomb-<ticket> only; RAM cannot constrain the "
    "document, the drift audit re-renders it every sweep",
    (_ESCALATION, "ram:CreatePolicyVersion"): "changes and heals rd-access-* documents only",
    (_ESCALATION, "ram:AttachPolicyToRole"): "attaches rd-access-* policies to rd-* roles only: no system policy, "
    "no other role",
    (_ESCALATION, "resourcemanager:AttachPolicy"): "attaches rd-access-* policies in rg-* resource groups only: no "
    "account scope (the account id is not rg-*), no system policy",
}
_PARTNER_ACCEPTS: Mapping[tuple[str, str], str] = {
    (_ESCALATION, "ram:CreatePolicy"): "rd-assume-<owner>-<ticket> and rd-verify-<owner> only; the drift audit "
    "re-renders their documents",
    (_ESCALATION, "ram:CreatePolicyVersion"): "changes and heals rd-assume-* and rd-verify-* documents only",
    (_ESCALATION, "ram:CreateUser"): "the partner user named by the grant, created without AccessKey or login "
    "profile (it never calls CreateAccessKey or CreateLoginProfile)",
    (_ESCALATION, "ram:AttachPolicyToUser"): "attaches rd-assume-* policies only (no system policy); RAM cannot "
    "limit which user, the partner audit lists every user holding one",
    (_ESCALATION, "ram:AttachPolicyToRole"): "attaches rd-verify-* policies to the verifier role only",
}
BROAD_ASSUME_STATEMENT = {
    "Effect": "Allow",
    "Action": ["ram:AttachPolicyToUser", "ram:DetachPolicyFromUser"],
    "Resource": ["acs:ram:*:*:user/*", "acs:ram:*:*:policy/AliyunSTSAssumeRoleAccess"],
}


def role_specs(side: Side, settings: Settings) -> tuple[RoleSpec, ...]:
    """The roles ``side`` needs, in creation order."""
    if side == "owner":
        return (RoleSpec(OWNER_FUNCTION_ROLE, "owner-function.json", _OWNER_ACCEPTS, "ram-delegate owner functions"),)
    return (
        RoleSpec(PARTNER_FUNCTION_ROLE, "partner-function.json", _PARTNER_ACCEPTS, "ram-delegate partner functions"),
        RoleSpec(verifier_role_name(settings), "partner-verifier.json", {}, "ram-delegate partner verifier"),
    )


def verifier_role_name(settings: Settings) -> str:
    return settings.verifier_role or DEFAULT_VERIFIER_ROLE


def role_policy(spec: RoleSpec, settings: Settings) -> PolicyDocument:
    """The parsed policy of a function role (placeholders such as ``${verifier_role}`` filled in), lint-checked.

    Every error finding must be accepted by name, (rule id, action); any other refuses the role.
    """
    text = resources.files("ram_delegate").joinpath("roles").joinpath(spec.policy_file).read_text(encoding="utf-8")
    raw = json.loads(Template(text).substitute(verifier_role=verifier_role_name(settings)))
    if spec.name == PARTNER_FUNCTION_ROLE and settings.allow_broad_assume:
        raw["Statement"].append(BROAD_ASSUME_STATEMENT)  # the operator's explicit opt-in, and only then
    document = parse_policy(raw, kind="custom")
    errors = errors_of(lint(document, kind="custom"))
    unexpected = [f for f in errors if finding_key(document, f) not in spec.accepted_findings]
    if unexpected:
        problems = [Problem(f.path, f"{f.rule_id}: {f.message}") for f in unexpected]
        raise PolicyLintError(f"the {spec.name} role policy has lint errors", problems=problems)
    return document


_ACTION_PATH = re.compile(r"Statement\[(\d+)\]\.Action(?:\[(\d+)\])?")


def finding_key(document: PolicyDocument, finding: Finding) -> tuple[str, str]:
    """(rule id, the action the finding is about), or (rule id, path) when it is not about one action."""
    match = _ACTION_PATH.fullmatch(finding.path)
    if match is None:
        return finding.rule_id, finding.path
    actions = document.statements[int(match.group(1))].actions
    return finding.rule_id, actions[int(match.group(2) or 0)]


@dataclass(frozen=True)
class BootstrappedRole:
    name: str
    arn: str
    policy_name: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class BootstrapResult:
    side: Side
    roles: tuple[BootstrappedRole, ...]

    @property
    def changed(self) -> bool:
        return any(role.changes for role in self.roles)

    def to_dict(self) -> dict[str, object]:
        return {
            "side": self.side,
            "changed": self.changed,
            "roles": [
                {"name": r.name, "arn": r.arn, "policy": r.policy_name, "changes": list(r.changes)} for r in self.roles
            ],
        }


def bootstrap(side: Side, cloud: CloudClients, settings: Settings) -> BootstrapResult:
    """Converge ``side``'s function roles; idempotent (a second run only reads)."""
    return BootstrapResult(
        side, tuple(_converge(spec, role_policy(spec, settings), cloud) for spec in role_specs(side, settings))
    )


def _converge(spec: RoleSpec, policy: PolicyDocument, cloud: CloudClients) -> BootstrappedRole:
    ram = cloud.ram
    tags = {TAG_MANAGED_BY: MANAGED_BY_VALUE}
    trust_text = json.dumps(TRUST_POLICY, separators=(",", ":"))
    policy_text = json.dumps(render(policy), separators=(",", ":"))
    changes: list[str] = []

    try:
        role = ram.get_role(spec.name)
    except NotFoundError:
        ram.create_role(
            spec.name, trust_text, description=spec.description, max_session_duration=MAX_SESSION_SECONDS, tags=tags
        )
        changes.append("CreateRole")
        role = ram.get_role(spec.name)
    else:
        if spec.name not in {r.name for r in ram.list_roles(tags)}:
            raise GuardrailError(f"role {spec.name} exists without the {TAG_MANAGED_BY} tag; refusing to modify it")
        if not same_policy(role.trust_policy, parse_policy(TRUST_POLICY, kind="trust"), "trust"):
            ram.update_role_trust(spec.name, trust_text)
            changes.append("UpdateRole")

    try:
        current = ram.get_policy(spec.name)
    except NotFoundError:
        ram.create_policy(spec.name, policy_text, description=spec.description, tags=tags)
        changes.append("CreatePolicy")
    else:
        if spec.name not in {p.name for p in ram.list_policies(tags)}:
            raise GuardrailError(f"policy {spec.name} exists without the {TAG_MANAGED_BY} tag; refusing to modify it")
        if not same_policy(current.document, policy, "custom"):
            ram.set_policy_document(spec.name, policy_text)
            changes.append("CreatePolicyVersion")

    attached = {(p.name, p.policy_type) for p in ram.list_policies_for_role(spec.name)}
    if (spec.name, "Custom") not in attached:
        ram.attach_policy_to_role(spec.name, spec.name)
        changes.append("AttachPolicyToRole")

    for change in changes:
        logger.info("bootstrap %s: %s", spec.name, change)
    return BootstrappedRole(spec.name, role.arn, spec.name, tuple(changes))
