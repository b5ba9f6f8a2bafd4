"""A verified, routed API call as product handlers see it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from aliyun_emulator.core.identity import Principal


class ApiRequest(NamedTuple):
    """One call after signature verification (a ``NamedTuple``: immutable and cheap to build for every request).

    ``params`` holds the decoded API parameters only (no Action/Version/Signature/Timestamp/... protocol keys); a
    parameter repeated on the wire has already been refused by the server.
    """

    product: str  # "ram" | "sts" | "slb" | "resourcemanager"
    action: str
    version: str
    params: Mapping[str, str]
    principal: Principal
    request_id: str
    now: datetime
    source_ip: str = "127.0.0.1"
    secure_transport: bool = False
    extra: Mapping[str, Any] = MappingProxyType({})


Handler = Callable[[ApiRequest], dict[str, Any]]
"""A product action: returns the success body (without RequestId, which the server adds) or raises ApiError."""
