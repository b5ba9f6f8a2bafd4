"""The RAM policy language: parse and validate, render, evaluate, lint and build policies. Pure: no I/O but
reading the bundled and operator-supplied access profiles."""

from __future__ import annotations

from ram_delegate.policy.builders import (
    owner_access_policy,
    owner_trust_policy,
    partner_assume_policy,
    partner_verifier_policy,
)
from ram_delegate.policy.evaluation import (
    AttachedPolicy,
    AuthRequest,
    Caller,
    Decision,
    DecisionEffect,
    DecisionSource,
    allows,
    evaluate,
    evaluate_trust,
    trust_allows,
)
from ram_delegate.policy.lint import (
    Finding,
    Severity,
    errors_of,
    lint,
    lint_profile,
    lint_system_policy,
    raise_for_errors,
)
from ram_delegate.policy.model import (
    Condition,
    ConditionValue,
    ContextValue,
    PolicyDocument,
    PolicyKind,
    Principals,
    Statement,
)
from ram_delegate.policy.parsing import SIZE_LIMITS, parse_policy, render, same_policy, to_json
from ram_delegate.policy.profiles import AccessProfile, format_expiry, load_profiles, scope_problems

__all__ = [
    "SIZE_LIMITS",
    "AccessProfile",
    "AttachedPolicy",
    "AuthRequest",
    "Caller",
    "Condition",
    "ConditionValue",
    "ContextValue",
    "Decision",
    "DecisionEffect",
    "DecisionSource",
    "Finding",
    "PolicyDocument",
    "PolicyKind",
    "Principals",
    "Severity",
    "Statement",
    "allows",
    "errors_of",
    "evaluate",
    "evaluate_trust",
    "format_expiry",
    "lint",
    "lint_profile",
    "lint_system_policy",
    "load_profiles",
    "owner_access_policy",
    "owner_trust_policy",
    "parse_policy",
    "partner_assume_policy",
    "partner_verifier_policy",
    "raise_for_errors",
    "render",
    "same_policy",
    "scope_problems",
    "to_json",
    "trust_allows",
]
