"""Lint rules: each rule fires on its case, a clean policy passes, opt-ins downgrade errors to warnings."""

from __future__ import annotations

from typing import Any

import pytest

from ram_delegate.errors import PolicyLintError
from ram_delegate.policy import PolicyKind, errors_of, lint, lint_system_policy, parse_policy, raise_for_errors, to_json

OWNER, PARTNER = "1111111111111111", "2222222222222222"
EXPIRY = {"DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"}}
CLEAN_ACCESS: dict[str, Any] = {
    "Effect": "Allow",
    "Action": ["slb:Describe*", "slb:List*", "slb:Get*"],
    "Resource": f"acs:slb:cn-hangzhou:{OWNER}:*",
    "Condition": EXPIRY,
}
CLEAN_TRUST: dict[str, Any] = {
    "Effect": "Allow",
    "Action": "sts:AssumeRole",
    "Principal": {"RAM": [f"acs:ram::{PARTNER}:user/alice"]},
    "Condition": {"StringEquals": {"sts:ExternalId": "ext-42"}, **EXPIRY},
}


def findings_for(statement: dict[str, Any], kind: PolicyKind = "custom", **options: Any) -> set[tuple[str, str, str]]:
    document = parse_policy({"Version": "1", "Statement": [statement]}, kind)
    return {(f.rule_id, f.severity, f.path) for f in lint(document, kind=kind, **options)}


@pytest.mark.parametrize(("statement", "kind"), [(CLEAN_ACCESS, "custom"), (CLEAN_TRUST, "trust")])
def test_clean_time_bound_policy_has_no_findings(statement: dict[str, Any], kind: PolicyKind) -> None:
    assert findings_for(statement, kind, time_bound=True) == set()


def access(**changes: Any) -> dict[str, Any]:
    return {**CLEAN_ACCESS, **changes}


def trust(**changes: Any) -> dict[str, Any]:
    return {**CLEAN_TRUST, **changes}


RULE_CASES: list[Any] = [
    pytest.param(access(Action="*"), "custom", ("action-wildcard-admin", "error", "Statement[0].Action"), id="star"),
    pytest.param(
        access(Action=["slb:Get*", "ram:*"]),
        "custom",
        ("action-wildcard-admin", "error", "Statement[0].Action[1]"),
        id="ram-star",
    ),
    pytest.param(
        access(Action="STS:*"), "custom", ("action-wildcard-admin", "error", "Statement[0].Action"), id="sts-star-upper"
    ),
    pytest.param(
        access(Action="*:*"), "custom", ("action-wildcard-admin", "error", "Statement[0].Action"), id="star-star"
    ),
    pytest.param(
        access(Action="r?m:**"),
        "custom",
        ("action-wildcard-admin", "error", "Statement[0].Action"),
        id="expands-to-ram",
    ),
    pytest.param(
        access(Action="ecs:*"),
        "custom",
        ("action-service-wildcard", "warning", "Statement[0].Action"),
        id="service-star",
    ),
    pytest.param(
        access(Action="ram:CreatePolicyVersion"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="create-policy-version",
    ),
    pytest.param(
        access(Action="ram:SetDefaultPolicyVersion"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="set-default-version",
    ),
    pytest.param(
        access(Action="ram:Attach*"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="attach-star",
    ),
    pytest.param(
        access(Action="ram:*Policy*"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="star-policy-star",
    ),
    pytest.param(
        access(Action="RAM:updaterole"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="update-role-any-case",
    ),
    pytest.param(
        access(Action="ram:CreateAccessKey"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="create-access-key",
    ),
    pytest.param(
        access(Action="ram:PassRole"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="pass-role",
    ),
    pytest.param(
        access(Action="ram:AddUserToGroup"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="add-user-to-group",
    ),
    pytest.param(
        access(Action="ram:CreateApplication"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="unlisted-ram-create",
    ),
    pytest.param(
        access(Action="*:Attach*"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="any-service-attach",
    ),
    pytest.param(
        access(Action="resourcemanager:AttachPolicy"),
        "custom",
        ("action-privilege-escalation", "error", "Statement[0].Action"),
        id="rg-attach",
    ),
    pytest.param(
        {"Effect": "Allow", "NotAction": "ram:*", "Resource": "*", "Condition": EXPIRY},
        "custom",
        ("allow-not-action", "error", "Statement[0].NotAction"),
        id="allow-not-action",
    ),
    pytest.param(
        {"Effect": "Allow", "Action": "slb:Describe*", "NotResource": f"acs:slb:*:{PARTNER}:*", "Condition": EXPIRY},
        "custom",
        ("allow-not-resource", "error", "Statement[0].NotResource"),
        id="allow-not-resource",
    ),
    pytest.param(
        access(Action="sts:AssumeRole", Resource="*"),
        "custom",
        ("assume-role-any-resource", "error", "Statement[0].Resource"),
        id="assume-star",
    ),
    pytest.param(
        access(Action="sts:Assume*", Resource="acs:ram:*:*:role/partner"),
        "custom",
        ("assume-role-any-resource", "error", "Statement[0].Resource"),
        id="assume-any-account",
    ),
    pytest.param(
        access(Action="sts:AssumeRole", Resource=f"acs:ram::{OWNER}:role/partner-*"),
        "custom",
        ("assume-role-wildcard-role", "warning", "Statement[0].Resource"),
        id="assume-wildcard-role",
    ),
    pytest.param(
        trust(Principal={"RAM": f"acs:ram::{PARTNER}:root"}),
        "trust",
        ("trust-account-root", "error", "Statement[0].Principal.RAM"),
        id="trust-root",
    ),
    pytest.param(
        trust(Principal="*"), "trust", ("trust-any-principal", "error", "Statement[0].Principal"), id="trust-star"
    ),
    pytest.param(
        trust(Principal={"RAM": ["acs:ram::1:user/a", "*"]}),
        "trust",
        ("trust-any-principal", "error", "Statement[0].Principal.RAM[1]"),
        id="trust-ram-star",
    ),
    pytest.param(
        trust(Condition=EXPIRY),
        "trust",
        ("trust-missing-external-id", "warning", "Statement[0].Condition"),
        id="trust-no-external-id",
    ),
    pytest.param(
        access(Action="slb:CreateLoadBalancer", Resource="*"),
        "custom",
        ("resource-wildcard-write", "warning", "Statement[0].Resource"),
        id="star-write",
    ),
    pytest.param(
        access(Condition=None), "custom", ("allow-without-condition", "info", "Statement[0]"), id="no-condition"
    ),
]


@pytest.mark.parametrize(("statement", "kind", "expected"), RULE_CASES)
def test_rule_fires(statement: dict[str, Any], kind: PolicyKind, expected: tuple[str, str, str]) -> None:
    statement = {k: v for k, v in statement.items() if v is not None}
    assert expected in findings_for(statement, kind)


@pytest.mark.parametrize(
    "action",
    ["slb:Describe*", "ram:GetRole", "ram:List*", "ecs:DescribeInstances", "ram:DeleteRole", "sts:GetCallerIdentity"],
)
def test_narrow_actions_are_not_flagged_as_admin_or_escalation(action: str) -> None:
    rules = {rule for rule, _, _ in findings_for(access(Action=action))}
    assert rules.isdisjoint({"action-wildcard-admin", "action-privilege-escalation", "action-service-wildcard"})


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        pytest.param(EXPIRY, False, id="date-less-than"),
        pytest.param({"DateLessThanEquals": {"ACS:currenttime": "2026-01-01T00:00:00Z"}}, False, id="le-any-case"),
        pytest.param({"DateGreaterThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"}}, True, id="wrong-direction"),
        pytest.param({"DateLessThan": {"acs:TokenIssueTime": "2026-01-01T00:00:00Z"}}, True, id="wrong-key"),
        pytest.param(None, True, id="no-condition"),
    ],
)
def test_time_bound_needs_expiry_on_every_allow(condition: dict[str, Any] | None, fires: bool) -> None:
    statement = access(Condition=condition)
    statement = {k: v for k, v in statement.items() if v is not None}
    found = ("time-bound-missing-expiry", "error", "Statement[0].Condition") in findings_for(statement, time_bound=True)
    assert found is fires
    assert ("time-bound-missing-expiry", "error", "Statement[0].Condition") not in findings_for(statement)


def test_deny_statements_are_not_linted() -> None:
    assert findings_for({"Effect": "Deny", "Action": "*", "NotResource": "*"}, time_bound=True) == set()


def test_allow_downgrades_named_errors_to_warnings() -> None:
    document = parse_policy({"Version": "1", "Statement": [access(Action="sts:AssumeRole", Resource="*")]})
    assert [f.rule_id for f in errors_of(lint(document))] == ["assume-role-any-resource"]
    downgraded = lint(document, allow={"assume-role-any-resource"})
    assert errors_of(downgraded) == []
    [finding] = [f for f in downgraded if f.rule_id == "assume-role-any-resource"]
    assert finding.severity == "warning"
    assert "explicit opt-in" in finding.message


def test_size_near_limit_is_reported() -> None:
    resources = [f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/lb-{i:04d}" for i in range(30)]
    document = parse_policy({"Version": "1", "Statement": [access(Resource=resources)]}, "session")
    assert 0.8 * 2048 < len(to_json(document)) <= 2048
    assert "size-near-limit" in {f.rule_id for f in lint(document, kind="session")}
    assert "size-near-limit" not in {f.rule_id for f in lint(document, kind="custom")}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("AdministratorAccess", ("system-policy-high-risk", "error"), id="admin"),
        pytest.param("AliyunRAMFullAccess", ("system-policy-high-risk", "error"), id="ram-full"),
        pytest.param("AliyunSTSAssumeRoleAccess", ("assume-role-any-resource", "error"), id="assume-any"),
        pytest.param("AliyunECSFullAccess", ("system-policy-full-access", "warning"), id="other-full"),
    ],
)
def test_system_policies(name: str, expected: tuple[str, str]) -> None:
    assert [(f.rule_id, f.severity) for f in lint_system_policy(name)] == [expected]


def test_read_only_system_policy_is_clean_and_opt_in_downgrades() -> None:
    assert lint_system_policy("AliyunSLBReadOnlyAccess") == []
    [finding] = lint_system_policy("AliyunSTSAssumeRoleAccess", allow={"assume-role-any-resource"})
    assert finding.severity == "warning"


def test_raise_for_errors_names_rules_and_paths() -> None:
    document = parse_policy({"Version": "1", "Statement": [access(Action=["slb:Get*", "ram:*"])]})
    with pytest.raises(PolicyLintError) as caught:
        raise_for_errors(lint(document), "test policy")
    assert caught.value.code == "PolicyLintFailed"
    assert "test policy" in caught.value.message
    assert [(p.path, p.reason.split(":")[0]) for p in caught.value.problems] == [
        ("Statement[0].Action[1]", "action-wildcard-admin")
    ]
    raise_for_errors(lint(parse_policy({"Version": "1", "Statement": [CLEAN_ACCESS]})), "clean policy")
