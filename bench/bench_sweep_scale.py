"""Benchmark 2: the owner's expiry sweep at 1,000 and 10,000 managed grants with 1% expired.

One grant is created by the real owner handler (``handle_approved``, through the SDK against the emulator as A's
root); the other N-1 are cloned from it directly in the emulator's state (same documents and tags, their own
ticket, names and expiry), which is fast and exactly what the handler would have written. The seed raises A's
quotas to 20,000 roles and policies. Then ``sweep_owner`` runs once, through the SDK, and the emulator's request log
counts its calls.

Bounds: listing N tagged grants needs ceil(N/1000) list calls (MaxItems is 1,000; the sweep also lists tombstones,
another ceil(T/1000) >= 1 call), plus 4 list calls per retired grant: the retirement observes the ticket again
right before acting (its policies, its role's tags and attachments) and lists once more after its writes, which is
what lets a renewal since the listing, or a racing approval, be seen. "lists" counts every List call, and the
per-action counts show which are the scan and which are per retired grant. Retiring E expired grants needs at least
3 writes each (detach, delete policy, delete role; ram-delegate's design adds UpdateRole and a tombstone: 5). Wall
time should grow linearly in N.

Run: ``.venv/bin/python bench/bench_sweep_scale.py`` (part of ``make bench``).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.seed import load_seed
from ram_delegate import grants
from ram_delegate.audit import AuditLog
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.deps import Deps
from ram_delegate.events import ApprovedEvent, parse_event
from ram_delegate.notify import HttpNotifier
from ram_delegate.owner import handle_approved, sweep_owner
from ram_delegate.policy import load_profiles
from ram_delegate.settings import Settings
from scale_support import approved_event, iso, seed

SIZES = (1_000, 10_000)
EXPIRED_FRACTION = 0.01
READS = ("List", "Get")
WRITE_DESIGN_FLOOR = 5


def clone_grants(emulator: Emulator, owner_uid: str, template_ticket: str, count: int, now: datetime) -> int:
    """Copy the template grant ``count`` times in the emulator's state; 1% get an expiry in the past."""
    ram = emulator.state.accounts[owner_uid].ram
    role = ram.role(grants.role_name(template_ticket))
    policy = ram.custom_policy(grants.access_policy_name(template_ticket))
    version = policy.versions[policy.default_version]
    document = ram.version_document(version)
    expired_every = round(1 / EXPIRED_FRACTION)
    expired = 0
    for index in range(count):
        ticket = f"SCALE-{index:05d}"
        is_expired = index % expired_every == 0
        expired += is_expired
        expires_at = now - timedelta(hours=1) if is_expired else now + timedelta(days=30)
        own = {
            grants.TAG_TICKET: ticket,
            grants.TAG_NAME_KEY: grants.name_key(ticket),
            grants.TAG_EXPIRES_AT: iso(expires_at),
        }
        role_tags = {**role.tags, **own}
        policy_tags = {**policy.tags, **own}
        clone = ram.create_role(
            grants.role_name(ticket),
            role.trust_policy,
            role.trust_document,
            role.description,
            role.max_session_duration,
            role_tags,
            now,
        )
        ram.create_policy(
            grants.access_policy_name(ticket), version.text, document, policy.description, policy_tags, now
        )
        ram.attach("Role", clone.attachments, "Custom", grants.access_policy_name(ticket), now)
    return expired


def run(size: int) -> dict[str, Any]:
    with Emulator(load_seed(seed(20_000))) as emulator:
        owner, partner = emulator.seed.accounts[0], emulator.seed.accounts[1]
        settings = Settings(
            side="owner",
            account_id=owner.uid,
            endpoint=emulator.endpoint,
            protocol="http",
            region="cn-hangzhou",
            allowed_partners=(partner.uid,),
        )
        deps = Deps(
            settings=settings,
            cloud=CloudClients(settings, Credentials(owner.access_key_id, owner.access_key_secret)),
            clock=emulator.clock.now,
            notifier=HttpNotifier(),
            audit=AuditLog(logging.getLogger("bench.audit")),
            profiles=load_profiles(),
        )
        now = emulator.clock.now()
        event = parse_event(approved_event(partner.uid, "SCALE-TEMPLATE", now))
        assert isinstance(event, ApprovedEvent)
        handle_approved(event, deps, now=now)
        expired = clone_grants(emulator, owner.uid, "SCALE-TEMPLATE", size - 1, now)
        emulator.requests.clear()
        started = time.perf_counter()
        report = sweep_owner(deps, now=emulator.clock.now())
        seconds = time.perf_counter() - started
        counts = emulator.requests.counts()
    lists = sum(n for action, n in counts.items() if action.startswith("List"))
    writes = sum(n for action, n in counts.items() if not action.startswith(READS))
    if report.expired != expired or report.errors:
        raise SystemExit(f"sweep at N={size}: expired {report.expired} (expected {expired}), errors {report.errors}")
    return {
        "grants": size,
        "expired": expired,
        "lists": lists,
        "writes": writes,
        "seconds": seconds,
        "calls": ", ".join(f"{action} {n}" for action, n in sorted(counts.items())),
    }


def main() -> int:
    logging.getLogger("bench.audit").setLevel(logging.WARNING)
    print(f"owner sweep scaling, {EXPIRED_FRACTION:.0%} of grants expired (bounds in this script's docstring)")
    print(f"  {'grants':>7} {'expired':>7} {'lists':>5} {'bound':>5} {'writes':>6} {'w/exp':>5} {'wall s':>7}")
    results = [run(size) for size in SIZES]
    for result in results:
        # the role listing, the tombstone listing, and per expired grant the retirement's own reads (the ticket's
        # policies, its role's tags and attachments, then the final check's listing) that let a renewal win
        bound = math.ceil(result["grants"] / 1000) + 1 + 4 * result["expired"]
        print(
            f"  {result['grants']:>7.0f} {result['expired']:>7.0f} {result['lists']:>5.0f} {bound:>5} "
            f"{result['writes']:>6.0f} {result['writes'] / result['expired']:>5.1f} {result['seconds']:>7.2f}"
        )
        print(f"    calls: {result['calls']}")
        print(
            f"    list calls {result['lists'] / bound:.2f}x bound; writes {result['writes'] / result['expired']:.1f} "
            f"per expired grant ({result['writes'] / result['expired'] / WRITE_DESIGN_FLOOR:.2f}x the design floor "
            f"of {WRITE_DESIGN_FLOOR})"
        )
    small, large = results
    print(
        f"growth 1,000 -> 10,000 grants: wall time x{large['seconds'] / small['seconds']:.1f}, "
        f"list calls x{large['lists'] / small['lists']:.1f}, writes x{large['writes'] / small['writes']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
