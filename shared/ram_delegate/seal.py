"""The ownership seal: a tag only the function can write, because only the function holds the key.

Tags are not ownership: anyone with ``ram:TagResources`` can write ``ram-delegate:managed-by``. A seal is an
HMAC-SHA256, keyed by ``RAM_DELEGATE_SEAL_SECRET`` (a secret the function holds and no RAM reader can see), over
the resource's name and the tags that decide what the sweeps and revocation do with it (ticket, expiry, accounts,
user, role, scope, state). Forging one needs the key; copying one onto another resource fails because the name is
sealed; editing a sealed tag (say, a later expiry to keep a grant alive) breaks it. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping

SEAL_VERSION = "v1"
_DOMAIN = b"ram-delegate-seal-v1"
_SEPARATOR = b"\x1f"


def _message(name: str, fields: Mapping[str, str], keys: Iterable[str]) -> bytes:
    parts = [_DOMAIN, name.encode()]
    for key in keys:
        parts.append(f"{key}={fields.get(key, '')}".encode())
    return _SEPARATOR.join(parts)


def seal(secret: str, name: str, fields: Mapping[str, str], keys: Iterable[str]) -> str:
    """The seal of resource ``name`` with ``fields`` (only ``keys`` count, absent ones as empty); 46 characters."""
    digest = hmac.new(secret.encode(), _message(name, fields, keys), hashlib.sha256).digest()
    return f"{SEAL_VERSION}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def verify(secret: str, name: str, fields: Mapping[str, str], keys: Iterable[str], value: str | None) -> bool:
    """Whether ``value`` is the seal of ``name`` with ``fields``; constant-time."""
    if not value:
        return False
    return hmac.compare_digest(value.encode(), seal(secret, name, fields, keys).encode())
