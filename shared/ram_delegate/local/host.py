"""A local Function Compute 3.0 front door: HTTP triggers and the InvokeFunction API on one loopback port.

- ``<any method> /<functionName>[/sub/path]`` -> the function's HTTP trigger: the request becomes the FC 3.0 HTTP
  trigger event (bytes), the function's ``{statusCode, headers, body, isBase64Encoded}`` becomes the response. As on
  FC, where every function has its own domain, the function sees the path below its name (``rawPath`` ``/`` for
  ``/owner-onboard``).
- ``POST /2023-03-30/functions/<name>/invocations`` -> InvokeFunction, ACS3-signed exactly as the official
  ``alibabacloud-fc20230330`` client signs it, verified against the emulator's credentials (key, secret, STS token and
  expiry, nonce). The body is the event; the answer is the function's return value (JSON unless bytes or str), with
  ``x-fc-request-id``. ``x-fc-invocation-type: Async`` answers 202 and runs the function on a background thread with
  FC's retry semantics: a run that raises is retried up to ``asyncInvokeConfig.maxAsyncRetryAttempts`` times
  (default 3) with a growing pause; one that still fails is logged with its onFailure destination and kept in
  ``async_failures``.

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
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote

from aliyun_emulator.core.clock import EmulatorClock, utc_now
from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.http import HttpAnswer, HttpRequest, LoopbackHTTPServer
from aliyun_emulator.core.identity import Credential
from aliyun_emulator.core.server import authenticate
from aliyun_emulator.core.signing import NonceCache, RawRequest, parse_signed_request
from ram_delegate.local.template import FunctionSpec

logger = logging.getLogger("ram_delegate.local.host")

FC_API_VERSION = "2023-03-30"
MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""Larger bodies are refused with 413 before they are read (FC's synchronous invocation payload limit is higher;
nothing served here accepts more than 64 KB)."""
SERVED_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})

_INVOKE_PATH = re.compile(r"^/2023-03-30/functions/([^/]+)/invocations$")

Invoke = Callable[[str, bytes, str], Any]
"""``invoke(function_name, event_bytes, request_id) -> return value``; raises what the function raises."""


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
        self.async_backoff_seconds = 1.0
        self.async_failures: list[tuple[str, str]] = []
        self._async_lock = threading.Lock()
        self._async_running = 0

    def serve(self, request: HttpRequest) -> HttpAnswer:
        """Answer one request; never raises."""
        request_id = str(uuid.uuid4())
        invocation = _INVOKE_PATH.match(request.path)
        try:
            if invocation is not None:
                return self._invoke_function(request, unquote(invocation[1]), request_id)
            return self._http_trigger(request, request_id)
        except Exception:
            logger.exception("the local host failed on %s %s", request.method, request.path)
            return _fc_error(500, "InternalError", "The local host failed; see its log.", request_id)

    def _http_trigger(self, request: HttpRequest, request_id: str) -> HttpAnswer:
        method, body = request.method, request.body
        encoded_name, _, rest = request.path.lstrip("/").partition("/")
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
        for name, value in request.headers:
            key = name.lower()
            joined_headers[key] = f"{joined_headers[key]},{value}" if key in joined_headers else value
            if key == "user-agent":
                user_agent = value
        query_parameters: dict[str, str] = {}
        for key, value in parse_qsl(request.query, keep_blank_values=True):
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
                    "sourceIp": request.client_ip,
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

    def _invoke_function(self, request: HttpRequest, name: str, request_id: str) -> HttpAnswer:
        if request.method != "POST":
            return _fc_error(405, "MethodNotAllowed", "InvokeFunction is POST only.", request_id)
        body = request.body
        try:
            account_id = self._authenticate(request)
        except ApiError as error:
            return _fc_error(error.status, error.code, error.message, request_id)
        function = self.functions.get(name)
        if function is None:
            return _fc_error(404, "FunctionNotFound", f"function '{name}' does not exist", request_id)
        if function.account_id != account_id:
            return _fc_error(403, "AccessDenied", f"function '{name}' belongs to another account", request_id)
        invocation_type = next((v for k, v in request.headers if k.lower() == "x-fc-invocation-type"), "Sync")
        if invocation_type.lower() == "async":
            with self._async_lock:
                self._async_running += 1  # counted before the 202, so async_idle() never misses it
            threading.Thread(
                target=self._run_async, args=(name, body, request_id), name=f"fc-async:{name}", daemon=True
            ).start()
            return HttpAnswer(202, b"", (("x-fc-request-id", request_id),))
        try:
            result = self._invoke(name, body, request_id)
        except Exception as exc:
            logger.error("function %s raised %s", name, type(exc).__name__, exc_info=True)
            return _unhandled(200, exc, request_id)
        headers = (("x-fc-request-id", request_id), ("content-type", "application/octet-stream"))
        return HttpAnswer(200, serialise_result(result), headers)

    def _run_async(self, name: str, body: bytes, request_id: str) -> None:
        function = self.functions.get(name)
        attempts = 1 + (function.spec.async_retries if function is not None else 0)
        try:
            for attempt in range(attempts):
                try:
                    self._invoke(name, body, request_id)
                    return
                except Exception as exc:
                    logger.warning("async invocation %s of %s raised %s", attempt + 1, name, type(exc).__name__)
                    if attempt + 1 < attempts:
                        time.sleep(self.async_backoff_seconds * (2**attempt))
            destination = function.spec.async_on_failure if function is not None else ""
            logger.error("async invocation of %s failed %s times (onFailure: %s)", name, attempts, destination or "-")
            with self._async_lock:
                self.async_failures.append((name, request_id))
        finally:
            with self._async_lock:
                self._async_running -= 1

    def async_idle(self) -> bool:
        """No asynchronous invocation is running or waiting for a retry."""
        with self._async_lock:
            return self._async_running == 0

    def _authenticate(self, request: HttpRequest) -> str:
        """Check an ACS3 signature as the FC API does; returns the caller's account id."""
        raw = RawRequest.from_header_pairs(request.method, request.path, request.query, request.headers, request.body)
        claim = parse_signed_request(raw)
        if claim.version != FC_API_VERSION or claim.action != "InvokeFunction":
            raise ApiError("InvalidAction.NotFound", "Only InvokeFunction of FC 2023-03-30 is served here.", 404)
        credential = authenticate(
            raw, claim, self._resolve_access_key, self._nonces, now=self._clock.now(), host_now=utc_now()
        )
        return credential.principal.account_id


def serialise_result(result: Any) -> bytes:
    """A function's return value as FC sends it back: bytes as is, str as UTF-8, anything else as JSON."""
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode("utf-8")
    return json.dumps(result, default=str).encode("utf-8")


def _trigger_response(result: Any, request_id: str) -> HttpAnswer:
    if not (isinstance(result, Mapping) and "statusCode" in result):
        return HttpAnswer(200, serialise_result(result), (("x-fc-request-id", request_id), _JSON))
    raw_body = result.get("body")
    if result.get("isBase64Encoded") is True and isinstance(raw_body, str):
        body = base64.b64decode(raw_body)
    elif raw_body is None:
        body = b""
    else:
        body = serialise_result(raw_body)
    headers = {"content-type": _JSON[1]}
    headers.update({str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()})
    headers["x-fc-request-id"] = request_id
    return HttpAnswer(int(result["statusCode"]), body, tuple(headers.items()))


def _unhandled(status: int, exc: BaseException, request_id: str) -> HttpAnswer:
    body = {"errorType": type(exc).__name__, "errorMessage": "the function raised an unhandled exception"}
    headers = (("x-fc-request-id", request_id), ("x-fc-error-type", "UnhandledInvocationError"), _JSON)
    return HttpAnswer(status, json.dumps(body).encode("utf-8"), headers)


def _fc_error(status: int, code: str, message: str, request_id: str) -> HttpAnswer:
    body = {"Code": code, "Message": message, "RequestId": request_id}
    return HttpAnswer(status, json.dumps(body).encode("utf-8"), (("x-fc-request-id", request_id), _JSON))


def _refusal(status: int, reason: str) -> HttpAnswer:
    """A request the HTTP shell would not read (bad Content-Length, too large, malformed)."""
    codes = {400: "InvalidRequest", 405: "MethodNotAllowed", 411: "MissingContentLength", 413: "RequestEntityTooLarge"}
    return _fc_error(
        status, codes.get(status, "InvalidRequest"), f"The HTTP request was refused: {reason}.", str(uuid.uuid4())
    )


def _date_header() -> tuple[tuple[str, str], ...]:
    return (("date", datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")),)


_JSON = ("content-type", "application/json")


class HostServer(LoopbackHTTPServer):
    """Threaded so a function may call another one through the host (owner-onboard -> partner-onboard)."""

    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], host: FunctionHost) -> None:
        self.host = host
        super().__init__(
            address,
            host.serve,
            _refusal,
            max_body_bytes=MAX_REQUEST_BYTES,
            methods=SERVED_METHODS,
            extra_headers=_date_header,
        )
