"""What the command line and the demo share to talk to functions and stacks (neither imports the other)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ram_delegate.cli_output import format_time
from ram_delegate.errors import ConfigurationError

FUNCTION_NAMES = ("owner-onboard", "owner-expire", "partner-onboard", "partner-expire", "partner-verify")


class UsageError(Exception):
    """A command line that parses but cannot be acted on (exit 2, like argparse's own errors)."""


def timer_event(now: datetime, trigger_name: str) -> bytes:
    """The FC timer trigger event, so ``invoke owner-expire`` runs a sweep as its timer would."""
    return json.dumps({"triggerTime": format_time(now), "triggerName": trigger_name, "payload": ""}).encode()


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> tuple[int, bytes]:
    """POST ``body``; any HTTP status is an answer, an unreachable URL a ConfigurationError (loopback skips proxies)."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must be an http(s) URL: {url}")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    loopback = urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if loopback else urllib.request.build_opener()
    try:
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigurationError(f"could not reach {url}: {reason}") from None


def json_or_text(raw: bytes) -> Any:
    """A function's answer: parsed JSON when it is JSON, else the text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")
