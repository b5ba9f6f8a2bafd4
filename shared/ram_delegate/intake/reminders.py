"""Reminders before a grant expires, and the notice when it expires, written back to the ticket it came from.

Run by owner-expire on each tick, before its sweep. The grants are read from the roles' tags; the event id recorded
there says which intake source granted it (``jira-…``, ``github-…``, …), so only grants that came through an
adapter with write-back configured are told anything. Stateless: a notice is due when ``expires_at - lead`` falls in
the window ``(now - period, now]`` of this tick. Never raises: a lost reminder is logged, the sweep goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ram_delegate import grants as g
from ram_delegate.intake.contract import Job, iso, parse_duration

if TYPE_CHECKING:
    from ram_delegate.cloud import CloudClients, TaggedResource
    from ram_delegate.intake.config import Reminders
    from ram_delegate.intake.service import IntakeRuntime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    source: str
    ticket: str
    event_id: str
    expires_at: datetime
    lead: str | None  # "3d" for a reminder, None for the expiry notice
    partner: str
    user: str

    def text(self) -> str:
        when = self.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        who = f"partner account {self.partner}, RAM user {self.user}"
        if self.lead is None:
            return f"ram-delegate: access for ticket {self.ticket} ({who}) expired at {when} and is being removed."
        return (
            f"ram-delegate: access for ticket {self.ticket} ({who}) expires at {when} (in {self.lead}). "
            "Ask for a new approval on the ticket to extend it."
        )


def due_notices(
    roles: Iterable[TaggedResource], sources: Iterable[str], reminders: Reminders, now: datetime
) -> list[Notice]:
    """The notices due on the tick at ``now`` for the grants in ``roles`` that came from one of ``sources``."""
    period = timedelta(minutes=reminders.period_minutes)
    leads: list[tuple[str | None, timedelta]] = [
        (lead, length) for lead in reminders.before if (length := parse_duration(lead)) is not None
    ]
    if reminders.on_expiry:
        leads.append((None, timedelta(0)))
    known = set(sources)
    notices: list[Notice] = []
    for role in roles:
        tags = role.tags
        if not g.is_managed(tags):
            continue
        event_id = tags.get(g.TAG_EVENT_ID, "")
        source = event_id.split("-", 1)[0]
        expires_at = g.parse_time(tags.get(g.TAG_EXPIRES_AT))
        if source not in known or expires_at is None:
            continue
        for lead, length in leads:
            moment = expires_at - length
            if now - period < moment <= now:
                notices.append(
                    Notice(
                        source,
                        tags.get(g.TAG_TICKET, ""),
                        event_id,
                        expires_at,
                        lead,
                        tags.get(g.TAG_PARTNER_ACCOUNT, ""),
                        tags.get(g.TAG_PARTNER_USER, ""),
                    )
                )
    return notices


def run_reminders(runtime: IntakeRuntime, cloud: CloudClients, now: datetime) -> dict[str, Any]:
    """Send the notices due now; a summary for the timer's report."""
    try:
        roles = cloud.ram.list_roles(g.managed_filter(g.KIND_ROLE))
    except Exception as exc:
        logger.warning("intake reminders: cannot list grants: %s", type(exc).__name__)
        return {"due": 0, "delivered": 0}
    notices = due_notices(roles, runtime.adapters, runtime.file.reminders, now)
    delivered = 0
    for notice in notices:
        adapter = runtime.adapters[notice.source]
        try:
            reference: Mapping[str, str] = adapter.reference_for(notice.ticket)
            job = Job(notice.source, "approve", notice.event_id, notice.ticket, iso(now), iso(now), reference=reference)
            delivered += bool(adapter.write_back(job, notice.text()))
        except Exception as exc:
            logger.warning("intake reminder %s %s failed: %s", notice.source, notice.ticket, type(exc).__name__)
    if notices:
        logger.info("intake reminders: %s due, %s delivered", len(notices), delivered)
    return {"due": len(notices), "delivered": delivered}
