"""The owner's expiry sweep: retire grants whose expiry has passed, and drop tombstones past their retention.

The sweep lists the managed roles and tombstones (``ceil(N / 1000)`` calls each when nothing expired). Each expired
grant is read again right before it is retired (the retirement's own observation): a grant renewed since the
listing (a newer approval moved its expiry) is left alone. Retirement is the revocation's (``state.retire``): access
cut first, quota freed before the tombstone is written, repeated until the ticket is clean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from ram_delegate import grants as g
from ram_delegate.cloud import TaggedResource
from ram_delegate.deps import Deps
from ram_delegate.errors import RamDelegateError
from ram_delegate.outcome import Progress, SweepReport
from ram_delegate.owner.state import Observed, TombstoneFor, observe, retire, retire_steps, tombstone_tags
from ram_delegate.plan import Step, execute


def _still_expired(listed: TaggedResource, now: datetime) -> Callable[[Observed], bool]:
    """Retire only the grant the listing showed, and only while it is past its expiry: a renewal (a newer approval
    moved the expiry) since the listing is left alone. Once the role is gone, what is left is always retired."""

    def proceed(observed: Observed) -> bool:
        if not observed.role_is_ours:
            return True
        same_event = observed.role_tags.get(g.TAG_EVENT_ID) == listed.tags.get(g.TAG_EVENT_ID)
        return same_event and g.state_of(observed.role_tags, now) != "active"

    return proceed


def _expiry_tombstone(ticket: str, grant_tags: Mapping[str, str], now: datetime) -> TombstoneFor:
    """The tombstone an expiry records: the grant's own event, so its redeliveries stay refused."""
    event_time = g.parse_time(grant_tags.get(g.TAG_EVENT_TIME)) or now
    event_id = grant_tags.get(g.TAG_EVENT_ID, "expired")

    def tombstone_for(existing: TaggedResource | None) -> Mapping[str, str]:
        earlier = g.parse_time(existing.tags.get(g.TAG_EVENT_TIME)) if existing is not None else None
        recorded = max(event_time, earlier) if earlier is not None else event_time
        return tombstone_tags(ticket, event_id, recorded, now, "expired")

    return tombstone_for


def unsealed_report(name: str) -> str:
    """The sweep's report of a resource that carries our tags without a valid seal: reported, never deleted."""
    return f"{name}: carries ram-delegate's tags without a valid seal; reported, never deleted"


def sweep_owner(deps: Deps, *, now: datetime, dry_run: bool = False, progress: Progress | None = None) -> SweepReport:
    """Retire expired grants and drop old tombstones. With nothing to do it makes only the list calls."""
    account_id = deps.account_id()
    ram = deps.cloud.ram
    roles = ram.list_roles(g.managed_filter(g.KIND_ROLE))
    keys = deps.settings.seal_keys
    listed_tombstones = ram.list_policies(g.managed_filter(g.KIND_TOMBSTONE))
    tombstones = {t.name: t for t in listed_tombstones if g.is_sealed(t.tags, t.name, keys)}
    all_steps: list[Step] = []
    retired: list[str] = []
    errors = [unsealed_report(r.name) for r in [*roles, *listed_tombstones] if g.is_unsealed(r.tags, r.name, keys)]
    expired_roles = [r for r in roles if g.is_sealed(r.tags, r.name, keys) and g.state_of(r.tags, now) != "active"]
    expired = len(expired_roles)
    for index, role in enumerate(expired_roles, start=1):
        if progress is not None:
            progress(index - 1, expired)
        ticket = role.tags.get(g.TAG_TICKET, "")
        if not ticket or role.name != g.role_name(ticket):
            errors.append(f"{role.name}: managed role without a matching ticket tag; left for an operator")
            continue
        tombstone_for = _expiry_tombstone(ticket, role.tags, now)
        try:
            if dry_run:
                observed = observe(deps, ticket)
                all_steps += retire_steps(deps, ticket, observed, tombstone_for(observed.tombstone), "expired")
                continue
            steps, _final = retire(
                deps, ticket, tombstone_for, reason="expired", event_id=None, proceed=_still_expired(role, now)
            )
            if not steps:
                continue  # renewed since the listing
            all_steps += steps
        except RamDelegateError as exc:
            errors.append(f"{ticket}: {exc}")
            continue
        retired.append(ticket)
    if progress is not None:
        progress(expired, expired)
    horizon = now - timedelta(hours=deps.settings.tombstone_hours)
    for tomb in tombstones.values():
        revoked_at = g.parse_time(tomb.tags.get(g.TAG_REVOKED_AT))
        if revoked_at is None or revoked_at > horizon:
            continue
        step = Step("DeletePolicy", g.policy_arn(account_id, tomb.name), {"policy": tomb.name}, "tombstone aged")
        all_steps.append(step)
        if dry_run:
            continue
        try:
            execute([step], deps.cloud, deps.audit, ticket=tomb.tags.get(g.TAG_TICKET, ""), event_id=None)
        except RamDelegateError as exc:
            errors.append(f"{tomb.name}: {exc}")
    return SweepReport(
        examined=len(roles),
        expired=expired,
        revoked=tuple(retired),
        steps=tuple(all_steps),
        errors=tuple(errors),
        dry_run=dry_run,
        detail={
            "tombstones": len(tombstones),
            **g.previous_key_report([*roles, *listed_tombstones], keys, deps.settings.tombstone_hours),
        },
    )
