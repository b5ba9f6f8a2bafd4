"""Function Compute 3.0 at the edge: the HTTP trigger and timer events in, the HTTP response out, credentials.

Events are parsed into small frozen objects so the rest of the library never touches FC's dictionaries. No time is
read from an event: ``requestContext.timeEpoch`` and a timer's ``triggerTime`` are whatever an InvokeFunction caller
writes, so "now" is the platform's clock, injected into the dependencies (``app``). The size cap is checked on the
encoded body before it is decoded, hashed or parsed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ram_delegate.errors import ConfigurationError, InvalidInputError, PayloadTooLargeError, Problem

if TYPE_CHECKING:
    from ram_delegate.cloud import Credentials

# the FC envelope around a capped body: headers, request context and JSON escaping of the body
ENVELOPE_ALLOWANCE_BYTES = 64 * 1024


def _invalid(reason: str, path: str = "") -> InvalidInputError:
    return InvalidInputError("the Function Compute event is malformed", problems=[Problem(path, reason)])


def _load_object(event: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(event, Mapping):
        return event
    try:
        document = json.loads(event)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("not valid JSON") from None
    if not isinstance(document, Mapping):
        raise _invalid("expected a JSON object")
    return document


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP trigger invocation: lower-cased headers, the raw body bytes, and when the platform received it.

    ``now`` is the platform's clock handed in by the caller (``deps.clock()``), never the event's own time fields.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    now: datetime
    request_id: str
    source_ip: str
    query: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, event: bytes | str | Mapping[str, Any], *, max_body_bytes: int, now: datetime) -> HttpRequest:
        """Parse an FC 3.0 HTTP trigger event; PayloadTooLargeError before decoding an oversized body."""
        if isinstance(event, (bytes, str)) and len(event) > 4 * max_body_bytes + ENVELOPE_ALLOWANCE_BYTES:
            raise PayloadTooLargeError(f"the request body exceeds {max_body_bytes} bytes")
        document = _load_object(event)
        context = document.get("requestContext")
        if not isinstance(context, Mapping):
            raise _invalid("missing requestContext", "requestContext")
        http = context.get("http")
        http = http if isinstance(http, Mapping) else {}
        raw_headers = document.get("headers") or {}
        if not isinstance(raw_headers, Mapping):
            raise _invalid("expected an object", "headers")
        headers = {str(name).lower(): str(value) for name, value in raw_headers.items()}
        return cls(
            method=str(http.get("method", "")).upper(),
            path=str(http.get("path", document.get("rawPath", ""))),
            headers=headers,
            body=_body(document, max_body_bytes),
            now=now,
            request_id=str(context.get("requestId", "")),
            source_ip=str(http.get("sourceIp", "")),
            query=_query(document.get("queryParameters")),
        )


def _query(raw: object) -> dict[str, str]:
    """FC's ``queryParameters`` (repeated keys arrive joined with commas)."""
    if not isinstance(raw, Mapping):
        return {}
    return {str(name): str(value) for name, value in raw.items()}


def _body(document: Mapping[str, Any], max_body_bytes: int) -> bytes:
    raw = document.get("body")
    if raw is None:
        return b""
    if not isinstance(raw, str):
        raise _invalid("expected a string", "body")
    too_large = PayloadTooLargeError(f"the request body exceeds {max_body_bytes} bytes")
    if document.get("isBase64Encoded") is True:
        if len(raw) > (max_body_bytes + 2) // 3 * 4:
            raise too_large
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("isBase64Encoded is true but the body is not base64", "body") from None
    else:
        if len(raw) > max_body_bytes:
            raise too_large
        try:
            body = raw.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a JSON \ud800 escape
            raise _invalid("the body is not valid UTF-8", "body") from None
    if len(body) > max_body_bytes:
        raise too_large
    return body


@dataclass(frozen=True)
class TimerEvent:
    """A timer trigger firing: which trigger and its configured payload (its ``triggerTime`` is not a clock)."""

    trigger_name: str
    payload: str

    @classmethod
    def parse(cls, event: bytes | str | Mapping[str, Any]) -> TimerEvent:
        """Parse ``{"triggerName", "payload", ...}``; an empty event (a manual invoke) is a timer with no name."""
        if isinstance(event, (bytes, str)) and not event.strip():
            return cls(trigger_name="", payload="")
        document = _load_object(event)
        return cls(trigger_name=str(document.get("triggerName", "")), payload=str(document.get("payload", "")))


def http_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The HTTP trigger's response structure with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "isBase64Encoded": False,
        "body": json.dumps(body, separators=(",", ":"), default=str),
    }


def resolve_credentials(env: Mapping[str, str], context: object) -> Credentials:
    """The function role's credentials: ALIBABA_CLOUD_* variables (python3.12), else ``context.credentials``."""
    from ram_delegate.cloud import Credentials

    credentials = Credentials.from_env(env) or Credentials.from_fc_context(context)
    if credentials is None:
        raise ConfigurationError("no credentials: set the function's role (ALIBABA_CLOUD_* or context.credentials)")
    return credentials
