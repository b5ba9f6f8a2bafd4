"""Property-based checks: round-trips, and the monotonicity that makes deny-wins evaluation safe."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ram_delegate.policy import (
    AttachedPolicy,
    AuthRequest,
    Caller,
    ContextValue,
    allows,
    evaluate,
    evaluate_trust,
    parse_policy,
    render,
    to_json,
    trust_allows,
)

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
SERVICES = ["slb", "ecs", "ram", "sts"]
ACTION_NAMES = ["DescribeLoadBalancers", "DeleteLoadBalancer", "GetRole", "AssumeRole", "CreateUser", "ListTags"]
ACCOUNTS = ["1111111111111111", "2222222222222222"]
REGIONS = ["cn-hangzhou", "cn-beijing"]
RELATIVE_IDS = ["loadbalancer/lb-1", "loadbalancer/lb-2", "role/partner", "instance/i-1"]
GROUPS = ["rg-a", "rg-b"]
BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)


def one_or_list(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | list[str]]:
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))


def wildcard_of(text: str) -> st.SearchStrategy[str]:
    """The text itself, a prefix with *, a ? in place of one letter, or *."""
    prefixes = [text[:i] + "*" for i in range(len(text))]
    marks = [text[:i] + "?" + text[i + 1 :] for i in range(len(text))]
    return st.sampled_from([text, "*", *prefixes[:4], *marks[:3]])


actions = st.one_of(
    st.just("*"),
    st.builds(lambda s, n: f"{s}:{n}", st.sampled_from(SERVICES), st.sampled_from(ACTION_NAMES).flatmap(wildcard_of)),
    st.builds(lambda s, n: f"{s}:{n}", st.sampled_from(SERVICES).flatmap(wildcard_of), st.sampled_from(ACTION_NAMES)),
)
resources = st.one_of(
    st.just("*"),
    st.builds(
        lambda service, region, account, relative: f"acs:{service}:{region}:{account}:{relative}",
        st.sampled_from([*SERVICES, "*"]),
        st.sampled_from([*REGIONS, "*", ""]),
        st.sampled_from(ACCOUNTS).flatmap(wildcard_of),
        st.sampled_from(RELATIVE_IDS).flatmap(wildcard_of),
    ),
)
condition_blocks = st.dictionaries(
    st.sampled_from(["StringEquals", "StringNotLike", "Bool", "DateLessThan", "NumericGreaterThan", "IpAddress"]),
    st.just(None),
    min_size=1,
    max_size=3,
).map(
    lambda operators: {
        operator: {
            "StringEquals": {"sts:ExternalId": ["ext-1", "ext-2"]},
            "StringNotLike": {"test:Tag": "secret-*"},
            "Bool": {"acs:SecureTransport": True},
            "DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"},
            "NumericGreaterThan": {"test:Count": 3},
            "IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.1.1"]},
        }[operator]
        for operator in operators
    }
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    statement[draw(st.sampled_from(["Action", "Action", "NotAction"]))] = draw(one_or_list(actions))
    statement[draw(st.sampled_from(["Resource", "Resource", "NotResource"]))] = draw(one_or_list(resources))
    if draw(st.booleans()):
        statement["Condition"] = draw(condition_blocks)
    return statement


def documents(effect: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(statements(effect), min_size=1, max_size=4).map(lambda s: {"Version": "1", "Statement": s})


attachments = st.lists(
    st.builds(
        lambda doc, group: AttachedPolicy(parse_policy(doc), resource_group_id=group, name="p"),
        documents(),
        st.sampled_from([None, None, *GROUPS]),
    ),
    max_size=3,
)


@st.composite
def requests(draw: st.DrawFn) -> AuthRequest:
    service = draw(st.sampled_from(SERVICES))
    action = f"{service}:{draw(st.sampled_from(ACTION_NAMES))}"
    resource = (
        f"acs:{service}:{draw(st.sampled_from(REGIONS))}:{draw(st.sampled_from(ACCOUNTS))}:"
        f"{draw(st.sampled_from(RELATIVE_IDS))}"
    )
    possible: dict[str, ContextValue] = {
        "sts:ExternalId": draw(st.sampled_from(["ext-1", "ext-3"])),
        "test:Tag": draw(st.sampled_from(["secret-x", "public"])),
        "acs:SecureTransport": draw(st.booleans()),
        "acs:CurrentTime": BASE_TIME + timedelta(seconds=draw(st.sampled_from([-1, 0, 1]))),
        "test:Count": draw(st.integers(0, 6)),
        "acs:SourceIp": draw(st.sampled_from(["10.1.1.1", "192.168.1.1", "8.8.8.8"])),
    }
    present = draw(st.sets(st.sampled_from(sorted(possible))))
    context = {key: possible[key] for key in present}
    return AuthRequest(action, resource, draw(st.sampled_from([None, *GROUPS])), context)


@PROPERTY_SETTINGS
@given(documents())
def test_render_of_parse_is_the_document_and_parse_of_render_is_the_policy(document: dict[str, Any]) -> None:
    parsed = parse_policy(document)
    assert render(parsed) == document
    assert parse_policy(render(parsed)) == parsed
    assert parse_policy(to_json(parsed)) == parsed


@PROPERTY_SETTINGS
@given(requests(), attachments, documents("Deny"), st.sampled_from([None, *GROUPS]))
def test_adding_a_deny_never_turns_a_decision_into_allow(
    request: AuthRequest, policies: list[AttachedPolicy], denying: dict[str, Any], group: str | None
) -> None:
    extra = AttachedPolicy(parse_policy(denying), resource_group_id=group, name="deny")
    before = evaluate(request, policies)
    after = evaluate(request, [*policies, extra])
    if after.allowed:
        assert before.allowed


@PROPERTY_SETTINGS
@given(requests(), attachments, documents("Allow"), st.sampled_from([None, *GROUPS]))
def test_adding_an_allow_never_turns_an_allow_into_a_deny(
    request: AuthRequest, policies: list[AttachedPolicy], allowing: dict[str, Any], group: str | None
) -> None:
    extra = AttachedPolicy(parse_policy(allowing), resource_group_id=group, name="allow")
    if evaluate(request, policies).allowed:
        assert evaluate(request, [extra, *policies]).allowed


@PROPERTY_SETTINGS
@given(requests(), attachments, documents())
def test_a_session_policy_never_widens_a_decision(
    request: AuthRequest, policies: list[AttachedPolicy], session: dict[str, Any]
) -> None:
    with_session = evaluate(request, policies, parse_policy(session, "system"))
    without = evaluate(request, policies)
    if with_session.allowed:
        assert without.allowed
    if without.effect == "ExplicitDeny":
        assert with_session.effect == "ExplicitDeny"


@PROPERTY_SETTINGS
@given(requests(), attachments)
def test_the_outcome_does_not_depend_on_attachment_order(request: AuthRequest, policies: list[AttachedPolicy]) -> None:
    assert evaluate(request, policies).effect == evaluate(request, policies[::-1]).effect


@PROPERTY_SETTINGS
@given(requests(), attachments, st.one_of(st.none(), documents()))
def test_allows_is_the_decisions_allowed(
    request: AuthRequest, policies: list[AttachedPolicy], session: dict[str, Any] | None
) -> None:
    session_policy = None if session is None else parse_policy(session, "system")
    decision = evaluate(request, policies, session_policy)
    answer = allows(
        request.action,
        request.resource,
        policies,
        session_policy,
        resource_group_id=request.resource_group_id,
        context=request.context,
    )

    assert answer is decision.allowed


trust_statements = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Action": st.sampled_from(["sts:AssumeRole", "sts:AssumeRoleWithSAML"]),
        "Principal": st.sampled_from(
            ["*", {"RAM": "*"}, {"RAM": f"acs:ram::{ACCOUNTS[1]}:root"}, {"RAM": [f"acs:ram::{ACCOUNTS[1]}:user/u"]}]
        ),
    },
    optional={"Condition": condition_blocks},
)


@PROPERTY_SETTINGS
@given(
    requests(),
    st.lists(trust_statements, min_size=1, max_size=3),
    st.builds(Caller, st.sampled_from(["root", "user", "role_session"]), st.sampled_from(ACCOUNTS), st.just("u")),
)
def test_trust_allows_is_the_trust_decisions_allowed(
    request: AuthRequest, statements: list[dict[str, Any]], caller: Caller
) -> None:
    trust = parse_policy({"Version": "1", "Statement": statements}, "trust")

    assert trust_allows(trust, caller, request.context) is evaluate_trust(trust, caller, request.context).allowed
