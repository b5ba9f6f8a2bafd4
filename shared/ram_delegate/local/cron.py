"""Timer-trigger schedules as Function Compute reads them: 6-field cron (UTC) and ``@every <duration>``.

Cron fields are ``second minute hour day-of-month month day-of-week`` with ``*``, ``?``, lists, ranges and steps
(``0 */5 * * * *``, ``0 0/5 * * * *``, ``0 0 9 ? * MON-FRI``); month and weekday names are accepted, Sunday is 0
(or 7). When both day fields are restricted a day matches either (as cron does). ``@every 1m`` / ``@every 1h30m``
fires every interval counted from the moment the trigger was created (its ``anchor``).

The local host needs one question answered per clock move: the latest due time in ``(after, until]``; missed ticks
coalesce into that single run, as schedulers do after downtime.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_MONTH_NAMES = {name.upper(): index for index, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {name: index for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_EVERY = re.compile(r"^@every\s+((?:\d+[hms])+)$")
_EVERY_PART = re.compile(r"(\d+)([hms])")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_SEARCH_LIMIT_YEARS = 8
"""A valid expression matches within 8 years (Feb 29 needs 4, a weekday-and-date pair at most 7 more)."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day-of-week", 0, 7, _DAY_NAMES),
)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed 6-field cron expression, evaluated in UTC."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    any_day_of_month: bool
    any_day_of_week: bool

    def latest_due(self, after: datetime, until: datetime) -> datetime | None:
        """The latest fire time in ``(after, until]``, or None when nothing fell due."""
        candidate = self._previous(until)
        return candidate if candidate is not None and candidate > after else None

    def next_due(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after``."""
        moment = after.astimezone(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
        limit = moment + timedelta(days=366 * _SEARCH_LIMIT_YEARS)
        while moment <= limit:
            if moment.month not in self.months:
                year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
                moment = moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
            elif not self._day_matches(moment):
                moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0)
            elif moment.hour not in self.hours:
                moment = (moment + timedelta(hours=1)).replace(minute=0, second=0)
            elif moment.minute not in self.minutes:
                moment = (moment + timedelta(minutes=1)).replace(second=0)
            elif moment.second not in self.seconds:
                moment += timedelta(seconds=1)
            else:
                return moment
        raise ValueError(f"cron expression {self.expression!r} never fires")

    def _previous(self, until: datetime) -> datetime | None:
        """The latest fire time at or before ``until`` (searching at most a few years back)."""
        moment = until.astimezone(timezone.utc).replace(microsecond=0)
        limit = moment - timedelta(days=366 * _SEARCH_LIMIT_YEARS)
        while moment >= limit:
            if moment.month not in self.months:
                moment = moment.replace(day=1, hour=0, minute=0, second=0) - timedelta(seconds=1)
            elif not self._day_matches(moment):
                moment = moment.replace(hour=0, minute=0, second=0) - timedelta(seconds=1)
            elif moment.hour not in self.hours:
                moment = moment.replace(minute=0, second=0) - timedelta(seconds=1)
            elif moment.minute not in self.minutes:
                moment = moment.replace(second=0) - timedelta(seconds=1)
            elif moment.second not in self.seconds:
                moment -= timedelta(seconds=1)
            else:
                return moment
        return None

    def _day_matches(self, moment: datetime) -> bool:
        in_month = moment.day in self.days_of_month
        in_week = (moment.isoweekday() % 7) in self.days_of_week
        if self.any_day_of_month and self.any_day_of_week:
            return True
        if self.any_day_of_month:
            return in_week
        if self.any_day_of_week:
            return in_month
        return in_month or in_week


@dataclass(frozen=True)
class EverySchedule:
    """``@every <interval>``: fires at ``anchor + k * interval`` for k >= 1."""

    expression: str
    interval: timedelta
    anchor: datetime

    def latest_due(self, after: datetime, until: datetime) -> datetime | None:
        """The latest fire time in ``(after, until]``, or None when nothing fell due."""
        ticks = (until - self.anchor) // self.interval
        if ticks < 1:
            return None
        candidate = self.anchor + ticks * self.interval
        return candidate if candidate > after else None

    def next_due(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after``."""
        ticks = max(1, (after - self.anchor) // self.interval + 1)
        return self.anchor + ticks * self.interval


Schedule = CronSchedule | EverySchedule


def parse_schedule(expression: str, *, anchor: datetime) -> Schedule:
    """Parse a timer trigger's ``cronExpression``; ``anchor`` is when the trigger was created (for ``@every``)."""
    text = expression.strip()
    if text.startswith("@"):
        return _parse_every(text, anchor)
    return parse_cron(text)


def parse_cron(expression: str) -> CronSchedule:
    """Parse a 6-field cron expression; raise ValueError naming the bad field."""
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(f"cron expression {expression!r}: expected 6 fields (sec min hour dom month dow)")
    values = [_parse_field(field, part, expression) for field, part in zip(_FIELDS, parts, strict=True)]
    day_of_month_part, day_of_week_part = parts[3], parts[5]
    days_of_week = frozenset(0 if day == 7 else day for day in values[5])
    schedule = CronSchedule(
        expression=expression,
        seconds=values[0],
        minutes=values[1],
        hours=values[2],
        days_of_month=values[3],
        months=values[4],
        days_of_week=days_of_week,
        any_day_of_month=day_of_month_part in ("*", "?"),
        any_day_of_week=day_of_week_part in ("*", "?"),
    )
    schedule.next_due(datetime(2000, 1, 1, tzinfo=timezone.utc))  # refuse expressions that never fire (Feb 30)
    return schedule


def _parse_every(expression: str, anchor: datetime) -> EverySchedule:
    match = _EVERY.match(expression)
    if match is None:
        raise ValueError(f"schedule {expression!r}: expected '@every <N>h|m|s' (e.g. @every 5m, @every 1h30m)")
    seconds = sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in _EVERY_PART.findall(match.group(1)))
    if seconds < 1:
        raise ValueError(f"schedule {expression!r}: the interval must be at least one second")
    return EverySchedule(expression=expression, interval=timedelta(seconds=seconds), anchor=anchor)


def _parse_field(field: _Field, text: str, expression: str) -> frozenset[int]:
    def fail(reason: str) -> ValueError:
        return ValueError(f"cron expression {expression!r}: {field.name} {text!r}: {reason}")

    if text == "?":
        if field.name not in ("day-of-month", "day-of-week"):
            raise fail("'?' is only allowed in the day fields")
        return frozenset(range(field.low, field.high + 1))
    selected: set[int] = set()
    for item in text.split(","):
        body, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise fail("the step must be a positive number")
            step = int(step_text)
        if body == "*":
            low, high = field.low, field.high
        elif "-" in body:
            first, _, last = body.partition("-")
            low, high = _value(field, first, fail), _value(field, last, fail)
            if low > high:
                raise fail("a range must go upwards")
        else:
            low = _value(field, body, fail)
            high = field.high if step_text else low
        selected.update(range(low, high + 1, step))
    return frozenset(selected)


def _value(field: _Field, text: str, fail: Callable[[str], ValueError]) -> int:
    upper = text.upper()
    if field.names and upper in field.names:
        return field.names[upper]
    if not text.isdigit():
        raise fail("not a number" + (" or a name" if field.names else ""))
    number = int(text)
    if not field.low <= number <= field.high:
        raise fail(f"out of range {field.low}-{field.high}")
    return number
