"""owner-onboard: the Function Compute handler; the logic lives in ram_delegate.app."""

from __future__ import annotations

from typing import Any

from ram_delegate.app import owner_onboard


def handler(event: bytes, context: object) -> dict[str, Any]:
    return owner_onboard(event, context)
