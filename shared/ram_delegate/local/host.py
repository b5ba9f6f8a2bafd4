"""A local Function Compute 3.0 front door: HTTP triggers and the InvokeFunction API on one loopback port.

- ``<any method> /<functionName>[/sub/path]`` -> the function's HTTP trigger: the request becomes the FC 3.0 HTTP
  trigger event (bytes), the function's ``{statusCode, headers, body, isBase64Encoded}`` becomes the response. As on
  FC, where every function has its own domain, the function sees the path below its name (``rawPath`` ``/`` for
  ``/owner-onboard``).
- ``POST /2023-03-30/functions/<name>/invocations`` -> InvokeFunction, ACS3-signed exactly as the official
  ``alibabacloud-fc20230330`` client signs it, verified against the emulator's credentials (key, secret, STS token and
  expiry, nonce). The body is the event; the answer is the function's return value (JSON unless bytes or str), with
  ``x-fc-request-id``. ``x-fc-invocation-type: Async`` answers 202 and runs the function on a background thread.

Known limits: the caller must belong to the function's account (no ``fc:*`` RAM policy evaluation); the signing time
may be within 15 minutes of either the emulator clock or the host clock, because SDK clients sign with the host clock
while tests move the emulator clock by days; HTTP triggers are served as ``authType: anonymous`` whatever the
template says (the webhook signature is the product's authentication).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aliyun_emulator.core.clock import EmulatorClock, utc_now
from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.identity import Credential
from aliyun_emulator.core.signing import MAX_CLOCK_SKEW, NonceCache, RawRequest, parse_signed_request, signature_matches
from ram_delegate.local.template import FunctionSpec

logger = logging.getLogger("ram_delegate.local.host")

FC_API_VERSION = "2023-03-30"
MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""Larger bodies are refused with 413 before they are read (FC's synchronous invocation payload limit is higher;
nothing served here accepts more than 64 KB)."""
SOCKET_TIMEOUT_SECONDS = 30

_INVOKE_PATH = re.compile(r"^/2023-03-30/functions/([^/]+)/invocations$")

Invoke = Callable[[str, bytes, str], Any]
"""``invoke(function_name, event_bytes, request_id) -> return value``; raises what the function raises."""


@dataclass(frozen=True)
class HostResponse:
    status: int
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class LocalFunction:
    """What the host needs to know about one served function."""

    spec: FunctionSpec
    account_id: str


class FunctionHost:
    """Routing and protocol logic, separate from the socket server so it can be exercised directly."""

    def __init__(
        self,
        functions: Mapping[str, LocalFunction],
        invoke: Invoke,
        clock: EmulatorClock,
        resolve_access_key: Callable[[str], Credential | None],
    ) -> None:
        self.functions = dict(functions)
        self._invoke = invoke
        self._clock = clock
        self._resolve_access_key = resolve_access_key
        self._nonces = NonceCache()

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, client_ip: str
    ) -> HostResponse:
        """Answer one request; never raises."""
        request_id = str(uuid.uuid4())
        split = urlsplit(target)
        invocation = _INVOKE_PATH.match(split.path)
        try:
            if invocation is not None:
                return self._invoke_function(
                    method, split.path, split.query, headers, body, unquote(invocation[1]), request_id
                )
            return self._http_trigger(method, split.path, split.query, headers, body, client_ip, request_id)
        except Exception:
            logger.exception("the local host failed on %s %s", method, split.path)
            return _fc_error(500, "InternalError", "The local host failed; see its log.", request_id)

    def _http_trigger(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        client_ip: str,
        request_id: str,
    ) -> HostResponse:
        encoded_name, _, rest = path.lstrip("/").partition("/")
        function = self.functions.get(unquote(encoded_name))
        if function is None or not function.spec.http_triggers:
            known = ", ".join(sorted(name for name, f in self.functions.items() if f.spec.http_triggers))
            return _fc_error(
                404, "FunctionNotFound", f"No HTTP function at /{encoded_name}; try one of: {known}", request_id
            )
        allowed = {m for trigger in function.spec.http_triggers for m in trigger.methods}
        if allowed and method not in allowed:
            return _fc_error(405, "MethodNotAllowed", f"{method} is not among the trigger's methods.", request_id)
        raw_path = "/" + rest
        now = self._clock.now()
        joined_headers: dict[str, str] = {}
        user_agent = ""
        for name, value in headers:
            key = name.lower()
            joined_headers[key] = f"{joined_headers[key]},{value}" if key in joined_headers else value
            if key == "user-agent":
                user_agent = value
        query_parameters: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            query_parameters[key] = f"{query_parameters[key]},{value}" if key in query_parameters else value
        try:
            text_body, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode("ascii"), True
        event = {
            "version": "v1",
            "rawPath": raw_path,
            "headers": joined_headers,
            "queryParameters": query_parameters,
            "body": text_body,
            "isBase64Encoded": is_base64,
            "requestContext": {
                "accountId": function.account_id,
                "domainName": joined_headers.get("host", ""),
                "domainPrefix": function.spec.name,
                "http": {
                    "method": method,
                    "path": unquote(raw_path),
                    "protocol": "HTTP/1.1",
                    "sourceIp": client_ip,
                    "userAgent": user_agent,
                },
                "requestId": request_id,
                "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "timeEpoch": str(int(now.timestamp() * 1000)),
            },
        }
        try:
            result = self._invoke(function.spec.name, json.dumps(event).encode("utf-8"), request_id)
        except Exception as exc:
            logger.error("function %s raised %s", function.spec.name, type(exc).__name__, exc_info=True)
            return _unhandled(502, exc, request_id)
        return _trigger_response(result, request_id)

    def _invoke_function(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        name: str,
        request_id: str,
    ) -> HostResponse:
        if method != "POST":
            return _fc_error(405, "MethodNotAllowed", "InvokeFunction is POST only.", request_id)
        try:
            account_id = self._authenticate(method, path, query, headers, body)
        except ApiError as error:
            return _fc_error(error.status, error.code, error.message, request_id)
        function = self.functions.get(name)
        if function is None:
            return _fc_error(404, "FunctionNotFound", f"function '{name}' does not exist", request_id)
        if function.account_id != account_id:
            return _fc_error(403, "AccessDenied", f"function '{name}' belongs to another account", request_id)
        invocation_type = next((v for k, v in headers if k.lower() == "x-fc-invocation-type"), "Sync")
        if invocation_type.lower() == "async":
            threading.Thread(
                target=self._run_async, args=(name, body, request_id), name=f"fc-async:{name}", daemon=True
            ).start()
            return HostResponse(202, b"", {"x-fc-request-id": request_id})
        try:
            result = self._invoke(name, body, request_id)
        except Exception as exc:
            logger.error("function %s raised %s", name, type(exc).__name__, exc_info=True)
            return _unhandled(200, exc, request_id)
        return HostResponse(
            200, serialise_result(result), {"x-fc-request-id": request_id, "content-type": "application/octet-stream"}
        )

    def _run_async(self, name: str, body: bytes, request_id: str) -> None:
        try:
            self._invoke(name, body, request_id)
        except Exception as exc:
            logger.error("async invocation of %s raised %s", name, type(exc).__name__, exc_info=True)

    def _authenticate(self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes) -> str:
        """Check an ACS3 signature as the FC API does; returns the caller's account id."""
        grouped: dict[str, list[str]] = {}
        for name, value in headers:
            grouped.setdefault(name.lower(), []).append(_header_text(value))
        raw = RawRequest(method, path, query, {k: tuple(v) for k, v in grouped.items()}, body)
        claim = parse_signed_request(raw)
        if claim.version != FC_API_VERSION or claim.action != "InvokeFunction":
            raise ApiError("InvalidAction.NotFound", "Only InvokeFunction of FC 2023-03-30 is served here.", 404)
        credential = self._resolve_access_key(claim.access_key_id)
        if credential is None:
            raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        if not signature_matches(raw, claim, credential.secret):
            raise ApiError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400)
        now = self._clock.now()
        if min(abs(now - claim.timestamp), abs(utc_now() - claim.timestamp)) > MAX_CLOCK_SKEW:
            raise ApiError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
        if not credential.active:
            raise ApiError("InvalidAccessKeyId.Inactive", "Specified access key is disabled.", 403)
        if credential.security_token is not None:
            if claim.security_token != credential.security_token:
                raise ApiError("InvalidSecurityToken.Mismatch", "Specified SecurityToken does not match.", 400)
            if credential.expires_at is not None and now >= credential.expires_at:
                raise ApiError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.", 400)
        if not self._nonces.remember(claim.access_key_id, claim.nonce, claim.timestamp, now):
            raise ApiError("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
        return credential.principal.account_id


def serialise_result(result: Any) -> bytes:
    """A function's return value as FC sends it back: bytes as is, str as UTF-8, anything else as JSON."""
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode("utf-8")
    return json.dumps(result, default=str).encode("utf-8")


def _trigger_response(result: Any, request_id: str) -> HostResponse:
    if not (isinstance(result, Mapping) and "statusCode" in result):
        return HostResponse(200, serialise_result(result), {"x-fc-request-id": request_id})
    raw_body = result.get("body")
    if result.get("isBase64Encoded") is True and isinstance(raw_body, str):
        body = base64.b64decode(raw_body)
    elif raw_body is None:
        body = b""
    else:
        body = serialise_result(raw_body)
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    headers["x-fc-request-id"] = request_id
    return HostResponse(int(result["statusCode"]), body, headers)


def _unhandled(status: int, exc: BaseException, request_id: str) -> HostResponse:
    body = {"errorType": type(exc).__name__, "errorMessage": "the function raised an unhandled exception"}
    return HostResponse(
        status,
        json.dumps(body).encode("utf-8"),
        {
            "x-fc-request-id": request_id,
            "x-fc-error-type": "UnhandledInvocationError",
            "content-type": "application/json",
        },
    )


def _fc_error(status: int, code: str, message: str, request_id: str) -> HostResponse:
    body = {"Code": code, "Message": message, "RequestId": request_id}
    return HostResponse(
        status, json.dumps(body).encode("utf-8"), {"x-fc-request-id": request_id, "content-type": "application/json"}
    )


def _header_text(value: str) -> str:
    # http.server decodes headers as latin-1; the SDK signs their UTF-8 text.
    return value.encode("latin-1", "replace").decode("utf-8", "surrogateescape")


class HostServer(ThreadingHTTPServer):
    """Threaded so a function may call another one through the host (owner-onboard -> partner-onboard)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], host: FunctionHost) -> None:
        self.host = host
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostServer
    timeout = SOCKET_TIMEOUT_SECONDS

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

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _serve(self) -> None:
        length_text = self.headers.get("content-length", "0") or "0"
        if not length_text.isdigit():
            self._write(HostResponse(400, b'{"Code":"InvalidContentLength"}', {"content-type": "application/json"}))
            self.close_connection = True
            return
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            self._write(HostResponse(413, b'{"Code":"RequestEntityTooLarge"}', {"content-type": "application/json"}))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        response = self.server.host.handle(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        self._write(response)

    def _write(self, response: HostResponse) -> None:
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = "Status"
        lines = [f"HTTP/1.1 {response.status} {phrase}"]
        headers = {"content-type": "application/json", **response.headers}
        headers["content-length"] = str(len(response.body))
        headers["date"] = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        payload = head if self.command == "HEAD" else head + response.body
        try:
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True
