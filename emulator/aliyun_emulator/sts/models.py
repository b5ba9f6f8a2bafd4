"""STS sessions: the temporary credentials AssumeRole issues, valid until their expiry on the emulator clock.

A session remembers which role (by RoleId) it was issued for, not a copy of its permissions: every call re-reads
the role's current policies, so detaching a policy cuts live sessions and deleting the role ends them.
"""

from __future__ import annotations

import binascii
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aliyun_emulator.core.entropy import POOL
from aliyun_emulator.core.identity import Credential, Principal
from aliyun_emulator.ram.models import random_token

MIN_DURATION = 900
EXPIRED_SESSION_GRACE = timedelta(days=1)
"""Expired sessions are kept this long so their use is refused as expired rather than as unknown keys."""
PRUNE_EVERY = 1024


@dataclass
class Session:
    access_key_id: str
    secret: str
    security_token: str
    account_id: str
    role_name: str
    role_id: str
    session_name: str
    expires_at: datetime
    session_policy: str | None = None
    source_identity: str | None = None

    @property
    def principal(self) -> Principal:
        return Principal(
            kind="role_session",
            account_id=self.account_id,
            name=self.role_name,
            session_name=self.session_name,
            role_id=self.role_id,
            session_policy=self.session_policy,
            source_identity=self.source_identity,
        )

    @property
    def credential(self) -> Credential:
        return Credential(
            access_key_id=self.access_key_id,
            secret=self.secret,
            principal=self.principal,
            security_token=self.security_token,
            expires_at=self.expires_at,
        )


class SessionStore:
    """Every issued session by its ``STS.`` AccessKeyId; long-expired ones are dropped now and then."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}

    def issue(
        self,
        account_id: str,
        role_name: str,
        role_id: str,
        session_name: str,
        now: datetime,
        expires_at: datetime,
        session_policy: str | None,
        source_identity: str | None,
    ) -> Session:
        entropy = POOL.take(72 + 132)  # one draw for the key id and secret (72 characters) and the token
        characters = random_token(72, entropy[:72])
        session = Session(  # positional, in field order
            "STS." + characters[:28],
            characters[28:],
            "CAIS" + binascii.b2a_base64(entropy[72:], newline=False).decode("ascii"),
            account_id,
            role_name,
            role_id,
            session_name,
            expires_at,
            session_policy,
            source_identity,
        )
        if len(self.sessions) % PRUNE_EVERY == 0:
            self.prune(now)
        self.sessions[session.access_key_id] = session
        return session

    def prune(self, now: datetime) -> None:
        horizon = now - EXPIRED_SESSION_GRACE
        self.sessions = {key: s for key, s in self.sessions.items() if s.expires_at > horizon}

    def to_dict(self) -> list[dict[str, Any]]:
        return [{**vars(s), "expires_at": s.expires_at.isoformat()} for s in self.sessions.values()]

    def load(self, data: list[dict[str, Any]]) -> None:
        self.sessions = {
            item["access_key_id"]: Session(**{**item, "expires_at": datetime.fromisoformat(item["expires_at"])})
            for item in data
        }


ASSUME_ROLE_PER_SECOND = 100
"""STS AssumeRole flow control: 100 calls per second per account, its RAM users and roles included."""


class RateQuota:
    """A token bucket: ``per_second`` tokens a second, a burst of ``per_second`` (host monotonic time: a quota is
    about real throughput). The same shape as the scripted ``rate_limit`` fault, so the two never disagree."""

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._tokens = float(per_second)
        self._last = clock()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Take one token; False (and nothing taken) when none is left."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.per_second), self._tokens + (now - self._last) * self.per_second)
            self._last = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True
