"""Timer schedules: 6-field cron and @every, next due time and the latest due time of a clock move."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from ram_delegate.local.cron import CronSchedule, EverySchedule, parse_cron, parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


ANCHOR = at("2030-01-01T00:00:07Z")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", "2030-01-01T00:03:07Z", "2030-01-01T00:05:00Z"),
        ("0 */5 * * * *", "2030-01-01T00:05:00Z", "2030-01-01T00:10:00Z"),
        ("0 0/5 * * * *", "2030-01-01T23:58:00Z", "2030-01-02T00:00:00Z"),
        ("0 0 * * * *", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"),
        ("0 0 * * * *", "2030-12-31T23:59:59Z", "2031-01-01T00:00:00Z"),
        ("30 15 10 * * ?", "2030-01-01T10:15:30Z", "2030-01-02T10:15:30Z"),
        ("0 0 9 ? * MON-FRI", "2030-01-04T09:00:00Z", "2030-01-07T09:00:00Z"),  # Friday -> Monday
        ("0 0 0 1,15 * ?", "2030-01-02T00:00:00Z", "2030-01-15T00:00:00Z"),
        ("0 0 0 29 FEB ?", "2030-01-01T00:00:00Z", "2032-02-29T00:00:00Z"),
        ("0 0 12 ? JAN,JUL 0", "2030-01-01T00:00:00Z", "2030-01-06T12:00:00Z"),  # first Sunday of January
        ("0 0 12 ? * 7", "2030-01-01T00:00:00Z", "2030-01-06T12:00:00Z"),  # 7 is Sunday too
        ("0 10-20/5 * * * *", "2030-01-01T00:16:00Z", "2030-01-01T00:20:00Z"),
        ("0 10-20/5 * * * *", "2030-01-01T00:20:00Z", "2030-01-01T01:10:00Z"),
    ],
)
def test_next_due(expression: str, after: str, expected: str) -> None:
    assert parse_cron(expression).next_due(at(after)) == at(expected)


@pytest.mark.parametrize(
    ("expression", "after", "until", "expected"),
    [
        # nothing fell due: the window ends before the next tick
        ("0 */5 * * * *", "2030-01-01T00:00:01Z", "2030-01-01T00:04:59Z", None),
        # exactly on the tick: (after, until] includes until and excludes after
        ("0 */5 * * * *", "2030-01-01T00:04:59Z", "2030-01-01T00:05:00Z", "2030-01-01T00:05:00Z"),
        ("0 */5 * * * *", "2030-01-01T00:05:00Z", "2030-01-01T00:09:59Z", None),
        # missed ticks coalesce into the latest one
        ("0 */5 * * * *", "2030-01-01T00:00:01Z", "2030-01-01T01:07:00Z", "2030-01-01T01:05:00Z"),
        ("0 0 * * * *", "2030-01-01T00:00:01Z", "2030-01-09T07:30:00Z", "2030-01-09T07:00:00Z"),
        ("0 0 * * * *", "2030-01-01T00:00:01Z", "2030-01-01T00:59:59Z", None),
        ("0 0 9 ? * MON-FRI", "2030-01-04T09:00:00Z", "2030-01-06T23:00:00Z", None),  # the weekend
        ("0 0 0 29 FEB ?", "2030-01-01T00:00:00Z", "2033-01-01T00:00:00Z", "2032-02-29T00:00:00Z"),
    ],
)
def test_latest_due_of_a_move(expression: str, after: str, until: str, expected: str | None) -> None:
    result = parse_cron(expression).latest_due(at(after), at(until))
    assert result == (at(expected) if expected else None)


@pytest.mark.parametrize(
    ("expression", "interval"),
    [("@every 1m", 60), ("@every 30s", 30), ("@every 1h30m", 5400), ("@every 2h", 7200)],
)
def test_every_parses_its_interval(expression: str, interval: int) -> None:
    schedule = parse_schedule(expression, anchor=ANCHOR)
    assert isinstance(schedule, EverySchedule)
    assert schedule.interval == timedelta(seconds=interval)


def test_every_fires_from_its_anchor_and_coalesces() -> None:
    schedule = parse_schedule("@every 1m", anchor=ANCHOR)
    assert schedule.next_due(ANCHOR) == ANCHOR + timedelta(minutes=1)
    assert schedule.next_due(ANCHOR + timedelta(seconds=61)) == ANCHOR + timedelta(minutes=2)
    assert schedule.latest_due(ANCHOR, ANCHOR + timedelta(seconds=59)) is None
    assert schedule.latest_due(ANCHOR, ANCHOR + timedelta(seconds=60)) == ANCHOR + timedelta(minutes=1)
    assert schedule.latest_due(ANCHOR, ANCHOR + timedelta(minutes=10, seconds=30)) == ANCHOR + timedelta(minutes=10)
    assert schedule.latest_due(ANCHOR + timedelta(minutes=10), ANCHOR + timedelta(minutes=10, seconds=59)) is None
    assert schedule.latest_due(ANCHOR - timedelta(hours=1), ANCHOR) is None  # never before its creation


def test_cron_is_evaluated_in_utc() -> None:
    schedule = parse_cron("0 0 0 * * *")
    shanghai = timezone(timedelta(hours=8))
    assert schedule.next_due(datetime(2030, 1, 1, 7, 0, tzinfo=shanghai)) == at("2030-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("0 */5 * * *", "expected 6 fields"),
        ("0 */5 * * * * *", "expected 6 fields"),
        ("60 * * * * *", "second '60': out of range 0-59"),
        ("0 * 24 * * *", "hour '24'"),
        ("0 * * 0 * *", "day-of-month '0'"),
        ("0 * * * 13 *", "month '13'"),
        ("0 * * * * 8", "day-of-week '8'"),
        ("? * * * * *", "only allowed in the day fields"),
        ("0 */0 * * * *", "the step must be a positive number"),
        ("0 30-10 * * * *", "a range must go upwards"),
        ("0 0 0 L * ?", "not a number"),
        ("0 0 0 30 FEB ?", "never fires"),
        ("0 0 0 * FOO *", "not a number or a name"),
        ("@every", "expected '@every"),
        ("@every 0s", "at least one second"),
        ("@every 5 minutes", "expected '@every"),
        ("@hourly", "expected '@every"),
    ],
)
def test_invalid_expressions_are_refused_with_the_field_named(expression: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_schedule(expression, anchor=ANCHOR)


def test_both_day_fields_restricted_match_either() -> None:
    schedule = parse_cron("0 0 0 13 * FRI")
    assert isinstance(schedule, CronSchedule)
    # 2030-01-04 is a Friday (matches the weekday), 2030-01-13 a Sunday (matches the date)
    assert schedule.next_due(at("2030-01-01T00:00:00Z")) == at("2030-01-04T00:00:00Z")
    assert schedule.next_due(at("2030-01-11T00:00:00Z")) == at("2030-01-13T00:00:00Z")
