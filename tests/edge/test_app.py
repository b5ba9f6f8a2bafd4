"""The HTTP and timer entry points end to end: signed FC trigger events in, FC answers out, the emulator behind.

The owner's notifier delivers ``partner.access.granted`` by signing it and calling the partner's HTTP entry point
with an FC trigger event, so one approval crosses both functions the way it does in the cloud.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from edge_support import (
    COLD_START_ENV,
    EXTERNAL_IDS,
    FC_CONTEXT,
    OWNER_KEY,
    OWNER_SECRET,
    PARTNER_SECRET,
    ROLE,
    SIGNATURES,
    TICKET,
    ExplodingNotifier,
    LoopbackNotifier,
    approval,
    body_of,
    cloud_calls,
    fc_http_event,
    load,
    make_deps,
    partner_user_exists,
    revocation,
    role_exists,
    signed_event,
    timer_event,
    write_calls,
)

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, ram_client
from ram_delegate import app
from ram_delegate.audit import AUDIT_LOGGER
from ram_delegate.deps import Deps
from ram_delegate.handlers import owner_onboard as owner_onboard_handler
from ram_delegate.webhook import generate_secret, sign

# --- 200: applied, duplicate, redelivery, revoke -----------------------------------------------------------------


def test_approval_grants_in_both_accounts_and_audits_every_change(
    aliyun_emulator: Any, owner_deps: Deps, notifier: LoopbackNotifier, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    response = app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=owner_deps)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert body_of(response)["status"] == "applied"
    assert body_of(response)["ticket"] == TICKET
    assert role_exists(aliyun_emulator)
    assert [r["statusCode"] for r in notifier.responses] == [200]
    assert body_of(notifier.responses[0])["status"] == "applied"
    assert partner_user_exists(aliyun_emulator)
    [external_id] = EXTERNAL_IDS
    assert external_id not in response["body"]  # the ticketing system has no use for it
    assert external_id not in notifier.responses[0]["body"]
    audit = [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT_LOGGER]
    assert {"CreateRole", "CreatePolicy"} <= {line["action"] for line in audit}
    assert all(line["request_id"] and line["ticket"] == TICKET for line in audit)


def test_base64_bodies_are_verified_on_the_decoded_bytes(aliyun_emulator: Any, owner_deps: Deps, now: datetime) -> None:
    event = signed_event(approval(now), OWNER_SECRET, now, base64_body=True)
    assert app.owner_onboard(event, None, deps=owner_deps)["statusCode"] == 200
    assert role_exists(aliyun_emulator)


def test_duplicate_and_redelivered_approvals_answer_200_and_write_nothing(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime
) -> None:
    body = approval(now)
    delivery = signed_event(body, OWNER_SECRET, now)
    assert body_of(app.owner_onboard(delivery, None, deps=owner_deps))["status"] == "applied"
    writes = write_calls(aliyun_emulator)
    replay = app.owner_onboard(delivery, None, deps=owner_deps)
    later = now + timedelta(days=3)  # Standard Webhooks' retry horizon is 75 h
    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time
    aliyun_emulator.clock.set(later)
    redelivery = app.owner_onboard(signed_event(body, OWNER_SECRET, later), None, deps=owner_deps)
    assert [replay["statusCode"], redelivery["statusCode"]] == [200, 200]
    assert {body_of(replay)["status"], body_of(redelivery)["status"]} <= {"duplicate", "unchanged"}
    assert write_calls(aliyun_emulator) == writes


def test_revocation_removes_the_role_and_the_partner_acknowledges(
    aliyun_emulator: Any, owner_deps: Deps, notifier: LoopbackNotifier, now: datetime
) -> None:
    app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=owner_deps)
    later = now + timedelta(minutes=5)
    response = app.owner_onboard(signed_event(revocation(later), OWNER_SECRET, later, "evt-rev"), None, deps=owner_deps)
    assert response["statusCode"] == 200
    assert body_of(response)["status"] == "applied"
    assert not role_exists(aliyun_emulator)
    assert [r["statusCode"] for r in notifier.responses] == [200, 200]
    assert body_of(notifier.responses[1])["status"] == "applied"  # the partner records the revocation
    again = app.owner_onboard(signed_event(revocation(later), OWNER_SECRET, later, "evt-rev"), None, deps=owner_deps)
    assert again["statusCode"] == 200


# --- 400 -----------------------------------------------------------------------------------------------------------


def _invalid_bodies(now: datetime) -> dict[str, bytes]:
    granted_to_owner = load("edge-approved.json") | {"type": "partner.access.granted"}
    return {
        "self-approval": approval(now, approved_by="dave@enterprise-b.example"),
        "short-account": approval(now, partner={"name": "B", "account_id": "12345", "user": "dave"}),
        "own-account": approval(now, partner={"name": "A", "account_id": ENTERPRISE_A_UID, "user": "dave"}),
        "user-with-at": approval(now, partner={"name": "B", "account_id": ENTERPRISE_B_UID, "user": "dave@b"}),
        "non-numeric-account": approval(now, partner={"name": "B", "account_id": "22222222222222x2", "user": "dave"}),
        "user-65-chars": approval(now, partner={"name": "B", "account_id": ENTERPRISE_B_UID, "user": "d" * 65}),
        "user-non-ascii": approval(now, partner={"name": "B", "account_id": ENTERPRISE_B_UID, "user": "dävé"}),
        "bad-region": approval(now, access={"profile": "slb-readonly", "region": "Hangzhou"}),
        "unknown-field": approval(now, expire_at="2030-01-01T00:00:00Z"),
        "unknown-profile": approval(now, access={"profile": "admin", "region": "cn-hangzhou"}),
        "expiry-past": approval(now, days=-1),
        "expiry-too-far": approval(now, days=400),
        "wrong-type": json.dumps(granted_to_owner).encode(),
        "not-json": b"{not json",
        "deeply-nested": b"[" * 30_000 + b"]" * 30_000,
    }


@pytest.mark.parametrize(
    "case",
    ["self-approval", "short-account", "own-account", "user-with-at", "non-numeric-account", "user-65-chars",
     "user-non-ascii", "bad-region", "unknown-field", "unknown-profile",
     "expiry-past", "expiry-too-far", "wrong-type", "not-json", "deeply-nested"],
)  # fmt: skip
def test_invalid_events_are_400_with_problems_and_no_cloud_call(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime, case: str
) -> None:
    before = cloud_calls(aliyun_emulator)
    response = app.owner_onboard(signed_event(_invalid_bodies(now)[case], OWNER_SECRET, now), None, deps=owner_deps)
    assert response["statusCode"] == 400
    assert body_of(response)["problems"]
    assert cloud_calls(aliyun_emulator) == before


def test_partner_endpoint_refuses_approvals(partner_deps: Deps, now: datetime) -> None:
    response = app.partner_onboard(signed_event(approval(now), PARTNER_SECRET, now), None, deps=partner_deps)
    assert response["statusCode"] == 400
    assert body_of(response)["problems"][0]["path"] == "type"


def test_other_methods_are_refused(owner_deps: Deps, now: datetime) -> None:
    event = json.loads(signed_event(approval(now), OWNER_SECRET, now))
    event["requestContext"]["http"]["method"] = "GET"
    response = app.owner_onboard(json.dumps(event).encode(), None, deps=owner_deps)
    assert response["statusCode"] == 405


# --- 401 and 413 ---------------------------------------------------------------------------------------------------


def _unauthenticated(now: datetime) -> dict[str, bytes]:
    body = approval(now)
    good = sign(OWNER_SECRET, "evt-edge", int(now.timestamp()), body)
    SIGNATURES.append(good["webhook-signature"].split(",", 1)[1])
    return {
        "wrong-secret": signed_event(body, generate_secret(), now),
        "tampered-body": fc_http_event(body.replace(b"dave", b"mall"), good, now),
        "no-headers": fc_http_event(body, {}, now),
        "stale": signed_event(body, OWNER_SECRET, now, signed_at=now - timedelta(seconds=301)),
        "future": signed_event(body, OWNER_SECRET, now, signed_at=now + timedelta(seconds=301)),
        "mangled": fc_http_event(body, {**good, "webhook-signature": "v1,a,b v1 ===="}, now),
        "timestamp-text": fc_http_event(body, {**good, "webhook-timestamp": "hello"}, now),
    }


@pytest.mark.parametrize(
    "case", ["wrong-secret", "tampered-body", "no-headers", "stale", "future", "mangled", "timestamp-text"]
)
def test_signature_problems_are_401_with_a_generic_message(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime, case: str
) -> None:
    owner_deps.clock = lambda: now  # the platform's clock at the instant of the delivery, for exact skew bounds
    before = cloud_calls(aliyun_emulator)
    response = app.owner_onboard(_unauthenticated(now)[case], None, deps=owner_deps)
    assert response["statusCode"] == 401
    assert body_of(response) == {"code": "InvalidSignature", "message": app.GENERIC_SIGNATURE_MESSAGE}
    assert cloud_calls(aliyun_emulator) == before


def test_tolerance_follows_the_injected_platform_clock(owner_deps: Deps, partner_deps: Deps, now: datetime) -> None:
    past = now - timedelta(days=30)  # the platform's clock, far from the host's (the local host injects the emulator's)
    owner_deps.clock = partner_deps.clock = lambda: past
    response = app.owner_onboard(signed_event(approval(past), OWNER_SECRET, past), None, deps=owner_deps)
    assert response["statusCode"] == 200


def test_oversized_body_is_413_before_any_signature_check(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime
) -> None:
    before = cloud_calls(aliyun_emulator)
    huge = b'{"pad": "' + b"x" * (64 * 1024) + b'"}'
    for event in (fc_http_event(huge, {}, now), signed_event(huge, OWNER_SECRET, now, base64_body=True)):
        response = app.owner_onboard(event, None, deps=owner_deps)
        assert response["statusCode"] == 413
        assert body_of(response)["code"] == "PayloadTooLarge"
    assert cloud_calls(aliyun_emulator) == before


# --- 422, 503, 500 -------------------------------------------------------------------------------------------------


def test_a_foreign_role_with_the_grants_name_is_a_422(aliyun_emulator: Any, owner_deps: Deps, now: datetime) -> None:
    from alibabacloud_ram20150501 import models

    trust = json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["ecs.aliyuncs.com"]}}]})  # fmt: skip
    client = ram_client(aliyun_emulator, OWNER_KEY.access_key_id, OWNER_KEY.access_key_secret)
    client.create_role(models.CreateRoleRequest(role_name=ROLE, assume_role_policy_document=trust))
    response = app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=owner_deps)
    assert response["statusCode"] == 422
    assert body_of(response)["code"] == "GuardrailRefused"


def test_cloud_unavailable_is_503_with_retry_after_and_the_retry_converges(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime
) -> None:
    aliyun_emulator.faults.add_error("CreateRole", "ServiceUnavailable", 503, count=owner_deps.cloud.retry.attempts)
    delivery = signed_event(approval(now), OWNER_SECRET, now)
    response = app.owner_onboard(delivery, None, deps=owner_deps)
    assert response["statusCode"] == 503
    assert int(response["headers"]["retry-after"]) >= 1
    assert body_of(response)["code"] == "CloudUnavailable"
    retried = app.owner_onboard(delivery, None, deps=owner_deps)
    assert (retried["statusCode"], body_of(retried)["status"]) == (200, "applied")
    assert role_exists(aliyun_emulator)


def test_unexpected_errors_are_500_with_a_generic_message_and_nothing_secret(
    aliyun_emulator: Any, partner_deps: Deps, now: datetime
) -> None:
    deps = make_deps(aliyun_emulator, "owner", ExplodingNotifier(partner_deps))
    response = app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=deps)
    assert response["statusCode"] == 500
    assert body_of(response) == {"code": "InternalError", "message": app.GENERIC_ERROR_MESSAGE}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"RAM_DELEGATE_WEBHOOK_SECRET": ""}, "no webhook secret"),
        ({"RAM_DELEGATE_WEBHOOK_SECRET": "whsec_tooshort"}, "RAM_DELEGATE_WEBHOOK_SECRET[0]"),
        ({"DEBUG": "sdk"}, "DEBUG=sdk"),
    ],
    ids=["empty-secret", "bad-secret", "debug-sdk"],
)
def test_cold_start_refuses_a_misconfigured_endpoint(
    monkeypatch: pytest.MonkeyPatch, aliyun_emulator: Any, now: datetime, changes: dict[str, str], problem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setattr(owner_onboard_handler.SLOT, "instance", None)
    for name, value in {**COLD_START_ENV, "RAM_DELEGATE_ENDPOINT": aliyun_emulator.endpoint, **changes}.items():
        monkeypatch.setenv(name, value)
    context = FC_CONTEXT
    response = app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), context)
    assert response["statusCode"] == 500
    assert body_of(response) == {"code": "ConfigurationError", "message": "the function is misconfigured"}
    assert problem in caplog.text


def test_cold_start_builds_deps_once_from_env_and_context(
    monkeypatch: pytest.MonkeyPatch, aliyun_emulator: Any, now: datetime
) -> None:
    monkeypatch.setattr(owner_onboard_handler.SLOT, "instance", None)
    for name, value in {**COLD_START_ENV, "RAM_DELEGATE_ENDPOINT": aliyun_emulator.endpoint}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    context = FC_CONTEXT
    revoke_nothing = app.owner_onboard(signed_event(revocation(now), OWNER_SECRET, now), context)
    assert revoke_nothing["statusCode"] == 200
    instance = owner_onboard_handler.SLOT.get()
    cached = instance.deps(context)
    assert app.owner_onboard(signed_event(revocation(now), OWNER_SECRET, now), context)["statusCode"] == 200
    assert instance.deps(context) is cached
    assert cached.settings.side == "owner"
    assert instance.client_builds == 1
    renewed = SimpleNamespace(
        credentials=SimpleNamespace(
            access_key_id=OWNER_KEY.access_key_id, access_key_secret="secret-a", security_token="t2"
        )
    )
    rebuilt = instance.deps(renewed)
    assert rebuilt.settings is cached.settings
    assert rebuilt.cloud is not cached.cloud
    assert rebuilt.cloud.credentials.security_token == "t2"


# --- timers --------------------------------------------------------------------------------------------------------


def test_timers_sweep_both_sides_and_verify_after_expiry(
    aliyun_emulator: Any, owner_deps: Deps, partner_deps: Deps, now: datetime
) -> None:
    app.owner_onboard(signed_event(approval(now, days=1), OWNER_SECRET, now), None, deps=owner_deps)
    assert partner_user_exists(aliyun_emulator)
    later = now + timedelta(days=1, minutes=5)
    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time
    aliyun_emulator.clock.set(later)
    owner_report = app.owner_expire(timer_event(later), None, deps=owner_deps)
    assert owner_report["revoked"] == [TICKET]
    assert not role_exists(aliyun_emulator)
    verification = app.partner_verify(timer_event(later), None, deps=partner_deps)
    assert verification["unexpected_allow"] == 0
    partner_report = app.partner_expire(timer_event(later), None, deps=partner_deps)
    assert partner_report["expired"] >= 1
    assert not partner_user_exists(aliyun_emulator)
    assert app.owner_expire(b"", None, deps=owner_deps)["revoked"] == []


def test_timer_errors_propagate_for_fcs_retry(aliyun_emulator: Any, owner_deps: Deps, now: datetime) -> None:
    aliyun_emulator.faults.add_error("ListRoles", "ServiceUnavailable", 503, count=owner_deps.cloud.retry.attempts)
    with pytest.raises(Exception, match="ListRoles"):
        app.owner_expire(timer_event(now), None, deps=owner_deps)


def test_a_partner_not_on_the_allow_list_is_400_before_any_cloud_call(
    aliyun_emulator: Any, notifier: LoopbackNotifier, now: datetime
) -> None:
    deps = make_deps(aliyun_emulator, "owner", notifier, allowed_partners=("3333333333333333",))
    response = app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=deps)
    assert response["statusCode"] == 400
    assert [p["path"] for p in body_of(response)["problems"]] == ["data.partner.account_id"]
    assert cloud_calls(aliyun_emulator) == 0


HUB_SECRET = "It's a Secret to Everybody"


def hub_signed(body: bytes, now: datetime, delivery: str) -> bytes:
    import hashlib
    import hmac

    digest = hmac.new(HUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    SIGNATURES.append(digest)
    return fc_http_event(body, {"x-hub-signature-256": f"sha256={digest}", "x-github-delivery": delivery}, now)


def test_a_hub_signed_replay_with_a_new_delivery_header_is_deduplicated_on_the_signed_body(
    aliyun_emulator: Any, notifier: LoopbackNotifier, now: datetime
) -> None:
    """Catalog 8: the delivery header is not signed; the event in the signed body decides what is a duplicate."""
    deps = make_deps(aliyun_emulator, "owner", notifier, hub_secrets=(HUB_SECRET,))
    body = approval(now)
    first = app.owner_onboard(hub_signed(body, now, "delivery-1"), None, deps=deps)
    assert (first["statusCode"], body_of(first)["status"]) == (200, "applied")
    writes = write_calls(aliyun_emulator)
    later = now + timedelta(days=3)
    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time
    aliyun_emulator.clock.set(later)
    replay = app.owner_onboard(hub_signed(body, later, "delivery-2"), None, deps=deps)
    assert (replay["statusCode"], body_of(replay)["status"]) == (200, "duplicate")
    assert write_calls(aliyun_emulator) == writes
    forged = fc_http_event(body.replace(b"dave", b"mall"), {"x-hub-signature-256": "sha256=" + "0" * 64}, later)
    assert app.owner_onboard(forged, None, deps=deps)["statusCode"] == 401


def test_a_ram_quota_reached_is_a_clean_422_and_leaves_no_role(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime
) -> None:
    aliyun_emulator.faults.add_error("CreatePolicy", "LimitExceeded.Policy", 409)
    response = app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=owner_deps)
    assert (response["statusCode"], body_of(response)["code"]) == (422, "QuotaExceeded")
    assert not role_exists(aliyun_emulator)
