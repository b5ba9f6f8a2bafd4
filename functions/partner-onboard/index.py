"""partner-onboard: the Function Compute handler; the logic lives in ram_delegate.handlers.partner_onboard."""

from __future__ import annotations

from typing import Any

from ram_delegate.deferred_imports import defer

defer()  # the SDK's asynchronous stack, never used here, loads only if something uses it

from ram_delegate.handlers.partner_onboard import partner_onboard  # noqa: E402 (after defer, which must come first)


def handler(event: bytes, context: object) -> dict[str, Any]:
    return partner_onboard(event, context)
