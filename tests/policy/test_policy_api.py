"""The names other packages import from ram_delegate.policy stay exported."""

from __future__ import annotations

import ram_delegate.policy as policy_package

CONTRACT = [
    "PolicyKind", "parse_policy", "render", "to_json", "PolicyDocument", "Statement", "ContextValue", "AuthRequest",
    "AttachedPolicy", "DecisionEffect", "Decision", "evaluate", "Caller", "evaluate_trust", "Severity", "Finding",
    "lint", "lint_system_policy", "errors_of", "AccessProfile", "load_profiles", "owner_trust_policy",
    "owner_access_policy", "partner_assume_policy",
]  # fmt: skip


def test_contract_names_are_exported_and_resolve() -> None:
    missing = [name for name in CONTRACT if name not in policy_package.__all__ or not hasattr(policy_package, name)]
    assert missing == []
    assert all(hasattr(policy_package, name) for name in policy_package.__all__)
