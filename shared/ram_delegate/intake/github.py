"""GitHub issue webhooks: ``X-GitHub-Event: issues`` with action ``labeled``, signed ``X-Hub-Signature-256``.

Ticket = ``<owner>/<repo>#<number>``. Adding the approve label approves, the revoke label revokes. Field values come
from the issue form's sections (``### Heading``, a blank line, the value; ``_No response_`` when empty). Anyone with
triage rights can add a label, so an approval counts only from a configured approver who is not the issue's author;
a revocation counts from anyone who may label (it can only take access away). GitHub never redelivers by itself and
gives up after 10 s: the answer comes first, the grant after.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ram_delegate.errors import InvalidInputError, Problem, SignatureError
from ram_delegate.fc import HttpRequest
from ram_delegate.intake.config import GitHubSource, split_secrets
from ram_delegate.intake.contract import (
    Answer,
    Job,
    Receipt,
    Refusal,
    approved_event,
    event_time,
    iso,
    parse_time,
    refuse,
    revoked_event,
    safe_id,
    with_notice,
)
from ram_delegate.intake.vendor_http import VendorHttp
from ram_delegate.webhook import verify_hub_signature

NAME = "github"
NO_RESPONSE = "_No response_"
_HEADING = re.compile(r"^###\s+(.+?)\s*$")


def form_sections(body: str) -> dict[str, str]:
    """An issue form's rendered sections: heading -> value (empty for ``_No response_``)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in body.replace("\r\n", "\n").split("\n"):
        match = _HEADING.match(line)
        if match:
            current = sections.setdefault(match.group(1), [])
            continue
        if current is not None:
            current.append(line)
    values: dict[str, str] = {}
    for heading, lines in sections.items():
        value = "\n".join(lines).strip()
        values[heading] = "" if value == NO_RESPONSE else value
    return values


def _login(user: object) -> str:
    if isinstance(user, Mapping) and isinstance(user.get("login"), str):
        return str(user["login"])
    return ""


class GitHubAdapter:
    name = NAME

    def __init__(self, config: GitHubSource, env: Mapping[str, str], http: VendorHttp, attempts: int) -> None:
        self.config = config
        self._secrets = split_secrets(env.get(config.secret_env, ""))
        self._http = http
        self._attempts = attempts
        self._env = env

    def receive(self, request: HttpRequest) -> Receipt:
        headers = {k: v for k, v in request.headers.items() if k != "x-hub-signature"}  # only the SHA-256 form
        try:
            verify_hub_signature(headers, request.body, self._secrets)
        except SignatureError:
            raise refuse(401, "InvalidSignature", "the webhook signature could not be verified") from None
        github_event = request.headers.get("x-github-event", "")
        if github_event == "ping":
            return Receipt(Answer(200, {"status": "pong"}))
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise refuse(400, "InvalidInput", "the body is not JSON") from None
        if not isinstance(body, Mapping):
            raise refuse(400, "InvalidInput", "the body is not a JSON object")
        if github_event != "issues" or body.get("action") != "labeled":
            return Receipt(Answer(200, {"status": "ignored", "reason": "not an issues/labeled event"}))
        label = body.get("label")
        label_name = label.get("name") if isinstance(label, Mapping) else None
        issue = body.get("issue")
        repository = body.get("repository")
        if not isinstance(issue, Mapping) or not isinstance(repository, Mapping):
            raise refuse(400, "InvalidInput", "issue or repository missing", [Problem("issue", "missing")])
        folded = label_name.casefold() if isinstance(label_name, str) else ""
        if folded == self.config.approve_label.casefold():
            decision = "approve"
        elif folded == self.config.revoke_label.casefold():
            decision = "revoke"
        else:
            return Receipt(Answer(200, {"status": "ignored", "reason": "the label is neither approve nor revoke"}))
        full_name, number = repository.get("full_name"), issue.get("number")
        if not isinstance(full_name, str) or not isinstance(number, int):
            raise refuse(400, "InvalidInput", "the repository or issue number is missing")
        ticket = f"{full_name}#{number}"
        delivery = request.headers.get("x-github-delivery", "").strip()
        if not delivery:
            raise refuse(400, "InvalidInput", "missing X-GitHub-Delivery", [Problem("X-GitHub-Delivery", "missing")])
        sender, author = _login(body.get("sender")), _login(issue.get("user"))
        updated = issue.get("updated_at")
        try:
            vendor_time = parse_time(updated) if isinstance(updated, str) else None
        except ValueError:
            vendor_time = None
        at = event_time(vendor_time, request.now)
        event_id = safe_id(NAME, delivery)
        reference = {"repository": full_name, "number": str(number), "requester": author}
        try:
            if decision == "revoke":
                event = revoked_event(
                    source=NAME,
                    event_id=event_id,
                    ticket=ticket,
                    at=at,
                    reason=f"label {label_name} added by {sender}",
                    requested_by=sender or None,
                )
            else:
                approvers = {a.casefold() for a in self.config.approvers}
                if sender.casefold() not in approvers:
                    raise refuse(403, "NotAnApprover", "the user who added the label is not an approver")
                if sender.casefold() == author.casefold():
                    raise refuse(403, "SelfApproval", "the issue's author may not approve it")
                text = issue.get("body") if isinstance(issue.get("body"), str) else ""
                sections = form_sections(str(text))
                values = {
                    name: sections.get(heading) for name, heading in self.config.fields.model_dump().items() if heading
                }
                event = approved_event(
                    source=NAME,
                    event_id=event_id,
                    ticket=ticket,
                    at=at,
                    values=values,
                    fields=self.config.fields,
                    defaults=self.config.defaults,
                    requested_by=author or "unknown",
                    approved_by=sender,
                )
        except InvalidInputError as exc:
            refusal = refuse(400, exc.code, exc.message, list(exc.problems))
            raise with_notice(refusal, self._notice_job(decision, event_id, ticket, at, request, reference)) from None
        except Refusal as refusal:
            raise with_notice(refusal, self._notice_job(decision, event_id, ticket, at, request, reference)) from None
        job = Job(NAME, decision, event_id, ticket, event["time"], iso(request.now), event=event, reference=reference)  # type: ignore[arg-type]
        return Receipt(Answer(202, {"status": "accepted", "event_id": event_id, "ticket": ticket}), job)

    def _notice_job(
        self, decision: str, event_id: str, ticket: str, at: datetime, request: HttpRequest, reference: dict[str, str]
    ) -> Job:
        return Job(NAME, decision, event_id, ticket, iso(at), iso(request.now), reference=reference)  # type: ignore[arg-type]

    def complete(self, job: Job) -> Mapping[str, Any] | None:
        return job.event

    def reference_for(self, ticket: str) -> Mapping[str, str]:
        repository, _, number = ticket.rpartition("#")
        return {"repository": repository, "number": number} if repository and number.isdigit() else {}

    def write_back(self, job: Job, text: str) -> bool:
        config = self.config.write_back
        repository, number = job.reference.get("repository"), job.reference.get("number")
        if config is None or not repository or not number:
            return False
        headers = {
            "authorization": f"Bearer {self._env.get(config.token_env, '')}",
            "accept": "application/vnd.github+json",
            "x-github-api-version": "2022-11-28",
        }
        url = f"{config.api_url.rstrip('/')}/repos/{repository}/issues/{number}/comments"
        status, _ = self._http.with_retries(
            self._attempts, lambda: self._http.call("POST", url, body={"body": text}, headers=headers)
        )
        return 200 <= status < 300
