"""The HTTP front door: one loopback server for RAM, STS, SLB and Resource Manager, plus the ``/_emulator`` routes.

``WireApp`` holds the protocol logic (verify, route, apply faults, dispatch, render errors, log) over plain values;
``EmulatorHTTPServer`` is the thin ``http.server`` shell around it. Every answer is JSON in Alibaba's error format
with a 4xx for anything malformed: the stdlib's own HTML error pages and 5xx parse errors are replaced. Responses
go out in a single write on a TCP_NODELAY socket, because Nagle plus delayed ACK would add ~40 ms per SDK call.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from aliyun_emulator.core.backend import API_VERSIONS, HOST_IDS, CloudBackend
from aliyun_emulator.core.clock import EmulatorClock, utc_now
from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.faults import Faults
from aliyun_emulator.core.identity import Credential
from aliyun_emulator.core.request import ApiRequest
from aliyun_emulator.core.requestlog import RequestLog, RequestLogEntry
from aliyun_emulator.core.signing import (
    MAX_CLOCK_SKEW,
    NonceCache,
    RawRequest,
    parse_signed_request,
    signature_matches,
)

logger = logging.getLogger("aliyun_emulator")

MAX_BODY_BYTES = 1 << 20
SOCKET_TIMEOUT_SECONDS = 30.0
CONTROL_PREFIX = "/_emulator"
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


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    request_id: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    code: str = ""
    """The error code of an error answer (request log)."""


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


def json_bytes(document: Mapping[str, Any]) -> bytes:
    # "replace": header text decoded with surrogateescape may be echoed in a message; never fail on it.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def error_response(error: ApiError, request_id: str, host_id: str = GENERIC_HOST_ID) -> Response:
    """Alibaba's RPC error body: ``{RequestId, HostId, Code, Message, Recommend}`` with the error's status."""
    body = {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"{RECOMMEND_URL}{error.code}",
    }
    return Response(error.status, json_bytes(body), request_id, tuple(error.headers.items()), error.code)


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
    ) -> None:
        self.backend = backend
        self._host_clock = host_clock
        self.clock = clock
        self.faults = faults
        self.requests = requests
        self.nonces = nonces
        self._reset = reset

    def handle_api(self, raw: RawRequest, source_ip: str) -> Response:
        """Answer one API call; never raises (a bug becomes ``InternalError`` 500 without details)."""
        request_id = new_request_id()
        now = self.clock.now()
        product = action = account_id = principal_arn = ""
        try:
            if raw.method not in ("GET", "POST"):
                raise ApiError("UnsupportedHTTPMethod", f"The HTTP method {raw.method} is not supported.", 405)
            if raw.path != "/":
                raise ApiError(
                    "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", 404
                )
            claim = parse_signed_request(raw)
            action = claim.action
            product = API_VERSIONS.get(claim.version, "")
            if not product:
                raise ApiError("InvalidVersion", f"Specified parameter Version {claim.version} is not valid.", 400)
            credential = self.backend.resolve_access_key(claim.access_key_id)
            if credential is None:
                raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
            if not signature_matches(raw, claim, credential.secret):
                raise ApiError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400)
            # The SDK signs with the host's time: a timestamp near either clock passes, so a test that moves the
            # emulator clock forward (to expire sessions) can keep calling; replays stay blocked by the nonce cache.
            host_now = self._host_clock()
            if abs(now - claim.timestamp) > MAX_CLOCK_SKEW and abs(host_now - claim.timestamp) > MAX_CLOCK_SKEW:
                raise ApiError(
                    "InvalidTimeStamp.Expired",
                    f"Specified time stamp or date value is expired; the server time is {_iso(now)}.",
                    400,
                )
            _check_credential(credential, claim.security_token, now)
            principal = credential.principal
            account_id, principal_arn = principal.account_id, principal.arn
            if not self.nonces.remember(claim.access_key_id, claim.nonce, claim.timestamp, min(now, host_now)):
                raise ApiError("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
            outcome = self.faults.apply(action, account_id)
            if outcome.delay_seconds:
                time.sleep(outcome.delay_seconds)
            if outcome.error is not None:
                raise outcome.error
            body = self.backend.dispatch(
                ApiRequest(
                    product=product,
                    action=action,
                    version=claim.version,
                    params=claim.params,
                    principal=principal,
                    request_id=request_id,
                    now=now,
                    source_ip=source_ip,
                )
            )
            response = Response(200, json_bytes({"RequestId": request_id, **body}), request_id)
        except ApiError as error:
            response = error_response(error, request_id, HOST_IDS.get(product, GENERIC_HOST_ID))
        except Exception:
            logger.exception("InternalError while serving %s %s (request %s)", product, action, request_id)
            response = error_response(
                ApiError("InternalError", "The request processing has failed due to some unknown error.", 500),
                request_id,
                HOST_IDS.get(product, GENERIC_HOST_ID),
            )
        self.requests.record(
            RequestLogEntry(
                time=now,
                request_id=request_id,
                product=product,
                action=action,
                account_id=account_id,
                principal_arn=principal_arn,
                status=response.status,
                code=response.code,
            )
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


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server (daemon threads, keep-alive); tracks connections so ``server_close`` ends them."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: WireApp, socket_timeout: float = SOCKET_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.socket_timeout = socket_timeout
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on a machine without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _RefusedRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = SOCKET_TIMEOUT_SECONDS
    server_version = "aliyun-emulator"
    sys_version = ""
    server: EmulatorHTTPServer

    def setup(self) -> None:
        # A slow or silent client may hold a thread only this long (reading headers, body, or idling between calls).
        super().setup()
        self.connection.settimeout(self.server.socket_timeout)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log records calls, and request lines may carry tokens (legacy SecurityToken)."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Parse errors found by http.server, in Alibaba's JSON format and always 4xx (501/505 are client faults)."""
        status = 405 if code == HTTPStatus.NOT_IMPLEMENTED else code
        if status >= 500:
            status = 400
        self.close_connection = True
        reason = message or HTTPStatus(code).phrase
        error = ApiError(
            _HTTP_ERROR_CODES.get(status, "MalformedRequest"), f"The HTTP request is malformed: {reason}.", status
        )
        self._write(error_response(error, new_request_id()))

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _RefusedRequest as refused:
            self.send_error(refused.status, refused.message)
            return
        except OSError:  # timeout or reset while reading the body: nothing sensible to answer
            self.close_connection = True
            return
        if body is None:
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        source_ip = str(self.client_address[0])
        app = self.server.app
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            response = app.handle_control(self.command, path, query, body, source_ip)
        else:
            headers: dict[str, tuple[str, ...]] = {}
            for name, value in self.headers.items():
                key = name.lower()
                headers[key] = (*headers.get(key, ()), _header_text(value))
            response = app.handle_api(RawRequest(self.command, path, query, headers, body), source_ip)
        self._write(response)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding") is not None:
            raise _RefusedRequest(411, "chunked or encoded bodies are not supported; send Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        text = lengths[0].strip()
        if len(lengths) > 1 or not text.isdigit() or not text.isascii():
            raise _RefusedRequest(400, "invalid Content-Length")
        length = int(text)
        if length > MAX_BODY_BYTES:
            raise _RefusedRequest(413, f"the body exceeds {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(length) if length else b""
        return body if len(body) == length else None

    def _write(self, response: Response) -> None:
        phrase = _reason(response.status)
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            "Content-Type: application/json;charset=utf-8",
            f"Content-Length: {len(response.body)}",
            f"Connection: {'close' if self.close_connection else 'keep-alive'}",
        ]
        if response.request_id:
            lines.append(f"x-acs-request-id: {response.request_id}")
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        try:
            self.wfile.write(head + response.body)
        except OSError:
            self.close_connection = True


def _check_credential(credential: Credential, token: str | None, now: datetime) -> None:
    if not credential.active:
        raise ApiError("InvalidAccessKeyId.Inactive", "Specified access key is disabled.", 403)
    if credential.security_token is None:
        return
    if not token:
        raise ApiError("MissingSecurityToken", "The SecurityToken of the STS credential is missing.", 400)
    if not _same_text(token, credential.security_token):
        raise ApiError("InvalidSecurityToken.Mismatch", "Specified SecurityToken does not match the AccessKey.", 400)
    if credential.expires_at is not None and now >= credential.expires_at:
        raise ApiError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.", 400)


def _same_text(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def _header_text(value: str) -> str:
    # http.client decodes headers as latin-1; the SDK signs their UTF-8 text.
    return value.encode("latin-1", "replace").decode("utf-8", "surrogateescape")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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
