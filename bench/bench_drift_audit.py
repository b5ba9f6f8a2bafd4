"""Benchmark: the owner's drift audit (run after every owner-expire sweep) at 100 and 1,000 sealed grants.

One grant is created by the real owner handler with a seal secret; the other N-1 are cloned from it in the emulator's
state, each re-sealed for its own name and ticket (exactly what the handler writes). 1% of the clones then get a
principal of a third account added to their trust policy, as an attacker with ``ram:UpdateRole`` would. The first
audit heals them (one ``UpdateRole`` each); three more audits find nothing and are timed, median reported.

Bounds: with nothing drifted the audit reads ceil(N/1000) ``ListRoles`` pages, one Resource Manager
``ListPolicyAttachments`` page per 100 role attachments made there (one page here: these grants are account-wide), plus
``GetRole``, ``ListPoliciesForRole`` and ``GetPolicy`` per active grant, i.e. 3 reads per grant; healing a widened
trust costs one ``UpdateRole``. Wall time should grow linearly in N.

Run: ``.venv/bin/python bench/bench_drift_audit.py`` (part of ``make bench``).
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import sys
import time
from datetime import datetime
from typing import Any

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.seed import load_seed
from ram_delegate import grants
from ram_delegate.audit import AuditLog
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.deps import Deps
from ram_delegate.events import ApprovedEvent, parse_event
from ram_delegate.notify import HttpNotifier
from ram_delegate.owner import handle_approved
from ram_delegate.owner.drift import audit_owner_grants
from ram_delegate.policy import load_profiles, parse_policy
from ram_delegate.seal import SealKeys
from ram_delegate.settings import Settings
from scale_support import approved_event, seed

SIZES = (100, 1_000)
DRIFTED_FRACTION = 0.01
SEAL = "bench-seal-secret-0123456789abcdef"
THIRD = "3333333333333333"
CLEAN_ROUNDS = 3


def clone_grants(emulator: Emulator, owner_uid: str, template: str, count: int, now: datetime) -> int:
    """Sealed copies of the template grant; every 1/DRIFTED_FRACTION-th one gets a third account in its trust."""
    ram = emulator.state.accounts[owner_uid].ram
    role = ram.role(grants.role_name(template))
    policy = ram.custom_policy(grants.access_policy_name(template))
    version = policy.versions[policy.default_version]
    document = ram.version_document(version)
    widened = json.loads(role.trust_policy)
    widened["Statement"][0]["Principal"]["RAM"].append(f"acs:ram::{THIRD}:root")
    widened_text = json.dumps(widened)
    drifted = 0
    for index in range(count):
        ticket = f"AUDIT-{index:05d}"
        role_name, policy_name = grants.role_name(ticket), grants.access_policy_name(ticket)
        own = {grants.TAG_TICKET: ticket, grants.TAG_NAME_KEY: grants.name_key(ticket)}
        role_tags = grants.with_seal({**role.tags, **own}, role_name, SealKeys(SEAL))
        policy_tags = grants.with_seal({**policy.tags, **own}, policy_name, SealKeys(SEAL))
        tamper = index % round(1 / DRIFTED_FRACTION) == 0
        drifted += tamper
        trust_text = widened_text if tamper else role.trust_policy
        clone = ram.create_role(
            role_name,
            trust_text,
            parse_policy(trust_text, "trust"),
            role.description,
            role.max_session_duration,
            role_tags,
            now,
        )
        ram.create_policy(policy_name, version.text, document, policy.description, policy_tags, now)
        ram.attach("Role", clone.attachments, "Custom", policy_name, now)
    return drifted


def run(size: int) -> dict[str, Any]:
    with Emulator(load_seed(seed(5_000))) as emulator:
        owner, partner = emulator.seed.accounts[0], emulator.seed.accounts[1]
        settings = Settings(
            side="owner",
            account_id=owner.uid,
            endpoint=emulator.endpoint,
            protocol="http",
            region="cn-hangzhou",
            allowed_partners=(partner.uid,),
            seal_secret=SEAL,
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
        event = parse_event(approved_event(partner.uid, "AUDIT-TEMPLATE", now))
        assert isinstance(event, ApprovedEvent)
        handle_approved(event, deps, now=now)
        drifted = clone_grants(emulator, owner.uid, "AUDIT-TEMPLATE", size - 1, now)
        emulator.requests.clear()
        started = time.perf_counter()
        healed = audit_owner_grants(deps, now=emulator.clock.now())
        heal_seconds = time.perf_counter() - started
        heal_counts = dict(emulator.requests.counts())
        clean: list[float] = []
        for _round in range(CLEAN_ROUNDS):
            emulator.requests.clear()
            started = time.perf_counter()
            again = audit_owner_grants(deps, now=emulator.clock.now())
            clean.append(time.perf_counter() - started)
            if again:
                raise SystemExit(f"audit at N={size}: still drifted after healing: {len(again)}")
        clean_counts = dict(emulator.requests.counts())
    if len(healed) != drifted or any(f.action != "healed" for f in healed):
        raise SystemExit(f"audit at N={size}: {len(healed)} findings for {drifted} drifted grants")
    return {
        "grants": size,
        "drifted": drifted,
        "heal_seconds": heal_seconds,
        "clean_seconds": statistics.median(clean),
        "heal_calls": heal_counts,
        "clean_calls": clean_counts,
    }


def main() -> int:
    logging.getLogger("bench.audit").setLevel(logging.WARNING)
    logging.getLogger("ram_delegate.deps").setLevel(logging.CRITICAL + 1)  # one critical line per healed grant
    print(f"owner drift audit, {DRIFTED_FRACTION:.0%} of grants with a widened trust (bounds in the docstring)")
    print(f"  {'grants':>6} {'drifted':>7} {'reads':>6} {'bound':>6} {'updates':>7} {'heal s':>7} {'clean s':>8}")
    results = [run(size) for size in SIZES]
    for result in results:
        size = result["grants"]
        calls = result["clean_calls"]
        reads = sum(calls.values())
        bound = math.ceil(size / 1000) + 1 + 3 * size
        updates = result["heal_calls"].get("UpdateRole", 0)
        print(
            f"  {size:>6} {result['drifted']:>7} {reads:>6} {bound:>6} {updates:>7} "
            f"{result['heal_seconds']:>7.2f} {result['clean_seconds']:>8.2f}"
        )
        print(f"    clean audit calls: {', '.join(f'{a} {n}' for a, n in sorted(calls.items()))}")
        print(f"    reads {reads / bound:.2f}x bound; {result['clean_seconds'] / size * 1000:.1f} ms per grant")
    small, large = results
    print(
        f"growth {small['grants']} -> {large['grants']} grants: clean audit wall time "
        f"x{large['clean_seconds'] / small['clean_seconds']:.1f} (median of {CLEAN_ROUNDS})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
