"""A model of what the revocation rules intend, and random histories against it: the cloud never grants more.

Hypothesis drives random sequences of approvals (new, skewed, too old, too far ahead), redeliveries, revocations,
clock moves and sweeps through the real handlers on the emulator. After every step, if alice can assume the role and
read A's load balancers, the model must say the ticket is granted and unexpired.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from race_support import access_open, make_alice

from ram_delegate import owner
from ram_delegate.errors import RamDelegateError
from ram_delegate.events import ApprovedEvent, RevokedEvent, parse_event

TICKET = "OPS-1234"


@dataclass
class Model:
    """The intended state of one ticket: the approval in force, and the time approvals must be newer than."""

    tolerance: timedelta
    max_age: timedelta
    retention: timedelta
    max_days: int
    grant: tuple[datetime, str, datetime] | None = None  # (event time, event id, expiry)
    tombstone: tuple[datetime, str, datetime] | None = None  # (recorded time, event id, written at)

    def approve(self, time: datetime, event_id: str, expires: datetime, now: datetime) -> None:
        if time > now + self.tolerance or time < now - self.max_age:
            return
        if expires <= now or expires > now + timedelta(days=self.max_days):
            return
        if self.tombstone is not None and time <= self.tombstone[0]:
            return
        if self.grant is not None and (time < self.grant[0] or (time == self.grant[0] and event_id != self.grant[1])):
            return
        self.grant = (time, event_id, expires)

    def revoke(self, event_id: str, now: datetime) -> None:
        self.grant = None  # whatever the model says about duplicates, less access is always allowed
        recorded = now + self.tolerance
        earlier = self.tombstone[0] if self.tombstone else recorded
        self.tombstone = (max(recorded, earlier), event_id, now)

    def sweep(self, now: datetime) -> None:
        if self.grant is not None and self.grant[2] <= now:
            time, event_id, _ = self.grant
            earlier = self.tombstone[0] if self.tombstone else time
            self.tombstone = (max(time, earlier), event_id, now)
            self.grant = None
        if self.tombstone is not None and self.tombstone[2] <= now - self.retention:
            self.tombstone = None

    def allows(self, now: datetime) -> bool:
        return self.grant is not None and self.grant[2] > now


def approval(event_id: str, time: datetime, expires: datetime) -> ApprovedEvent:
    event = parse_event(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "https://tickets.example.com/webhooks",
            "type": "partner.access.approved",
            "time": time.isoformat(),
            "data": {
                "ticket": TICKET,
                "partner": {"name": "Enterprise B", "account_id": "2222222222222222", "user": "alice"},
                "access": {"profile": "slb-readonly", "region": "cn-hangzhou"},
                "expires_at": expires.isoformat(),
                "requested_by": "bob@enterprise-b.example",
                "approved_by": "carol@enterprise-a.example",
            },
        }
    )
    assert isinstance(event, ApprovedEvent)
    return event


def revocation(event_id: str, time: datetime) -> RevokedEvent:
    event = parse_event(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "https://tickets.example.com/webhooks",
            "type": "partner.access.revoked",
            "time": time.isoformat(),
            "data": {"ticket": TICKET, "status": "Access Revoked"},
        }
    )
    assert isinstance(event, RevokedEvent)
    return event


def test_random_histories_never_grant_more_than_the_model(
    aliyun_emulator: Any, make_owner_deps: Any, partner_deps: Any, partner_root: Any, owner_root: Any
) -> None:
    numbers = itertools.count()

    class Histories(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            aliyun_emulator.reset()
            aliyun_emulator.accept_host_clock = True  # the SDK signs with the host clock; the model moves it
            self.alice = make_alice(partner_root)
            self.deps = make_owner_deps()
            s = self.deps.settings
            self.model = Model(
                tolerance=timedelta(seconds=s.webhook_tolerance_seconds),
                max_age=timedelta(hours=s.max_event_age_hours),
                retention=timedelta(hours=s.tombstone_hours),
                max_days=s.max_grant_days,
            )
            self.sent: list[ApprovedEvent] = []

        def now(self) -> datetime:
            now: datetime = aliyun_emulator.clock.now().replace(microsecond=0)
            return now

        @rule(
            offset=st.sampled_from([-90 * 3600, -3600, -120, 0, 120, 299, 301, 3600]),
            days=st.sampled_from([0.01, 1, 3]),
        )
        def approve(self, offset: int, days: float) -> None:
            now = self.now()
            time = now + timedelta(seconds=offset)
            event = approval(f"evt-a{next(numbers)}", time, time + timedelta(days=days))
            self.deliver(event, now)
            self.sent.append(event)

        @rule(data=st.data())
        def redeliver(self, data: st.DataObject) -> None:
            if self.sent:
                self.deliver(data.draw(st.sampled_from(self.sent)), self.now())

        def deliver(self, event: ApprovedEvent, now: datetime) -> None:
            with contextlib.suppress(RamDelegateError):  # a refusal: the check is one-sided, the model may grant
                owner.handle_approved(event, self.deps, now=now)
            self.model.approve(event.time, event.id, event.data.expires_at, now)

        @rule(offset=st.sampled_from([-86_400, -60, 0, 200, 86_400]))
        def revoke(self, offset: int) -> None:
            now = self.now()
            event = revocation(f"evt-r{next(numbers)}", now + timedelta(seconds=offset))
            assert owner.handle_revoked(event, self.deps, now=now).status in ("applied", "duplicate")
            self.model.revoke(event.id, now)

        @rule(seconds=st.sampled_from([30, 600, 3600, 86_400, 97 * 3600]))
        def move_clock(self, seconds: int) -> None:
            aliyun_emulator.clock.advance(seconds)

        @rule()
        def sweep(self) -> None:
            now = self.now()
            report = owner.sweep_owner(self.deps, now=now)
            assert report.errors == ()
            self.model.sweep(now)

        @invariant()
        def the_cloud_grants_no_more_than_the_model(self) -> None:
            now = self.now()
            if access_open(partner_deps, owner_root, self.alice):
                assert self.model.allows(now), (self.model, now)

    run_state_machine_as_test(
        Histories,
        settings=settings(
            max_examples=25,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
