"""The HTTP front door: one loopback server for RAM, STS, SLB and Resource Manager, plus the ``/_emulator`` routes.

``WireApp`` holds the protocol logic (verify, route, apply faults, dispatch, render errors, log) over plain values;
``EmulatorHTTPServer`` puts it inside the shared loopback HTTP shell (``core/http.py``). Every answer is JSON in
Alibaba's error format with a 4xx for anything malformed: the stdlib's own HTML error pages and 5xx parse errors are
replaced.
"""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import json
import logging
import re
import time
import uuid
from _json import encode_basestring, make_encoder
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape as xml_escape

from aliyun_emulator.core.backend import API_VERSIONS, HOST_IDS, CloudBackend
from aliyun_emulator.core.clock import EmulatorClock, utc_now
from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.faults import Faults
from aliyun_emulator.core.http import SOCKET_TIMEOUT_SECONDS, HttpAnswer, HttpRequest, LoopbackHTTPServer
from aliyun_emulator.core.identity import Credential
from aliyun_emulator.core.request import ApiRequest
from aliyun_emulator.core.requestlog import RequestLog, RequestLogEntry
from aliyun_emulator.core.signing import (
    MAX_CLOCK_SKEW,
    NonceCache,
    RawRequest,
    SignedClaim,
    parse_signed_request,
    signature_matches,
    string_to_sign,
)

logger = logging.getLogger("aliyun_emulator")

MAX_BODY_BYTES = 1 << 20
_TOKEN_SHAPE = re.compile(r"CAIS[A-Za-z0-9+/=]{16,4096}")
"""What an STS SecurityToken looks like (``CAIS`` and base64); anything else is malformed, not a mismatch."""
CONTROL_PREFIX = "/_emulator"
_CONTROL_ROUTES = CONTROL_PREFIX + "/"
GENERIC_HOST_ID = "aliyuncs.com"
RECOMMEND_URL = "https://api.aliyun.com/troubleshoot?q="

_HTTP_ERROR_CODES: dict[int, str] = {
    400: "MalformedRequest",
    404: "NotFound",
    405: "UnsupportedHTTPMethod",
    408: "RequestTimeout",
    411: "MissingContentLength",
    413: "RequestEntityTooLarge",
    414: "RequestURITooLong",
    431: "RequestHeaderFieldsTooLarge",
}


JSON_TYPE = "application/json;charset=utf-8"
XML_TYPE = "text/xml;charset=utf-8"


class Response(NamedTuple):
    """An API answer before HTTP framing (a ``NamedTuple``: immutable and cheap to build for every request)."""

    status: int
    body: bytes
    request_id: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    code: str = ""
    """The error code of an error answer (request log)."""
    content_type: str = JSON_TYPE


_RANDOM = uuid.uuid4().hex.upper()
_REQUEST_ID_PREFIX = f"{_RANDOM[:8]}-{_RANDOM[8:12]}-{_RANDOM[12:16]}-{_RANDOM[16:20]}-"
_request_numbers = itertools.count(1)


def new_request_id() -> str:
    """A unique id in Alibaba's UUID shape: a random per-process prefix and a counter (no uuid4 per call)."""
    return f"{_REQUEST_ID_PREFIX}{next(_request_numbers):012X}"


_ENCODE = make_encoder(None, json.JSONEncoder().default, encode_basestring, None, ":", ",", False, False, True)
"""The C encoder ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` builds, built once: the ``JSONEncoder``
around it adds two Python calls and a new encoder per answer. No circular check (an answer is a fresh tree of
dicts and lists; a cycle would still end in ``RecursionError``, an ``InternalError`` like ``ValueError`` would be)."""


def json_bytes(document: Mapping[str, Any]) -> bytes:
    # "replace": header text decoded with surrogateescape may be echoed in a message; never fail on it.
    return "".join(_ENCODE(document, 0)).encode("utf-8", "replace")


def xml_bytes(document: Mapping[str, Any], root: str) -> bytes:
    """Alibaba's XML rendering of a JSON answer: one element per key, a list as the element repeated."""
    parts = ["<?xml version='1.0' encoding='UTF-8'?>", f"<{root}>"]
    _xml_fields(document, parts)
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8", "replace")


def _xml_fields(document: Mapping[str, Any], parts: list[str]) -> None:
    for key, value in document.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(f"<{key}>")
            if isinstance(item, Mapping):
                _xml_fields(item, parts)
            elif isinstance(item, bool):
                parts.append("true" if item else "false")
            elif item is not None:
                parts.append(xml_escape(str(item)))
            parts.append(f"</{key}>")


def error_response(error: ApiError, request_id: str, host_id: str = GENERIC_HOST_ID, *, xml: bool = False) -> Response:
    """Alibaba's RPC error body: ``{RequestId, HostId, Code, Message, Recommend}`` with the error's status."""
    body = {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"{RECOMMEND_URL}{error.code}",
    }
    headers = tuple(error.headers.items())
    if xml:
        return Response(error.status, xml_bytes(body, "Error"), request_id, headers, error.code, XML_TYPE)
    return Response(error.status, json_bytes(body), request_id, headers, error.code)


class WireApp:
    """Protocol logic shared by every connection: authentication, routing, faults, dispatch, logging, control."""

    def __init__(
        self,
        backend: CloudBackend,
        clock: EmulatorClock,
        faults: Faults,
        requests: RequestLog,
        nonces: NonceCache,
        reset: Callable[[], None],
        host_clock: Callable[[], datetime] = utc_now,
        *,
        accept_host_clock: bool = False,
    ) -> None:
        self.backend = backend
        self._host_clock = host_clock
        self.accept_host_clock = accept_host_clock
        """Also accept timestamps near the host's clock (an explicit option for harnesses that move the clock)."""
        self.clock = clock
        self.faults = faults
        self.requests = requests
        self.nonces = nonces
        self._reset = reset

    def serve_http(self, request: HttpRequest) -> HttpAnswer:
        """One HTTP request: the ``/_emulator`` control routes, else an API call."""
        if request.path == CONTROL_PREFIX or request.path.startswith(_CONTROL_ROUTES):
            response = self.handle_control(request.method, request.path, request.query, request.body, request.client_ip)
        else:
            raw = RawRequest(request.method, request.path, request.query, request.grouped, request.body)
            response = self.handle_api(raw, request.client_ip)
        return _http_answer(response)

    def handle_api(self, raw: RawRequest, source_ip: str) -> Response:
        """Answer one API call; never raises (a bug becomes ``InternalError`` 500 without details)."""
        request_id = new_request_id()
        now = self.clock.now()
        product = action = account_id = principal_arn = ""
        xml = False
        try:
            if raw.method not in ("GET", "POST"):
                raise ApiError("UnsupportedHTTPMethod", f"The HTTP method {raw.method} is not supported.", 405)
            if raw.path != "/":
                raise ApiError(
                    "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", 404
                )
            claim = parse_signed_request(raw)
            action, xml = claim.action, claim.response_format == "XML"
            product = API_VERSIONS.get(claim.version, "")
            if not product:
                raise ApiError("InvalidVersion", f"Specified parameter Version {claim.version} is not valid.", 400)
            credential = authenticate(
                raw,
                claim,
                self.backend.resolve_access_key,
                self.nonces,
                now=now,
                host_now=self._host_clock() if self.accept_host_clock else None,
            )
            principal = credential.principal
            account_id, principal_arn = principal.account_id, principal.arn
            outcome = self.faults.apply(action, account_id)
            if outcome.delay_seconds:
                time.sleep(outcome.delay_seconds)
            if outcome.error is not None:
                raise outcome.error
            # Positional: a NamedTuple built with keywords costs a second pass over the arguments.
            request = ApiRequest(product, action, claim.version, claim.params, principal, request_id, now, source_ip)
            body = self.backend.dispatch(request)
            document = {"RequestId": request_id, **body}
            if xml:
                response = Response(200, xml_bytes(document, f"{action}Response"), request_id, content_type=XML_TYPE)
            else:
                response = Response(200, json_bytes(document), request_id)
        except ApiError as error:
            response = error_response(error, request_id, HOST_IDS.get(product, GENERIC_HOST_ID), xml=xml)
        except Exception:
            logger.exception("InternalError while serving %s %s (request %s)", product, action, request_id)
            response = error_response(
                ApiError("InternalError", "The request processing has failed due to some unknown error.", 500),
                request_id,
                HOST_IDS.get(product, GENERIC_HOST_ID),
                xml=xml,
            )
        self.requests.record(
            RequestLogEntry(now, request_id, product, action, account_id, principal_arn, response.status, response.code)
        )
        return response

    def handle_control(self, method: str, path: str, query: str, body: bytes, source_ip: str) -> Response:
        """The ``/_emulator`` routes (loopback callers only): JSON in, JSON out, malformed input is a 400."""
        request_id = new_request_id()
        try:
            if not _is_loopback(source_ip):
                raise ApiError("Forbidden", "The control interface answers loopback callers only.", 403)
            document = self._control(method, path.removeprefix(CONTROL_PREFIX), query, body)
            return Response(200, json_bytes(document), request_id)
        except ApiError as error:
            return error_response(error, request_id, "emulator")
        except Exception:
            logger.exception("InternalError in control route %s %s", method, path)
            return error_response(ApiError("InternalError", "The control request failed.", 500), request_id, "emulator")

    def _control(self, method: str, route: str, query: str, body: bytes) -> dict[str, Any]:
        handlers: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
            ("GET", "/health"): lambda: {"status": "ok"},
            ("GET", "/clock"): lambda: {"now": _iso(self.clock.now())},
            ("POST", "/clock"): lambda: self._move_clock(_json_object(body)),
            ("GET", "/faults"): self.faults.snapshot,
            ("POST", "/faults"): lambda: self._add_fault(_json_object(body)),
            ("DELETE", "/faults"): self._clear_faults,
            ("POST", "/reset"): self._reset_all,
            ("GET", "/state"): self.backend.dump,
            ("GET", "/requests"): lambda: self.requests.snapshot(_limit(query)),
            ("DELETE", "/requests"): self._clear_requests,
        }
        handler = handlers.get((method, route))
        if handler is None:
            if any(known_route == route for _, known_route in handlers):
                raise ApiError("UnsupportedHTTPMethod", f"{method} is not supported on {CONTROL_PREFIX}{route}.", 405)
            raise ApiError("NotFound", f"There is no control route {CONTROL_PREFIX}{route}.", 404)
        return handler()

    def _move_clock(self, document: dict[str, Any]) -> dict[str, Any]:
        if set(document) == {"advance_seconds"}:
            seconds = document["advance_seconds"]
            if not _is_number(seconds) or seconds < 0:
                raise ApiError("InvalidParameter", "advance_seconds must be a number >= 0.", 400)
            return {"now": _iso(self.clock.advance(seconds))}
        if set(document) == {"now"}:
            when = document["now"]
            try:
                moment = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
            except ValueError:
                moment = None
            if not isinstance(when, str) or moment is None or moment.tzinfo is None:
                raise ApiError("InvalidParameter", "now must be an ISO-8601 time with a timezone.", 400)
            return {"now": _iso(self.clock.set(moment))}
        raise ApiError("InvalidParameter", 'Send exactly one of {"advance_seconds": N} or {"now": "<ISO-8601>"}.', 400)

    def _add_fault(self, document: dict[str, Any]) -> dict[str, Any]:
        kind = document.get("kind")
        fields = {key: value for key, value in document.items() if key != "kind"}
        try:
            if kind == "error":
                _check_fields(fields, {"action": str, "code": str, "status": int}, {"count": int, "message": str})
                self.faults.add_error(**fields)
            elif kind == "latency":
                _check_fields(fields, {"action": str, "milliseconds": float}, {})
                self.faults.add_latency(**fields)
            elif kind == "rate_limit":
                _check_fields(fields, {"action": str, "per_second": float}, {})
                self.faults.set_rate_limit(**fields)
            else:
                raise ApiError("InvalidParameter", 'kind must be "error", "latency" or "rate_limit".', 400)
        except ValueError as error:
            raise ApiError("InvalidParameter", str(error), 400) from None
        return self.faults.snapshot()

    def _clear_faults(self) -> dict[str, Any]:
        self.faults.clear()
        return self.faults.snapshot()

    def _clear_requests(self) -> dict[str, Any]:
        self.requests.clear()
        return self.requests.snapshot()

    def _reset_all(self) -> dict[str, Any]:
        self._reset()
        return {"reset": True, "now": _iso(self.clock.now())}


class EmulatorHTTPServer(LoopbackHTTPServer):
    """The emulator's front door: the shared loopback HTTP shell around a ``WireApp``."""

    def __init__(self, address: tuple[str, int], app: WireApp, socket_timeout: float = SOCKET_TIMEOUT_SECONDS) -> None:
        super().__init__(
            address, app.serve_http, _refusal, max_body_bytes=MAX_BODY_BYTES, socket_timeout=socket_timeout
        )


def _refusal(status: int, reason: str) -> HttpAnswer:
    """A request the HTTP shell would not read, in Alibaba's JSON error format."""
    error = ApiError(
        _HTTP_ERROR_CODES.get(status, "MalformedRequest"), f"The HTTP request is malformed: {reason}.", status
    )
    return _http_answer(error_response(error, new_request_id()))


def _http_answer(response: Response) -> HttpAnswer:
    status, body, request_id, headers, _code, content_type = response
    if request_id:
        return HttpAnswer(status, body, (("Content-Type", content_type), ("x-acs-request-id", request_id), *headers))
    return HttpAnswer(status, body, (("Content-Type", content_type), *headers))


def authenticate(
    raw: RawRequest,
    claim: SignedClaim,
    resolve_access_key: Callable[[str], Credential | None],
    nonces: NonceCache,
    *,
    now: datetime,
    host_now: datetime | None = None,
) -> Credential:
    """The checks every signed call passes, in the cloud's order: key, signature, time, key state and token, nonce.

    The timestamp must be within the skew of the emulator clock, the one time that decides security here. Only when
    ``host_now`` is given (the explicit ``accept_host_clock`` option) does a timestamp near the host's clock pass too,
    so a harness that moves the emulator clock while the SDK signs with the host's time can keep calling; replays
    stay blocked by the nonce cache either way.
    """
    credential = resolve_access_key(claim.access_key_id)
    if credential is None:
        raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
    if not signature_matches(raw, claim, credential.secret):
        # Alibaba quotes its string to sign after "is:"; the legacy SDK parses it to tell a wrong secret apart.
        raise ApiError(
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. server string to sign is:"
            + string_to_sign(raw, claim),
            400,
        )
    if abs(now - claim.timestamp) > MAX_CLOCK_SKEW and (
        host_now is None or abs(host_now - claim.timestamp) > MAX_CLOCK_SKEW
    ):
        raise ApiError(
            "InvalidTimeStamp.Expired",
            f"Specified time stamp or date value is expired; the server time is {_iso(now)}.",
            400,
        )
    _check_credential(credential, claim.security_token, now)
    if not nonces.remember(
        claim.access_key_id, claim.nonce, claim.timestamp, now if host_now is None else min(now, host_now)
    ):
        raise ApiError("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
    return credential


def _check_credential(credential: Credential, token: str | None, now: datetime) -> None:
    if not credential.active:
        raise ApiError("InvalidAccessKeyId.Inactive", "Specified access key is disabled.", 403)
    if credential.security_token is None:
        return
    if not token:
        raise ApiError("MissingSecurityToken", "The SecurityToken of the STS credential is missing.", 400)
    if not _same_text(token, credential.security_token):
        if not _TOKEN_SHAPE.fullmatch(token):
            raise ApiError("InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed.", 400)
        raise ApiError(
            "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.", 400
        )
    if credential.expires_at is not None and now >= credential.expires_at:
        raise ApiError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.", 400)


def _same_text(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"null")
    except ValueError:
        raise ApiError("MalformedJSON", "The request body is not valid JSON.", 400) from None
    if not isinstance(document, dict):
        raise ApiError("MalformedJSON", "The request body must be a JSON object.", 400)
    return document


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_fields(fields: Mapping[str, Any], required: Mapping[str, type], optional: Mapping[str, type]) -> None:
    allowed = {**required, **optional, "account_id": str}
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ApiError("InvalidParameter", f"Unknown fields: {', '.join(unknown)}.", 400)
    for name in required:
        if name not in fields:
            raise ApiError("MissingParameter", f"The field {name} is required.", 400)
    for name, value in fields.items():
        expected = allowed[name]
        if name == "account_id" and value is None:
            continue
        valid = _is_number(value) if expected is float else isinstance(value, expected) and not isinstance(value, bool)
        if not valid:
            raise ApiError("InvalidParameter", f"The field {name} must be of type {expected.__name__}.", 400)


def _limit(query: str) -> int | None:
    try:
        values = dict(parse_qsl(query, strict_parsing=False)).get("limit")
        return None if values is None else max(0, int(values))
    except ValueError:
        raise ApiError("InvalidParameter", "limit must be an integer.", 400) from None
