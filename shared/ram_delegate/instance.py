"""What one Function Compute instance keeps between invocations, and what it must not keep: the role's credentials.

A warm instance lives for hours; the STS credentials of the function's role expire inside it (the platform renews
them, the python3.12 runtime through the ``ALIBABA_CLOUD_*`` variables, python3.10 through ``context.credentials``).
So the settings, the access profiles, the notifier and the audit log are built once per instance, while the
credentials are read again at every invocation and the cloud clients rebuilt whenever they differ from the last
ones. Nothing here decides with a clock: a changed AccessKeyId, secret or token is all that triggers a rebuild.
Secrets named in ``RAM_DELEGATE_KMS_*`` are read through those clients and kept by ``KmsSecretCache``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from ram_delegate.fc import resolve_credentials
from ram_delegate.kms_secrets import KmsSecretCache

if TYPE_CHECKING:
    from ram_delegate.cloud import Credentials
    from ram_delegate.cloud_base import SecretVersion
    from ram_delegate.deps import Deps
    from ram_delegate.settings import Settings

Side = Literal["owner", "partner"]
BuildDeps = Callable[[Side, "Credentials", Mapping[str, str]], "Deps"]


class WarmInstance:
    """The per-instance cache of one function: built at the first invocation, clients renewed with credentials."""

    def __init__(
        self,
        side: Side,
        build: BuildDeps,
        env: Mapping[str, str] | None = None,
        *,
        check: Callable[[Settings], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.side = side
        self._build = build
        self._env = env
        self._check = check
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._deps: Deps | None = None
        self._secrets: KmsSecretCache | None = None
        self.client_builds = 0
        """How many times the cloud clients were (re)built: once per distinct set of credentials."""

    @property
    def current(self) -> Deps | None:
        """The dependencies of the last invocation (None before the first)."""
        return self._deps

    @property
    def environment(self) -> Mapping[str, str]:
        """The function's environment: ``os.environ`` when deployed (read at each call, as the runtime updates it)."""
        return os.environ if self._env is None else self._env

    def deps(self, context: object, *, after_signature_failure: bool = False) -> Deps:
        """This invocation's dependencies, with the credentials the platform handed this invocation.

        ``after_signature_failure``: the caller could not verify a request; secrets from KMS are read again (rate
        limited) in case they were rotated since this instance read them.
        """
        env = self.environment
        credentials = resolve_credentials(env, context)
        with self._lock:
            current = self._deps
            if current is None or self._secrets is None:
                current = self._build(self.side, credentials, env)
                self.client_builds += 1
                self._secrets = KmsSecretCache(current.settings, monotonic=self._monotonic, clock=current.clock)
                settings = self._secrets.settings(_kms_reader(current))
                if self._check is not None:
                    self._check(settings)
                current = replace(current, settings=settings)
            else:
                if current.cloud.credentials != credentials:
                    current = replace(current, cloud=current.cloud.with_credentials(credentials))
                    self.client_builds += 1
                fetch = _kms_reader(current)
                settings = self._secrets.settings(fetch, after_signature_failure=after_signature_failure)
                if settings is not current.settings:
                    if self._check is not None:
                        self._check(settings)
                    current = replace(current, settings=settings)
            self._deps = current
            return current


def _kms_reader(deps: Deps) -> Callable[[str, str], SecretVersion | None]:
    """GetSecretValue through ``deps``' clients, the KMS client built only if a secret is actually read."""

    def read(name: str, stage: str) -> SecretVersion | None:
        return deps.cloud.kms.get_secret_version(name, stage)

    return read
