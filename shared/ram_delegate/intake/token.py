"""The shared-token mode: our own CloudEvent body with ``Authorization: Bearer <token>``.

For senders that can set fixed headers but cannot compute an HMAC (Jira Automation's "Send web request", workflow
tools). A fixed token signs nothing and proves nothing about time, so anyone who sees one request can replay it:
this mode accepts an event only while its ``time`` is within ``max_age_seconds`` of the platform's clock (and not
ahead of it by more than that), and relies on the owner's event-id and ordering rules (a replay of the same event
is a duplicate; an approval older than a revocation is stale). Tokens are a rotation list, compared in constant
time against every entry.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from ram_delegate.errors import InvalidInputError, Problem
from ram_delegate.events import APPROVED, REVOKED, parse_event
from ram_delegate.fc import HttpRequest
from ram_delegate.intake.config import TokenSource, split_secrets
from ram_delegate.intake.contract import Answer, Job, Receipt, iso, refuse

NAME = "token"


class TokenAdapter:
    name = NAME

    def __init__(self, config: TokenSource, env: Mapping[str, str]) -> None:
        self.config = config
        self._tokens = [t.encode() for t in split_secrets(env.get(config.token_env, ""))]

    def receive(self, request: HttpRequest) -> Receipt:
        if not self._authorized(request.headers.get("authorization", "")):
            raise refuse(401, "InvalidToken", "the bearer token could not be verified")
        try:
            event = parse_event(request.body)
        except InvalidInputError as exc:
            raise refuse(400, exc.code, exc.message, list(exc.problems)) from None
        if event.type not in (APPROVED, REVOKED):
            raise refuse(400, "InvalidInput", f"this endpoint does not accept {event.type}", [Problem("type", "")])
        age = (request.now - event.time).total_seconds()
        if abs(age) > self.config.max_age_seconds:
            raise refuse(
                400,
                "EventTooOld" if age > 0 else "EventInTheFuture",
                f"the token mode accepts events within {self.config.max_age_seconds} s of their time",
                [Problem("time", "outside the accepted age")],
            )
        decision = "approve" if event.type == APPROVED else "revoke"
        document = json.loads(request.body)
        job = Job(
            NAME,
            decision,  # type: ignore[arg-type]
            event.id,
            event.data.ticket,
            iso(event.time),
            iso(request.now),
            event=document,
        )
        return Receipt(Answer(202, {"status": "accepted", "event_id": event.id, "ticket": event.data.ticket}), job)

    def _authorized(self, header: str) -> bool:
        scheme, _, presented = header.strip().partition(" ")
        candidate = presented.strip().encode()
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(token, candidate)  # no early exit
        return scheme.lower() == "bearer" and bool(candidate) and matched

    def complete(self, job: Job) -> Mapping[str, Any] | None:
        return job.event

    def write_back(self, job: Job, text: str) -> bool:
        return False

    def reference_for(self, ticket: str) -> Mapping[str, str]:
        return {}
