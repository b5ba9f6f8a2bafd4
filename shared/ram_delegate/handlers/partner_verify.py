"""partner-verify (hourly): prove active grants work and expired or revoked ones are refused."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ram_delegate.handlers.common import InstanceSlot, run_timer

if TYPE_CHECKING:
    from ram_delegate.deps import Deps
    from ram_delegate.instance import WarmInstance

SLOT = InstanceSlot("partner", webhook=False)


def partner_verify(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """The handler: the verification report (errors propagate, so FC's asynchronous retry runs it again)."""
    return run_timer(SLOT, "partner-verify", event, context, deps, instance, _verify)


def _verify(current: Deps, now: datetime) -> dict[str, Any]:
    from ram_delegate.verify import verify_grants

    return verify_grants(current, now=now).to_dict()
