"""partner-onboard trusts only what it should: allowed owners, their rd-* roles, their own secrets, its own users."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ram20150501 import models

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID
from ram_delegate import app, partner
from ram_delegate.errors import ConfigurationError, GuardrailError, InvalidInputError, SignatureError
from ram_delegate.events import GrantedEvent, parse_event
from ram_delegate.partner_trust import check_signer, signing_owner
from ram_delegate.settings import Settings
from ram_delegate.webhook import sign

EVENTS = Path(__file__).resolve().parent.parent / "events"
OTHER_OWNER = "3333333333333333"
SECRET_A = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
SECRET_C = "whsec_" + "Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M="


def granted(now: datetime, **data: Any) -> GrantedEvent:
    raw = json.loads((EVENTS / "granted.json").read_text())
    raw["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw["data"]["expires_at"] = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw["data"].update(data)
    event = parse_event(raw)
    assert isinstance(event, GrantedEvent)
    return event


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param(
            {"owner_account_id": OTHER_OWNER, "role_arn": f"acs:ram::{OTHER_OWNER}:role/rd-ops-1234"},
            "data.owner_account_id",
            id="owner-not-allowed",
        ),
        pytest.param({"role_arn": f"acs:ram::{ENTERPRISE_A_UID}:role/admin"}, "data.role_arn", id="not-an-rd-role"),
        pytest.param(
            {"role_arn": f"acs:ram::{OTHER_OWNER}:role/rd-ops-1234"}, "data.role_arn", id="rd-role-of-another-account"
        ),
    ],
)
def test_a_grant_outside_the_allow_list_or_for_a_foreign_role_is_refused_and_changes_nothing(
    partner_deps: Any, writes: Any, now: datetime, changes: dict[str, str], path: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        partner.handle_granted(granted(now, **changes), partner_deps, now=now)
    assert path in {p.path for p in refused.value.problems}
    assert writes() == {}


def test_without_an_allow_list_every_grant_is_refused(make_partner_deps: Any, writes: Any, now: datetime) -> None:
    deps = make_partner_deps(allowed_owners=())
    with pytest.raises(ConfigurationError):
        partner.handle_granted(granted(now), deps, now=now)
    assert writes() == {}


def test_an_existing_user_is_adopted_only_when_allowed_and_never_deleted(
    make_partner_deps: Any, partner_root: Any, now: datetime
) -> None:
    partner_root.create_user(models.CreateUserRequest(user_name="alice"))
    with pytest.raises(GuardrailError):
        partner.handle_granted(granted(now), make_partner_deps(), now=now)
    assert (
        partner_root.list_policies_for_user(models.ListPoliciesForUserRequest(user_name="alice")).body.policies.policy
        == []
    )
    adopting = make_partner_deps(adopt_existing_users=True)
    assert partner.handle_granted(granted(now), adopting, now=now).status == "applied"
    report = partner.sweep_partner(adopting, now=now + timedelta(days=8))
    assert "DeleteUser" not in {s.action for s in report.steps}
    assert partner_root.get_user(models.GetUserRequest(user_name="alice")).body.user.user_name == "alice"


def _settings(**values: Any) -> Settings:
    return Settings(side="partner", account_id=ENTERPRISE_B_UID, **values)


def test_each_owner_signs_with_its_own_secret(now: datetime) -> None:
    settings = _settings(owner_secrets=((ENTERPRISE_A_UID, SECRET_A), (OTHER_OWNER, SECRET_C)))
    body = b'{"any": "body"}'
    headers = sign(SECRET_C, "msg-1", int(now.timestamp()), body)
    assert signing_owner(headers, body, settings, now=now) == ("msg-1", OTHER_OWNER)
    event = granted(now)  # owner A's role
    with pytest.raises(SignatureError):
        check_signer(event, settings, OTHER_OWNER)  # C's secret cannot ask for A's roles
    check_signer(event, settings, ENTERPRISE_A_UID)
    with pytest.raises(SignatureError):
        check_signer(event, settings, None)  # a shared secret with two owners
    with pytest.raises(SignatureError):
        signing_owner(
            sign("whsec_" + "WFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFg=", "m", 1, body), body, settings, now=now
        )


def test_a_foreign_owner_secret_is_a_401_at_the_partner_edge(
    make_partner_deps: Any, writes: Any, now: datetime
) -> None:
    deps = make_partner_deps(owner_secrets=((ENTERPRISE_A_UID, SECRET_A), (OTHER_OWNER, SECRET_C)))
    raw = json.loads((EVENTS / "granted.json").read_text())
    raw["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw["data"]["expires_at"] = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = json.dumps(raw).encode()
    trigger = json.loads((EVENTS / "edge-http-trigger.json").read_text())
    trigger["headers"] = {**trigger["headers"], **sign(SECRET_C, "msg-1", int(now.timestamp()), body)}
    trigger["body"] = body.decode()
    trigger["isBase64Encoded"] = False
    trigger["requestContext"]["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    trigger["requestContext"]["timeEpoch"] = str(int(now.timestamp() * 1000))
    answer = app.partner_onboard(json.dumps(trigger).encode(), None, deps=deps)
    assert answer["statusCode"] == 401
    assert writes() == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param(
            {"webhook_secrets": (SECRET_A,), "partner_secret": SECRET_A}, "its own secret", id="forwarding-is-ticketing"
        ),
        pytest.param(
            {"owner_secrets": ((ENTERPRISE_A_UID, SECRET_A), (OTHER_OWNER, SECRET_A))},
            "one secret per owner",
            id="shared",
        ),
    ],
)
def test_settings_refuse_shared_secrets(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({}, **values)
    assert any(message in p.reason for p in refused.value.problems)


def test_owner_secrets_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"RAM_DELEGATE_OWNER_SECRETS": f"{ENTERPRISE_A_UID}={SECRET_A} {OTHER_OWNER}={SECRET_C}"}
    )
    assert settings.owner_secrets == ((ENTERPRISE_A_UID, SECRET_A), (OTHER_OWNER, SECRET_C))
    assert SECRET_A not in repr(settings)
