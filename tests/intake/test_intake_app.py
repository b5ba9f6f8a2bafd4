"""owner-onboard as FC calls it: ``/<source>`` sub-paths go to the intake front door, the root path and any other
path stay Standard Webhooks, and an intake job only counts as a top-level key of an InvokeFunction payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from intake_support import ENV, NOW, RecordingDispatcher, payload

from ram_delegate.app import owner_onboard
from ram_delegate.audit import AuditLog
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.deps import Deps
from ram_delegate.intake import senders
from ram_delegate.intake.config import parse_intake
from ram_delegate.intake.service import IntakeRuntime, build_adapters
from ram_delegate.notify import HttpNotifier
from ram_delegate.settings import Settings
from ram_delegate.webhook import generate_secret

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLE = """
sources:
  github:
    secret_env: RAM_DELEGATE_GITHUB_SECRET
    approve_label: access-approved
    revoke_label: access-revoked
    approvers: [octo-approver]
    fields: {partner_account_id: Partner account ID, partner_user: Partner RAM user, partner_name: Partner name,
             profile: Access profile, region: Region, duration: Duration}
"""


def deps(intake: IntakeRuntime | None) -> Deps:
    settings = Settings(account_id="1111111111111111", webhook_secrets=(generate_secret(),), endpoint="127.0.0.1:9")
    return Deps(
        settings=settings,
        cloud=CloudClients(settings, Credentials("LTAI-test", "never-used")),
        clock=lambda: NOW,
        notifier=HttpNotifier(),
        audit=AuditLog(),
        profiles={},
        intake=intake,
    )


def http_event(path: str, delivery: senders.Delivery) -> bytes:
    event = json.loads((EVENTS / "edge-http-trigger.json").read_text())
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["headers"] = delivery.headers
    event["queryParameters"] = delivery.query
    event["body"] = delivery.body.decode()
    event["requestContext"]["time"] = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["requestContext"]["timeEpoch"] = str(int(NOW.timestamp() * 1000))
    return json.dumps(event).encode()


def answer(response: dict[str, Any]) -> tuple[int, Any]:
    return response["statusCode"], json.loads(response["body"])


def github_delivery() -> senders.Delivery:
    return senders.github(json.dumps(payload("github-issues-labeled.json")).encode(), ENV["RAM_DELEGATE_GITHUB_SECRET"])


def test_sources_are_served_on_sub_paths() -> None:
    file = parse_intake(SAMPLE, ENV)
    dispatcher = RecordingDispatcher()
    current = deps(IntakeRuntime(file, build_adapters(file, ENV), dispatcher))
    status, body = answer(owner_onboard(http_event("/github", github_delivery()), None, deps=current))
    assert (status, body["status"]) == (202, "accepted")
    assert len(dispatcher.jobs) == 1
    status, body = answer(owner_onboard(http_event("/jira", github_delivery()), None, deps=current))
    assert status == 404
    status, _ = answer(owner_onboard(http_event("/", github_delivery()), None, deps=current))
    assert status == 401  # the root path is Standard Webhooks, as before
    status, _ = answer(owner_onboard(http_event("/elsewhere", github_delivery()), None, deps=current))
    assert status == 401
    assert len(dispatcher.jobs) == 1


def test_without_an_intake_file_sources_are_404_and_jobs_are_dropped() -> None:
    current = deps(None)
    status, _ = answer(owner_onboard(http_event("/github", github_delivery()), None, deps=current))
    assert status == 404
    job = {"ramDelegateIntakeJob": {"source": "github", "decision": "approve"}}
    assert owner_onboard(json.dumps(job).encode(), None, deps=current)["status"] == "dropped"


def test_a_job_inside_an_http_body_is_just_a_body() -> None:
    file = parse_intake(SAMPLE, ENV)
    dispatcher = RecordingDispatcher()
    current = deps(IntakeRuntime(file, build_adapters(file, ENV), dispatcher))
    forged = senders.Delivery(json.dumps({"ramDelegateIntakeJob": {"source": "github"}}).encode(), {})
    status, _ = answer(owner_onboard(http_event("/", forged), None, deps=current))
    assert status == 401
    assert dispatcher.jobs == []


def test_only_post_reaches_a_source() -> None:
    file = parse_intake(SAMPLE, ENV)
    dispatcher = RecordingDispatcher()
    current = deps(IntakeRuntime(file, build_adapters(file, ENV), dispatcher))
    event = json.loads(http_event("/github", github_delivery()))
    event["requestContext"]["http"]["method"] = "GET"
    status, _ = answer(owner_onboard(json.dumps(event).encode(), None, deps=current))
    assert status == 405
    assert dispatcher.jobs == []
