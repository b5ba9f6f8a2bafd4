"""The audit trail (one JSON line per change) and the redaction every library log line goes through.

Redaction is installed as a log-record factory rather than as a filter on the ``ram_delegate`` logger: a logger's
filters do not see records that propagate from its children (``ram_delegate.owner`` …), so a logger filter would
leave most lines unredacted. The factory runs :class:`RedactingFilter` on every record whose logger belongs to the
library or to the Alibaba SDK, before any handler (FC's, pytest's caplog) sees it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

AUDIT_LOGGER = "ram_delegate.audit"
REDACTED = "[redacted]"
# the SDK's transport (urllib3 via requests) logs whole request URLs at DEBUG: signatures, tokens, documents
_REDACTED_LOGGERS = ("ram_delegate", "aliyun_emulator", "alibabacloud", "Tea", "urllib3", "requests")

# signature values first: the key/value rule below stops at a comma, which would split a "v1,<sig>" value
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bLTAI[A-Za-z0-9]{8,40}"), REDACTED),
    (re.compile(r"\bSTS\.[A-Za-z0-9._-]{6,}"), REDACTED),
    (re.compile(r"whsec_[A-Za-z0-9+/=]*"), REDACTED),
    (re.compile(r"\bv1,[A-Za-z0-9+/]{20,}={0,2}"), REDACTED),
    (re.compile(r"\bsha256=[0-9a-fA-F]{16,}"), REDACTED),
    # a tag written as {"Key": "...external-id", "Value": "..."} (the SDK's request URLs)
    (re.compile(r'"(?:Tag)?Key"\s*:\s*"[^"]*external-id"\s*,\s*"(?:Tag)?Value"\s*:\s*"[^"]*"'), REDACTED),
    # key/value pairs whose value is a secret, in JSON, headers, reprs or query strings (the key name goes too)
    (
        re.compile(
            r"""["']?(?:AccessKeySecret|access_key_secret|accessKeySecret|SecurityToken|security_token|securityToken"""
            r"""|x-acs-security-token|webhook-signature|x-hub-signature(?:-256)?|Authorization|access_token"""
            r"""|external[-_]?id|signature|secret)["']?\s*[:=]\s*(?:"[^"]*"|'[^']*'|[^\s,;&}\]]+)""",
            re.IGNORECASE,
        ),
        REDACTED,
    ),
)


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced (irreversibly) by ``[redacted]``.

    Percent-encoded text (a logged request URL) is decoded first, so an encoded secret cannot slip past the patterns.
    """
    if "%" in text:
        text = unquote_plus(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) with secrets removed; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_install_lock = threading.Lock()
_installed = False


def install_redaction() -> None:
    """Redact every record of the library's and the SDK's loggers (idempotent; safe to call at each cold start)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
        redactor = RedactingFilter()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if record.name.split(".", 1)[0] in _REDACTED_LOGGERS:
                redactor.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


class AuditLog:
    """One JSON line per change on the ``ram_delegate.audit`` logger: who asked, what changed, the cloud's answer."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        install_redaction()
        self._logger = logger or logging.getLogger(AUDIT_LOGGER)

    def change(
        self,
        *,
        event_id: str | None,
        ticket: str,
        action: str,
        resource: str,
        result: str,
        request_id: str | None,
        **extra: Any,
    ) -> None:
        entry: dict[str, Any] = {
            "audit": "change",
            "event_id": event_id,
            "ticket": ticket,
            "action": action,
            "resource": resource,
            "result": result,
            "request_id": request_id,
        }
        entry.update({key: value for key, value in extra.items() if key not in entry})
        self._logger.info("%s", json.dumps(entry, sort_keys=True, default=str, separators=(",", ":")))
