"""The emulated cloud's state: every seeded account, the products' data, STS sessions, and optional persistence.

``CloudState`` is the ``CloudBackend`` the server talks to. One re-entrant lock serialises calls (the emulator is
CPU-bound and each call takes microseconds, so a finer scheme would buy nothing). With a state file, each account
and the session table are kept as JSON rows in SQLite, rewritten after every successful call that may change them,
so a restarted emulator still has its roles, keys and sessions; the clock's offset from the host's time is saved at
every move, so it keeps its time too.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from aliyun_emulator.alb import responses as alb_responses
from aliyun_emulator.context import AccountState, Call
from aliyun_emulator.core.authorization import Grants, session_policy_document
from aliyun_emulator.core.clock import EmulatorClock, utc_now
from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.identity import Credential, Principal
from aliyun_emulator.core.request import ApiRequest
from aliyun_emulator.ecs import responses as ecs_responses
from aliyun_emulator.implemented import check_parameters
from aliyun_emulator.kms import responses as kms_responses
from aliyun_emulator.nlb import responses as nlb_responses
from aliyun_emulator.ram import responses as ram_responses
from aliyun_emulator.ram.models import AccessKey
from aliyun_emulator.resourcemanager import responses as rm_responses
from aliyun_emulator.seed import Seed
from aliyun_emulator.slb import responses as slb_responses
from aliyun_emulator.sts import responses as sts_responses
from aliyun_emulator.sts.models import SessionStore
from ram_delegate.policy import AttachedPolicy

Handler = Callable[[Call], dict[str, Any]]

PRODUCTS: dict[str, tuple[Mapping[str, Handler], frozenset[str]]] = {
    "ram": (ram_responses.HANDLERS, ram_responses.READ_ONLY),
    "sts": (sts_responses.HANDLERS, sts_responses.READ_ONLY),
    "slb": (slb_responses.HANDLERS, slb_responses.READ_ONLY),
    "resourcemanager": (rm_responses.HANDLERS, rm_responses.READ_ONLY),
    "alb": (alb_responses.HANDLERS, alb_responses.READ_ONLY),
    "nlb": (nlb_responses.HANDLERS, nlb_responses.READ_ONLY),
    "ecs": (ecs_responses.HANDLERS, ecs_responses.READ_ONLY),
    "kms": (kms_responses.HANDLERS, kms_responses.READ_ONLY),
}
"""product -> (action -> handler, actions that never change state)."""
_NO_PRODUCT: tuple[Mapping[str, Handler], frozenset[str]] = ({}, frozenset())

SCHEMA = "CREATE TABLE IF NOT EXISTS snapshot (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
CLOCK_KEY = "clock"
"""The snapshot row holding the emulator clock's offset from the host's time."""
MASK = "****"
MAX_KNOWN_USER_CREDENTIALS = 4096
"""Users' key credentials kept for reuse; a full table starts over."""


class CloudState:
    """All accounts of one emulator (implements ``core.backend.CloudBackend``)."""

    def __init__(self, seed: Seed, clock: EmulatorClock, state_file: str | Path | None = None) -> None:
        self.seed = seed
        self.clock = clock
        self._lock = threading.RLock()
        self._root_credentials = {
            account.access_key_id: Credential(
                account.access_key_id, account.access_key_secret, Principal(kind="root", account_id=account.uid)
            )
            for account in seed.accounts
        }
        """Root keys come from the seed and never change: their credentials are built once."""
        self._user_credentials: dict[str, tuple[tuple[str, str, str, str], Credential]] = {}
        self.accounts: dict[str, AccountState] = {}
        self.sessions = SessionStore()
        self._db: sqlite3.Connection | None = None
        self._start_from_seed()
        if state_file is not None:
            self._db = sqlite3.connect(str(state_file), check_same_thread=False)
            self._db.execute(SCHEMA)
            if not self._load_snapshot():
                self._persist_everything()
            self._restore_clock()
            # Every move of the clock is saved at once, so a crash keeps the emulator's time as well as its cloud.
            clock.on_move(lambda _previous, _reached: self._persist_clock())

    # --- CloudBackend ----------------------------------------------------------------------------------------------

    def resolve_access_key(self, access_key_id: str) -> Credential | None:
        with self._lock:
            if access_key_id.startswith("STS."):
                session = self.sessions.sessions.get(access_key_id)
                return session.credential if session is not None else None
            root = self._root_credentials.get(access_key_id)
            if root is not None:
                return root
            for account in self.accounts.values():
                key = account.ram.access_keys.get(access_key_id)
                if key is not None:
                    return self._user_credential(account.uid, key)
            return None

    def _user_credential(self, account_id: str, key: AccessKey) -> Credential:
        """The credential of a RAM user's key, built again only when what it is made of changed (the key's secret,
        user name or status, or its account): the same key signs call after call."""
        made_of = (account_id, key.secret, key.user_name, key.status)
        cached = self._user_credentials.get(key.access_key_id)
        if cached is not None and cached[0] == made_of:
            return cached[1]
        principal = Principal(kind="user", account_id=account_id, name=key.user_name)
        credential = Credential(key.access_key_id, key.secret, principal, active=key.status == "Active")
        if len(self._user_credentials) >= MAX_KNOWN_USER_CREDENTIALS:
            self._user_credentials.clear()
        self._user_credentials[key.access_key_id] = (made_of, credential)
        return credential

    def dispatch(self, request: ApiRequest) -> dict[str, Any]:
        handlers, read_only = PRODUCTS.get(request.product, _NO_PRODUCT)
        handler = handlers.get(request.action)
        if handler is None:
            raise ApiError(
                "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", 404
            )
        check_parameters(request.product, request.action, request.params)
        with self._lock:
            account = self.accounts.get(request.principal.account_id)
            if account is None:
                raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
            self._check_principal_exists(account, request.principal)
            body = handler(Call(request, account, self.accounts, self.sessions, self.grants))
            if self._db is not None and request.action not in read_only:
                self._persist(account.uid, sessions=request.product == "sts")
            return body

    def reset(self) -> None:
        with self._lock:
            self._start_from_seed()
            if self._db is not None:
                self._db.execute("DELETE FROM snapshot")
                self._persist_everything()

    def dump(self) -> dict[str, Any]:
        """Everything, as JSON-able data; secrets (AccessKey secrets, STS secrets and tokens) are masked."""
        with self._lock:
            accounts = []
            for account in self.accounts.values():
                data = account.to_dict()
                for key in data["ram"]["access_keys"]:
                    key["secret"] = MASK
                accounts.append({"uid": account.uid, "alias": account.seed.alias, **data})
            sessions = [{**item, "secret": MASK, "security_token": MASK} for item in self.sessions.to_dict()]
            return {"accounts": accounts, "sessions": sessions}

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- permissions -----------------------------------------------------------------------------------------------

    def grants(self, principal: Principal) -> Grants | None:
        """What a RAM user or role session holds right now (None for root, which needs no grants)."""
        if principal.kind == "root":
            return None
        account = self.accounts[principal.account_id]
        if principal.kind == "user":
            attachments = account.ram.user(principal.name).attachments
            scoped_type = "IMSUser"
        else:
            attachments = account.ram.role(principal.name).attachments
            scoped_type = "ServiceRole"
        # Positional: frozen dataclasses built with keywords cost more, and these are built on every checked call.
        policies = account.ram.attached_policies(attachments)
        for grant in account.rm.grants_of(scoped_type, principal.name):
            name, document = account.ram.resolve_policy(grant.policy_type, grant.policy_name)
            group = None if grant.resource_group_id == account.uid else grant.resource_group_id
            policies.append(AttachedPolicy(document, group, name))
        session_policy = None
        if principal.kind == "role_session" and principal.session_policy is not None:
            session_policy = session_policy_document(principal.session_policy)
        return Grants(tuple(policies), session_policy)

    @staticmethod
    def _check_principal_exists(account: AccountState, principal: Principal) -> None:
        """A session outlives nothing: once its role is deleted (even if re-created) every call is refused."""
        if principal.kind == "role_session":
            role = account.ram.roles.get(principal.name.lower())
            if role is None or role.role_id != principal.role_id:
                raise ApiError(
                    "NoPermission", "The role of this STS session no longer exists; the session is void.", 403
                )
        elif principal.kind == "user" and principal.name.lower() not in account.ram.users:
            raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)

    # --- seed and persistence --------------------------------------------------------------------------------------

    def _start_from_seed(self) -> None:
        self.accounts = {account.uid: AccountState(account) for account in self.seed.accounts}
        self.sessions = SessionStore()

    def _load_snapshot(self) -> bool:
        assert self._db is not None
        rows = dict(self._db.execute("SELECT key, value FROM snapshot").fetchall())
        if not rows:
            return False
        for uid, account in self.accounts.items():
            raw = rows.get(f"account:{uid}")
            if raw is not None:
                account.load(json.loads(raw))
        if "sessions" in rows:
            self.sessions.load(json.loads(rows["sessions"]))
        return True

    def _restore_clock(self) -> None:
        """Put the clock where the saved state left it: the saved offset from the host's time, real time since
        included (a state file without a clock row keeps the host's time)."""
        assert self._db is not None
        row = self._db.execute("SELECT value FROM snapshot WHERE key = ?", (CLOCK_KEY,)).fetchone()
        if row is not None:
            self.clock.set(utc_now() + timedelta(seconds=float(json.loads(row[0])["offset_seconds"])))
        else:
            self._persist_clock()

    def _persist_clock(self) -> None:
        with self._lock:
            if self._db is None:
                return
            offset = (self.clock.now() - utc_now()).total_seconds()
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO snapshot (key, value) VALUES (?, ?)",
                    (CLOCK_KEY, json.dumps({"offset_seconds": offset})),
                )

    def _persist_everything(self) -> None:
        for uid in self.accounts:
            self._persist(uid, sessions=False)
        self._persist(None, sessions=True)

    def _persist(self, uid: str | None, *, sessions: bool) -> None:
        if self._db is None:
            return
        rows: list[tuple[str, str]] = []
        if uid is not None:
            rows.append((f"account:{uid}", json.dumps(self.accounts[uid].to_dict())))
        if sessions:
            rows.append(("sessions", json.dumps(self.sessions.to_dict())))
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO snapshot (key, value) VALUES (?, ?)", rows)
