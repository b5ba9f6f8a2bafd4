"""The one contract every intake adapter follows, and the pieces they share.

An adapter turns one vendor delivery into an answer for the vendor now and, when there is something to do, a
``Job`` for later: the front door verifies, validates and answers within the vendor's deadline, and the worker (an
asynchronous invocation of owner-onboard) applies the job through the owner logic, which only ever sees our own
``partner.access.approved`` / ``partner.access.revoked`` events. Vendor names stop here.

Event ids are derived from the vendor's delivery (Jira's webhook identifier, GitHub's delivery GUID, the approval
instance and transition), so a redelivery is the same event and the owner logic's duplicate rule makes it a no-op.
Event times are the vendor's own signed time of the change, never later than the platform's time of the request,
so the owner's ordering rule (a revocation wins over an older approval) holds for deliveries that arrive out of
order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

from ram_delegate.errors import InvalidInputError, Problem
from ram_delegate.events import APPROVED, REVOKED, parse_event
from ram_delegate.fc import HttpRequest
from ram_delegate.intake.config import Defaults, FieldMap

Decision = Literal["approve", "revoke"]
EVENT_SOURCE_PREFIX = "ram-delegate/intake/"
_DURATION = re.compile(r"^\s*([1-9][0-9]{0,4})\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass(frozen=True)
class Answer:
    """What the vendor gets back: status, a JSON (or text) body and headers."""

    status: int
    body: Mapping[str, Any] | str
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_fc(self) -> dict[str, Any]:
        """The FC HTTP trigger response."""
        if isinstance(self.body, str):
            headers = {"content-type": "text/plain; charset=utf-8", **self.headers}
            return {"statusCode": self.status, "headers": headers, "isBase64Encoded": False, "body": self.body}
        headers = {"content-type": "application/json", **self.headers}
        body = json.dumps(self.body, separators=(",", ":"), default=str)
        return {"statusCode": self.status, "headers": headers, "isBase64Encoded": False, "body": body}


class Refusal(Exception):
    """A delivery refused at the front door: the answer the vendor expects, and one loggable line (no secrets).

    ``job``: for an authenticated delivery refused for its content, the notice the worker writes back to the ticket
    (never for a signature failure: an unauthenticated caller must not make us comment anything).
    """

    def __init__(self, answer: Answer, reason: str) -> None:
        super().__init__(reason)
        self.answer = answer
        self.reason = reason
        self.job: Job | None = None


def refuse(status: int, code: str, message: str, problems: list[Problem] | None = None) -> Refusal:
    """The common JSON refusal (Jira, GitHub and the token mode show it in their delivery logs)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if problems:
        body["problems"] = [{"path": p.path, "reason": p.reason} for p in problems]
    reason = f"{status} {code}" + (f" {[str(p) for p in problems]}" if problems else "")
    return Refusal(Answer(status, body), reason)


@dataclass(frozen=True)
class Job:
    """Work for the asynchronous worker: either a ready event, or an approval instance to fetch and map.

    ``received_at`` is the platform's time of the request (FC's requestContext time), the clock the worker decides
    with; ``reference`` is what write-back needs (issue key, repository and number, the requester's id).
    """

    source: str
    decision: Decision
    event_id: str
    ticket: str
    event_time: str
    received_at: str
    event: Mapping[str, Any] | None = None
    instance: str | None = None
    reference: Mapping[str, str] = field(default_factory=dict)
    notice: str | None = None  # a refusal to write back, nothing to apply

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Job:
        known = {name: raw[name] for name in cls.__dataclass_fields__ if name in raw}
        return cls(**known)

    @property
    def now(self) -> datetime:
        return parse_time(self.received_at)


@dataclass(frozen=True)
class Receipt:
    """The answer for the vendor and, when the delivery asks for a change, the job to run after answering."""

    answer: Answer
    job: Job | None = None
    note: str = ""


class Adapter(Protocol):
    """One source: verify and read a delivery now; complete a job later (fetch the form); write back."""

    name: str

    def receive(self, request: HttpRequest) -> Receipt:
        """Verify, validate, answer; raise Refusal for anything refused."""
        ...

    def complete(self, job: Job) -> Mapping[str, Any] | None:
        """The event to apply for ``job`` (fetched at processing time), or None when there is nothing to do."""
        ...

    def write_back(self, job: Job, text: str) -> bool:
        """Tell the ticket what happened; True when delivered (False also when not configured)."""
        ...

    def reference_for(self, ticket: str) -> Mapping[str, str]:
        """What write-back needs for a ticket known only by its id (reminders, expiry)."""
        ...


def refusal_text(decision: str, ticket: str, message: str, problems: list[str]) -> str:
    """What the ticket is told when its approval or revocation was not applied."""
    detail = "; ".join(problems) if problems else message
    return f"ram-delegate: the {decision} of ticket {ticket} was not applied: {detail}"


def with_notice(refusal: Refusal, job: Job) -> Refusal:
    """The refusal, with a notice job that writes its reason back to the ticket."""
    body = refusal.answer.body
    message = str(body.get("message", "")) if isinstance(body, Mapping) else ""
    raw = body.get("problems") if isinstance(body, Mapping) else None
    problems = [f"{p['path']}: {p['reason']}" for p in raw] if isinstance(raw, list) else []
    refusal.job = replace(
        job,
        event_id=safe_id(job.event_id, "refused"),
        event=None,
        notice=refusal_text(job.decision, job.ticket, message, problems),
    )
    return refusal


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_time(vendor_time: datetime | None, request_time: datetime) -> datetime:
    """The vendor's signed time of the change, never later than the platform's time of the request."""
    if vendor_time is None:
        return request_time
    return min(vendor_time, request_time)


def from_epoch_ms(value: object) -> datetime | None:
    """A vendor's millisecond (or second) epoch, as int or string; None when absent or unreadable."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    if number <= 0:
        return None
    seconds = number / 1000 if number > 10**11 else number
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def parse_duration(raw: str) -> timedelta | None:
    """``7d``, ``36h`` or ``90m``; None when it is not a duration."""
    match = _DURATION.match(raw)
    if not match:
        return None
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_expiry(raw: str) -> datetime | None:
    """A date (``2030-01-31``: 00:00 UTC that day, the conservative reading) or an ISO date-time with a zone."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(timezone.utc)


_ENVELOPE_FIELDS = ("partner_account_id", "partner_user", "partner_name", "profile", "region", "resource_group_id")


def approved_event(
    *,
    source: str,
    event_id: str,
    ticket: str,
    at: datetime,
    values: Mapping[str, str | None],
    fields: FieldMap,
    defaults: Defaults,
    requested_by: str,
    approved_by: str,
) -> dict[str, Any]:
    """A validated ``partner.access.approved`` from mapped ticket values; InvalidInputError lists every problem."""
    problems: list[Problem] = []
    merged: dict[str, str | None] = {}
    for name in (*_ENVELOPE_FIELDS, "duration"):
        value = values.get(name)
        merged[name] = value.strip() if isinstance(value, str) and value.strip() else getattr(defaults, name)
    expires_at: datetime | None = None
    raw_expiry = values.get("expires_at")
    if isinstance(raw_expiry, str) and raw_expiry.strip():
        expires_at = parse_expiry(raw_expiry)
        if expires_at is None:
            problems.append(Problem(_where("expires_at", fields), "expected a date or a date-time with a timezone"))
    elif merged["duration"]:
        length = parse_duration(merged["duration"])
        if length is None:
            problems.append(Problem(_where("duration", fields), "expected a duration such as 7d, 36h or 90m"))
        else:
            expires_at = at + length
    else:
        problems.append(Problem(_where("expires_at", fields), "missing (map expires_at or duration)"))
    for name in ("partner_account_id", "partner_user", "partner_name", "profile", "region"):
        if not merged[name]:
            problems.append(Problem(_where(name, fields), "missing"))
    if problems:
        raise InvalidInputError("the ticket does not carry a valid approval", problems=problems)
    assert expires_at is not None
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": EVENT_SOURCE_PREFIX + source,
        "type": APPROVED,
        "time": iso(at),
        "subject": ticket,
        "data": {
            "ticket": ticket,
            "partner": {
                "name": merged["partner_name"],
                "account_id": merged["partner_account_id"],
                "user": merged["partner_user"],
            },
            "access": {
                "profile": merged["profile"],
                "region": merged["region"],
                **({"resource_group_id": merged["resource_group_id"]} if merged["resource_group_id"] else {}),
            },
            "expires_at": iso(expires_at),
            "requested_by": requested_by[:128],
            "approved_by": approved_by[:128],
        },
    }
    _validate(event, fields)
    return event


def revoked_event(
    *, source: str, event_id: str, ticket: str, at: datetime, reason: str, requested_by: str | None
) -> dict[str, Any]:
    """A ``partner.access.revoked``: the envelope and the ticket are all it needs (never refused for more)."""
    data: dict[str, Any] = {"ticket": ticket, "reason": reason[:512]}
    if requested_by:
        data["requested_by"] = requested_by[:128]
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": EVENT_SOURCE_PREFIX + source,
        "type": REVOKED,
        "time": iso(at),
        "subject": ticket,
        "data": data,
    }
    _validate(event, FieldMap())
    return event


def _where(name: str, fields: FieldMap) -> str:
    mapped = getattr(fields, name, None)
    return f"{name} ({mapped})" if mapped else name


_PATHS = {
    "data.partner.account_id": "partner_account_id",
    "data.partner.user": "partner_user",
    "data.partner.name": "partner_name",
    "data.access.profile": "profile",
    "data.access.region": "region",
    "data.access.resource_group_id": "resource_group_id",
}


def _validate(event: Mapping[str, Any], fields: FieldMap) -> None:
    """Our own event parser decides; its problems are renamed to the ticket fields they came from."""
    try:
        parse_event(dict(event))
    except InvalidInputError as exc:
        renamed = [Problem(_where(_PATHS[p.path], fields), p.reason) if p.path in _PATHS else p for p in exc.problems]
        raise InvalidInputError("the ticket does not carry a valid event", problems=renamed) from None


def safe_id(*parts: str) -> str:
    """An event id from vendor identifiers (the same on every redelivery)."""
    return re.sub(r"[^A-Za-z0-9._:-]", "_", "-".join(parts))[:256]
