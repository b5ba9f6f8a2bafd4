"""The small JSON-over-HTTPS client the adapters use for vendor APIs (forms, tokens, comments, messages).

urllib, short timeouts, and only the host in logs: vendor URLs and headers carry tokens.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

USER_AGENT = "ram-delegate/0.1"
NO_ANSWER = 0


class VendorHttp:
    """``call()`` answers ``(status, parsed JSON or None)``; status 0 when no answer came back."""

    def __init__(self, *, timeout: float = 5.0, backoff: float = 0.2) -> None:
        self.timeout = timeout
        self.backoff = backoff

    def call(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        if urlsplit(url).scheme not in ("https", "http"):
            logger.warning("refusing a non-HTTP URL on %s", host_of(url))
            return NO_ANSWER, None
        data = None if body is None else json.dumps(body).encode()
        merged = {"user-agent": USER_AGENT, "accept": "application/json", **(headers or {})}
        if data is not None:
            merged.setdefault("content-type", "application/json; charset=utf-8")
        request = urllib.request.Request(url, data=data, method=method, headers=merged)  # noqa: S310 (scheme checked)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return int(response.status), _json(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), _json(exc.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.warning("%s %s failed: %s", method, host_of(url), type(exc).__name__)
            return NO_ANSWER, None

    def with_retries(self, attempts: int, send: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
        """Retry no answer, 429 and 5xx with a short backoff; the last answer otherwise."""
        status, payload = NO_ANSWER, None
        for attempt in range(attempts):
            status, payload = send()
            if status != NO_ANSWER and status != 429 and status < 500:
                break
            if attempt + 1 < attempts:
                time.sleep(self.backoff * (2**attempt))
        return status, payload


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "?"


class VendorUnavailableError(Exception):
    """A vendor API did not answer usefully; the worker raises it so the asynchronous invocation is retried."""


class CachedToken:
    """An app access token (DingTalk, Feishu), fetched on first use and renewed a minute before it lapses."""

    def __init__(self, fetch: Callable[[], tuple[str, int]]) -> None:
        self._fetch = fetch
        self._token = ""
        self._until = 0.0

    def get(self) -> str:
        if not self._token or time.monotonic() >= self._until:
            token, ttl = self._fetch()
            self._token, self._until = token, time.monotonic() + max(ttl - 60, 30)
        return self._token
