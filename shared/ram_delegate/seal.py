"""The ownership seal: a tag only the function can write, because only the function holds the key.

Tags are not ownership: anyone with ``ram:TagResources`` can write ``ram-delegate:managed-by``. A seal is an
HMAC-SHA256, keyed by ``RAM_DELEGATE_SEAL_SECRET`` (a secret the function holds and no RAM reader can see), over
the resource's name and the tags that decide what the sweeps and revocation do with it (ticket, expiry, accounts,
user, role, scope, state). Forging one needs the key; copying one onto another resource fails because the name is
sealed; editing a sealed tag (say, a later expiry to keep a grant alive) breaks it. The same key encrypts the
ExternalId the partner keeps in a tag, so only the functions can read it. Pure: no I/O.

The key rotates (``SealKeys``): the current key seals and encrypts, previous keys still verify and decrypt, so what
was sealed before a rotation stays the function's own until it is written again or ends. A resource is never
re-sealed behind its writers' backs: a sweep rewriting a seal could race a revocation's tag write and leave a
resource nobody can act on, or launder a concurrent forged edit into a valid seal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SEAL_VERSION = "v1"
ENCRYPTED_PREFIX = "enc1."
_ENCRYPTION_DOMAIN = b"ram-delegate-external-id-v1"
MAX_ENCRYPTED_PLAINTEXT = 64  # 5 + base64(12 + 64 + 16 bytes) = 128 characters: one RAM tag value
_DOMAIN = b"ram-delegate-seal-v1"
_JOB_DOMAIN = b"ram-delegate-intake-job-v1"
JOB_SEAL_FIELD = "seal"
"""The field of an intake job (owner-onboard's asynchronous invocation of itself) that holds the job's seal."""
_SEPARATOR = b"\x1f"


@dataclass(frozen=True, repr=False)
class SealKeys:
    """The seal keys a function holds: ``current`` seals and encrypts; it, a ``pending`` key and every ``previous``
    key verify and decrypt (a rotation keeps the old key here until nothing sealed under it remains). Never shown in
    a repr."""

    current: str
    previous: tuple[str, ...] = ()
    pending: str | None = None
    """A newer key that verifies but does not seal yet (a KMS version that has not settled): the one that will."""

    @property
    def all(self) -> tuple[str, ...]:
        """Every key, current first, then the pending one, then the previous ones, without repeats."""
        newer = (self.pending,) if self.pending else ()
        return tuple(dict.fromkeys((self.current, *newer, *self.previous)))

    @property
    def newest(self) -> str:
        """The key everything will be sealed with once the rotation settles: whatever else sealed is still needed."""
        return self.pending or self.current

    def __repr__(self) -> str:
        return f"SealKeys(current=..., pending={self.pending is not None}, previous={len(self.all) - 1})"


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


def sealing_key(
    held: SealKeys, name: str, fields: Mapping[str, str], keys: Iterable[str], value: str | None
) -> str | None:
    """Which of the held keys sealed ``value``; None when none did."""
    sealed_keys = tuple(keys)
    return next((secret for secret in held.all if verify(secret, name, fields, sealed_keys, value)), None)


def job_seal(secret: str, job: Mapping[str, Any]) -> str:
    """The seal of an intake job: an HMAC over its canonical JSON (every field but the seal itself), so a job reaches
    the worker as the front door wrote it or not at all. Only the function holds the key; the InvokeFunction API,
    which anyone allowed ``fc:InvokeFunction`` can call, cannot produce one."""
    fields = {key: value for key, value in job.items() if key != JOB_SEAL_FIELD}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hmac.new(secret.encode(), _JOB_DOMAIN + _SEPARATOR + canonical.encode(), hashlib.sha256).digest()
    return f"{SEAL_VERSION}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def verify_job(held: SealKeys | None, job: Mapping[str, Any]) -> bool:
    """Whether ``job`` carries its own seal under one of the held keys (a job queued just before a rotation still
    runs after it); constant-time per key. False without keys."""
    value = job.get(JOB_SEAL_FIELD)
    if held is None or not isinstance(value, str):
        return False
    return any(hmac.compare_digest(value.encode(), job_seal(secret, job).encode()) for secret in held.all)


def _aead_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _ENCRYPTION_DOMAIN, hashlib.sha256).digest()


def encrypt(secret: str, context: str, plaintext: str) -> str:
    """``plaintext`` encrypted (AES-256-GCM) for a tag only the key's holder can read, bound to ``context``.

    The nonce is derived from the key, the context and the plaintext (synthetic-IV style), so the same value encrypts
    to the same tag and a redelivered grant changes nothing; equal plaintexts are the only thing it reveals.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = _aead_key(secret)
    nonce = hmac.new(key, context.encode() + _SEPARATOR + plaintext.encode(), hashlib.sha256).digest()[:12]
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return ENCRYPTED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def decrypt(held: SealKeys | None, context: str, value: str) -> str | None:
    """The plaintext of ``encrypt`` under any held key; a value without the prefix is returned as is (stored before
    encryption); None when it cannot be read (no key, another key, another context, tampered)."""
    if not value.startswith(ENCRYPTED_PREFIX):
        return value
    if held is None:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = value.removeprefix(ENCRYPTED_PREFIX)
    try:
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except ValueError:
        return None
    for secret in held.all:
        try:
            return AESGCM(_aead_key(secret)).decrypt(blob[:12], blob[12:], context.encode()).decode()
        except (InvalidTag, ValueError):
            continue
    return None
