"""partner-expire (every 5 minutes): remove expired assume policies and the users ram-delegate created, heal
drifted assume policies."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ram_delegate.handlers.common import InstanceSlot, run_timer

if TYPE_CHECKING:
    from ram_delegate.deps import Deps
    from ram_delegate.instance import WarmInstance

SLOT = InstanceSlot("partner", webhook=False)


def partner_expire(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """The handler: one sweep's report (errors propagate, so FC's asynchronous retry runs it again)."""
    return run_timer(SLOT, "partner-expire", event, context, deps, instance, _sweep)


def _sweep(current: Deps, now: datetime) -> dict[str, Any]:
    from ram_delegate.drift import audit_partner_grants
    from ram_delegate.partner import sweep_partner

    report = sweep_partner(current, now=now, dry_run=current.settings.dry_run).to_dict()
    drift = audit_partner_grants(current, now=now, heal=not current.settings.dry_run)
    return {**report, "drift": [finding.to_dict() for finding in drift]}
