"""Profile lint refuses what a partner must never get, names the rule, and lets least-privilege profiles load."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ram_delegate.errors import PolicyLintError
from ram_delegate.policy import lint_profile, load_profiles
from ram_delegate.policy.lint import patterns_overlap
from ram_delegate.policy.profiles import profile_findings

SCOPED = "acs:ecs:{region}:{account_id}:instance/*"

REFUSED = [
    pytest.param(["ecs:RunCommand"], SCOPED, "profile-command-execution", id="run-command"),
    pytest.param(["ecs:Invoke*"], SCOPED, "profile-command-execution", id="invoke-wildcard"),
    pytest.param(["ecs:*"], SCOPED, "profile-command-execution", id="ecs-star"),
    pytest.param(
        ["fc:InvokeFunction"], "acs:fc:{region}:{account_id}:functions/f", "profile-command-execution", id="fc-invoke"
    ),
    pytest.param(["kms:Decrypt"], "acs:kms:{region}:{account_id}:key/k-1", "profile-secret-read", id="kms-decrypt"),
    pytest.param(["kms:Get*"], "acs:kms:{region}:{account_id}:secret/s", "profile-secret-read", id="kms-get-secret"),
    pytest.param(
        ["oos:GetSecretParameters"],
        "acs:oos:{region}:{account_id}:secretparameter/p",
        "profile-secret-read",
        id="oos-secret",
    ),
    pytest.param(
        ["fc:UpdateFunction"], "acs:fc:{region}:{account_id}:functions/f", "profile-code-change", id="fc-update"
    ),
    pytest.param(["fc:*"], "acs:fc:{region}:{account_id}:functions/f", "profile-code-change", id="fc-star"),
    pytest.param(["ros:UpdateStack"], "acs:ros:{region}:{account_id}:stack/s", "profile-code-change", id="ros-update"),
    pytest.param(["ram:GetUser"], "acs:ram:{region}:{account_id}:user/u", "profile-ram-sts", id="ram-read"),
    pytest.param(["sts:AssumeRole"], "acs:ram:{region}:{account_id}:role/r", "profile-ram-sts", id="sts"),
    pytest.param(["Ram:List*"], "acs:ram:{region}:{account_id}:*", "profile-ram-sts", id="ram-case"),
    pytest.param(["*:Get*"], SCOPED, "profile-ram-sts", id="any-service-get"),
    pytest.param(
        ["resourcemanager:AttachPolicy"],
        "acs:resourcemanager:{region}:{account_id}:resourcegroup/rg-1",
        "profile-ram-sts",
        id="rm-attach",
    ),
    pytest.param(["oss:GetObject"], "acs:oss:{region}:{account_id}:*", "profile-data-read-any", id="oss-get-any"),
    pytest.param(
        ["oss:Get*"],
        "acs:oss:{region}:{account_id}:bucket/*",
        "profile-data-read-any",
        id="oss-get-wildcard-any-bucket",
    ),
    pytest.param(["log:GetLogs"], "acs:log:{region}:{account_id}:*", "profile-data-read-any", id="sls-logs-any"),
    pytest.param(["slb:Describe*"], "acs:slb:*:{account_id}:*", "profile-template-scope", id="any-region"),
    pytest.param(["slb:Describe*"], "acs:slb:{region}:*:*", "profile-template-scope", id="any-account"),
    pytest.param(["slb:Describe*"], "acs:slb:cn-hangzhou:{account_id}:*", "profile-template-scope", id="fixed-region"),
    pytest.param(["slb:Describe*"], "*", "profile-template-scope", id="star"),
]


@pytest.mark.parametrize(("actions", "template", "rule"), REFUSED)
def test_dangerous_profiles_are_refused_naming_the_rule(
    tmp_path: Path, actions: list[str], template: str, rule: str
) -> None:
    assert rule in {f.rule_id for f in lint_profile(actions, template) if f.severity == "error"}
    path = tmp_path / "profiles.json"
    path.write_text(
        json.dumps({"profiles": {"bad": {"description": "d", "actions": actions, "resource_template": template}}})
    )
    with pytest.raises(PolicyLintError) as caught:
        load_profiles(path)
    assert rule in caught.value.message
    assert any(p.reason.startswith(rule) for p in caught.value.problems)


ACCEPTED = [
    pytest.param(["slb:Describe*", "slb:List*", "slb:Get*"], "acs:slb:{region}:{account_id}:*", id="slb-readonly"),
    pytest.param(
        ["slb:AddBackendServers", "slb:RemoveBackendServers", "slb:SetBackendServers", "slb:DescribeLoadBalancer*"],
        "acs:slb:{region}:{account_id}:loadbalancer/lb-web-*",
        id="slb-operator",
    ),
    pytest.param(["alb:Get*", "alb:List*"], "acs:alb:{region}:{account_id}:*", id="alb-readonly"),
    pytest.param(["nlb:Get*", "nlb:List*"], "acs:nlb:{region}:{account_id}:*", id="nlb-readonly"),
    pytest.param(["ecs:Describe*"], SCOPED, id="ecs-readonly"),
    pytest.param(["oss:GetObject"], "acs:oss:{region}:{account_id}:reports-bucket/*", id="oss-named-bucket"),
]


@pytest.mark.parametrize(("actions", "template"), ACCEPTED)
def test_least_privilege_operator_profiles_pass(actions: list[str], template: str) -> None:
    assert [f for f in lint_profile(actions, template) if f.severity == "error"] == []


def test_bundled_profiles_load_with_no_waiver() -> None:
    profiles = load_profiles()
    assert {"slb-readonly", "slb-operator"} <= set(profiles)
    for profile in profiles.values():
        assert profile_findings(profile) == []


def test_instance_and_companion_templates_are_linted_too(tmp_path: Path) -> None:
    profile = {
        "description": "d",
        "instances": {
            "arn_template": "acs:ecs:{region}:{account_id}:instance/{id}",
            "id_pattern": "i-[a-z0-9]{4,32}",
            "actions": ["ecs:RunCommand"],
        },
        "scoping": {"resource_ids": "require", "resource_group": "accept"},
    }
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"profiles": {"runner": profile}}))
    with pytest.raises(PolicyLintError) as caught:
        load_profiles(path)
    assert any(p.path == "profiles.runner.instances.actions[0]" for p in caught.value.problems)


_ALPHABET = "ab"


def _matches(pattern: str, text: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text) is not None


@settings(max_examples=150, deadline=None)
@given(st.text("ab*?", max_size=4), st.text("ab*?", max_size=4))
def test_patterns_overlap_exactly_when_some_action_matches_both(first: str, second: str) -> None:
    # A common match, when one exists, is no longer than the two patterns together (each star needs at most that).
    bound = len(first) + len(second)
    witness = any(
        _matches(first, text) and _matches(second, text)
        for size in range(bound + 1)
        for text in map("".join, itertools.product(_ALPHABET, repeat=size))
    )
    assert patterns_overlap(first, second) is witness
