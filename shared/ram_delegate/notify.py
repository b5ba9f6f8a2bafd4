"""Outgoing messages: signed events to the other side's webhook, and alerts to a chat webhook.

Alert bodies follow the receiving host: ``oapi.dingtalk.com`` gets DingTalk's robot shape
(``{"msgtype": "markdown", "markdown": {"title", "text"}}``), every other URL gets Slack's incoming-webhook shape
(``{"text": ...}``), which Mattermost, Rocket.Chat and most chat bridges also accept. Webhook URLs carry their own
secret (DingTalk's ``access_token``, Slack's path), so only the host is ever logged.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from ram_delegate.events import ApprovedEvent, GrantedEvent, RevokedEvent, to_json_bytes
from ram_delegate.webhook import sign, webhook_id_for

logger = logging.getLogger(__name__)

DINGTALK_HOST = "oapi.dingtalk.com"
NO_ANSWER = 0
USER_AGENT = "ram-delegate/0.1"


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


def alert_body(url: str, title: str, text: str, *, critical: bool) -> dict[str, object]:
    """The chat message for ``url``'s host (DingTalk markdown or Slack text)."""
    heading = f"[CRITICAL] {title}" if critical else title
    if (urlsplit(url).hostname or "").lower() == DINGTALK_HOST:
        return {"msgtype": "markdown", "markdown": {"title": heading, "text": f"### {heading}\n\n{text}"}}
    return {"text": f"*{heading}*\n{text}"}


class HttpNotifier:
    """Delivers over HTTPS with urllib (no extra dependency; short timeouts so a slow receiver cannot stall us)."""

    def __init__(self, *, timeout: float = 5.0) -> None:
        self._timeout = timeout

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
        body = json.dumps(alert_body(url, title, text, critical=critical)).encode()
        status = self._post(url, body, {"content-type": "application/json"})
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
