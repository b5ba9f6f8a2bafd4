"""Webhook secrets and the seal key from KMS Secrets Manager, feeding the settings' rotation lists.

A secret named in ``RAM_DELEGATE_KMS_*`` is read at cold start: its ``ACSCurrent`` version first, then its
``ACSPrevious`` version when there is one, so during a rotation deliveries signed with either verify, and the owner
signs what it forwards with ``ACSCurrent``. The values are read again after ``kms_ttl_seconds`` and after a signature
failure (at most once per ``MIN_REREAD_SECONDS``, so a flood of unsigned requests cannot turn into a flood of KMS
calls). A failed re-read keeps the secrets already held; a failed first read stops the cold start. Without any
``RAM_DELEGATE_KMS_*`` name the environment's secrets are used (local runs). Freshness uses a monotonic clock: it
decides when to ask again, never whether a request is authentic.

The seal key (``RAM_DELEGATE_KMS_SEAL_SECRET``) works the same way, with one delay: a new ``ACSCurrent`` version only
verifies until it has settled (``SEAL_KEY_SETTLE_SECONDS`` past the TTL after its creation), and ``ACSPrevious`` seals
meanwhile. An instance that read the secret just before the rotation holds only the older keys until its TTL runs
out (longer while its re-reads fail) and would take what the new key sealed, a tombstone say, for a forgery: an
older approval would then not see the revocation that tombstone records.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ram_delegate.cloud_base import SecretVersion
from ram_delegate.errors import ConfigurationError, Problem, RamDelegateError
from ram_delegate.seal import SealKeys
from ram_delegate.settings import (
    ENV_KMS_HUB_SECRET,
    ENV_KMS_PARTNER_SECRET,
    ENV_KMS_SEAL_SECRET,
    ENV_KMS_WEBHOOK_SECRET,
    Settings,
)

logger = logging.getLogger(__name__)

CURRENT = "ACSCurrent"
PREVIOUS = "ACSPrevious"
MIN_REREAD_SECONDS = 60.0
MIN_SEAL_KEY_LENGTH = 16
"""As ``Settings.seal_secret`` requires of a key from the environment."""

SEAL_KEY_SETTLE_SECONDS = 900
"""Beyond the TTL, how old a seal key version must be before it seals: the longest function timeout (600 s, the
timers), so no invocation that began with keys read before the rotation is still running, plus 300 s of clock skew
between KMS and the platform."""

Fetch = Callable[[str, str], "SecretVersion | None"]
"""``fetch(secret_name, version_stage) -> version`` (None when the stage does not exist)."""


@dataclass(frozen=True, repr=False)
class SecretVersions:
    """One secret's usable versions: the current one signs, both verify."""

    current: str
    previous: str | None = None
    current_created: datetime | None = None

    def rotation(self) -> tuple[str, ...]:
        """The rotation list: current first, then the previous version while it differs."""
        if self.previous and self.previous != self.current:
            return (self.current, self.previous)
        return (self.current,)


def read_versions(fetch: Fetch, name: str, variable: str) -> SecretVersions:
    """Both version stages of ``name``; ConfigurationError when it has no current version."""
    current = fetch(name, CURRENT)
    if current is None:
        problem = Problem(variable, f"KMS secret {name!r} has no {CURRENT} version (or this role may not read it)")
        raise ConfigurationError("a KMS secret cannot be read", problems=[problem])
    previous = fetch(name, PREVIOUS)
    return SecretVersions(current.value, previous.value if previous else None, current.created_at)


def seal_keys_in_use(versions: SecretVersions, *, now: datetime, ttl_seconds: int) -> SealKeys:
    """The keys of a seal secret's versions: the current version seals once it has settled (module docstring); until
    then the previous one does and the current one is pending. A version whose creation time KMS did not give counts
    as settled (it cannot be held back forever), with a warning."""
    current, previous, created = versions.current, versions.previous, versions.current_created
    if previous is None or previous == current:
        return SealKeys(current)
    if created is None:
        logger.warning("KMS gave no creation time for the seal key's current version: it seals at once")
        return SealKeys(current, (previous,))
    if (now - created).total_seconds() < ttl_seconds + SEAL_KEY_SETTLE_SECONDS:
        logger.info("the seal key's new version is not settled yet: it verifies, the previous version seals")
        return SealKeys(previous, pending=current)
    return SealKeys(current, (previous,))


def with_kms_secrets(settings: Settings, fetch: Fetch, *, now: datetime) -> Settings:
    """``settings`` with every KMS-named secret replaced by what KMS holds at ``now`` (the platform's clock)."""
    updates: dict[str, object] = {}
    if settings.kms_webhook_secret:
        updates["webhook_secrets"] = read_versions(
            fetch, settings.kms_webhook_secret, ENV_KMS_WEBHOOK_SECRET
        ).rotation()
    if settings.kms_hub_secret:
        updates["hub_secrets"] = read_versions(fetch, settings.kms_hub_secret, ENV_KMS_HUB_SECRET).rotation()
    if settings.kms_partner_secret:
        updates["partner_secrets"] = read_versions(
            fetch, settings.kms_partner_secret, ENV_KMS_PARTNER_SECRET
        ).rotation()
    return with_kms_seal_key(settings.model_copy(update=updates), fetch, now=now)


def with_kms_seal_key(settings: Settings, fetch: Fetch, *, now: datetime) -> Settings:
    """``settings`` with the seal key read from KMS (``settings.kms_seal_secret``); the CLI reads only this one.

    A seal key set in the environment as well (a deployment moving its key into KMS) stays a verifying key, and the
    first KMS version settles against it as against an ``ACSPrevious``: what the environment key sealed stays ours,
    and, when that version is fresh at the switch, no instance still holding only the environment key meets a seal it
    cannot verify (settling counts from the version's creation)."""
    name = settings.kms_seal_secret
    if not name:
        return settings
    versions = read_versions(fetch, name, ENV_KMS_SEAL_SECRET)
    environment_key = settings.seal_secret if not settings.seal_read_from_kms else None
    if versions.previous is None and environment_key and environment_key != versions.current:
        versions = SecretVersions(versions.current, environment_key, versions.current_created)
    if min(len(key) for key in versions.rotation()) < MIN_SEAL_KEY_LENGTH:
        problem = Problem(ENV_KMS_SEAL_SECRET, f"a version of it is shorter than {MIN_SEAL_KEY_LENGTH} characters")
        raise ConfigurationError("the KMS seal key is too short", problems=[problem])
    keys = seal_keys_in_use(versions, now=now, ttl_seconds=settings.kms_ttl_seconds)
    kept = (environment_key,) if environment_key and environment_key not in keys.all else ()
    # Keys named in RAM_DELEGATE_SEAL_PREVIOUS_SECRETS (older than ACSPrevious) are kept after KMS's.
    update = {
        "seal_secret": keys.current,
        "seal_pending_secret": keys.pending,
        "seal_previous_secrets": (*keys.previous, *kept, *settings.seal_previous_secrets),
        "seal_read_from_kms": True,
    }
    return settings.model_copy(update=update)


class KmsSecretCache:
    """The secrets one instance holds: read once, re-read after the TTL or (rate-limited) after a signature failure.

    ``clock`` is the platform's (it dates a seal key version against KMS's creation time); ``monotonic`` only decides
    when to read again."""

    def __init__(
        self,
        base: Settings,
        *,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base
        self._monotonic = monotonic
        self._clock = clock
        self._lock = threading.Lock()
        self._settings: Settings | None = None
        self._read_at = 0.0
        self.reads = 0

    def settings(self, fetch: Fetch, *, after_signature_failure: bool = False) -> Settings:
        """The settings with current secrets; a stale or (on request) suspect copy is read again."""
        if not self._base.uses_kms:
            return self._base
        with self._lock:
            now = self._monotonic()
            age = now - self._read_at
            due = self._settings is None or age >= self._base.kms_ttl_seconds
            if after_signature_failure and age >= MIN_REREAD_SECONDS:
                due = True
            if not due:
                assert self._settings is not None
                return self._settings
            try:
                fresh = with_kms_secrets(self._base, fetch, now=self._clock())
            except RamDelegateError as exc:
                if self._settings is None:
                    if isinstance(exc, ConfigurationError):
                        raise
                    problem = Problem("kms", f"GetSecretValue failed: {exc.code} {getattr(exc, 'cloud_code', '')}")
                    raise ConfigurationError("the KMS secrets cannot be read", problems=[problem]) from None
                logger.warning("re-reading the KMS secrets failed (%s); keeping the ones held", exc.code)
                self._read_at = now
                return self._settings
            self.reads += 1
            self._settings, self._read_at = fresh, now
            return fresh
