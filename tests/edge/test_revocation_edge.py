"""The revocation rules at the edge, each tried the way an attacker or an unlucky operator would break it.

Extra fields on a revocation, a replayed hub-signed approval after its tombstone aged out, approvals stamped ahead
of the clock, a caller choosing "now" through the event body (InvokeFunction), secret rotation lists.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from edge_support import (
    COLD_START_ENV,
    FC_CONTEXT,
    OWNER_SECRET,
    PARTNER_SECRET,
    approval,
    body_of,
    fc_http_event,
    load,
    make_deps,
    revocation,
    role_exists,
    signed_event,
    timer_event,
    write_calls,
)

from ram_delegate import app
from ram_delegate.deps import Deps
from ram_delegate.grants import KIND_TOMBSTONE, managed_filter
from ram_delegate.handlers import owner_onboard as owner_onboard_handler
from ram_delegate.settings import Settings
from ram_delegate.webhook import generate_secret

HUB_SECRET = "a-hub-secret-of-some-length-0042"


def hub_signed(body: bytes, now: datetime) -> bytes:
    digest = hmac.new(HUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return fc_http_event(body, {"x-hub-signature-256": f"sha256={digest}"}, now)


def tombstones(deps: Deps) -> list[str]:
    return [p.name for p in deps.cloud.ram.list_policies(managed_filter(KIND_TOMBSTONE))]


def test_a_revocation_carrying_the_whole_ticket_record_is_applied(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    """Ticketing systems send the whole record; senders do not retry a 4xx. Only the ticket is needed."""
    app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=owner_deps)
    assert role_exists(aliyun_emulator)
    event = load("edge-revoked.json")
    event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["datacontenttype"] = "application/json; charset=utf-8"
    event["data"] |= {
        "access": {"profile": "slb-readonly", "region": "cn-hangzhou"},
        "expires_at": "not a date",
        "status": "Access Revoked",
        "approved_by": "carol@enterprise-a.example",
        "partner": {"name": "B", "account_id": "not-an-account", "user": "dave"},
        "reason": "x" * 5000,
    }
    response = app.owner_onboard(
        signed_event(json.dumps(event).encode(), OWNER_SECRET, now, "evt-rev"), None, deps=owner_deps
    )
    assert (response["statusCode"], body_of(response)["status"]) == (200, "applied")
    assert not role_exists(aliyun_emulator)
    ignored = [r.getMessage() for r in caplog.records if "ignored fields" in r.getMessage()]
    assert ignored
    assert "data.status" in ignored[0]
    assert "not a date" not in ignored[0]


def test_a_revocation_without_a_ticket_is_still_a_400(owner_deps: Deps, now: datetime) -> None:
    event = load("edge-revoked.json")
    event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    del event["data"]["ticket"]
    response = app.owner_onboard(signed_event(json.dumps(event).encode(), OWNER_SECRET, now), None, deps=owner_deps)
    assert response["statusCode"] == 400
    assert {p["path"] for p in body_of(response)["problems"]} == {"data.ticket"}


@pytest.mark.parametrize("ahead", [timedelta(minutes=10), timedelta(days=365)], ids=["10-minutes", "a-year"])
def test_an_approval_stamped_ahead_of_the_clock_is_refused_and_cannot_outrank_a_revocation(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime, ahead: timedelta
) -> None:
    owner_deps.clock = lambda: now
    stamped = approval(now + ahead, days=7)
    response = app.owner_onboard(signed_event(stamped, OWNER_SECRET, now), None, deps=owner_deps)
    assert response["statusCode"] == 400
    assert "time" in {p["path"] for p in body_of(response)["problems"]}
    assert write_calls(aliyun_emulator) == 0


def test_an_earlier_stamped_revocation_is_never_stale(aliyun_emulator: Any, owner_deps: Deps, now: datetime) -> None:
    """An approval stamped 4 minutes ahead (within the tolerance) is applied; the revocation stamped now still wins."""
    owner_deps.clock = lambda: now
    ahead = approval(now + timedelta(minutes=4))
    assert (
        body_of(app.owner_onboard(signed_event(ahead, OWNER_SECRET, now), None, deps=owner_deps))["status"] == "applied"
    )
    response = app.owner_onboard(signed_event(revocation(now), OWNER_SECRET, now, "evt-rev"), None, deps=owner_deps)
    assert (response["statusCode"], body_of(response)["status"]) == (200, "applied")
    assert not role_exists(aliyun_emulator)
    again = app.owner_onboard(signed_event(ahead, OWNER_SECRET, now, "evt-again"), None, deps=owner_deps)
    assert body_of(again)["status"] == "stale"
    assert not role_exists(aliyun_emulator)


def test_a_replayed_hub_signed_approval_never_outlives_its_tombstone(
    aliyun_emulator: Any, notifier: Any, now: datetime
) -> None:
    """Hub signatures carry no timestamp: the event age limit is shorter than the tombstone's retention."""
    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time; this test moves the emulator's
    deps = make_deps(aliyun_emulator, "owner", notifier, hub_secrets=(HUB_SECRET,))
    captured = approval(now, days=30)
    assert body_of(app.owner_onboard(hub_signed(captured, now), None, deps=deps))["status"] == "applied"
    revoked_at = now + timedelta(minutes=1)
    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time
    aliyun_emulator.clock.set(revoked_at)
    app.owner_onboard(signed_event(revocation(revoked_at), OWNER_SECRET, revoked_at, "evt-rev"), None, deps=deps)
    assert not role_exists(aliyun_emulator)
    for hours in (deps.settings.max_event_age_hours - 1, deps.settings.tombstone_hours + 1):
        later = now + timedelta(hours=hours)
        aliyun_emulator.clock.set(later)
        app.owner_expire(timer_event(later), None, deps=deps)
        replay = app.owner_onboard(hub_signed(captured, later), None, deps=deps)
        assert replay["statusCode"] in (200, 400)
        assert body_of(replay).get("status") in (None, "stale")
        assert not role_exists(aliyun_emulator)
    assert tombstones(deps) == []  # the tombstone aged out, and the replay was still refused (too old)
    assert app.owner_onboard(hub_signed(captured, later), None, deps=deps)["statusCode"] == 400


def test_the_settings_refuse_a_tombstone_retention_shorter_than_the_event_age_plus_margin() -> None:
    with pytest.raises(Exception, match="tombstone_hours"):
        Settings(tombstone_hours=80, max_event_age_hours=80)
    assert Settings(tombstone_hours=84, max_event_age_hours=80).tombstone_hours == 84


def test_a_timer_invoked_with_a_trigger_time_97_hours_ahead_does_not_age_the_tombstone(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime
) -> None:
    """InvokeFunction lets the caller write triggerTime; the platform's clock decides, not the event."""
    app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=owner_deps)
    app.owner_onboard(signed_event(revocation(now), OWNER_SECRET, now, "evt-rev"), None, deps=owner_deps)
    assert tombstones(owner_deps) != []
    report = app.owner_expire(timer_event(now + timedelta(hours=97)), None, deps=owner_deps)
    assert report["steps"] == []
    assert tombstones(owner_deps) != []


def test_a_captured_approval_replayed_with_its_original_request_time_is_401(
    aliyun_emulator: Any, owner_deps: Deps, now: datetime
) -> None:
    """The event's requestContext time is the caller's word through InvokeFunction; the tolerance uses the clock."""
    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time; this test moves the emulator's
    captured = signed_event(approval(now), OWNER_SECRET, now)
    app.owner_onboard(captured, None, deps=owner_deps)
    app.owner_onboard(signed_event(revocation(now), OWNER_SECRET, now, "evt-rev"), None, deps=owner_deps)
    later = now + timedelta(hours=1)
    aliyun_emulator.accept_host_clock = True  # the SDK signs with the host's time
    aliyun_emulator.clock.set(later)
    writes = write_calls(aliyun_emulator)
    assert app.owner_onboard(captured, None, deps=owner_deps)["statusCode"] == 401
    assert write_calls(aliyun_emulator) == writes
    assert not role_exists(aliyun_emulator)


def test_a_rotated_forwarding_secret_signs_with_the_current_one_and_the_partner_accepts_either(
    aliyun_emulator: Any, notifier: Any, partner_deps: Deps, now: datetime
) -> None:
    """The documented rotation: "new old" on both sides; the owner signs with the first."""
    new = generate_secret()
    owner_deps = make_deps(aliyun_emulator, "owner", notifier, partner_secret=f"{new} {PARTNER_SECRET}")
    partner_deps.settings = partner_deps.settings.model_copy(update={"webhook_secrets": (new, PARTNER_SECRET)})
    response = app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), None, deps=owner_deps)
    assert (response["statusCode"], body_of(response)["status"]) == (200, "applied")
    assert [r["statusCode"] for r in notifier.responses] == [200]
    assert owner_deps.settings.partner_signing_secret == new


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RAM_DELEGATE_HUB_SECRET", "x"),
        ("RAM_DELEGATE_HUB_SECRET", "a-strong-enough-hub-secret-1, y"),
        ("RAM_DELEGATE_WEBHOOK_SECRET", f"{OWNER_SECRET},whsec_short"),
        ("RAM_DELEGATE_PARTNER_SECRET", "not-a-whsec-secret"),
        ("RAM_DELEGATE_ALLOWED_PARTNERS", ""),
    ],
    ids=["one-char-hub", "weak-old-hub", "weak-old-webhook", "bad-partner", "no-allowed-partner"],
)
def test_every_secret_of_every_rotation_list_is_checked_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
    aliyun_emulator: Any,
    now: datetime,
    caplog: pytest.LogCaptureFixture,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setattr(owner_onboard_handler.SLOT, "instance", None)
    env = {**COLD_START_ENV, "RAM_DELEGATE_ENDPOINT": aliyun_emulator.endpoint, variable: value}
    for name, setting in env.items():
        monkeypatch.setenv(name, setting)
    response = app.owner_onboard(signed_event(approval(now), OWNER_SECRET, now), FC_CONTEXT)
    assert response["statusCode"] == 500
    assert variable in caplog.text
    for secret in value.replace(",", " ").split():
        assert len(secret) < 4 or secret not in caplog.text
