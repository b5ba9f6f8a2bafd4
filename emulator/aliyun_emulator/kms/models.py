"""Secrets Manager state of one account: each secret's versions and their stages (ACSCurrent, ACSPrevious).

Secrets are put from Python (``AccountState.kms.put``), as an operator would with PutSecretValue; putting a new value
makes it ``ACSCurrent`` and the former current ``ACSPrevious``, as a rotation does. Not persisted in the state file.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

CURRENT = "ACSCurrent"
PREVIOUS = "ACSPrevious"


@dataclass
class SecretVersion:
    version_id: str
    data: str = field(repr=False)
    stages: set[str]
    created: str


@dataclass
class KmsStore:
    secrets: dict[str, list[SecretVersion]] = field(default_factory=dict)

    def put(self, name: str, data: str, *, created: str = "2024-01-01T00:00:00Z") -> str:
        """A new current version of ``name`` (the secret is created on first put); returns its version id."""
        versions = self.secrets.setdefault(name, [])
        for version in versions:
            version.stages.discard(PREVIOUS)
            if CURRENT in version.stages:
                version.stages.discard(CURRENT)
                version.stages.add(PREVIOUS)
        version_id = f"v-{uuid.uuid4().hex[:12]}"
        versions.append(SecretVersion(version_id, data, {CURRENT}, created))
        return version_id

    def version(self, name: str, stage: str) -> SecretVersion | None:
        return next((v for v in self.secrets.get(name, []) if stage in v.stages), None)
