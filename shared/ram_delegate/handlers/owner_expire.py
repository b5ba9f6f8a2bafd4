"""owner-expire (every 5 minutes): revoke expired grants, drop old tombstones, heal drifted grants, remind."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ram_delegate.handlers.common import InstanceSlot, run_timer
from ram_delegate.handlers.owner_onboard import intake_runtime

if TYPE_CHECKING:
    from ram_delegate.deps import Deps
    from ram_delegate.instance import WarmInstance

SLOT = InstanceSlot("owner", webhook=False, intake=intake_runtime)


def owner_expire(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """The handler: one sweep's report (errors propagate, so FC's asynchronous retry runs it again)."""
    return run_timer(SLOT, "owner-expire", event, context, deps, instance, _sweep)


def _sweep(current: Deps, now: datetime) -> dict[str, Any]:
    from ram_delegate.owner import sweep_owner
    from ram_delegate.owner.drift import audit_owner_grants

    notices = None
    if current.intake is not None and not current.settings.dry_run:
        from ram_delegate.intake.reminders import run_reminders

        notices = run_reminders(current.intake, current.cloud, now)
    report = sweep_owner(current, now=now, dry_run=current.settings.dry_run).to_dict()
    if notices is not None:
        report["intake_notices"] = notices
    drift = audit_owner_grants(current, now=now, heal=not current.settings.dry_run)
    return {**report, "drift": [finding.to_dict() for finding in drift]}
