"""Webhook authentication: Standard Webhooks (``webhook-id``/``-timestamp``/``-signature``) and GitHub/Jira-style
``X-Hub-Signature-256``.

Every failure, however mangled the headers, raises :class:`SignatureError` and nothing else: a forged header that
escapes as a ``ValueError`` would become a 500, which retrying senders turn into a retry storm. The messages are
coarse (missing header, bad timestamp, outside tolerance, no match) so logs can tell a clock problem from a forgery,
and never contain the signature. Comparison is constant-time; several secrets (rotation) and several signatures per
header are accepted. The body must be the raw bytes as received; the caller caps its size before calling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as random_source
from collections.abc import Mapping, Sequence
from datetime import datetime

from ram_delegate.errors import SignatureError

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format prefix, not a secret)
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 512
MAX_SIGNATURE_HEADER_CHARS = 8192
MIN_HUB_SECRET_CHARS = (
    16  # hub secrets are plain strings (GitHub, Jira): at least this long, not one repeated character
)
HUB_HEADERS = ("x-hub-signature-256", "x-hub-signature")

_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_HUB_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


def generate_secret() -> str:
    """A fresh 32-byte signing secret in the ``whsec_<base64>`` form senders and receivers share."""
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(32)).decode()


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional); ValueError if it is not usable."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret must be base64 (optionally prefixed with whsec_)") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"a webhook secret must decode to {MIN_SECRET_BYTES}..{MAX_SECRET_BYTES} bytes")
    return key


def check_hub_secret(secret: str) -> None:
    """ValueError when a hub (plain-string) secret is too weak to authenticate anyone."""
    if len(secret) < MIN_HUB_SECRET_CHARS or len(set(secret)) < 4:
        raise ValueError(f"a hub secret must be at least {MIN_HUB_SECRET_CHARS} varied characters")


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def webhook_id_for(event_id: str) -> str:
    """A webhook-id for an event id: the same on every retry, without the dots the signed content cannot carry."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", event_id)[:256] or "event"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` (what the owner sends to the partner)."""
    if not _MESSAGE_ID.match(msg_id) or timestamp < 0:
        raise ValueError("webhook ids are [A-Za-z0-9_-]{1,256} and timestamps non-negative")
    digest = _signature(decode_secret(secret), msg_id, timestamp, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}",
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that treats a non-string value as absent."""
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else None
    return None


def _usable_keys(secrets: Sequence[str], decode: bool) -> list[bytes]:
    keys: list[bytes] = []
    for secret in secrets:
        if not isinstance(secret, str) or not secret:
            continue
        if not decode:
            keys.append(secret.encode())
            continue
        try:
            keys.append(decode_secret(secret))
        except ValueError:
            continue
    if not keys:
        raise SignatureError("no webhook secret is configured")
    return keys


def _candidate_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` entries of a signature header; malformed entries are skipped, not errors."""
    candidates: list[bytes] = []
    for token in header.split():
        version, comma, encoded = token.partition(",")
        if version != SIGNATURE_VERSION or not comma or "," in encoded:
            continue
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(decoded) == hashlib.sha256().digest_size:
            candidates.append(decoded)
    return candidates


def verify_standard_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check a Standard Webhooks signature against any of ``secrets``; returns the webhook-id.

    ``now`` is the request's time (the FC trigger's requestContext time, the emulator clock locally), never the host
    clock, so the ±``tolerance`` window is symmetric around the time the platform saw the request.
    """
    try:
        return _verify_standard(headers, body, secrets, now=now, tolerance=tolerance)
    except SignatureError:
        raise
    except Exception:  # any parsing surprise is still just a bad signature
        raise SignatureError("the webhook signature could not be verified") from None


def _verify_standard(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now: datetime, tolerance: int
) -> str:
    keys = _usable_keys(secrets, decode=True)
    msg_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    signature_header = _header(headers, "webhook-signature")
    if not msg_id or not raw_timestamp or not signature_header:
        raise SignatureError("missing webhook headers")
    if not _MESSAGE_ID.match(msg_id) or not _TIMESTAMP.match(raw_timestamp):
        raise SignatureError("malformed webhook id or timestamp")
    timestamp = int(raw_timestamp)
    if abs(now.timestamp() - timestamp) > tolerance:
        raise SignatureError("webhook timestamp outside the tolerance")
    if len(signature_header) > MAX_SIGNATURE_HEADER_CHARS:
        raise SignatureError("webhook signature header too long")
    candidates = _candidate_signatures(signature_header)
    matched = False
    for key in keys:
        expected = _signature(key, msg_id, timestamp, body)
        for candidate in candidates:
            # no early exit: every comparison runs, so timing says nothing about which entry matched
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no matching webhook signature")
    return msg_id


def verify_hub_signature(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> None:
    """Check ``X-Hub-Signature-256: sha256=<hex>`` (GitHub) or ``X-Hub-Signature`` (Jira) over the body.

    These senders sign no timestamp, so replay protection is the handlers' ordering by the event's own time.
    """
    try:
        keys = _usable_keys(secrets, decode=False)
        header = next((value for name in HUB_HEADERS if (value := _header(headers, name))), None)
        if not header:
            raise SignatureError("missing webhook headers")
        match = _HUB_SIGNATURE.match(header.strip())
        if not match:
            raise SignatureError("malformed hub signature")
        candidate = bytes.fromhex(match.group(1))
        matched = False
        for key in keys:
            matched |= hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), candidate)
        if not matched:
            raise SignatureError("no matching webhook signature")
    except SignatureError:
        raise
    except Exception:
        raise SignatureError("the webhook signature could not be verified") from None
