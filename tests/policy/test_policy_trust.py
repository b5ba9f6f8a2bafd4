"""AssumeRole trust evaluation: who the principal admits, ExternalId and expiry conditions, root refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ram_delegate.policy import Caller, ContextValue, evaluate_trust, parse_policy

OWNER, PARTNER, STRANGER = "1111111111111111", "2222222222222222", "3333333333333333"
EXPIRY = datetime(2026, 1, 1, tzinfo=timezone.utc)
BEFORE = EXPIRY - timedelta(seconds=1)


def trust(principal: Any, condition: dict[str, Any] | None = None, effect: str = "Allow") -> Any:
    statement: dict[str, Any] = {"Effect": effect, "Action": "sts:AssumeRole", "Principal": principal}
    if condition:
        statement["Condition"] = condition
    return parse_policy({"Version": "1", "Statement": [statement]}, "trust")


ALICE = Caller("user", PARTNER, "alice")
BOB = Caller("user", PARTNER, "bob")
VERIFIER = Caller("role_session", PARTNER, "verifier")
STRANGER_ALICE = Caller("user", STRANGER, "alice")


@pytest.mark.parametrize(
    ("principal", "caller", "allowed"),
    [
        pytest.param({"RAM": f"acs:ram::{PARTNER}:root"}, ALICE, True, id="root-admits-user"),
        pytest.param({"RAM": [f"acs:ram::{PARTNER}:root"]}, VERIFIER, True, id="root-admits-role-session"),
        pytest.param({"RAM": f"acs:ram::{PARTNER}:root"}, STRANGER_ALICE, False, id="root-other-account"),
        pytest.param({"RAM": f"acs:ram::{PARTNER}:user/alice"}, ALICE, True, id="user-admits-that-user"),
        pytest.param({"RAM": f"acs:ram::{PARTNER}:user/alice"}, BOB, False, id="user-refuses-other-user"),
        pytest.param({"RAM": f"acs:ram::{PARTNER}:user/alice"}, STRANGER_ALICE, False, id="user-other-account"),
        pytest.param({"RAM": f"acs:ram::{PARTNER}:user/verifier"}, VERIFIER, False, id="user-arn-not-role"),
        pytest.param({"RAM": f"acs:ram::{PARTNER}:role/verifier"}, VERIFIER, True, id="role-admits-session"),
        pytest.param(
            {"RAM": f"acs:ram::{PARTNER}:role/verifier"},
            Caller("user", PARTNER, "verifier"),
            False,
            id="role-arn-not-user",
        ),
        pytest.param({"RAM": "*"}, STRANGER_ALICE, True, id="ram-star"),
        pytest.param("*", STRANGER_ALICE, True, id="principal-star"),
        pytest.param({"Service": "ecs.aliyuncs.com"}, ALICE, False, id="service-principal"),
        pytest.param({"Federated": f"acs:ram::{PARTNER}:saml-provider/idp"}, ALICE, False, id="federated-principal"),
    ],
)
def test_principal_admits(principal: Any, caller: Caller, allowed: bool) -> None:
    decision = evaluate_trust(trust(principal), caller)
    assert decision.allowed is allowed
    assert decision.source == "trust"
    assert decision.statement_index == (0 if allowed else None)


@pytest.mark.parametrize(
    "principal",
    [{"RAM": f"acs:ram::{PARTNER}:root"}, {"RAM": "*"}, "*", {"RAM": f"acs:ram::{OWNER}:root"}],
)
def test_account_root_may_never_assume(principal: Any) -> None:
    decision = evaluate_trust(trust(principal), Caller("root", PARTNER))
    assert decision.effect == "ImplicitDeny"
    assert "root" in decision.reason


CONDITIONS = {"StringEquals": {"sts:ExternalId": "ext-42"}, "DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"}}


@pytest.mark.parametrize(
    ("context", "allowed"),
    [
        pytest.param({"sts:ExternalId": "ext-42", "acs:CurrentTime": BEFORE}, True, id="external-id-present"),
        pytest.param({"acs:CurrentTime": BEFORE}, False, id="external-id-missing"),
        pytest.param({"sts:ExternalId": "ext-43", "acs:CurrentTime": BEFORE}, False, id="external-id-wrong"),
        pytest.param({"sts:ExternalId": "EXT-42", "acs:CurrentTime": BEFORE}, False, id="external-id-case"),
        pytest.param({"STS:EXTERNALID": "ext-42", "acs:currenttime": BEFORE}, True, id="keys-any-case"),
        pytest.param({"sts:ExternalId": "ext-42", "acs:CurrentTime": EXPIRY}, False, id="expired"),
        pytest.param({"sts:ExternalId": "ext-42"}, False, id="time-missing"),
    ],
)
def test_trust_conditions(context: dict[str, ContextValue], allowed: bool) -> None:
    policy = trust({"RAM": f"acs:ram::{PARTNER}:user/alice"}, CONDITIONS)
    assert evaluate_trust(policy, ALICE, context).allowed is allowed


def test_deny_statement_in_trust_wins() -> None:
    policy = parse_policy(
        {
            "Version": "1",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": f"acs:ram::{PARTNER}:root"}},
                {"Effect": "Deny", "Action": "sts:AssumeRole", "Principal": {"RAM": f"acs:ram::{PARTNER}:user/bob"}},
            ],
        },
        "trust",
    )
    assert evaluate_trust(policy, ALICE).allowed
    denied = evaluate_trust(policy, BOB)
    assert (denied.effect, denied.statement_index) == ("ExplicitDeny", 1)


def test_trust_statement_for_another_sts_action_does_not_admit() -> None:
    policy = parse_policy(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithSAML",
                    "Principal": {"RAM": f"acs:ram::{PARTNER}:root"},
                }
            ],
        },
        "trust",
    )
    assert not evaluate_trust(policy, ALICE).allowed


@pytest.mark.parametrize(
    ("caller", "arn"),
    [
        (Caller("root", PARTNER), f"acs:ram::{PARTNER}:root"),
        (ALICE, f"acs:ram::{PARTNER}:user/alice"),
        (VERIFIER, f"acs:ram::{PARTNER}:role/verifier"),
    ],
)
def test_caller_arn(caller: Caller, arn: str) -> None:
    assert caller.arn == arn
