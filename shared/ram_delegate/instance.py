"""What one Function Compute instance keeps between invocations, and what it must not keep: the role's credentials.

A warm instance lives for hours; the STS credentials of the function's role expire inside it (the platform renews
them, the python3.12 runtime through the ``ALIBABA_CLOUD_*`` variables, python3.10 through ``context.credentials``).
So the settings, the access profiles, the notifier and the audit log are built once per instance, while the
credentials are read again at every invocation and the cloud clients rebuilt whenever they differ from the last
ones. Nothing here decides with a clock: a changed AccessKeyId, secret or token is all that triggers a rebuild.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from ram_delegate.fc import resolve_credentials

if TYPE_CHECKING:
    from ram_delegate.cloud import Credentials
    from ram_delegate.deps import Deps

Side = Literal["owner", "partner"]
BuildDeps = Callable[[Side, "Credentials", Mapping[str, str]], "Deps"]


class WarmInstance:
    """The per-instance cache of one function: built at the first invocation, clients renewed with credentials."""

    def __init__(self, side: Side, build: BuildDeps, env: Mapping[str, str] | None = None) -> None:
        self.side = side
        self._build = build
        self._env = env
        self._lock = threading.Lock()
        self._deps: Deps | None = None
        self.client_builds = 0
        """How many times the cloud clients were (re)built: once per distinct set of credentials."""

    @property
    def environment(self) -> Mapping[str, str]:
        """The function's environment: ``os.environ`` when deployed (read at each call, as the runtime updates it)."""
        return os.environ if self._env is None else self._env

    def deps(self, context: object) -> Deps:
        """This invocation's dependencies, with the credentials the platform handed this invocation."""
        env = self.environment
        credentials = resolve_credentials(env, context)
        with self._lock:
            current = self._deps
            if current is None:
                current = self._build(self.side, credentials, env)
                self.client_builds += 1
            elif current.cloud.credentials != credentials:
                current = replace(current, cloud=current.cloud.with_credentials(credentials))
                self.client_builds += 1
            self._deps = current
            return current
