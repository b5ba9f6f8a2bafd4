"""Small loopback fakes of the vendor APIs the intake wing calls, speaking their wire format.

One threaded HTTP server serves DingTalk (``/v1.0/oauth2/accessToken``, ``/v1.0/workflow/processInstances``, the
work-notification ``/topapi/message/corpconversation/asyncsend_v2`` and the custom robot ``/robot/send``), Feishu
(``/open-apis/auth/v3/tenant_access_token/internal``, ``/open-apis/approval/v4/instances/{code}``,
``/open-apis/im/v1/messages``, the custom bot ``/open-apis/bot/v2/hook/{id}``), Jira
(``/rest/api/2/issue/{key}/comment``), GitHub (``/repos/{owner}/{repo}/issues/{n}/comments``) and a Slack-style
incoming webhook (``/services/...``). Every request is recorded; credentials are checked as the vendors do.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DINGTALK_APP = ("ding-app-key", "ding-app-secret")
FEISHU_APP = ("cli_a1b2c3d4e5f6a7b8", "feishu-app-secret")
DINGTALK_TOKEN = "dt-access-token-0001"
FEISHU_TOKEN = "t-feishu-tenant-0001"
JIRA_AUTH = ("jira-bot@enterprise-a.example", "jira-api-token")
GITHUB_TOKEN = "ghp_fake_write_token"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class VendorState:
    dingtalk_instances: dict[str, Any] = field(default_factory=dict)
    feishu_instances: dict[str, Any] = field(default_factory=dict)
    dingtalk_default: Any = None  # answered for an unknown instance id (None: DingTalk's not-found error)
    feishu_default: Any = None
    requests: list[Recorded] = field(default_factory=list)
    fail_next: int = 0  # answer this many API calls with 503 first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, prefix: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        query = dict(parse_qsl(parts.query))
        headers = {k.lower(): v for k, v in self.headers.items()}
        state = self.server.state
        with state.lock:
            state.requests.append(Recorded(method, parts.path, query, headers, body))
            failing = state.fail_next > 0
            if failing:
                state.fail_next -= 1
        if failing:
            self._answer(503, {"message": "try later"})
            return
        status, answer = route(state, method, parts.path, query, headers, body)
        self._answer(status, answer)

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def route(
    state: VendorState, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
) -> tuple[int, Any]:
    if path == "/v1.0/oauth2/accessToken" and method == "POST":
        if isinstance(body, dict) and (body.get("appKey"), body.get("appSecret")) == DINGTALK_APP:
            return 200, {"accessToken": DINGTALK_TOKEN, "expireIn": 7200}
        return 400, {"code": "invalidClientIdOrSecret", "message": "bad app key or secret"}
    if path == "/v1.0/workflow/processInstances" and method == "GET":
        if headers.get("x-acs-dingtalk-access-token") != DINGTALK_TOKEN:
            return 401, {"code": "InvalidAuthentication", "message": "bad token"}
        instance = state.dingtalk_instances.get(query.get("processInstanceId", ""), state.dingtalk_default)
        if instance is None:
            return 400, {"code": "processInstanceId.notFound", "message": "no such instance"}
        return 200, {"success": True, "result": instance}
    if path == "/topapi/message/corpconversation/asyncsend_v2" and method == "POST":
        if query.get("access_token") != DINGTALK_TOKEN:
            return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
        return 200, {"errcode": 0, "errmsg": "ok", "task_id": 256271667526}
    if path == "/robot/send" and method == "POST":
        return 200, {"errcode": 0, "errmsg": "ok"}
    if path == "/open-apis/auth/v3/tenant_access_token/internal" and method == "POST":
        if isinstance(body, dict) and (body.get("app_id"), body.get("app_secret")) == FEISHU_APP:
            return 200, {"code": 0, "msg": "ok", "tenant_access_token": FEISHU_TOKEN, "expire": 7200}
        return 200, {"code": 10014, "msg": "app secret invalid"}
    match = re.fullmatch(r"/open-apis/approval/v4/instances/([^/]+)", path)
    if match and method == "GET":
        if headers.get("authorization") != f"Bearer {FEISHU_TOKEN}":
            return 200, {"code": 99991663, "msg": "Invalid access token for authorization."}
        instance = state.feishu_instances.get(match.group(1), state.feishu_default)
        if instance is None:
            return 400, {"code": 1390001, "msg": "instance not found"}
        return 200, {"code": 0, "msg": "success", "data": instance}
    if path == "/open-apis/im/v1/messages" and method == "POST":
        if headers.get("authorization") != f"Bearer {FEISHU_TOKEN}":
            return 200, {"code": 99991663, "msg": "Invalid access token for authorization."}
        return 200, {"code": 0, "msg": "success", "data": {"message_id": "om_1"}}
    if path.startswith("/open-apis/bot/v2/hook/") and method == "POST":
        if not isinstance(body, dict) or body.get("msg_type") not in ("text", "post", "interactive"):
            return 200, {"code": 9499, "msg": "Bad Request"}
        return 200, {"StatusCode": 0, "StatusMessage": "success", "code": 0}
    match = re.fullmatch(r"/rest/api/2/issue/([A-Z][A-Z0-9]*-[0-9]+)/comment", path)
    if match and method == "POST":
        expected = "Basic " + base64.b64encode(":".join(JIRA_AUTH).encode()).decode()
        if headers.get("authorization") != expected:
            return 401, {"errorMessages": ["You are not authenticated."]}
        return 201, {"id": "10000", "body": body.get("body") if isinstance(body, dict) else None}
    match = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/([0-9]+)/comments", path)
    if match and method == "POST":
        if headers.get("authorization") != f"Bearer {GITHUB_TOKEN}":
            return 401, {"message": "Bad credentials"}
        return 201, {"id": 1, "body": body.get("body") if isinstance(body, dict) else None}
    if path.startswith("/services/") and method == "POST":
        return 200, "ok"
    return 404, {"message": f"no fake for {method} {path}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: VendorState) -> None:
        self.state = state
        super().__init__(("127.0.0.1", 0), _Handler)


class VendorFakes:
    """Start with ``with VendorFakes() as fakes:``; ``fakes.url`` is the base URL of every fake API."""

    def __init__(self) -> None:
        self.state = VendorState()
        self._server = _Server(self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> VendorFakes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
