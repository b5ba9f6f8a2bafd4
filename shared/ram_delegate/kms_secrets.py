"""Webhook secrets and the seal key from KMS Secrets Manager, feeding the settings' rotation lists.

A secret named in ``RAM_DELEGATE_KMS_*`` is read at cold start: its ``ACSCurrent`` version first, then its
``ACSPrevious`` version when there is one, so during a rotation deliveries signed with either verify, and the owner
signs what it forwards with ``ACSCurrent``. The values are read again after ``kms_ttl_seconds`` and after a signature
failure (at most once per ``MIN_REREAD_SECONDS``, so a flood of unsigned requests cannot turn into a flood of KMS
calls). A failed re-read keeps the secrets already held; a failed first read stops the cold start. Without any
``RAM_DELEGATE_KMS_*`` name the environment's secrets are used (local runs). Freshness uses a monotonic clock: it
decides when to ask again, never whether a request is authentic. The seal key (``RAM_DELEGATE_KMS_SEAL_SECRET``)
works the same way: ``ACSCurrent`` seals, ``ACSPrevious`` still verifies what was sealed before the rotation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ram_delegate.errors import ConfigurationError, Problem, RamDelegateError
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

Fetch = Callable[[str, str], "str | None"]
"""``fetch(secret_name, version_stage) -> value`` (None when the stage does not exist)."""


@dataclass(frozen=True)
class SecretVersions:
    """One secret's usable versions: the current one signs, both verify."""

    current: str
    previous: str | None = None

    def rotation(self) -> tuple[str, ...]:
        """The rotation list: current first, then the previous version while it differs."""
        if self.previous and self.previous != self.current:
            return (self.current, self.previous)
        return (self.current,)


def read_versions(fetch: Fetch, name: str, variable: str) -> SecretVersions:
    """Both version stages of ``name``; ConfigurationError when it has no current version."""
    current = fetch(name, CURRENT)
    if not current:
        problem = Problem(variable, f"KMS secret {name!r} has no {CURRENT} version (or this role may not read it)")
        raise ConfigurationError("a KMS secret cannot be read", problems=[problem])
    return SecretVersions(current, fetch(name, PREVIOUS) or None)


def with_kms_secrets(settings: Settings, fetch: Fetch) -> Settings:
    """``settings`` with every KMS-named secret replaced by what KMS holds now."""
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
    if settings.kms_seal_secret:
        # ACSPrevious keeps one older key; keys named in RAM_DELEGATE_SEAL_PREVIOUS_SECRETS are kept after it.
        current, *previous = read_versions(fetch, settings.kms_seal_secret, ENV_KMS_SEAL_SECRET).rotation()
        if min(len(key) for key in (current, *previous)) < MIN_SEAL_KEY_LENGTH:
            problem = Problem(ENV_KMS_SEAL_SECRET, f"a version of it is shorter than {MIN_SEAL_KEY_LENGTH} characters")
            raise ConfigurationError("the KMS seal key is too short", problems=[problem])
        updates["seal_secret"] = current
        updates["seal_previous_secrets"] = (*previous, *settings.seal_previous_secrets)
    return settings.model_copy(update=updates)


class KmsSecretCache:
    """The secrets one instance holds: read once, re-read after the TTL or (rate-limited) after a signature failure."""

    def __init__(self, base: Settings, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._base = base
        self._monotonic = monotonic
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
                fresh = with_kms_secrets(self._base, fetch)
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
