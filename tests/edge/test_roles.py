"""The function roles' own policies: least privilege, linted, and accepted findings only where stated."""

from __future__ import annotations

import pytest

from ram_delegate.bootstrap import RoleSpec, finding_key, role_policy, role_specs
from ram_delegate.errors import PolicyLintError
from ram_delegate.policy import AttachedPolicy, AuthRequest, errors_of, evaluate, lint
from ram_delegate.settings import Settings

SETTINGS = Settings(verifier_role="partner-verifier")
SPECS = {spec.policy_file: spec for side in ("owner", "partner") for spec in role_specs(side, SETTINGS)}
ACCOUNT = "1111111111111111"


def allowed(policy_file: str, action: str, resource: str) -> bool:
    document = role_policy(SPECS[policy_file], SETTINGS)
    return evaluate(AuthRequest(action, resource), [AttachedPolicy(document)]).allowed


@pytest.mark.parametrize("policy_file", sorted(SPECS))
def test_role_policies_lint_clean_except_the_accepted_findings(policy_file: str) -> None:
    spec = SPECS[policy_file]
    document = role_policy(spec, SETTINGS)
    found = {finding_key(document, f) for f in errors_of(lint(document))}
    assert found == set(spec.accepted_findings)  # each accepted finding exists, and nothing else is an error
    for key, reason in spec.accepted_findings.items():
        assert reason, f"{policy_file}: accepting {key} needs a reason"


def test_no_rule_is_waived_wholesale() -> None:
    """Accepting one escalation action never lets another through: a new RAM write fails until it is named."""
    spec = SPECS["owner-function.json"]
    narrower = {k: v for k, v in spec.accepted_findings.items() if k[1] != "ram:UpdateRole"}
    with pytest.raises(PolicyLintError) as caught:
        role_policy(RoleSpec(spec.name, spec.policy_file, narrower, spec.description), SETTINGS)
    assert [p.reason.split(":")[0] for p in caught.value.problems] == ["action-privilege-escalation"]
    assert "ram:UpdateRole" in caught.value.problems[0].reason


def test_the_broad_assume_opt_in_adds_exactly_the_one_system_policy() -> None:
    plain = role_policy(SPECS["partner-function.json"], SETTINGS)
    broad_settings = Settings(verifier_role="partner-verifier", allow_broad_assume=True)
    broad = role_policy(role_specs("partner", broad_settings)[0], broad_settings)
    system = "acs:ram::system:policy/AliyunSTSAssumeRoleAccess"
    admin = "acs:ram::system:policy/AdministratorAccess"
    assert not evaluate(AuthRequest("ram:AttachPolicyToUser", system), [AttachedPolicy(plain)]).allowed
    assert evaluate(AuthRequest("ram:AttachPolicyToUser", system), [AttachedPolicy(broad)]).allowed
    assert not evaluate(AuthRequest("ram:AttachPolicyToUser", admin), [AttachedPolicy(broad)]).allowed


def test_the_verifier_policy_has_no_error_at_all() -> None:
    assert errors_of(lint(role_policy(SPECS["partner-verifier.json"], SETTINGS))) == []


def test_a_role_policy_with_an_unaccepted_error_is_refused() -> None:
    spec = SPECS["owner-function.json"]
    with pytest.raises(PolicyLintError):
        role_policy(RoleSpec(spec.name, spec.policy_file, {}, spec.description), SETTINGS)


@pytest.mark.parametrize(
    ("policy_file", "action", "resource", "expected"),
    [
        ("owner-function.json", "ram:CreateRole", f"acs:ram::{ACCOUNT}:role/rd-ops-1", True),
        ("owner-function.json", "ram:DeleteRole", f"acs:ram::{ACCOUNT}:role/rd-ops-1", True),
        ("owner-function.json", "ram:UpdateRole", f"acs:ram::{ACCOUNT}:role/ram-delegate-owner", False),
        ("owner-function.json", "ram:DeleteRole", f"acs:ram::{ACCOUNT}:role/admin", False),
        ("owner-function.json", "ram:AttachPolicyToRole", f"acs:ram::{ACCOUNT}:policy/rd-access-ops-1", True),
        ("owner-function.json", "ram:AttachPolicyToRole", "acs:ram::system:policy/AdministratorAccess", False),
        ("owner-function.json", "ram:AttachPolicyToRole", f"acs:ram::{ACCOUNT}:policy/rd-tomb-ops-1", False),
        ("owner-function.json", "ram:CreatePolicy", f"acs:ram::{ACCOUNT}:policy/rd-anything", False),
        ("owner-function.json", "ram:DetachPolicyFromRole", "acs:ram::system:policy/AdministratorAccess", True),
        ("owner-function.json", "ram:DetachPolicyFromRole", f"acs:ram::{ACCOUNT}:role/ram-delegate-owner", False),
        ("owner-function.json", "ram:DeleteUser", f"acs:ram::{ACCOUNT}:user/alice", False),
        (
            "owner-function.json",
            "resourcemanager:AttachPolicy",
            f"acs:resourcemanager::{ACCOUNT}:resourcegroup/{ACCOUNT}",
            False,
        ),
        ("owner-function.json", "resourcemanager:AttachPolicy", "acs:ram::system:policy/AdministratorAccess", False),
        ("owner-function.json", "ram:AttachPolicyToUser", f"acs:ram::{ACCOUNT}:user/alice", False),
        ("owner-function.json", "ram:CreateAccessKey", f"acs:ram::{ACCOUNT}:user/alice", False),
        ("owner-function.json", "ram:DeletePolicy", f"acs:ram::{ACCOUNT}:policy/AdministratorAccess", False),
        ("owner-function.json", "sts:AssumeRole", f"acs:ram::{ACCOUNT}:role/rd-ops-1", False),
        (
            "owner-function.json",
            "resourcemanager:AttachPolicy",
            f"acs:resourcemanager::{ACCOUNT}:resourcegroup/rg-1",
            True,
        ),
        ("partner-function.json", "ram:CreateUser", f"acs:ram::{ACCOUNT}:user/alice", True),
        ("partner-function.json", "ram:CreateAccessKey", f"acs:ram::{ACCOUNT}:user/alice", False),
        ("partner-function.json", "ram:CreateLoginProfile", f"acs:ram::{ACCOUNT}:user/alice", False),
        ("partner-function.json", "ram:CreatePolicy", f"acs:ram::{ACCOUNT}:policy/rd-assume-1-ops-1", True),
        ("partner-function.json", "ram:CreatePolicy", f"acs:ram::{ACCOUNT}:policy/anything", False),
        ("partner-function.json", "ram:CreatePolicy", f"acs:ram::{ACCOUNT}:policy/rd-anything", False),
        ("partner-function.json", "ram:AttachPolicyToUser", "acs:ram::system:policy/AdministratorAccess", False),
        ("partner-function.json", "ram:AttachPolicyToUser", f"acs:ram::{ACCOUNT}:policy/rd-verify-1", False),
        ("partner-function.json", "ram:AttachPolicyToRole", f"acs:ram::{ACCOUNT}:policy/rd-assume-1-ops-1", False),
        ("partner-function.json", "ram:AttachPolicyToRole", f"acs:ram::{ACCOUNT}:role/partner-verifier", True),
        ("partner-function.json", "ram:AttachPolicyToRole", f"acs:ram::{ACCOUNT}:role/admin", False),
        ("partner-function.json", "ram:CreateRole", f"acs:ram::{ACCOUNT}:role/rd-x", False),
        ("partner-verifier.json", "ram:ListPolicies", f"acs:ram::{ACCOUNT}:*", True),
        ("partner-verifier.json", "ram:CreatePolicy", f"acs:ram::{ACCOUNT}:policy/rd-x", False),
        ("partner-verifier.json", "sts:AssumeRole", "acs:ram::2222222222222222:role/rd-ops-1", False),
        ("partner-verifier.json", "slb:DescribeLoadBalancers", f"acs:slb:cn-hangzhou:{ACCOUNT}:loadbalancer/*", False),
    ],
)
def test_role_policies_allow_exactly_their_job(policy_file: str, action: str, resource: str, expected: bool) -> None:
    assert allowed(policy_file, action, resource) is expected


def test_the_verifier_role_name_is_substituted() -> None:
    other = Settings(verifier_role="checker")
    document = role_policy(role_specs("partner", other)[0], other)
    request = AuthRequest("ram:AttachPolicyToRole", f"acs:ram::{ACCOUNT}:role/checker")
    assert evaluate(request, [AttachedPolicy(document)]).allowed
