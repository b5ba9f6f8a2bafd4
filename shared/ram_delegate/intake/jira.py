"""Jira Cloud / Data Center admin webhooks: ``jira:issue_updated`` with a status change (or an issue created already
in an approve status), signed ``X-Hub-Signature: sha256=<hex>`` over the raw body with the webhook secret.

Ticket = ``issue.key``; decision = the status the issue moved to; field values from configured custom fields
(strings, ``{value}`` select options, ``{accountId}`` user pickers); requester = the reporter, approver = the
user who made the change. De-duplicated on ``X-Atlassian-Webhook-Identifier``, stable across Jira's retries.
Jira retries 408/409/425/429/5xx, so refusals are 400/401/403 and ignored deliveries are 200.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ram_delegate.errors import InvalidInputError, Problem, SignatureError
from ram_delegate.fc import HttpRequest
from ram_delegate.intake.config import JiraSource, split_secrets
from ram_delegate.intake.contract import (
    Answer,
    Decision,
    Job,
    Receipt,
    Refusal,
    approved_event,
    event_time,
    from_epoch_ms,
    iso,
    refuse,
    revoked_event,
    safe_id,
    with_notice,
)
from ram_delegate.intake.vendor_http import VendorHttp
from ram_delegate.webhook import verify_hub_signature

NAME = "jira"
EVENTS = ("jira:issue_updated", "jira:issue_created")


def user_id(user: object) -> str:
    """Cloud's accountId, else Data Center's name or key."""
    if not isinstance(user, Mapping):
        return ""
    for key in ("accountId", "name", "key"):
        value = user.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def field_text(value: object) -> str | None:
    """A custom field's value as text: strings, numbers, select options and user pickers."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, Mapping):
        for key in ("value", "name", "accountId", "key"):
            inner = value.get(key)
            if isinstance(inner, str):
                return inner
    return None


class JiraAdapter:
    name = NAME

    def __init__(self, config: JiraSource, env: Mapping[str, str], http: VendorHttp, attempts: int) -> None:
        self.config = config
        self._secrets = split_secrets(env.get(config.secret_env, ""))
        self._http = http
        self._attempts = attempts
        self._env = env

    def receive(self, request: HttpRequest) -> Receipt:
        try:
            verify_hub_signature(request.headers, request.body, self._secrets)
        except SignatureError:
            raise refuse(401, "InvalidSignature", "the webhook signature could not be verified") from None
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise refuse(400, "InvalidInput", "the body is not JSON") from None
        if not isinstance(body, Mapping):
            raise refuse(400, "InvalidInput", "the body is not a JSON object")
        webhook_event = body.get("webhookEvent")
        issue = body.get("issue")
        if webhook_event not in EVENTS or not isinstance(issue, Mapping):
            return Receipt(Answer(200, {"status": "ignored", "reason": "not an issue created or updated event"}))
        key = issue.get("key")
        fields = issue.get("fields") if isinstance(issue.get("fields"), Mapping) else {}
        assert isinstance(fields, Mapping)
        if not isinstance(key, str) or not key:
            raise refuse(400, "InvalidInput", "the issue has no key", [Problem("issue.key", "missing")])
        status = _new_status(body, fields, webhook_event)
        if status is None:
            return Receipt(Answer(200, {"status": "ignored", "reason": "no status change"}))
        decision = _decision(status, self.config)
        if decision is None:
            return Receipt(Answer(200, {"status": "ignored", "reason": "the status is neither approve nor revoke"}))
        delivery = request.headers.get("x-atlassian-webhook-identifier", "").strip()
        if not delivery:
            raise refuse(
                400,
                "InvalidInput",
                "missing X-Atlassian-Webhook-Identifier",
                [Problem("X-Atlassian-Webhook-Identifier", "missing")],
            )
        at = event_time(from_epoch_ms(body.get("timestamp")), request.now)
        event_id = safe_id(NAME, delivery)
        approver = user_id(body.get("user"))
        requester = user_id(fields.get("reporter"))
        reference = {"issue": key, "requester": requester}
        try:
            if decision == "revoke":
                event = revoked_event(
                    source=NAME,
                    event_id=event_id,
                    ticket=key,
                    at=at,
                    reason=f"Jira status {status}",
                    requested_by=approver or None,
                )
            else:
                if not approver:
                    raise InvalidInputError("who approved is unknown", problems=[Problem("user", "missing")])
                if self.config.approvers and approver not in self.config.approvers:
                    raise refuse(403, "NotAnApprover", "the user who changed the status may not approve")
                values = {name: field_text(fields.get(fid)) for name, fid in _mapped(self.config)}
                event = approved_event(
                    source=NAME,
                    event_id=event_id,
                    ticket=key,
                    at=at,
                    values=values,
                    fields=self.config.fields,
                    defaults=self.config.defaults,
                    requested_by=requester or "unknown",
                    approved_by=approver,
                )
        except InvalidInputError as exc:
            refusal = refuse(400, exc.code, exc.message, list(exc.problems))
            raise with_notice(refusal, self._notice_job(decision, event_id, key, at, request, reference)) from None
        except Refusal as refusal:
            raise with_notice(refusal, self._notice_job(decision, event_id, key, at, request, reference)) from None
        job = Job(NAME, decision, event_id, key, event["time"], iso(request.now), event=event, reference=reference)
        return Receipt(Answer(202, {"status": "accepted", "event_id": event_id, "ticket": key}), job)

    def _notice_job(
        self, decision: str, event_id: str, ticket: str, at: datetime, request: HttpRequest, reference: dict[str, str]
    ) -> Job:
        return Job(NAME, decision, event_id, ticket, iso(at), iso(request.now), reference=reference)  # type: ignore[arg-type]

    def complete(self, job: Job) -> Mapping[str, Any] | None:
        return job.event

    def reference_for(self, ticket: str) -> Mapping[str, str]:
        return {"issue": ticket}

    def write_back(self, job: Job, text: str) -> bool:
        config = self.config.write_back
        issue = job.reference.get("issue")
        if config is None or not issue:
            return False
        credentials = f"{self._env.get(config.user_env, '')}:{self._env.get(config.token_env, '')}"
        headers = {"authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
        url = f"{config.base_url.rstrip('/')}/rest/api/2/issue/{issue}/comment"
        status, _ = self._http.with_retries(
            self._attempts, lambda: self._http.call("POST", url, body={"body": text}, headers=headers)
        )
        return 200 <= status < 300


def _mapped(config: JiraSource) -> list[tuple[str, str]]:
    return [(name, fid) for name, fid in config.fields.model_dump().items() if fid]


def _new_status(body: Mapping[str, Any], fields: Mapping[str, Any], webhook_event: str) -> str | None:
    changelog = body.get("changelog")
    items = changelog.get("items") if isinstance(changelog, Mapping) else None
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("field") == "status" and isinstance(item.get("toString"), str):
                return str(item["toString"])
    if webhook_event == "jira:issue_created":
        status = fields.get("status")
        name = status.get("name") if isinstance(status, Mapping) else None
        return name if isinstance(name, str) else None
    return None


def _decision(status: str, config: JiraSource) -> Decision | None:
    folded = status.casefold()
    if folded in {s.casefold() for s in config.approve_statuses}:
        return "approve"
    if folded in {s.casefold() for s in config.revoke_statuses}:
        return "revoke"
    return None
