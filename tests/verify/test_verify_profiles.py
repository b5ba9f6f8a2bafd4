"""The verifier proves every catalog profile both ways: each grant's positive probe works while it is active, every
negative probe is refused, and a grant widened by hand (a negative probe allowed) is a critical alert."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from verify_stack import Stack

from ram_delegate.grants import access_policy_name, role_name
from ram_delegate.verify import VerificationReport, verify_grants

OWNER = "1111111111111111"
PROD = "rg-aaaaaaaaaaaaa1"
NAMED_LB = "lb-bp1prod000000000001"

GRANTS = [
    pytest.param("slb-readonly", None, None, 2, id="slb-readonly"),
    pytest.param("slb-readonly", PROD, None, 3, id="slb-readonly-group"),
    pytest.param("alb-readonly", None, None, 3, id="alb-readonly"),
    pytest.param("alb-readonly", PROD, None, 4, id="alb-readonly-group"),
    pytest.param("nlb-readonly", None, None, 3, id="nlb-readonly"),
    pytest.param("nlb-readonly", PROD, None, 4, id="nlb-readonly-group"),
    pytest.param("ecs-readonly", None, None, 3, id="ecs-readonly"),
    pytest.param("ecs-readonly", PROD, None, 4, id="ecs-readonly-group"),
    pytest.param("slb-operator", None, [NAMED_LB], 4, id="slb-operator"),
    pytest.param("slb-operator", PROD, [NAMED_LB], 4, id="slb-operator-group"),
]


def run(stack: Stack) -> VerificationReport:
    return verify_grants(stack.verifier(), now=stack.now(), propagation_backoff_seconds=0)


def owner_ram(stack: Stack) -> Any:
    from aliyun_emulator.testing import ram_client

    return ram_client(stack.emulator, "AKIDENTERPRISEA0000001", "secret-a")


@pytest.mark.parametrize(("profile", "group", "ids", "probes"), GRANTS)
def test_an_active_grant_passes_its_positive_probe_and_fails_every_negative_one(
    stack: Stack, profile: str, group: str | None, ids: list[str] | None, probes: int
) -> None:
    stack.approve("OPS-1", profile=profile, group=group, resource_ids=ids)

    report = run(stack)

    (check,) = report.results
    assert (check.outcome, check.profile, len(check.probes)) == ("ok", profile, probes)
    positive, *negatives = check.probes
    assert (positive.expected, positive.observed, positive.code) == ("allow", "allowed", "")
    if ids:  # the partner recorded the grant's first named instance for the probe
        assert positive.resource_id == ids[0]
    assert all((probe.expected, probe.observed) == ("deny", "denied") for probe in negatives), negatives
    assert all(probe.code == "Forbidden.RAM" for probe in negatives)
    assert "other_region" in {probe.target for probe in negatives}
    assert stack.notifier.alerts == []
    json.dumps(report.to_dict())


@pytest.mark.parametrize(("profile", "group", "ids", "probes"), GRANTS)
def test_an_expired_grant_is_refused(
    stack: Stack, profile: str, group: str | None, ids: list[str] | None, probes: int
) -> None:
    stack.approve("OPS-2", profile=profile, group=group, resource_ids=ids, expires_in=timedelta(hours=1))
    stack.emulator.clock.advance(2 * 3600)

    (check,) = run(stack).results

    assert (check.outcome, check.stage, check.probes) == ("denied_as_expected", "AssumeRole", ())


@pytest.mark.parametrize(("profile", "group", "ids", "probes"), GRANTS)
def test_a_revoked_grant_is_refused(
    stack: Stack, profile: str, group: str | None, ids: list[str] | None, probes: int
) -> None:
    stack.approve("OPS-3", profile=profile, group=group, resource_ids=ids)
    stack.emulator.clock.advance(1800)  # past the propagation window of a fresh grant
    stack.revoke("OPS-3")

    (check,) = run(stack).results

    assert (check.outcome, check.stage) == ("denied_as_expected", "AssumeRole")


def drop_trust_expiry(stack: Stack, ticket: str) -> None:
    """As A's root: the role's trust policy loses its expiry, so only the access policy's expiry still holds."""
    from alibabacloud_ram20150501 import models

    ram = owner_ram(stack)
    role = ram.get_role(models.GetRoleRequest(role_name=role_name(ticket))).body.role
    trust = json.loads(role.assume_role_policy_document)
    for statement in trust["Statement"]:
        statement["Condition"].pop("DateLessThan", None)
    ram.update_role(
        models.UpdateRoleRequest(role_name=role_name(ticket), new_assume_role_policy_document=json.dumps(trust))
    )


@pytest.mark.parametrize(
    ("profile", "ids", "stage"),
    [
        ("alb-readonly", None, "alb:ListLoadBalancers"),
        ("ecs-readonly", None, "ecs:DescribeInstances"),
        ("slb-operator", [NAMED_LB], "slb:DescribeLoadBalancerAttribute"),
    ],
)
def test_an_expired_grant_whose_role_still_admits_is_refused_by_its_positive_probe(
    stack: Stack, profile: str, ids: list[str] | None, stage: str
) -> None:
    stack.approve("OPS-4", profile=profile, resource_ids=ids, expires_in=timedelta(hours=1))
    drop_trust_expiry(stack, "OPS-4")
    stack.emulator.clock.advance(2 * 3600)

    (check,) = run(stack).results

    assert (check.outcome, check.stage, check.code) == ("denied_as_expected", stage, "Forbidden.RAM")
    (positive,) = check.probes  # an expired grant runs its positive probe only
    assert (positive.expected, positive.observed) == ("deny", "denied")


def widen_access_policy(stack: Stack, ticket: str, widen: dict[str, str]) -> None:
    """As A's root: a new default version of the grant's access policy, with its resources widened by hand."""
    from alibabacloud_ram20150501 import models

    ram = owner_ram(stack)
    name = access_policy_name(ticket)
    version = ram.get_policy(
        models.GetPolicyRequest(policy_name=name, policy_type="Custom")
    ).body.default_policy_version
    text = version.policy_document
    for old, new in widen.items():
        text = text.replace(old, new)
    ram.create_policy_version(
        models.CreatePolicyVersionRequest(policy_name=name, policy_document=text, set_as_default=True)
    )


@pytest.mark.parametrize(
    ("profile", "group", "ids", "widen", "leak"),
    [
        pytest.param(
            "slb-operator",
            None,
            [NAMED_LB],
            {f"loadbalancer/{NAMED_LB}": "loadbalancer/*"},
            ("slb:DescribeLoadBalancerAttribute", "unlisted"),
            id="operator-on-every-load-balancer",
        ),
        pytest.param(
            "alb-readonly",
            None,
            None,
            {"acs:alb:cn-hangzhou:": "acs:alb:*:"},
            ("alb:ListLoadBalancers", "other_region"),
            id="readonly-in-every-region",
        ),
        pytest.param(
            "ecs-readonly",
            None,
            None,
            {'"ecs:DescribeInstances"': '"ecs:DescribeInstances","ecs:StopInstance"'},
            ("ecs:StopInstance", "grant"),
            id="readonly-that-can-stop",
        ),
        pytest.param(
            "nlb-readonly",
            PROD,
            None,
            {'"nlb:List*"': '"nlb:List*","nlb:Update*"'},
            ("nlb:UpdateLoadBalancerAttribute", "grant"),
            id="readonly-that-can-write",
        ),
    ],
)
def test_a_negative_probe_that_is_allowed_is_a_critical_alert(
    stack: Stack,
    profile: str,
    group: str | None,
    ids: list[str] | None,
    widen: dict[str, str],
    leak: tuple[str, str],
) -> None:
    stack.approve("OPS-5", profile=profile, group=group, resource_ids=ids)
    widen_access_policy(stack, "OPS-5", widen)

    report = run(stack)

    (check,) = report.results
    assert (check.outcome, check.grant_state, check.stage) == ("unexpected_allow", "active", leak[0])
    assert leak[0] in check.note
    assert leak[1] in check.note
    assert report.critical
    (alert,) = stack.notifier.alerts
    assert alert.critical
    assert "OPS-5" in alert.text
    assert leak[0] in alert.text


def test_a_grant_of_a_profile_without_probes_is_proven_by_assume_role_alone(stack: Stack) -> None:
    from ram_delegate.policy.profiles import AccessProfile

    stack.approve("OPS-6", profile="ecs-readonly")
    bare = AccessProfile("ecs-readonly", "no probes", ("ecs:DescribeInstances",), "acs:ecs:{region}:{account_id}:*")
    deps = stack.verifier()
    deps.profiles = {"ecs-readonly": bare}

    (check,) = verify_grants(deps, now=stack.now(), propagation_backoff_seconds=0).results

    assert (check.outcome, check.stage, check.probes) == ("ok", "AssumeRole", ())
    assert "no probes" in check.note


def test_every_probe_call_a_profile_may_name_has_a_runner() -> None:
    from ram_delegate import probes
    from ram_delegate.policy.profiles import PROBE_CALLS

    assert set(probes.CALLS) == set(PROBE_CALLS)


def test_a_grant_that_should_be_shut_runs_its_positive_probe_only() -> None:
    from ram_delegate import probes
    from ram_delegate.policy import load_profiles

    profile = load_profiles()["alb-readonly"]
    scope = probes.GrantScope("cn-hangzhou", PROD)
    assert [(c.call, c.target, c.expected) for c in probes.plan(profile, scope, "deny")] == [
        ("alb:ListLoadBalancers", "grant", "deny")
    ]
    active = probes.plan(profile, scope, "allow")
    assert [(c.target, c.region, c.resource_group_id) for c in active] == [
        ("grant", "cn-hangzhou", PROD),
        ("other_region", "cn-shanghai", PROD),
        ("outside_group", "cn-hangzhou", None),
        ("grant", "cn-hangzhou", PROD),
    ]
    assert active[-1].resource_id == probes.unlisted_id("alb:UpdateLoadBalancerAttribute")
    account_wide = probes.plan(profile, probes.GrantScope("cn-shanghai"), "allow")
    assert "outside_group" not in {c.target for c in account_wide}
    assert {c.region for c in account_wide} == {"cn-shanghai", "cn-hangzhou"}


def test_an_instance_probe_never_aims_at_another_products_instance() -> None:
    from ram_delegate import probes
    from ram_delegate.policy import load_profiles

    operator = load_profiles()["slb-operator"]
    calls = probes.plan(operator, probes.GrantScope("cn-hangzhou", None, NAMED_LB), "allow")
    assert [c.resource_id for c in calls if c.call == "slb:DescribeLoadBalancerAttribute"] == [
        NAMED_LB,
        probes.unlisted_id("slb:DescribeLoadBalancerAttribute"),
        NAMED_LB,
    ]
    ecs = load_profiles()["ecs-readonly"]
    (stop,) = [c for c in probes.plan(ecs, probes.GrantScope("cn-hangzhou", None, NAMED_LB), "allow") if c.resource_id]
    assert stop.resource_id == probes.unlisted_id("ecs:StopInstance")
