"""Benchmark: partner-verify over 1,000 grants with STS's AssumeRole quota enforced (100/s per account).

The emulator throttles AssumeRole beyond 100 calls per second for the partner account, the way STS does, so the
quota alone puts a floor of N / 100 seconds under the run (10 s for 1,000 grants). The verifier paces itself at
``--rate`` (default 100/s) with a bounded thread pool; the bench prints the wall time, the ratio to that floor and
how many calls were still throttled (and retried with backoff). The grants are made by the real owner and partner
handlers through the official SDKs; each grant has its own partner user, because RAM allows 10 custom policies per
user or role, and the verifier role therefore assumes through one policy scoped to the owner's ``rd-*`` roles.

    .venv/bin/python bench/bench_verify.py [--grants 1000] [--rate 100] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc
from datetime import datetime, timedelta
from typing import Any

os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "DEBUG"):
    os.environ.pop(_name, None)

from aliyun_emulator.emulator import Emulator  # noqa: E402
from aliyun_emulator.testing import DEFAULT_TEST_SEED, admit_role_assumer, ram_client, sts_client  # noqa: E402
from ram_delegate.audit import AuditLog  # noqa: E402
from ram_delegate.bootstrap import TRUST_POLICY  # noqa: E402
from ram_delegate.cloud import CloudClients, Credentials  # noqa: E402
from ram_delegate.deps import Deps  # noqa: E402
from ram_delegate.events import ApprovedEvent, GrantedEvent, RevokedEvent, parse_event  # noqa: E402
from ram_delegate.owner import handle_approved, handle_revoked  # noqa: E402
from ram_delegate.partner import handle_granted  # noqa: E402
from ram_delegate.policy import load_profiles  # noqa: E402
from ram_delegate.settings import Settings  # noqa: E402
from ram_delegate.verify import verify_grants  # noqa: E402

OWNER = "1111111111111111"
PARTNER = "2222222222222222"
VERIFIER_ROLE = "rd-verifier"
HARNESS_USER = "verify-harness"
STS_QUOTA_PER_SECOND = 100


class Delivery:
    """The owner's notifier, delivering granted events straight into the partner's handler."""

    def __init__(self) -> None:
        self.partner: Deps | None = None

    def send_event(
        self, url: str, secret: str, event: GrantedEvent | ApprovedEvent | RevokedEvent, *, now: datetime
    ) -> int:
        if isinstance(event, GrantedEvent) and self.partner is not None:
            handle_granted(event, self.partner, now=now)
        return 200

    def alert(self, url: str, title: str, text: str, *, critical: bool) -> None:
        print(f"alert ({'critical' if critical else 'warning'}): {title}")


def seed(grants: int) -> dict[str, Any]:
    """The test seed with room for ``grants`` roles, policies and users."""
    world = json.loads(json.dumps(DEFAULT_TEST_SEED))
    for account in world["accounts"]:
        account["quotas"] = {"roles": grants + 100, "policies": 2 * grants + 100, "users": grants + 100}
    return world


def install_verifier(emulator: Emulator) -> Credentials:
    """The verifier role (trusted by FC; repository policy + assume on the owner's rd-* roles); a harness user may
    assume it, to get the session FC would hand the function."""
    from alibabacloud_ram20150501 import models

    ram = ram_client(emulator, "AKIDENTERPRISEB0000001", "secret-b")
    assume = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"acs:ram::{OWNER}:role/rd-*"}],
    }
    with open(
        os.path.join(os.path.dirname(__file__), "..", "shared", "ram_delegate", "roles", "partner-verifier.json")
    ) as f:
        verifier_policy = f.read()
    ram.create_role(
        models.CreateRoleRequest(role_name=VERIFIER_ROLE, assume_role_policy_document=json.dumps(TRUST_POLICY))
    )
    for name, document in (
        ("partner-verifier-function", verifier_policy),
        ("partner-verifier-assume", json.dumps(assume)),
    ):
        ram.create_policy(models.CreatePolicyRequest(policy_name=name, policy_document=document))
        ram.attach_policy_to_role(
            models.AttachPolicyToRoleRequest(policy_name=name, policy_type="Custom", role_name=VERIFIER_ROLE)
        )
    key_id, secret = admit_role_assumer(
        ram, PARTNER, HARNESS_USER, [VERIFIER_ROLE], policy_name="verify-harness-assume-verifier"
    )
    return Credentials(key_id, secret)


def verifier_session(emulator: Emulator, harness: Credentials) -> Credentials:
    from alibabacloud_sts20150401 import models

    sts = sts_client(emulator, harness.access_key_id, harness.access_key_secret)
    issued = sts.assume_role(
        models.AssumeRoleRequest(
            role_arn=f"acs:ram::{PARTNER}:role/{VERIFIER_ROLE}",
            role_session_name="partner-verify",
            duration_seconds=3600,
        )
    ).body.credentials
    return Credentials(issued.access_key_id, issued.access_key_secret, issued.security_token)


def make_grants(emulator: Emulator, count: int) -> Deps:
    profiles = load_profiles()
    delivery = Delivery()
    base = {"endpoint": emulator.endpoint, "protocol": "http"}
    owner_settings = Settings(
        side="owner",
        account_id=OWNER,
        verifier_role=VERIFIER_ROLE,
        partner_endpoint="https://partner.example/hook",
        partner_secret="bench",
        allowed_partners=(PARTNER,),
        **base,
    )
    partner_settings = Settings(side="partner", account_id=PARTNER, **base)  # no per-grant policy on the verifier role
    owner = Deps(
        owner_settings,
        CloudClients(owner_settings, Credentials("AKIDENTERPRISEA0000001", "secret-a")),
        emulator.clock.now,
        delivery,
        AuditLog(),
        profiles,
    )
    delivery.partner = Deps(
        partner_settings,
        CloudClients(partner_settings, Credentials("AKIDENTERPRISEB0000001", "secret-b")),
        emulator.clock.now,
        delivery,
        AuditLog(),
        profiles,
    )
    for index in range(count):
        now = emulator.clock.now()
        event = parse_event(
            {
                "specversion": "1.0",
                "id": f"evt-bench-{index:05d}",
                "source": "https://tickets.example/ops",
                "type": "partner.access.approved",
                "time": now.isoformat(),
                "data": {
                    "ticket": f"BENCH-{index:05d}",
                    "partner": {"name": "Enterprise B", "account_id": PARTNER, "user": f"partner-{index:05d}"},
                    "access": {"profile": "slb-readonly", "region": "cn-hangzhou", "resource_group_id": None},
                    "expires_at": (now + timedelta(days=7)).isoformat(),
                    "requested_by": "bob@example.com",
                    "approved_by": "carol@example.com",
                },
            }
        )
        assert isinstance(event, ApprovedEvent)
        handle_approved(event, owner, now=now)
    return owner


def revoke_grants(emulator: Emulator, owner: Deps, tickets: list[str]) -> None:
    """The owner revokes ``tickets`` (their roles are deleted); the partner keeps its assume policies until expiry."""
    for ticket in tickets:
        now = emulator.clock.now()
        event = parse_event(
            {
                "specversion": "1.0",
                "id": f"evt-revoke-{ticket.lower()}",
                "source": "https://tickets.example/ops",
                "type": "partner.access.revoked",
                "time": now.isoformat(),
                "data": {"ticket": ticket, "reason": "bench", "requested_by": "carol@example.com"},
            }
        )
        assert isinstance(event, RevokedEvent)
        handle_revoked(event, owner, now=now)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=STS_QUOTA_PER_SECOND, help="the verifier's AssumeRole pace")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--revoked", type=int, default=100, help="how many of the grants the owner has revoked")
    args = parser.parse_args()

    with Emulator(seed(args.grants)) as emulator:
        started = time.perf_counter()
        owner = make_grants(emulator, args.grants)
        revoked = [f"BENCH-{index:05d}" for index in range(args.grants - args.revoked, args.grants)]
        revoke_grants(emulator, owner, revoked)
        emulator.clock.advance(30 * 60)  # past the propagation window: a missing role is the owner's revocation
        setup = time.perf_counter() - started
        print(
            f"setup: {args.grants} grants through the owner and partner handlers, {args.revoked} then revoked by "
            f"the owner, in {setup:.1f} s"
        )

        harness = install_verifier(emulator)
        settings = Settings(
            side="partner",
            account_id=PARTNER,
            endpoint=emulator.endpoint,
            protocol="http",
            verifier_role=VERIFIER_ROLE,
            assume_rate_per_second=args.rate,
            verify_concurrency=args.concurrency,
        )
        delivery = Delivery()
        deps = Deps(
            settings,
            CloudClients(settings, verifier_session(emulator, harness)),
            emulator.clock.now,
            delivery,
            AuditLog(),
            load_profiles(),
        )
        emulator.faults.set_rate_limit("AssumeRole", STS_QUOTA_PER_SECOND, account_id=PARTNER)
        emulator.requests.clear()

        started = time.perf_counter()
        tracemalloc.start()
        report = verify_grants(deps, now=emulator.clock.now())
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        wall = time.perf_counter() - started

        throttled = sum(1 for entry in emulator.requests.entries if entry.code == "Throttling.User")
        floor = args.grants / STS_QUOTA_PER_SECOND
        print(
            f"verify: checked {report.checked}, ok {report.ok}, denied as expected {report.denied_as_expected}, "
            f"unexpected allow {report.unexpected_allow}, unexpected deny {report.unexpected_deny}, "
            f"pending {report.pending}, errors {report.errors}"
        )
        print(f"latency ms: {report.latency_ms}")
        attempts = [check.attempts for check in report.results if check.grant_state == "active"]
        revoked_calls = [check.attempts for check in report.results if check.outcome == "denied_as_expected"]
        print(f"AssumeRole attempts: max {max(attempts, default=0)} per active grant, {sum(revoked_calls)} in all for")
        print(f"  the {len(revoked_calls)} revoked grants (one each)")
        print(
            f"memory: Python heap peak during the run {peak / 2**20:.1f} MiB (emulator included); "
            f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        print(f"AssumeRole calls throttled by the emulator (then retried): {throttled}")
        print(
            f"wall time {wall:.2f} s at {args.rate:g}/s x {args.concurrency} threads; "
            f"the {STS_QUOTA_PER_SECOND}/s quota allows {floor:.1f} s at best; ratio {wall / floor:.2f}"
        )
        expected_ok = args.grants - args.revoked
        good = report.ok == expected_ok and report.denied_as_expected == args.revoked
        return 0 if report.checked == args.grants and good else 1


if __name__ == "__main__":
    sys.exit(main())
