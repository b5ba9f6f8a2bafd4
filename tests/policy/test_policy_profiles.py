"""The profile catalog: every bundled profile loads lint-clean with probes, scoping is declared and enforced."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ram_delegate.errors import ConfigurationError, InvalidInputError, PolicyLintError
from ram_delegate.policy import (
    AttachedPolicy,
    AuthRequest,
    PolicyDocument,
    errors_of,
    evaluate,
    lint,
    load_profiles,
    owner_access_policy,
)
from ram_delegate.policy.profiles import PROBE_CALLS, scope_problems

OWNER = "1357924680135792"
EXPIRES = datetime(2030, 1, 1, tzinfo=timezone.utc)
NOW = datetime(2029, 6, 1, tzinfo=timezone.utc)
CATALOG = ("slb-readonly", "alb-readonly", "nlb-readonly", "ecs-readonly", "slb-operator")


def test_the_catalog_is_bundled_with_descriptions_and_probes() -> None:
    profiles = load_profiles()
    assert set(CATALOG) <= set(profiles)
    for name in CATALOG:
        profile = profiles[name]
        assert "Cannot" in profile.description or "Nothing" in profile.description, name
        assert profile.positive_probe is not None
        assert profile.positive_probe.target == "grant"
        assert profile.negative_probes, name
        assert {p.call for p in (profile.positive_probe, *profile.negative_probes)} <= set(PROBE_CALLS)


@pytest.mark.parametrize("name", CATALOG)
def test_every_catalog_policy_lints_without_error_and_stays_in_its_region(name: str) -> None:
    profile = load_profiles()[name]
    ids = ["lb-bp1abcd0001"] if profile.resource_ids == "require" else None
    policy = owner_access_policy(
        profile=profile, owner_account_id=OWNER, region="cn-hangzhou", expires_at=EXPIRES, resource_ids=ids
    )
    assert errors_of(lint(policy, time_bound=True)) == []
    for statement in policy.statements:
        for resource in statement.resources:
            assert resource.split(":")[2] == "cn-hangzhou", resource
            assert f":{OWNER}:" in resource


def allowed(policy: PolicyDocument, action: str, resource: str) -> bool:
    request = AuthRequest(action=action, resource=resource, context={"acs:CurrentTime": NOW})
    return evaluate(request, (AttachedPolicy(policy),)).allowed


def test_slb_operator_is_limited_to_the_named_load_balancers() -> None:
    profile = load_profiles()["slb-operator"]
    policy = owner_access_policy(
        profile=profile,
        owner_account_id=OWNER,
        region="cn-hangzhou",
        expires_at=EXPIRES,
        resource_ids=["lb-bp1named0001"],
    )
    named = f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/lb-bp1named0001"
    other = f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/lb-bp1other0001"
    assert allowed(policy, "slb:AddBackendServers", named)
    assert allowed(policy, "slb:StopLoadBalancerListener", named)
    assert not allowed(policy, "slb:AddBackendServers", other)
    assert not allowed(policy, "slb:DescribeLoadBalancerAttribute", other)
    assert not allowed(policy, "slb:DescribeLoadBalancers", f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/*")
    assert not allowed(policy, "slb:DeleteLoadBalancer", named)
    assert not allowed(policy, "slb:CreateLoadBalancer", f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/*")
    assert not allowed(policy, "slb:AddBackendServers", named.replace("cn-hangzhou", "cn-shanghai"))


@pytest.mark.parametrize(
    ("name", "group", "ids", "path"),
    [
        pytest.param("slb-operator", None, None, "data.access.resource_ids", id="operator-requires-ids"),
        pytest.param("slb-readonly", None, ["lb-bp1named0001"], "data.access.resource_ids", id="readonly-refuses"),
        pytest.param("slb-operator", None, ["i-bp1named0001"], "data.access.resource_ids[0]", id="wrong-product"),
        pytest.param("alb-readonly", None, ["alb-abcdef"], "data.access.resource_ids", id="alb-refuses"),
    ],
)
def test_scope_declarations_are_enforced(name: str, group: str | None, ids: list[str] | None, path: str) -> None:
    profile = load_profiles()[name]
    problems = scope_problems(profile, resource_group_id=group, resource_ids=ids)
    assert path in [problem.path for problem in problems]
    with pytest.raises(InvalidInputError):
        owner_access_policy(
            profile=profile, owner_account_id=OWNER, region="cn-hangzhou", expires_at=EXPIRES, resource_ids=ids
        )


def write(tmp_path: Path, profiles: dict[str, Any]) -> Path:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"profiles": profiles}), encoding="utf-8")
    return path


OPERATOR_BASE: dict[str, Any] = {
    "description": "restart backends of named ECS-backed load balancers",
    "instances": {
        "arn_template": "acs:slb:{region}:{account_id}:loadbalancer/{id}",
        "id_pattern": "lb-[a-z0-9]{4,32}",
        "actions": ["slb:SetBackendServers"],
    },
    "scoping": {"resource_ids": "require"},
    "probes": {"positive": {"call": "slb:DescribeLoadBalancerAttribute"}},
}


def test_an_operator_file_can_declare_instance_scoping(tmp_path: Path) -> None:
    profiles = load_profiles(write(tmp_path, {"lb-reweight": OPERATOR_BASE}))
    assert profiles["lb-reweight"].resource_ids == "require"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        pytest.param({"scoping": {"resource_ids": "maybe"}}, "scoping.resource_ids", id="bad-id-scoping"),
        pytest.param({"probes": {"positive": {"call": "ecs:RunCommand"}}}, "probes.positive.call", id="unknown-call"),
        pytest.param(
            {"probes": {"positive": {"call": "slb:DescribeLoadBalancers", "target": "other_region"}}},
            "probes.positive.target",
            id="positive-elsewhere",
        ),
        pytest.param(
            {
                "probes": {
                    "positive": {"call": "slb:DescribeLoadBalancers"},
                    "negative": [{"call": "slb:DescribeLoadBalancers", "target": "unlisted"}],
                }
            },
            "probes.negative[0].target",
            id="unlisted-needs-instance-call",
        ),
        pytest.param(
            {"instances": {**OPERATOR_BASE["instances"], "id_pattern": ".*"}}, "instances.id_pattern", id="any-id"
        ),
        pytest.param(
            {"instances": {**OPERATOR_BASE["instances"], "arn_template": "acs:slb:{region}:{account_id}:*"}},
            "instances.arn_template",
            id="no-id-placeholder",
        ),
    ],
)
def test_malformed_scoping_or_probes_are_refused(tmp_path: Path, change: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_profiles(write(tmp_path, {"x": {**OPERATOR_BASE, **change}}))
    assert f"profiles.x.{path}" in [p.path for p in caught.value.problems]


def test_an_instance_section_that_fails_lint_never_loads(tmp_path: Path) -> None:
    bad = {**OPERATOR_BASE, "instances": {**OPERATOR_BASE["instances"], "actions": ["ram:AttachPolicyToRole"]}}
    with pytest.raises(PolicyLintError):
        load_profiles(write(tmp_path, {"x": bad}))


lb_ids = st.from_regex(r"lb-[a-z0-9]{4,12}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(named=st.lists(lb_ids, min_size=1, max_size=20, unique=True), other=lb_ids)
def test_an_operator_grant_reaches_exactly_the_named_load_balancers(named: list[str], other: str) -> None:
    profile = load_profiles()["slb-operator"]
    policy = owner_access_policy(
        profile=profile, owner_account_id=OWNER, region="cn-hangzhou", expires_at=EXPIRES, resource_ids=named
    )
    arn = f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/"
    for action in profile.instances.actions if profile.instances else ():
        assert all(allowed(policy, action, arn + item) for item in named)
        assert allowed(policy, action, arn + other) == (other in named)
        assert not allowed(policy, action, arn.replace("cn-hangzhou", "cn-beijing") + named[0])
