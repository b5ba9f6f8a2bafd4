"""Lint policies for risky grants, with stable rule ids.

Findings at ``error`` severity are refused by the builders (``raise_for_errors``). A caller may downgrade named
rules to ``warning`` through ``allow`` — an explicit, logged opt-in, never a default.

Rules (id: severity — what fires it):

* ``system-policy-high-risk``: error — attaching AdministratorAccess or AliyunRAMFullAccess.
* ``system-policy-full-access``: warning — attaching any other ``*FullAccess`` system policy.
* ``action-wildcard-admin``: error — an Allow action that could expand to ``*``, ``ram:*`` or ``sts:*``
  (``*``, ``*:*``, ``r*:*``…).
* ``action-service-wildcard``: warning — an Allow of every action of another service (``ecs:*``).
* ``action-privilege-escalation``: error — an Allow action pattern that could match a RAM write that grants
  privileges (``ram:Attach*``, ``ram:*Policy*``, ``ram:CreateAccessKey``, ``resourcemanager:AttachPolicy`` …).
* ``allow-not-action`` / ``allow-not-resource``: error — an Allow built on a negation grants everything else.
* ``assume-role-any-resource``: error — an Allow of ``sts:AssumeRole`` on ``*`` (or any account's roles).
* ``assume-role-wildcard-role``: warning — an Allow of ``sts:AssumeRole`` on a wildcard of role names.
* ``trust-any-principal``: error — a trust policy admitting ``*``.
* ``trust-account-root``: error — a trust policy naming an account root, which admits every RAM identity of that
  account, where the users or roles could be named.
* ``trust-missing-external-id``: warning — a trust Allow for RAM principals without ``StringEquals sts:ExternalId``.
* ``time-bound-missing-expiry``: error (``time_bound=True``) — an Allow without a ``DateLessThan`` or
  ``DateLessThanEquals`` condition on ``acs:CurrentTime``.
* ``resource-wildcard-write``: warning — an Allow on Resource ``*`` of an action that is not clearly read-only.
* ``allow-without-condition``: info — an Allow with no condition at all.
* ``size-near-limit``: info — the document uses more than 80 % of its size limit.

Access-profile rules (``lint_profile``; all errors, none can be waived: a profile is what a partner gets):

* ``profile-command-execution`` — an action that could run commands or code on the owner's machines
  (``ecs:RunCommand``, ``ecs:InvokeCommand``, ``ecs:SendFile``, ``fc:InvokeFunction``, ``oos:StartExecution`` …).
* ``profile-secret-read`` — an action that could read a secret or use a key (``kms:Decrypt``,
  ``kms:GetSecretValue``, ``oos:GetSecretParameter``, a cluster kubeconfig …).
* ``profile-code-change`` — an action that could change a function, a stack or an image (``fc:Update*``,
  ``fc:Create*``, ``ros:UpdateStack``, ``cr:Push*``, ``ecs:ModifyInstanceAttribute`` (user data) …).
* ``profile-ram-sts`` — any RAM, IMS or STS action, or a Resource Manager policy attachment.
* ``profile-data-read-any`` — a data-plane read (``oss:GetObject``, ``log:GetLogs``, ``ots:GetRow`` …) on every
  resource of the service (a template whose resource part is ``*`` or ``<type>/*``).
* ``profile-template-scope`` — a template that is not ``acs:<service>:{region}:{account_id}:<resource>``, i.e.
  that ignores the approval's region or the owner's account.

Action patterns are compared as wildcard languages (case-insensitive): a rule fires when some action could match
both the profile's pattern and one of the rule's patterns, so ``ecs:*`` and ``ecs:Run*`` are refused like
``ecs:RunCommand``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Literal

from ram_delegate.errors import PolicyLintError, Problem
from ram_delegate.policy.matching import wildcard_matches
from ram_delegate.policy.model import PolicyDocument, PolicyKind, Statement
from ram_delegate.policy.parsing import SIZE_LIMITS, to_json

Severity = Literal["error", "warning", "info"]

HIGH_RISK_SYSTEM_POLICIES = frozenset({"AdministratorAccess", "AliyunRAMFullAccess"})
ASSUME_ANY_ROLE_SYSTEM_POLICIES = frozenset({"AliyunSTSAssumeRoleAccess"})
ADMIN_SERVICES = ("ram", "sts")
# RAM (and ResourceManager) writes that hand out or widen privileges; a pattern that could match one is refused.
ESCALATION_ACTIONS = (
    "ram:CreatePolicy",
    "ram:CreatePolicyVersion",
    "ram:SetDefaultPolicyVersion",
    "ram:AttachPolicyToUser",
    "ram:AttachPolicyToGroup",
    "ram:AttachPolicyToRole",
    "ram:CreateRole",
    "ram:UpdateRole",
    "ram:PassRole",
    "ram:CreateUser",
    "ram:UpdateUser",
    "ram:CreateAccessKey",
    "ram:UpdateAccessKey",
    "ram:CreateLoginProfile",
    "ram:UpdateLoginProfile",
    "ram:CreateGroup",
    "ram:UpdateGroup",
    "ram:AddUserToGroup",
    "ram:SetSecurityPreference",
    "ram:SetPasswordPolicy",
    "ram:CreateVirtualMFADevice",
    "ram:BindMFADevice",
    "ram:UnbindMFADevice",
    "ram:CreateSAMLProvider",
    "ram:UpdateSAMLProvider",
    "ram:CreateOIDCProvider",
    "ram:UpdateOIDCProvider",
    "resourcemanager:AttachPolicy",
)
# Any other RAM action with one of these verbs is a write that changes who may do what.
_RAM_WRITE_VERBS = re.compile(r"ram:(create|update|attach|set|add|bind|pass|put|change)", re.IGNORECASE)
_READ_VERBS = re.compile(r"[^:]+:(describe|list|get|query|check|search)", re.IGNORECASE)
_EXPIRY_OPERATORS = frozenset({"DateLessThan", "DateLessThanEquals"})
_NEAR_LIMIT = 0.8


@dataclass(frozen=True)
class Finding:
    """One lint result: stable rule id, severity, human message and the path of the offending field."""

    rule_id: str
    severity: Severity
    message: str
    path: str = ""


def errors_of(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that block creation."""
    return [f for f in findings if f.severity == "error"]


def raise_for_errors(findings: Iterable[Finding], subject: str) -> None:
    """Raise ``PolicyLintError`` naming ``subject`` when any finding is an error."""
    errors = errors_of(findings)
    if errors:
        problems = [Problem(f.path, f"{f.rule_id}: {f.message}") for f in errors]
        rules = ", ".join(sorted({f.rule_id for f in errors}))
        raise PolicyLintError(f"{subject} fails lint ({rules})", problems=problems)


def _downgrade(findings: list[Finding], allow: Collection[str]) -> list[Finding]:
    return [
        replace(f, severity="warning", message=f"{f.message} (allowed by explicit opt-in)")
        if f.severity == "error" and f.rule_id in allow
        else f
        for f in findings
    ]


def lint_system_policy(name: str, *, allow: Collection[str] = ()) -> list[Finding]:
    """Findings for attaching an Alibaba system policy by name (their text is not ours to inspect)."""
    findings: list[Finding] = []
    if name in HIGH_RISK_SYSTEM_POLICIES:
        findings.append(Finding("system-policy-high-risk", "error", f"system policy {name} grants account takeover"))
    elif name in ASSUME_ANY_ROLE_SYSTEM_POLICIES:
        message = f"system policy {name} allows sts:AssumeRole on any role of any account"
        findings.append(Finding("assume-role-any-resource", "error", message))
    elif name.endswith("FullAccess"):
        findings.append(Finding("system-policy-full-access", "warning", f"system policy {name} grants full access"))
    return _downgrade(findings, allow)


def lint(
    doc: PolicyDocument, *, kind: PolicyKind = "custom", time_bound: bool = False, allow: Collection[str] = ()
) -> list[Finding]:
    """Every finding for a parsed policy, in document order; ``allow`` downgrades the named rules to warnings."""
    findings: list[Finding] = []
    for index, statement in enumerate(doc.statements):
        path = f"Statement[{index}]"
        if statement.effect != "Allow":
            continue
        if kind == "trust":
            findings.extend(_trust_findings(statement, path))
        else:
            findings.extend(_action_findings(statement, path))
            findings.extend(_resource_findings(statement, path))
        if time_bound and not _has_expiry(statement):
            message = "time-bound grant needs a DateLessThan acs:CurrentTime expiry condition"
            findings.append(Finding("time-bound-missing-expiry", "error", message, f"{path}.Condition"))
        if not statement.conditions:
            findings.append(Finding("allow-without-condition", "info", "Allow statement has no condition", path))
    limit = SIZE_LIMITS[kind]
    size = len(to_json(doc))
    if limit is not None and size > _NEAR_LIMIT * limit:
        findings.append(Finding("size-near-limit", "info", f"{size} of {limit} characters used"))
    return _downgrade(findings, allow)


def _field_paths(
    single_valued: frozenset[str], path: str, key: str, values: tuple[str, ...]
) -> Iterable[tuple[str, str]]:
    single = key in single_valued
    for index, value in enumerate(values):
        yield value, f"{path}.{key}" if single else f"{path}.{key}[{index}]"


def _expands_to_admin(pattern: str) -> bool:
    """``*``, ``ram:*``, ``sts:*`` or any wildcard that covers one of them (``*:*``, ``r?m:**``)."""
    if ":" not in pattern:
        return set(pattern) == {"*"}
    service, name = pattern.split(":", 1)
    return set(name) == {"*"} and any(wildcard_matches(service, s) for s in ADMIN_SERVICES)


def _could_escalate(pattern: str) -> bool:
    if any(wildcard_matches(pattern, action) for action in ESCALATION_ACTIONS):
        return True
    return "*" not in pattern and "?" not in pattern and _RAM_WRITE_VERBS.match(pattern) is not None


def _action_findings(statement: Statement, path: str) -> Iterable[Finding]:
    if statement.not_actions:
        yield Finding(
            "allow-not-action", "error", "Allow with NotAction grants every other action", f"{path}.NotAction"
        )
    for action, action_path in _field_paths(statement.single_valued, path, "Action", statement.actions):
        if _expands_to_admin(action):
            yield Finding(
                "action-wildcard-admin", "error", f"{action!r} grants all actions or all RAM/STS actions", action_path
            )
            continue
        if ":" in action and set(action.split(":", 1)[1]) == {"*"}:
            yield Finding(
                "action-service-wildcard", "warning", f"{action!r} grants every action of the service", action_path
            )
        if _could_escalate(action):
            yield Finding(
                "action-privilege-escalation", "error", f"{action!r} can grant privileges (RAM write)", action_path
            )


def _broad_role_resource(resource: str) -> bool:
    """A resource that covers roles of any account (or everything)."""
    if resource == "*":
        return True
    parts = resource.split(":", 4)
    return len(parts) == 5 and ("*" in parts[3] or "?" in parts[3] or not parts[3])


def _resource_findings(statement: Statement, path: str) -> Iterable[Finding]:
    if statement.not_resources:
        message = "Allow with NotResource grants every other resource"
        yield Finding("allow-not-resource", "error", message, f"{path}.NotResource")
    assumes = any(wildcard_matches(a, "sts:AssumeRole") for a in statement.actions)
    for resource, resource_path in _field_paths(statement.single_valued, path, "Resource", statement.resources):
        if assumes and _broad_role_resource(resource):
            message = f"sts:AssumeRole on {resource!r} lets the caller assume roles in any account"
            yield Finding("assume-role-any-resource", "error", message, resource_path)
        elif assumes and ("*" in resource or "?" in resource):
            message = f"sts:AssumeRole on {resource!r} covers several roles; name exactly one"
            yield Finding("assume-role-wildcard-role", "warning", message, resource_path)
        if resource == "*":
            writes = [a for a in statement.actions if not _READ_VERBS.match(a)]
            if writes:
                message = f"Resource '*' with non-read actions {', '.join(writes)}"
                yield Finding("resource-wildcard-write", "warning", message, resource_path)


def _trust_findings(statement: Statement, path: str) -> Iterable[Finding]:
    principals = statement.principals
    if principals is None:
        return
    if principals.anyone:
        yield Finding("trust-any-principal", "error", "trust policy admits anyone", f"{path}.Principal")
        return
    for value, value_path in _field_paths(principals.single_valued, f"{path}.Principal", "RAM", principals.ram):
        if value == "*":
            yield Finding("trust-any-principal", "error", "trust policy admits any RAM identity", value_path)
        elif value.endswith(":root"):
            message = f"{value} admits every RAM identity of the account; name the users or roles instead"
            yield Finding("trust-account-root", "error", message, value_path)
    has_external_id = any(
        c.operator == "StringEquals" and c.key.lower() == "sts:externalid" for c in statement.conditions
    )
    if principals.ram and not has_external_id:
        message = "trust policy has no StringEquals sts:ExternalId condition (confused deputy)"
        yield Finding("trust-missing-external-id", "warning", message, f"{path}.Condition")


def _has_expiry(statement: Statement) -> bool:
    return any(c.operator in _EXPIRY_OPERATORS and c.key.lower() == "acs:currenttime" for c in statement.conditions)


# --- access profiles -------------------------------------------------------------------------------------------------

# What a partner must never get through a profile, by rule id; patterns are compared as wildcard languages.
PROFILE_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "profile-command-execution": (
        "ecs:RunCommand",
        "ecs:InvokeCommand",
        "ecs:CreateCommand",
        "ecs:ModifyCommand",
        "ecs:SendFile",
        "ecs:StartTerminalSession",
        "ecs:ConnectInstance",
        "fc:InvokeFunction",
        "fc:InvokeService",
        "oos:StartExecution",
        "swas-open:RunCommand",
        "ehpc:RunCommand",
        "cs:RunCommand",
    ),
    "profile-secret-read": (
        "kms:Decrypt",
        "kms:AsymmetricDecrypt",
        "kms:ReEncrypt",
        "kms:GenerateDataKey*",
        "kms:Export*",
        "kms:GetSecretValue",
        "kms:GetSecret*",
        "kms:GetParametersForImport",
        "oos:GetSecretParameter*",
        "cs:DescribeClusterUserKubeconfig",
        "cs:DescribeUserPermission",
        "cas:DescribeUserCertificateDetail",
    ),
    "profile-code-change": (
        "fc:Create*",
        "fc:Update*",
        "fc:Put*",
        "fc:Publish*",
        "fc:Delete*",
        "ros:CreateStack*",
        "ros:UpdateStack*",
        "ros:ExecuteChangeSet",
        "ros:ContinueCreateStack",
        "cr:Push*",
        "cr:Update*",
        "cr:CreateRepo*",
        "ecs:ModifyInstanceAttribute",
        "ecs:ReplaceSystemDisk",
        "ecs:CreateLaunchTemplate*",
        "sae:Deploy*",
        "sae:UpdateApplication*",
        "edas:Deploy*",
        "oos:CreateTemplate",
        "oos:UpdateTemplate",
    ),
    "profile-ram-sts": (
        "ram:*",
        "ims:*",
        "sts:*",
        "resourcemanager:AttachPolicy",
        "resourcemanager:DetachPolicy",
        "resourcemanager:CreateServiceLinkedRole",
    ),
}
DATA_PLANE_READS = (
    "oss:GetObject*",
    "oss:ListObjects*",
    "oss:GetBucket",
    "oss:SelectObject",
    "log:GetLogs*",
    "log:PullLogs",
    "log:GetCursor*",
    "ots:GetRow",
    "ots:GetRange",
    "ots:BatchGetRow",
    "ots:Search",
    "ots:SQL_Select",
    "mns:ReceiveMessage",
    "mns:PeekMessage",
    "dms:ExecuteScript",
    "rds:DescribeSQLLog*",
    "polardb:DescribeSQLLog*",
    "nas:DescribeFileSystem*Content",
)
_TEMPLATE = re.compile(r"acs:[a-z0-9-]+:\{region\}:\{account_id\}:(?P<relative>.+)")
# Resource-type words of data services' ARNs: ``project/*`` names no project, ``reports/*`` names a bucket.
_TYPE_WORDS = frozenset(
    {
        "bucket",
        "project",
        "logstore",
        "instance",
        "table",
        "queue",
        "queues",
        "topic",
        "topics",
        "dbinstance",
        "cluster",
    }
)


def _names_no_resource(relative: str) -> bool:
    """Whether a resource part covers every resource: no segment is a literal name (type words do not count)."""
    return all(segment.lower() in _TYPE_WORDS or set(segment) <= {"*", "?"} for segment in relative.split("/"))


@lru_cache(maxsize=8192)
def patterns_overlap(first: str, second: str) -> bool:
    """Whether some string matches both wildcard patterns (``*`` any run, ``?`` one character; case-insensitive)."""
    a, b = first.lower(), second.lower()

    @cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*" and (meet(i + 1, j) or (j < len(b) and meet(i, j + 1))):
            return True
        if j < len(b) and b[j] == "*" and (meet(i, j + 1) or (i < len(a) and meet(i + 1, j))):
            return True
        if i < len(a) and j < len(b) and "*" not in (a[i], b[j]):
            return (a[i] == b[j] or "?" in (a[i], b[j])) and meet(i + 1, j + 1)
        return False

    return meet(0, 0)


def lint_profile(actions: Sequence[str], resource_template: str, *, path: str = "") -> list[Finding]:
    """The profile rules (module docstring): what an access profile may never hand a partner, whatever the opt-ins.

    One call per (actions, template) pair of a profile; ``path`` prefixes the findings' paths (``instances.``).
    """
    findings: list[Finding] = []
    matched = _TEMPLATE.fullmatch(resource_template)
    if matched is None:
        message = (
            f"resource template {resource_template!r} must be acs:<service>:{{region}}:{{account_id}}:<resource> "
            "so that the grant stays in the approved region of the owner's account"
        )
        findings.append(Finding("profile-template-scope", "error", message, f"{path}resource_template"))
    any_resource = matched is None or _names_no_resource(matched.group("relative"))
    for index, action in enumerate(actions):
        action_path = f"{path}actions[{index}]"
        for rule_id, forbidden in PROFILE_FORBIDDEN.items():
            hit = next((f for f in forbidden if patterns_overlap(action, f)), None)
            if hit is not None:
                message = f"{action!r} could allow {hit} ({rule_id.removeprefix('profile-').replace('-', ' ')})"
                findings.append(Finding(rule_id, "error", message, action_path))
        read = next((r for r in DATA_PLANE_READS if patterns_overlap(action, r)), None)
        if read is not None and any_resource:
            message = f"{action!r} could allow the data-plane read {read} on every resource; name the resources"
            findings.append(Finding("profile-data-read-any", "error", message, action_path))
    return findings
