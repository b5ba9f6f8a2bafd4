"""owner-expire: the Function Compute handler; the logic lives in ram_delegate.handlers.owner_expire."""

from __future__ import annotations

from typing import Any

from ram_delegate.deferred_imports import defer

defer()  # the SDK's asynchronous stack, never used here, loads only if something uses it

from ram_delegate.handlers.owner_expire import owner_expire  # noqa: E402 (after defer, which must come first)


def handler(event: bytes, context: object) -> dict[str, Any]:
    return owner_expire(event, context)
