"""Reminders and expiry notices: due exactly on the tick whose window holds them, only for grants an adapter made."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ram_delegate import grants as g
from ram_delegate.cloud import TaggedResource
from ram_delegate.intake.config import Reminders
from ram_delegate.intake.reminders import due_notices

EXPIRES = datetime(2030, 1, 8, 12, 2, tzinfo=timezone.utc)
REMINDERS = Reminders(before=("3d", "1d"))


def role(event_id: str, expires: datetime = EXPIRES, managed: bool = True) -> TaggedResource:
    tags = {
        g.TAG_TICKET: "OPS-1",
        g.TAG_EVENT_ID: event_id,
        g.TAG_EXPIRES_AT: g.format_time(expires),
        g.TAG_PARTNER_ACCOUNT: "2222222222222222",
        g.TAG_PARTNER_USER: "alice",
    }
    if managed:
        tags[g.TAG_MANAGED_BY] = g.MANAGED_BY_VALUE
    return TaggedResource("rd-ops-1", tags)


def test_each_lead_is_due_on_one_tick_and_the_expiry_after() -> None:
    roles = [role("jira-123")]
    due = {
        tick: [n.lead for n in due_notices(roles, ["jira"], REMINDERS, tick)]
        for tick in (EXPIRES - timedelta(days=3, minutes=m) for m in range(-10, 10))
    }
    assert sum(len(leads) for leads in due.values()) == 5  # one tick of every 5 minutes holds the 3-day moment
    assert due_notices(roles, ["jira"], REMINDERS, EXPIRES - timedelta(days=1)) != []
    [notice] = due_notices(roles, ["jira"], REMINDERS, EXPIRES + timedelta(minutes=3))
    assert notice.lead is None
    assert "expired" in notice.text()
    assert "external" not in notice.text().lower()


def test_grants_from_elsewhere_are_left_alone() -> None:
    now = EXPIRES - timedelta(days=1)
    assert due_notices([role("evt-from-a-webhook")], ["jira"], REMINDERS, now) == []
    assert due_notices([role("github-abc")], ["jira"], REMINDERS, now) == []
    assert due_notices([role("jira-1", managed=False)], ["jira"], REMINDERS, now) == []


@given(st.integers(min_value=0, max_value=10 * 24 * 60))
@settings(max_examples=200, deadline=None)
def test_over_consecutive_ticks_each_notice_goes_out_exactly_once(offset_minutes: int) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=offset_minutes % 5)
    expires = start + timedelta(days=4, minutes=offset_minutes)
    roles = [role("feishu-x", expires)]
    sent: list[str | None] = []
    tick = start
    while tick <= expires + timedelta(minutes=10):
        sent.extend(n.lead for n in due_notices(roles, ["feishu"], REMINDERS, tick))
        tick += timedelta(minutes=5)
    expected = [lead for lead, days in (("3d", 3), ("1d", 1)) if expires - timedelta(days=days) > start]
    assert sorted(sent, key=str) == sorted([*expected, None], key=str)
