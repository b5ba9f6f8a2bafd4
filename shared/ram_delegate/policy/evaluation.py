"""Decide whether a request is allowed, the way RAM does, and whether a caller may assume a role.

Evaluation order for ``evaluate`` (identity policies plus an optional STS session policy):

1. Scope: an account-wide attachment always applies; an attachment scoped to a resource group applies only when the
   request's ``resource_group_id`` equals that group. A request without a resource group (a list call without
   ``ResourceGroupId``) is covered by account-wide attachments only.
2. A statement matches when its action test (``Action`` matches, or ``NotAction`` does not), its resource test
   (``Resource`` matches, or ``NotResource`` does not) and all its conditions hold.
3. Explicit deny wins: the first matching Deny in the identity policies, then in the session policy, decides.
4. Otherwise an Allow is needed: no matching identity Allow is an implicit deny.
5. A session policy intersects: when one is given it must also contain a matching Allow, else implicit deny.
6. Otherwise the request is allowed; the deciding statement is the first matching identity Allow.

Condition semantics (absent keys, negated operators, wildcards) are documented in ``ram_delegate.policy.matching``.
Context keys are case-insensitive. Nothing is added to the context here: callers pass ``acs:CurrentTime`` (a
timezone-aware datetime), ``acs:SourceIp`` and the rest; a time condition without ``acs:CurrentTime`` in the context
does not match, so a time-bound Allow fails closed.

``evaluate_trust`` decides AssumeRole against a role's trust policy: the account root is always refused; otherwise a
statement applies when it allows/denies ``sts:AssumeRole``, names the caller as principal and its conditions hold
(``sts:ExternalId``, ``acs:CurrentTime``); Deny wins over Allow, and no matching Allow is an implicit deny.
Principals: ``*`` admits anyone; ``acs:ram::<uid>:root`` admits every RAM user and role session of that account
(their own ``sts:AssumeRole`` permission is checked separately by ``evaluate``); a user ARN admits that user; a role
ARN admits sessions of that role. Service and Federated principals never match a RAM caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ram_delegate.policy.matching import matcher_of
from ram_delegate.policy.model import ContextValue, PolicyDocument, Statement

DecisionEffect = Literal["Allow", "ExplicitDeny", "ImplicitDeny"]
DecisionSource = Literal["identity", "session", "trust"]

ASSUME_ROLE_ACTION = "sts:AssumeRole"


@dataclass(frozen=True)
class AuthRequest:
    """One API request: the RAM action, the resource ARN, the resource's group and the condition context."""

    action: str
    resource: str
    resource_group_id: str | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class AttachedPolicy:
    """A policy attached to an identity, account-wide (``resource_group_id`` None) or to one resource group."""

    document: PolicyDocument
    resource_group_id: str | None = None
    name: str = ""


@dataclass(frozen=True)
class Decision:
    """The outcome and the statement that decided it (none for an implicit deny)."""

    effect: DecisionEffect
    policy_name: str | None = None
    statement_index: int | None = None
    source: DecisionSource | None = None
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.effect == "Allow"


@dataclass(frozen=True)
class Caller:
    """Who calls AssumeRole: an account root, a RAM user, or a session of a role (``name`` is the role name)."""

    kind: Literal["root", "user", "role_session"]
    account_id: str
    name: str = ""

    @property
    def arn(self) -> str:
        if self.kind == "root":
            return f"acs:ram::{self.account_id}:root"
        if self.kind == "user":
            return f"acs:ram::{self.account_id}:user/{self.name}"
        return f"acs:ram::{self.account_id}:role/{self.name}"


_Located = tuple[str | None, int, Statement]
_NO_CONTEXT: Mapping[str, ContextValue] = MappingProxyType({})


def _matching(
    documents: Iterable[tuple[str | None, PolicyDocument]],
    action: str,
    resource: str | None,
    context: Mapping[str, ContextValue],
    caller: Caller | None = None,
) -> tuple[_Located | None, _Located | None]:
    """The first matching Deny and the first matching Allow among the statements of ``(name, document)`` pairs, in
    order; with ``caller`` (a trust policy), only among statements whose principal admits the caller.

    ``context`` is as the caller gave it; its keys are lower-cased only when a statement with conditions is reached
    (most statements have none, and the emulator asks on every call).
    """
    first_allow: _Located | None = None
    lowered: Mapping[str, ContextValue] | None = None
    for name, document in documents:
        for index, statement in enumerate(document.statements):
            if statement.effect == "Allow" and first_allow is not None:
                continue
            if caller is not None and not _principal_admits(statement, caller):
                continue
            matcher = matcher_of(statement)
            if not matcher.matches_action(action):
                continue
            if resource is not None and not matcher.matches_resource(resource):
                continue
            if matcher.conditions:
                if lowered is None:
                    lowered = _lower_keys(context)
                if not matcher.conditions_hold(lowered):
                    continue
            if statement.effect == "Deny":
                return (name, index, statement), first_allow
            first_allow = (name, index, statement)
    return None, first_allow


def _lower_keys(context: Mapping[str, ContextValue]) -> Mapping[str, ContextValue]:
    return {key.lower(): value for key, value in context.items()}


def _describe(located: _Located) -> str:
    name, index, _ = located
    return f"policy {name!r} statement {index}" if name else f"statement {index}"


_Matches = tuple[_Located | None, _Located | None, _Located | None, _Located | None]
"""Identity deny, identity allow, session deny, session allow (the session pair only looked for without an identity
deny)."""


def _identity_and_session(
    action: str,
    resource: str,
    resource_group_id: str | None,
    context: Mapping[str, ContextValue],
    policies: Sequence[AttachedPolicy],
    session_policy: PolicyDocument | None,
) -> _Matches:
    in_scope = [(p.name, p.document) for p in policies if p.resource_group_id in (None, resource_group_id)]
    deny, allow = _matching(in_scope, action, resource, context)
    if deny is not None or session_policy is None:
        return deny, allow, None, None
    session_deny, session_allow = _matching(((None, session_policy),), action, resource, context)
    return deny, allow, session_deny, session_allow


def evaluate(
    request: AuthRequest, policies: Sequence[AttachedPolicy], session_policy: PolicyDocument | None = None
) -> Decision:
    """Decide one request against the identity's policies and an optional session policy (order in module doc)."""
    deny, allow, session_deny, session_allow = _identity_and_session(
        request.action, request.resource, request.resource_group_id, request.context, policies, session_policy
    )
    if deny is not None:
        return Decision("ExplicitDeny", deny[0], deny[1], "identity", f"explicitly denied by {_describe(deny)}")
    if session_deny is not None:
        reason = f"explicitly denied by session policy {_describe(session_deny)}"
        return Decision("ExplicitDeny", None, session_deny[1], "session", reason)
    if allow is None:
        return Decision(
            "ImplicitDeny", source="identity", reason=f"no policy allows {request.action} on {request.resource}"
        )
    if session_policy is not None and session_allow is None:
        return Decision("ImplicitDeny", source="session", reason=f"the session policy does not allow {request.action}")
    return Decision("Allow", allow[0], allow[1], "identity", f"allowed by {_describe(allow)}")


def allows(
    action: str,
    resource: str,
    policies: Sequence[AttachedPolicy],
    session_policy: PolicyDocument | None = None,
    *,
    resource_group_id: str | None = None,
    context: Mapping[str, ContextValue] = _NO_CONTEXT,
) -> bool:
    """``evaluate(...).allowed``, without building the request, the decision and its explanation: the emulator asks
    this on every call and only needs the answer."""
    deny, allow, session_deny, session_allow = _identity_and_session(
        action, resource, resource_group_id, context, policies, session_policy
    )
    if deny is not None or session_deny is not None or allow is None:
        return False
    return session_policy is None or session_allow is not None


def _principal_admits(statement: Statement, caller: Caller) -> bool:
    principals = statement.principals
    if principals is None:
        return False
    if principals.anyone:
        return True
    return not {"*", f"acs:ram::{caller.account_id}:root", caller.arn}.isdisjoint(principals.ram)


def evaluate_trust(
    trust: PolicyDocument, caller: Caller, context: Mapping[str, ContextValue] = _NO_CONTEXT
) -> Decision:
    """Decide whether ``caller`` may assume the role whose trust policy is ``trust`` (rules in module doc)."""
    if caller.kind == "root":
        return Decision("ImplicitDeny", source="trust", reason="roles may not be assumed by root accounts")
    deny, allow = _matching(((None, trust),), ASSUME_ROLE_ACTION, None, context, caller)
    if deny is not None:
        return Decision("ExplicitDeny", None, deny[1], "trust", f"trust policy statement {deny[1]} denies {caller.arn}")
    if allow is None:
        return Decision(
            "ImplicitDeny", source="trust", reason=f"the trust policy does not admit {caller.arn} with this context"
        )
    return Decision("Allow", None, allow[1], "trust", f"trust policy statement {allow[1]} admits {caller.arn}")


def trust_allows(trust: PolicyDocument, caller: Caller, context: Mapping[str, ContextValue] = _NO_CONTEXT) -> bool:
    """``evaluate_trust(...).allowed`` without the decision and its explanation (asked on every AssumeRole)."""
    if caller.kind == "root":
        return False
    deny, allow = _matching(((None, trust),), ASSUME_ROLE_ACTION, None, context, caller)
    return deny is None and allow is not None
