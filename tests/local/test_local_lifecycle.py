"""The repository's template.yml on the local stack: a signed approval through the HTTP trigger creates both
sides' resources, InvokeFunction works with the official FC client, and moving the clock expires the grant."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import local_support
import pytest
from local_support import OWNER_ONBOARD, iso, post, send_signed

from aliyun_emulator.testing import ram_client
from ram_delegate.bootstrap import DEFAULT_VERIFIER_ROLE, OWNER_FUNCTION_ROLE, PARTNER_FUNCTION_ROLE
from ram_delegate.local.stack import LOCAL_FC_POLICY, LOCAL_FC_USER, LocalStack

REPO = Path(__file__).resolve().parents[2]
OWNER_EXPIRE = "ram-delegate-owner-expire"
PARTNER_USER = "alice"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One stack for the tests that leave no grant behind."""
    with LocalStack(template=REPO / "template.yml", env={}) as running:
        yield running


@pytest.fixture
def fresh_stack() -> Iterator[LocalStack]:
    with LocalStack(template=REPO / "template.yml", env={}) as running:
        yield running


def approved_event(stack: LocalStack, ticket: str, *, valid_for: timedelta) -> bytes:
    return local_support.approved_event(
        stack, ticket, expires_at=stack.emulator.clock.now() + valid_for, user=PARTNER_USER
    )


def managed_roles(stack: LocalStack) -> list[Any]:
    ram = ram_client(stack.cloud_endpoint, stack.owner.access_key_id, stack.owner.access_key_secret)
    roles = ram.list_roles(_models().ListRolesRequest(max_items=1000)).body.roles.role
    return [role for role in roles if role.role_name.startswith("rd-")]


def partner_user_policies(stack: LocalStack) -> list[str] | None:
    """The custom policies attached to the partner user, or None when the user does not exist."""
    from alibabacloud_tea_openapi.exceptions import ClientException

    ram = ram_client(stack.cloud_endpoint, stack.partner.access_key_id, stack.partner.access_key_secret)
    try:
        attached = ram.list_policies_for_user(_models().ListPoliciesForUserRequest(user_name=PARTNER_USER))
    except ClientException as error:
        if error.code == "EntityNotExist.User":
            return None
        raise
    return [p.policy_name for p in attached.body.policies.policy if p.policy_type == "Custom"]


def _models() -> Any:
    from alibabacloud_ram20150501 import models

    return models


def test_a_signed_approval_creates_both_sides_and_the_clock_expires_it(fresh_stack: LocalStack) -> None:
    stack = fresh_stack
    body = approved_event(stack, "OPS-4242", valid_for=timedelta(days=1))
    status, answer = send_signed(stack, body, stack.webhook_secret)
    assert status == 200, answer

    roles = managed_roles(stack)
    assert len(roles) == 1
    trust = json.loads(
        ram_client(stack.cloud_endpoint, stack.owner.access_key_id, stack.owner.access_key_secret)
        .get_role(_models().GetRoleRequest(role_name=roles[0].role_name))
        .body.role.assume_role_policy_document
    )
    assert f"acs:ram::{stack.partner.uid}:user/{PARTNER_USER}" in json.dumps(trust)
    partner_policies = partner_user_policies(stack)  # forwarded partner.access.granted reached partner-onboard
    assert partner_policies is not None
    assert len(partner_policies) == 1

    before = len(stack.timer_runs)
    request = urllib.request.Request(
        stack.emulator.url + "/_emulator/clock",
        data=json.dumps({"advance_seconds": 2 * 86400}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
    fired = {run.function: run for run in stack.timer_runs[before:]}
    assert set(fired) >= {OWNER_EXPIRE, "ram-delegate-partner-expire", "ram-delegate-partner-verify"}
    assert all(run.ok for run in fired.values()), [run.error for run in fired.values()]
    assert fired[OWNER_EXPIRE].result["revoked"] == ["OPS-4242"]

    assert managed_roles(stack) == []
    assert partner_user_policies(stack) is None  # the sweep removed the assume policy and the user it created


def test_a_bad_signature_is_refused_and_changes_nothing(stack: LocalStack) -> None:
    body = approved_event(stack, "OPS-4243", valid_for=timedelta(days=1))
    status, answer = send_signed(stack, body, "whsec_" + "A" * 44)
    assert status == 401
    assert "signature" in answer["message"]
    mangled = {"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,bm9wZQ=="}
    assert post(stack.function_url(OWNER_ONBOARD), body, mangled)[0] == 401
    assert managed_roles(stack) == []
    assert partner_user_policies(stack) is None


def fc_client(stack: LocalStack, access_key_id: str, access_key_secret: str) -> Any:
    from alibabacloud_fc20230330.client import Client
    from alibabacloud_tea_openapi.models import Config

    return Client(
        Config(
            endpoint=f"127.0.0.1:{stack.port}",
            protocol="http",
            region_id="cn-hangzhou",
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            no_proxy="127.0.0.1",
        )
    )


def timer_event(stack: LocalStack) -> bytes:
    now = iso(stack.emulator.clock.now())
    return json.dumps({"triggerTime": now, "triggerName": "manual", "payload": ""}).encode()


def test_invoke_function_through_the_official_fc_client(stack: LocalStack) -> None:
    from alibabacloud_fc20230330.models import InvokeFunctionRequest

    client = fc_client(stack, stack.owner.access_key_id, stack.owner.access_key_secret)
    response = client.invoke_function(OWNER_EXPIRE, InvokeFunctionRequest(body=timer_event(stack)))
    assert response.status_code == 200
    assert response.headers["x-fc-request-id"]
    report = json.loads(response.body.read())
    assert report["examined"] == 0
    assert report["revoked"] == []


@pytest.mark.parametrize(
    ("who", "function", "code"),
    [
        ("partner", OWNER_EXPIRE, "AccessDenied"),  # another account's function
        ("wrong-secret", OWNER_EXPIRE, "SignatureDoesNotMatch"),
        ("unknown-key", OWNER_EXPIRE, "InvalidAccessKeyId.NotFound"),
        ("owner", "no-such-function", "FunctionNotFound"),
    ],
)
def test_invoke_function_refusals(stack: LocalStack, who: str, function: str, code: str) -> None:
    from alibabacloud_fc20230330.models import InvokeFunctionRequest
    from alibabacloud_tea_openapi.exceptions import ClientException

    keys = {
        "owner": (stack.owner.access_key_id, stack.owner.access_key_secret),
        "partner": (stack.partner.access_key_id, stack.partner.access_key_secret),
        "wrong-secret": (stack.owner.access_key_id, "not-the-secret"),
        "unknown-key": ("AKNOBODY000000000001", "whatever"),
    }
    client = fc_client(stack, *keys[who])
    with pytest.raises(ClientException) as refused:
        client.invoke_function(function, InvokeFunctionRequest(body=timer_event(stack)))
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("side", "function_roles"),
    [("owner", [OWNER_FUNCTION_ROLE]), ("partner", [PARTNER_FUNCTION_ROLE, DEFAULT_VERIFIER_ROLE])],
)
def test_the_fc_stand_in_may_assume_exactly_its_accounts_function_roles(
    stack: LocalStack, side: str, function_roles: list[str]
) -> None:
    account = stack.owner if side == "owner" else stack.partner
    ram = ram_client(stack.cloud_endpoint, account.access_key_id, account.access_key_secret)
    stand_in = f"acs:ram::{account.uid}:user/{LOCAL_FC_USER}"
    for role_name in function_roles:
        role = ram.get_role(_models().GetRoleRequest(role_name=role_name)).body.role
        principals = [statement["Principal"] for statement in json.loads(role.assume_role_policy_document)["Statement"]]
        assert principals == [{"Service": ["fc.aliyuncs.com"]}, {"RAM": [stand_in]}]
    attached = ram.list_policies_for_user(_models().ListPoliciesForUserRequest(user_name=LOCAL_FC_USER))
    assert [(p.policy_name, p.policy_type) for p in attached.body.policies.policy] == [(LOCAL_FC_POLICY, "Custom")]
    policy = ram.get_policy(_models().GetPolicyRequest(policy_name=LOCAL_FC_POLICY, policy_type="Custom"))
    [statement] = json.loads(policy.body.default_policy_version.policy_document)["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == [f"acs:ram::{account.uid}:role/{name}" for name in function_roles]
