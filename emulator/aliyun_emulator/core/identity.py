"""Who is calling: the principal behind an AccessKey (account root, RAM user, or an STS role session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

PrincipalKind = Literal["root", "user", "role_session"]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller.

    ``name`` is the user name for a user, the role name for a role session, and empty for root.
    ``session_policy`` is the session's policy document (JSON text) when one was given to AssumeRole.
    """

    kind: PrincipalKind
    account_id: str
    name: str = ""
    session_name: str = ""
    role_id: str = ""
    session_policy: str | None = None
    source_identity: str | None = None

    @property
    def arn(self) -> str:
        if self.kind == "root":
            return f"acs:ram::{self.account_id}:root"
        if self.kind == "user":
            return f"acs:ram::{self.account_id}:user/{self.name}"
        return f"acs:ram::{self.account_id}:role/{self.name}/{self.session_name}"


@dataclass(frozen=True)
class Credential:
    """What an AccessKeyId resolves to. STS credentials carry their token and expiry; keys may be inactive."""

    access_key_id: str
    secret: str
    principal: Principal
    security_token: str | None = None
    expires_at: datetime | None = None
    active: bool = True
