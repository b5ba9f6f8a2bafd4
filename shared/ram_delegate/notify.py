"""Outgoing messages: signed events to the other side's webhook, and alerts to a chat webhook.

Alert bodies follow the receiver, told by its host or its path: a DingTalk custom robot (``oapi.dingtalk.com`` or
``/robot/send``) gets ``{"msgtype": "markdown", "markdown": {"title", "text"}}``; a Feishu/Lark custom bot
(``/open-apis/bot/v2/hook/...``) gets ``{"msg_type": "text", "content": {"text"}}`` (any other shape is refused with
code 9499); every other URL gets Slack's incoming-webhook shape (``{"text": ...}``), which Mattermost, Rocket.Chat and
most chat bridges also accept. With a signing secret (``RAM_DELEGATE_ALERT_SECRET``, the robot's "sign" security
setting) a DingTalk URL gets ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret, "timestamp\nsecret")) as
query parameters, and a Feishu body gets ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(key="timestamp\nsecret",
message="")). A DingTalk robot takes 20 messages a minute: the notifier waits for a free slot (at most a minute)
rather than have the robot drop the message. Webhook URLs carry their own secret (DingTalk's ``access_token``,
Slack's path), so only the host is ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import quote, urlsplit

from ram_delegate.events import ApprovedEvent, GrantedEvent, RevokedEvent, to_json_bytes
from ram_delegate.webhook import sign, webhook_id_for

logger = logging.getLogger(__name__)

DINGTALK_HOST = "oapi.dingtalk.com"
FEISHU_BOT_PATH = "/open-apis/bot/v2/hook/"
NO_ANSWER = 0
USER_AGENT = "ram-delegate/0.1"
DINGTALK_PER_MINUTE = 20
MAX_RATE_WAIT_SECONDS = 60.0

ChatKind = Literal["dingtalk", "feishu", "slack"]


class Notifier(Protocol):
    """What the handlers need to tell the outside world; tests use an in-memory fake."""

    def send_event(
        self, url: str, secret: str, event: GrantedEvent | ApprovedEvent | RevokedEvent, *, now: datetime
    ) -> int:
        """Deliver a signed event; the receiver's HTTP status, or 0 when no answer came back."""
        ...

    def alert(self, url: str, title: str, text: str, *, critical: bool) -> None:
        """Best effort: an alert that cannot be delivered is logged, never raised."""
        ...


def chat_kind(url: str) -> ChatKind:
    """Which chat receives ``url``: by DingTalk's host or robot path, Feishu/Lark's bot path, else Slack-like."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() == DINGTALK_HOST or parts.path.rstrip("/") == "/robot/send":
        return "dingtalk"
    if parts.path.startswith(FEISHU_BOT_PATH):
        return "feishu"
    return "slack"


def alert_body(url: str, title: str, text: str, *, critical: bool) -> dict[str, object]:
    """The chat message for ``url`` (DingTalk markdown, Feishu/Lark text or Slack text)."""
    heading = f"[CRITICAL] {title}" if critical else title
    kind = chat_kind(url)
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": heading, "text": f"### {heading}\n\n{text}"}}
    if kind == "feishu":
        return {"msg_type": "text", "content": {"text": f"{heading}\n{text}"}}
    return {"text": f"*{heading}*\n{text}"}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot ``sign``: base64(HMAC-SHA256(secret, "timestamp\nsecret")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote(base64.b64encode(digest).decode(), safe="")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark bot ``sign``: base64(HMAC-SHA256(key="timestamp\nsecret", message=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class RateWindow:
    """At most ``limit`` sends per ``period`` seconds per key; ``acquire`` waits for a slot up to ``max_wait``."""

    def __init__(
        self,
        limit: int,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_RATE_WAIT_SECONDS,
    ) -> None:
        self._limit, self._period, self._max_wait = limit, period, max_wait
        self._clock, self._sleep = clock, sleep
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        """True when a slot was taken (after waiting if needed); False when none frees within ``max_wait``."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                sent = self._sent.setdefault(key, deque())
                while sent and now - sent[0] >= self._period:
                    sent.popleft()
                if len(sent) < self._limit:
                    sent.append(now)
                    return True
                pause = self._period - (now - sent[0])
            if waited + pause > self._max_wait:
                return False
            self._sleep(pause)
            waited += pause


class HttpNotifier:
    """Delivers over HTTPS with urllib (no extra dependency; short timeouts so a slow receiver cannot stall us)."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        signing_secret: str | None = None,
        rate: RateWindow | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._timeout = timeout
        self._signing_secret = signing_secret
        self._rate = rate or RateWindow(DINGTALK_PER_MINUTE)
        self._clock = clock

    def send_event(
        self, url: str, secret: str, event: GrantedEvent | ApprovedEvent | RevokedEvent, *, now: datetime
    ) -> int:
        body = to_json_bytes(event)
        # webhook-id is the event id: the same on every retry, so the receiver can recognise a redelivery
        headers = sign(secret, webhook_id_for(event.id), int(now.timestamp()), body)
        headers["content-type"] = "application/json"
        status = self._post(url, body, headers)
        logger.info("sent %s %s to %s: HTTP %s", event.type, event.id, _host(url), status or "no answer")
        return status

    def alert(self, url: str, title: str, text: str, *, critical: bool) -> None:
        kind = chat_kind(url)
        message = alert_body(url, title, text, critical=critical)
        secret = self._signing_secret
        if kind == "dingtalk":
            if not self._rate.acquire(url):
                logger.warning("alert to %s dropped: the robot's 20 messages a minute are used", _host(url))
                return
            if secret:
                stamp = int(self._clock() * 1000)
                url += ("&" if urlsplit(url).query else "?") + f"timestamp={stamp}&sign={dingtalk_sign(secret, stamp)}"
        elif kind == "feishu" and secret:
            stamp = int(self._clock())
            message = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp), **message}
        status = self._post(url, json.dumps(message).encode(), {"content-type": "application/json"})
        if not 200 <= status < 300:
            logger.warning("alert to %s not delivered: HTTP %s", _host(url), status or "no answer")

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        if urlsplit(url).scheme not in ("https", "http"):
            logger.warning("refusing to post to a non-HTTP URL on %s", _host(url))
            return NO_ANSWER
        request = urllib.request.Request(url, data=body, method="POST", headers={**headers, "user-agent": USER_AGENT})  # noqa: S310 (scheme checked above)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.warning("post to %s failed: %s", _host(url), type(exc).__name__)
            return NO_ANSWER


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"
