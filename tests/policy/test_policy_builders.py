"""Builders produce lint-clean, time-bound documents; access profiles load, extend and refuse bad files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ram_delegate.errors import ConfigurationError, InvalidInputError, PolicyLintError
from ram_delegate.policy import (
    AccessProfile,
    AttachedPolicy,
    AuthRequest,
    Caller,
    ContextValue,
    evaluate,
    evaluate_trust,
    lint,
    load_profiles,
    owner_access_policy,
    owner_trust_policy,
    partner_assume_policy,
    render,
)

OWNER, PARTNER = "1111111111111111", "2222222222222222"
EXPIRES = datetime(2026, 1, 1, 8, 0, 0, tzinfo=timezone(timedelta(hours=8)))  # 2026-01-01T00:00:00Z
BEFORE, AT = datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc)
ROLE = f"acs:ram::{OWNER}:role/partner-access"


def test_owner_trust_policy_names_users_and_verifier_with_external_id_and_expiry() -> None:
    policy = owner_trust_policy(
        partner_account_id=PARTNER,
        partner_users=["alice", "bob"],
        external_id="ext-42",
        expires_at=EXPIRES,
        verifier_role=f"acs:ram::{PARTNER}:role/verifier",
    )
    assert render(policy) == {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {
                    "RAM": [
                        f"acs:ram::{PARTNER}:user/alice",
                        f"acs:ram::{PARTNER}:user/bob",
                        f"acs:ram::{PARTNER}:role/verifier",
                    ]
                },
                "Condition": {
                    "StringEquals": {"sts:ExternalId": "ext-42"},
                    "DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"},
                },
            }
        ],
    }
    assert lint(policy, kind="trust", time_bound=True) == []
    context: dict[str, ContextValue] = {"sts:ExternalId": "ext-42", "acs:CurrentTime": BEFORE}
    assert evaluate_trust(policy, Caller("user", PARTNER, "alice"), context).allowed
    assert evaluate_trust(policy, Caller("role_session", PARTNER, "verifier"), context).allowed
    assert not evaluate_trust(policy, Caller("user", PARTNER, "carol"), context).allowed
    assert not evaluate_trust(policy, Caller("user", PARTNER, "alice"), {**context, "acs:CurrentTime": AT}).allowed


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        pytest.param({"partner_account_id": "12ab"}, "partner_account_id", id="account"),
        pytest.param({"partner_users": ["al ice"]}, "partner_users[0]", id="user-name"),
        pytest.param({"partner_users": []}, "partner_users", id="no-principal"),
        pytest.param({"external_id": "x"}, "external_id", id="external-id-short"),
        pytest.param(
            {"verifier_role": f"acs:ram::{OWNER}:role/verifier"}, "verifier_role", id="verifier-other-account"
        ),
        pytest.param({"verifier_role": "verifier"}, "verifier_role", id="verifier-not-arn"),
        pytest.param({"expires_at": datetime(2026, 1, 1)}, "expires_at", id="naive-expiry"),
    ],
)
def test_owner_trust_policy_refuses_bad_input(overrides: dict[str, Any], path: str) -> None:
    arguments: dict[str, Any] = {
        "partner_account_id": PARTNER,
        "partner_users": ["alice"],
        "external_id": "ext-42",
        "expires_at": EXPIRES,
        **overrides,
    }
    with pytest.raises(InvalidInputError) as caught:
        owner_trust_policy(**arguments)
    assert path in [p.path for p in caught.value.problems]


def test_owner_access_policy_substitutes_region_and_account() -> None:
    profile = load_profiles()["slb-readonly"]
    policy = owner_access_policy(profile=profile, owner_account_id=OWNER, region="cn-shanghai", expires_at=EXPIRES)
    assert render(policy)["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["slb:Describe*", "slb:List*", "slb:Get*"],
            "Resource": f"acs:slb:cn-shanghai:{OWNER}:*",
            "Condition": {"DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"}},
        }
    ]
    assert lint(policy, time_bound=True) == []
    attached = [AttachedPolicy(policy, name="grant")]
    lb = f"acs:slb:cn-shanghai:{OWNER}:loadbalancer/lb-1"
    assert evaluate(AuthRequest("slb:DescribeLoadBalancers", lb, context={"acs:CurrentTime": BEFORE}), attached).allowed
    assert not evaluate(AuthRequest("slb:DescribeLoadBalancers", lb, context={"acs:CurrentTime": AT}), attached).allowed
    assert not evaluate(
        AuthRequest("slb:DeleteLoadBalancer", lb, context={"acs:CurrentTime": BEFORE}), attached
    ).allowed
    other_region = f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/lb-1"
    assert not evaluate(
        AuthRequest("slb:DescribeLoadBalancers", other_region, context={"acs:CurrentTime": BEFORE}), attached
    ).allowed


def test_owner_access_policy_refuses_a_profile_that_fails_lint() -> None:
    profile = AccessProfile("too-much", "all of RAM", ("ram:*",), "acs:ram::{account_id}:*")
    with pytest.raises(PolicyLintError) as caught:
        owner_access_policy(profile=profile, owner_account_id=OWNER, region="cn-hangzhou", expires_at=EXPIRES)
    assert "too-much" in caught.value.message
    assert [p.path for p in caught.value.problems] == ["Statement[0].Action[0]"]
    assert caught.value.problems[0].reason.startswith("action-wildcard-admin:")


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        pytest.param({"owner_account_id": "owner"}, "owner_account_id", id="account"),
        pytest.param({"region": "Hangzhou"}, "region", id="region"),
    ],
)
def test_owner_access_policy_refuses_bad_input(overrides: dict[str, Any], path: str) -> None:
    arguments: dict[str, Any] = {
        "profile": load_profiles()["slb-readonly"],
        "owner_account_id": OWNER,
        "region": "cn-hangzhou",
        "expires_at": EXPIRES,
        **overrides,
    }
    with pytest.raises(InvalidInputError) as caught:
        owner_access_policy(**arguments)
    assert [p.path for p in caught.value.problems] == [path]


def test_partner_assume_policy_allows_exactly_one_role_until_expiry() -> None:
    policy = partner_assume_policy(role_arn=ROLE, expires_at=EXPIRES)
    assert render(policy)["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": ROLE,
            "Condition": {"DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"}},
        }
    ]
    assert lint(policy, time_bound=True) == []
    attached = [AttachedPolicy(policy)]
    assert evaluate(AuthRequest("sts:AssumeRole", ROLE, context={"acs:CurrentTime": BEFORE}), attached).allowed
    other = f"acs:ram::{OWNER}:role/other"
    assert not evaluate(AuthRequest("sts:AssumeRole", other, context={"acs:CurrentTime": BEFORE}), attached).allowed


@pytest.mark.parametrize(
    ("role_arn", "allow_broad"),
    [
        pytest.param("*", False, id="star"),
        pytest.param(f"acs:ram::{OWNER}:role/*", False, id="wildcard-role"),
        pytest.param(f"acs:ram:*:{OWNER}:role/partner-access", False, id="wildcard-region"),
        pytest.param(f"acs:ram::{OWNER}:user/alice", False, id="user-arn"),
        pytest.param(ROLE, True, id="broad-opt-in-refused"),
    ],
)
def test_partner_assume_policy_refuses_anything_but_one_exact_role(role_arn: str, allow_broad: bool) -> None:
    with pytest.raises(InvalidInputError):
        partner_assume_policy(role_arn=role_arn, expires_at=EXPIRES, allow_broad=allow_broad)


def test_builtin_profiles_load_and_are_lint_clean() -> None:
    profiles = load_profiles()
    slb = profiles["slb-readonly"]
    assert slb.actions == ("slb:Describe*", "slb:List*", "slb:Get*")
    assert slb.resource(region="cn-hangzhou", account_id=OWNER) == f"acs:slb:cn-hangzhou:{OWNER}:*"
    assert slb.description


def write_profiles(tmp_path: Path, profiles: Any) -> Path:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"profiles": profiles}), encoding="utf-8")
    return path


def test_operator_file_adds_profiles(tmp_path: Path) -> None:
    extra = {
        "ecs-disk-readonly": {
            "description": "Read ECS disks",
            "actions": ["ecs:DescribeDisks"],
            "resource_template": "acs:ecs:{region}:{account_id}:disk/*",
        }
    }
    profiles = load_profiles(write_profiles(tmp_path, extra))
    assert set(profiles) == {*load_profiles(), "ecs-disk-readonly"}
    assert profiles["ecs-disk-readonly"].resource(region="cn-beijing", account_id=OWNER) == (
        f"acs:ecs:cn-beijing:{OWNER}:disk/*"
    )
    assert profiles["ecs-disk-readonly"].positive_probe is None  # probes are optional for operator profiles


@pytest.mark.parametrize(
    ("actions", "template", "rule"),
    [
        pytest.param(["ram:Attach*"], "acs:ram::{account_id}:*", "action-privilege-escalation", id="escalation"),
        pytest.param(["*"], "acs:ecs:{region}:{account_id}:*", "action-wildcard-admin", id="admin"),
        pytest.param(["sts:AssumeRole"], "*", "assume-role-any-resource", id="assume-any"),
        pytest.param(["ecs Describe"], "acs:ecs:{region}:{account_id}:*", "service prefix", id="malformed-action"),
    ],
)
def test_profile_that_fails_lint_never_loads(tmp_path: Path, actions: list[str], template: str, rule: str) -> None:
    path = write_profiles(
        tmp_path, {"bad-one": {"description": "d", "actions": actions, "resource_template": template}}
    )
    with pytest.raises(PolicyLintError) as caught:
        load_profiles(path)
    assert "'bad-one'" in caught.value.message
    assert any(rule in p.reason for p in caught.value.problems)


@pytest.mark.parametrize(
    ("content", "path"),
    [
        pytest.param("{not json", "", id="not-json"),
        pytest.param(json.dumps({"other": {}}), "profiles", id="no-profiles"),
        pytest.param(
            json.dumps(
                {
                    "profiles": {
                        "slb-readonly": {
                            "description": "d",
                            "actions": ["slb:Get*"],
                            "resource_template": "acs:slb:{region}:{account_id}:*",
                        }
                    }
                }
            ),
            "profiles.slb-readonly",
            id="redefines-builtin",
        ),
        pytest.param(
            json.dumps({"profiles": {"x": {"description": "", "actions": ["slb:Get*"], "resource_template": "*"}}}),
            "profiles.x.description",
            id="empty-description",
        ),
        pytest.param(
            json.dumps({"profiles": {"x": {"description": "d", "actions": "slb:Get*", "resource_template": "*"}}}),
            "profiles.x.actions",
            id="actions-not-list",
        ),
        pytest.param(
            json.dumps({"profiles": {"x": {"description": "d", "actions": ["a:b"], "resource_template": "{owner}"}}}),
            "profiles.x.resource_template",
            id="unknown-placeholder",
        ),
        pytest.param(
            json.dumps(
                {"profiles": {"x": {"description": "d", "actions": ["a:b"], "resource_template": "*", "extra": 1}}}
            ),
            "profiles.x.extra",
            id="unknown-key",
        ),
        pytest.param(
            json.dumps({"profiles": {"Bad Name": {"description": "d", "actions": ["a:b"], "resource_template": "*"}}}),
            "profiles.Bad Name",
            id="bad-name",
        ),
    ],
)
def test_malformed_profile_file_is_refused(tmp_path: Path, content: str, path: str) -> None:
    file = tmp_path / "profiles.json"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_profiles(file)
    assert path in [p.path for p in caught.value.problems]


def test_missing_profile_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_profiles(tmp_path / "absent.json")
