"""The context objects the local host hands a function, in each FC runtime's shape (python3.10, python3.12)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FcCredentials:
    """The function role's STS credentials (``context.credentials`` on python3.10); never in ``repr``."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)


@dataclass(frozen=True)
class FcFunctionMeta:
    name: str
    handler: str
    memory: int
    timeout: int


@dataclass(frozen=True)
class FcService:
    name: str
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass(frozen=True)
class FcFunctionMeta312:
    name: str
    handler: str
    memory: int
    timeout: int
    version_id: str = ""
    qualifier: str = "LATEST"


@dataclass(frozen=True)
class FcContext312:
    """The context object a python3.12 handler receives: no ``credentials`` (they are in the environment)."""

    request_id: str
    function: FcFunctionMeta312
    region: str
    account_id: str
    log_project: str = ""
    log_store: str = ""
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("fc.runtime"), repr=False)
    tracing: None = None


@dataclass(frozen=True)
class FcContext:
    """The context object a python3.10 handler receives."""

    request_id: str
    credentials: FcCredentials
    function: FcFunctionMeta
    service: FcService
    region: str
    account_id: str
    tracing: None = None
