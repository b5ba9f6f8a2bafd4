"""The owner's revocation: cut the ticket's access now, record a tombstone, and tell the partner.

A revocation is never "stale": whatever its time, it retires the grant the ticket has now. Only a redelivery of a
revocation already applied (same event id recorded on the tombstone, and nothing older than it left) is a no-op.
Its tombstone records the clock plus the webhook tolerance, so only an approval that arrives after the revocation
can grant the ticket again (see ``_recorded_time``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from ram_delegate import grants as g
from ram_delegate.cloud import TaggedResource
from ram_delegate.deps import Deps
from ram_delegate.errors import RetryableCloudError
from ram_delegate.events import REVOKED, RevokedEvent
from ram_delegate.outcome import Outcome
from ram_delegate.owner.state import Observed, observe, retire, retire_steps, tombstone_tags

logger = logging.getLogger(__name__)


def _recorded_time(now: datetime, deps: Deps, existing: TaggedResource | None) -> datetime:
    """The time approvals must be newer than: the clock plus the webhook tolerance (or an earlier, later record).

    An approval is refused when stamped more than the tolerance ahead of the clock at its own processing, so only
    an approval that arrives after this revocation can be newer than this: whatever its sender's clock, a
    redelivery or an in-flight approval from before the revocation stays refused.
    """
    recorded = (now + timedelta(seconds=deps.settings.webhook_tolerance_seconds)).replace(microsecond=0)
    earlier = g.parse_time(existing.tags.get(g.TAG_EVENT_TIME)) if existing is not None else None
    return max(recorded, earlier) if earlier is not None else recorded


def _already_applied(event: RevokedEvent, observed: Observed) -> bool:
    """A redelivery of the revocation the tombstone records, with no grant older than it left behind."""
    tombstone = observed.tombstone
    if tombstone is None or tombstone.tags.get(g.TAG_EVENT_ID) != g.event_id_tag(event.id):
        return False
    if not observed.holds_grant:
        return True
    granted_at = observed.grant_event_time()
    revoked_at = g.parse_time(tombstone.tags.get(g.TAG_EVENT_TIME))
    return granted_at is not None and revoked_at is not None and granted_at > revoked_at


def handle_revoked(event: RevokedEvent, deps: Deps, *, now: datetime, dry_run: bool = False) -> Outcome:
    """Revoke now: detach, refuse new sessions, delete, keep a tombstone; then tell the partner."""
    ticket = event.data.ticket
    observed = observe(deps, ticket)
    if observed.other_ticket is not None:
        raise g.name_collision(ticket, observed.other_ticket)

    def tombstone_for(existing: TaggedResource | None) -> Mapping[str, str]:
        recorded = _recorded_time(now, deps, existing)
        return tombstone_tags(ticket, event.id, recorded, now, "revoked")

    if dry_run:
        return Outcome("dry-run", ticket, tuple(retire_steps(deps, ticket, observed, tombstone_for(None), "revoked")))
    if _already_applied(event, observed) and not observed.unverified:
        _forward_revocation(event, deps, now, observed.tombstone)
        return Outcome("duplicate", ticket)
    steps, final = retire(deps, ticket, tombstone_for, reason="revoked", event_id=event.id, observed=observed)
    tombstone = g.find_managed(
        deps.cloud.ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE, ticket)), g.tombstone_policy_name(ticket)
    )
    _forward_revocation(event, deps, now, tombstone)
    # The last observation, made after the tombstone: what a racing approval wrote under a key this instance does
    # not hold shows there, and must not be confirmed as gone.
    if final.unverified:
        _unconfirmed(deps, ticket, final.unverified)
    return Outcome("applied", ticket, tuple(steps))


def _unconfirmed(deps: Deps, ticket: str, names: tuple[str, ...]) -> None:
    """The ticket's role or access policy carries our tags without a seal this function can verify: a forgery, or a
    grant sealed under a key it does not hold (a rotation it has not seen yet, a key dropped too early). It is not
    touched, so the revocation cannot say that no access remains: a critical alert, and a 5xx so the sender retries
    (an instance that reads its seal keys again may then recognise it). The tombstone and the partner's detach are
    done already."""
    listed = ", ".join(names)
    deps.critical_alert(
        f"ram-delegate: revocation of {ticket} is not confirmed",
        f"{listed} carries ram-delegate's tags without a seal this function can verify (a forgery, or a seal key it "
        "does not hold); it was not touched. The partner was told to detach; an operator must look.",
    )
    raise RetryableCloudError(f"access of {ticket} may remain: {listed} is not verifiably ram-delegate's")


def _forward_revocation(event: RevokedEvent, deps: Deps, now: datetime, tombstone: TaggedResource | None) -> None:
    """Tell the partner, so its verifier expects a refusal. Access is already cut; a partner that cannot be told
    makes the answer a 503, and the redelivery (a no-op on the owner side) tells it again."""
    settings = deps.settings
    secret = settings.partner_signing_secret
    if not settings.partner_endpoint or not secret:
        return
    recorded = g.parse_time(tombstone.tags.get(g.TAG_EVENT_TIME)) if tombstone is not None else None
    forwarded = RevokedEvent.model_validate(
        {
            "specversion": "1.0",
            "id": f"{event.id}.revoked"[-256:],
            "source": f"ram-delegate://owner/{deps.account_id()}",
            "type": REVOKED,
            "time": recorded or now,
            "data": {"ticket": event.data.ticket, "owner_account_id": deps.account_id()},
        }
    )
    try:
        status = deps.notifier.send_event(settings.partner_endpoint, secret, forwarded, now=now)
    except OSError:
        status = 0
    if not 200 <= status < 300:
        logger.warning("revocation of %s: the partner endpoint answered %s", event.data.ticket, status or "nothing")
        raise RetryableCloudError(
            f"access of {event.data.ticket} is revoked, but the partner could not be told yet (status {status})"
        )
