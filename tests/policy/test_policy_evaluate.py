"""Evaluation, grouped by the documented rules of ram_delegate.policy.evaluation and .matching."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ram_delegate.policy import AttachedPolicy, AuthRequest, ContextValue, Decision, evaluate, parse_policy

OWNER, OTHER = "1111111111111111", "2222222222222222"
LB = f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/lb-1"
EXPIRY = datetime(2026, 1, 1, tzinfo=timezone.utc)


def policy(*statements: dict[str, Any], kind: Any = "custom") -> AttachedPolicy:
    return AttachedPolicy(parse_policy({"Version": "1", "Statement": list(statements)}, kind), name="p")


def allow(action: Any = "slb:*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "slb:*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(
    statements: list[dict[str, Any]],
    action: str = "slb:DescribeLoadBalancers",
    resource: str = LB,
    context: dict[str, ContextValue] | None = None,
) -> Decision:
    return evaluate(AuthRequest(action, resource, context=context or {}), [policy(*statements)])


@pytest.mark.parametrize(
    ("statements", "expected", "index"),
    [
        pytest.param([allow(), deny("slb:Describe*")], "ExplicitDeny", 1, id="deny-after-allow"),
        pytest.param([deny("slb:Describe*"), allow()], "ExplicitDeny", 0, id="deny-before-allow"),
        pytest.param([allow(), deny("slb:Delete*")], "Allow", 0, id="deny-for-other-action"),
        pytest.param([deny("slb:*", f"acs:slb:*:{OTHER}:*"), allow()], "Allow", 1, id="deny-for-other-account"),
        pytest.param([allow("ecs:*")], "ImplicitDeny", None, id="no-matching-allow"),
        pytest.param([deny("slb:*")], "ExplicitDeny", 0, id="deny-only"),
    ],
)
def test_explicit_deny_overrides_allow(statements: list[dict[str, Any]], expected: str, index: int | None) -> None:
    decision = decide(statements)
    assert (decision.effect, decision.statement_index) == (expected, index)
    assert decision.allowed == (expected == "Allow")


def test_deny_in_any_attached_policy_wins_and_names_the_policy() -> None:
    allowing = policy(allow())
    denying = AttachedPolicy(parse_policy({"Version": "1", "Statement": [deny()]}), name="guard")
    decision = evaluate(AuthRequest("slb:DescribeLoadBalancers", LB), [allowing, denying])
    assert (decision.effect, decision.policy_name, decision.source) == ("ExplicitDeny", "guard", "identity")


@pytest.mark.parametrize(
    ("pattern", "action", "allowed"),
    [
        pytest.param("slb:Describe*", "slb:DescribeLoadBalancers", True, id="prefix-star"),
        pytest.param("SLB:describe*", "slb:DescribeLoadBalancers", True, id="pattern-case"),
        pytest.param("slb:Describe*", "SLB:DESCRIBELOADBALANCERS", True, id="action-case"),
        pytest.param("slb:*LoadBalancers", "slb:DescribeLoadBalancers", True, id="suffix"),
        pytest.param("slb:DescribeLoadBalancer?", "slb:DescribeLoadBalancers", True, id="question-mark"),
        pytest.param("slb:DescribeLoadBalancer?", "slb:DescribeLoadBalancer", False, id="question-needs-one-char"),
        pytest.param("*", "slb:DescribeLoadBalancers", True, id="star-alone"),
        pytest.param("*:Describe*", "slb:DescribeLoadBalancers", True, id="any-service"),
        pytest.param("slb:Describe*", "slb:DeleteLoadBalancer", False, id="other-verb"),
        pytest.param("slb:Describe*", "ecs:DescribeInstances", False, id="other-service"),
        pytest.param("slb:DescribeLoadBalancers", "slb:DescribeLoadBalancersX", False, id="exact-is-anchored"),
        pytest.param("slb:Describe.*", "slb:DescribeX", False, id="dot-is-literal"),
    ],
)
def test_action_wildcards_in_any_letter_case(pattern: str, action: str, allowed: bool) -> None:
    assert decide([allow(pattern)], action=action).allowed is allowed


@pytest.mark.parametrize(
    ("pattern", "resource", "allowed"),
    [
        pytest.param("*", LB, True, id="star"),
        pytest.param(f"acs:slb:*:{OWNER}:*", LB, True, id="owner-any-region"),
        pytest.param(f"acs:slb:*:{OTHER}:*", LB, False, id="other-account"),
        pytest.param("acs:slb:*:*:*", LB, True, id="any-account"),
        pytest.param(f"acs:slb:cn-beijing:{OWNER}:*", LB, False, id="other-region"),
        pytest.param(f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/lb-?", LB, True, id="question-mark"),
        pytest.param(f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/*", LB, True, id="relative-prefix"),
        pytest.param(f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/LB-1", LB, False, id="relative-case-sensitive"),
        pytest.param("acs:slb:*:1111*:*", LB, True, id="account-prefix"),
        pytest.param(
            f"acs:slb:cn-*:{OWNER}:*",
            f"acs:slb:cn-hangzhou:{OTHER}:x:{OWNER}:y",
            False,
            id="star-does-not-cross-segments",
        ),
        pytest.param(f"acs:ram:*:{OWNER}:role/r", f"acs:ram::{OWNER}:role/r", True, id="star-matches-empty-region"),
        pytest.param(f"acs:ram::{OWNER}:role/r", f"acs:ram:cn-hangzhou:{OWNER}:role/r", False, id="empty-is-literal"),
    ],
)
def test_resource_patterns_across_accounts(pattern: str, resource: str, allowed: bool) -> None:
    assert decide([allow(resource=pattern)], resource=resource).allowed is allowed


@pytest.mark.parametrize(
    ("statement", "action", "resource", "allowed"),
    [
        pytest.param(
            {"NotAction": "slb:Delete*", "Resource": "*"}, "slb:DescribeZones", LB, True, id="not-action-other"
        ),
        pytest.param({"NotAction": "slb:Delete*", "Resource": "*"}, "slb:DeleteX", LB, False, id="not-action-same"),
        pytest.param({"Action": "slb:*", "NotResource": f"acs:slb:*:{OTHER}:*"}, "slb:X", LB, True, id="not-resource"),
        pytest.param({"Action": "slb:*", "NotResource": f"acs:slb:*:{OWNER}:*"}, "slb:X", LB, False, id="not-res-own"),
    ],
)
def test_negated_action_and_resource(statement: dict[str, Any], action: str, resource: str, allowed: bool) -> None:
    assert decide([{"Effect": "Allow", **statement}], action=action, resource=resource).allowed is allowed


# --- operators: (operator, policy values, context value, expected) -------------------------------------------------
OPERATOR_CASES = [
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "ABC", False),
    ("StringEquals", ["x", "abc"], "abc", True),
    ("StringEquals", "abc", ["zzz", "abc"], True),
    ("StringNotEquals", "abc", "abd", True),
    ("StringNotEquals", "abc", "abc", False),
    ("StringNotEquals", ["x", "abc"], "abc", False),
    ("StringNotEquals", "abc", ["abd", "abc"], False),
    ("StringEqualsIgnoreCase", "abc", "ABC", True),
    ("StringEqualsIgnoreCase", "abc", "abd", False),
    ("StringNotEqualsIgnoreCase", "abc", "ABD", True),
    ("StringNotEqualsIgnoreCase", "abc", "ABC", False),
    ("StringLike", "team-*", "team-red", True),
    ("StringLike", "team-?", "team-red", False),
    ("StringLike", "Team-*", "team-red", False),
    ("StringNotLike", "team-*", "other", True),
    ("StringNotLike", "team-*", "team-red", False),
    ("NumericEquals", 3, 3, True),
    ("NumericEquals", "3", 3.0, True),
    ("NumericEquals", 3, "4", False),
    ("NumericNotEquals", 3, 4, True),
    ("NumericNotEquals", 3, 3, False),
    ("NumericLessThan", 10, 9, True),
    ("NumericLessThan", 10, 10, False),
    ("NumericLessThanEquals", 10, 10, True),
    ("NumericLessThanEquals", 10, 11, False),
    ("NumericGreaterThan", 10, 11, True),
    ("NumericGreaterThan", 10, 10, False),
    ("NumericGreaterThanEquals", 10, 10, True),
    ("NumericGreaterThanEquals", 10, 9, False),
    ("NumericEquals", 3, "three", False),
    ("NumericNotEquals", 3, "three", False),
    ("DateEquals", "2026-01-01T00:00:00Z", EXPIRY, True),
    ("DateEquals", 1767225600, EXPIRY, True),
    ("DateEquals", "2026-01-01T08:00:00+08:00", EXPIRY, True),
    ("DateEquals", "2026-01-01T00:00:00Z", EXPIRY + timedelta(seconds=1), False),
    ("DateNotEquals", "2026-01-01T00:00:00Z", EXPIRY + timedelta(seconds=1), True),
    ("DateNotEquals", "2026-01-01T00:00:00Z", EXPIRY, False),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", True),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", False),
    ("DateLessThanEquals", "2026-01-01T00:00:00Z", EXPIRY, True),
    ("DateLessThanEquals", "2026-01-01T00:00:00Z", EXPIRY + timedelta(seconds=1), False),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", EXPIRY + timedelta(seconds=1), True),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", EXPIRY, False),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", EXPIRY, True),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", EXPIRY - timedelta(seconds=1), False),
    ("DateLessThan", "2026-01-01T00:00:00Z", datetime(2025, 1, 1), False),  # naive datetime: not comparable
    ("Bool", True, True, True),
    ("Bool", "true", True, True),
    ("Bool", True, "TRUE", True),
    ("Bool", True, False, False),
    ("Bool", False, "yes", False),
    ("IpAddress", "10.0.0.0/8", "10.1.2.3", True),
    ("IpAddress", ["192.168.0.1", "10.0.0.0/8"], "192.168.0.1", True),
    ("IpAddress", "10.0.0.0/8", "11.0.0.1", False),
    ("IpAddress", "2001:db8::/32", "2001:db8::1", True),
    ("IpAddress", "10.0.0.0/8", "not-an-ip", False),
    ("NotIpAddress", "10.0.0.0/8", "11.0.0.1", True),
    ("NotIpAddress", "10.0.0.0/8", "10.0.0.1", False),
    ("NotIpAddress", "10.0.0.0/8", "not-an-ip", False),
]


@pytest.mark.parametrize(
    ("operator", "values", "context_value", "expected"),
    [
        pytest.param(*case, id=f"{case[0]}-{i}-{'match' if case[3] else 'no-match'}")
        for i, case in enumerate(OPERATOR_CASES)
    ],
)
def test_each_operator_matching_and_not_matching(
    operator: str, values: Any, context_value: ContextValue, expected: bool
) -> None:
    statement = allow(Condition={operator: {"test:Key": values}})
    assert decide([statement], context={"test:Key": context_value}).allowed is expected


@pytest.mark.parametrize(
    "operator",
    ["StringEquals", "StringNotEquals", "StringNotLike", "NumericNotEquals", "DateNotEquals", "Bool", "NotIpAddress"],
)
def test_absent_key_never_matches_even_for_negated_operators(operator: str) -> None:
    values = {
        "Bool": True,
        "NotIpAddress": "10.0.0.0/8",
        "NumericNotEquals": 1,
        "DateNotEquals": "2026-01-01T00:00:00Z",
    }
    statement = allow(Condition={operator: {"test:Key": values.get(operator, "x")}})
    assert decide([statement], context={"other:Key": "x"}).effect == "ImplicitDeny"


def test_deny_guarded_by_a_negated_operator_applies_when_the_key_is_absent() -> None:
    guard = deny(Condition={"StringNotEquals": {"sts:ExternalId": "expected-id"}})
    assert not decide([allow(), guard]).allowed
    assert not decide([allow(), guard], context={"sts:ExternalId": "other"}).allowed
    assert decide([allow(), guard], context={"sts:ExternalId": "expected-id"}).allowed
    assert not decide([allow(), guard], context={"sts:ExternalId": []}).allowed


def test_deny_guarded_by_a_positive_operator_does_not_apply_when_the_key_is_absent() -> None:
    guard = deny(Condition={"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}})
    assert decide([allow(), guard]).allowed
    assert not decide([allow(), guard], context={"acs:SourceIp": "10.1.2.3"}).allowed


def test_allow_guarded_by_a_negated_operator_does_not_apply_when_the_key_is_absent() -> None:
    assert not decide([allow(Condition={"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}})]).allowed


def test_empty_list_context_value_counts_as_absent() -> None:
    assert not decide([allow(Condition={"StringNotEquals": {"test:Key": "x"}})], context={"test:Key": []}).allowed


@pytest.mark.parametrize(
    ("policy_key", "context_key"),
    [("acs:SourceIp", "acs:sourceip"), ("ACS:SOURCEIP", "acs:SourceIp"), ("acs:sourceip", "Acs:SourceIP")],
)
def test_condition_keys_are_case_insensitive(policy_key: str, context_key: str) -> None:
    statement = allow(Condition={"IpAddress": {policy_key: "10.0.0.0/8"}})
    assert decide([statement], context={context_key: "10.0.0.1"}).allowed


def test_keys_and_operators_are_anded() -> None:
    statement = allow(
        Condition={
            "Bool": {"acs:SecureTransport": True, "acs:MFAPresent": True},
            "StringEquals": {"sts:ExternalId": "e"},
        }
    )
    full: dict[str, ContextValue] = {"acs:SecureTransport": True, "acs:MFAPresent": True, "sts:ExternalId": "e"}
    assert decide([statement], context=full).allowed
    for missing in full:
        assert not decide([statement], context={k: v for k, v in full.items() if k != missing}).allowed, missing


EXPIRY_TEXT = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("operator", "offset", "allowed"),
    [
        pytest.param("DateLessThan", -1, True, id="lt-one-second-before"),
        pytest.param("DateLessThan", 0, False, id="lt-at-boundary"),
        pytest.param("DateLessThan", 1, False, id="lt-one-second-after"),
        pytest.param("DateLessThanEquals", 0, True, id="le-at-boundary"),
        pytest.param("DateLessThanEquals", 1, False, id="le-one-second-after"),
        pytest.param("DateGreaterThan", -1, False, id="gt-one-second-before"),
        pytest.param("DateGreaterThan", 1, True, id="gt-one-second-after"),
    ],
)
def test_time_conditions_around_the_boundary(operator: str, offset: int, allowed: bool) -> None:
    statement = allow(Condition={operator: {"acs:CurrentTime": EXPIRY_TEXT}})
    now = EXPIRY + timedelta(seconds=offset)
    assert decide([statement], context={"acs:CurrentTime": now}).allowed is allowed
    in_shanghai = now.astimezone(timezone(timedelta(hours=8)))
    assert decide([statement], context={"acs:CurrentTime": in_shanghai}).allowed is allowed


def test_time_bound_allow_without_current_time_in_context_fails_closed() -> None:
    assert not decide([allow(Condition={"DateLessThan": {"acs:CurrentTime": EXPIRY_TEXT}})]).allowed


GROUP = "rg-aek2"


@pytest.mark.parametrize(
    ("attachment_group", "request_group", "allowed"),
    [
        pytest.param(None, None, True, id="account-scope-no-group"),
        pytest.param(None, GROUP, True, id="account-scope-any-group"),
        pytest.param(GROUP, GROUP, True, id="group-scope-same-group"),
        pytest.param(GROUP, "rg-other", False, id="group-scope-other-group"),
        pytest.param(GROUP, None, False, id="group-scope-request-without-group"),
    ],
)
def test_resource_group_scope(attachment_group: str | None, request_group: str | None, allowed: bool) -> None:
    attached = AttachedPolicy(policy(allow()).document, resource_group_id=attachment_group, name="scoped")
    request = AuthRequest("slb:DescribeLoadBalancers", LB, resource_group_id=request_group)
    assert evaluate(request, [attached]).allowed is allowed


def test_group_scoped_deny_only_applies_inside_its_group() -> None:
    account_allow = policy(allow())
    group_deny = AttachedPolicy(policy(deny()).document, resource_group_id=GROUP, name="deny-in-group")
    inside = AuthRequest("slb:DescribeLoadBalancers", LB, resource_group_id=GROUP)
    outside = AuthRequest("slb:DescribeLoadBalancers", LB, resource_group_id="rg-other")
    assert evaluate(inside, [account_allow, group_deny]).effect == "ExplicitDeny"
    assert evaluate(outside, [account_allow, group_deny]).allowed


SESSION_READ = parse_policy({"Version": "1", "Statement": [allow("slb:Describe*")]}, "session")


@pytest.mark.parametrize(
    ("identity", "session", "action", "effect", "source"),
    [
        pytest.param([allow()], SESSION_READ, "slb:DescribeZones", "Allow", "identity", id="both-allow"),
        pytest.param(
            [allow()], SESSION_READ, "slb:DeleteLoadBalancer", "ImplicitDeny", "session", id="session-narrows"
        ),
        pytest.param(
            [allow("slb:Delete*")], SESSION_READ, "slb:DescribeZones", "ImplicitDeny", "identity", id="id-narrows"
        ),
        pytest.param(
            [allow()],
            parse_policy({"Version": "1", "Statement": [allow(), deny("slb:DescribeZones")]}, "session"),
            "slb:DescribeZones",
            "ExplicitDeny",
            "session",
            id="session-deny",
        ),
        pytest.param(
            [allow("ecs:*")],
            parse_policy({"Version": "1", "Statement": [deny()]}, "session"),
            "slb:DescribeZones",
            "ExplicitDeny",
            "session",
            id="session-deny-without-identity-allow",
        ),
        pytest.param([deny()], SESSION_READ, "slb:DescribeZones", "ExplicitDeny", "identity", id="identity-deny"),
        pytest.param([allow()], None, "slb:DeleteLoadBalancer", "Allow", "identity", id="no-session"),
    ],
)
def test_session_policy_intersects(
    identity: list[dict[str, Any]], session: Any, action: str, effect: str, source: str
) -> None:
    decision = evaluate(AuthRequest(action, LB), [policy(*identity)], session)
    assert (decision.effect, decision.source) == (effect, source)
    assert decision.reason
