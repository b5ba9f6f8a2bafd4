"""``EmulatorClock`` waypoints: a forward move stops at each instant subscribers name, in order, then at its target."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aliyun_emulator.core.clock import EmulatorClock

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


def test_a_forward_move_stops_at_every_waypoint_in_order_with_the_clock_reading_it() -> None:
    clock = EmulatorClock(base=lambda: START)  # a frozen host clock: readings are exact
    asked: list[tuple[datetime, datetime]] = []
    heard: list[tuple[datetime, datetime, datetime]] = []

    def waypoints(old: datetime, new: datetime) -> list[datetime]:
        asked.append((old, new))
        return [minutes(30), minutes(10), minutes(-5), minutes(90), minutes(10)]  # unsorted, repeated, outside

    clock.add_waypoints(waypoints)
    clock.add_waypoints(lambda _old, _new: [minutes(20), minutes(60)])  # the target itself is no extra stop
    clock.on_move(lambda previous, reached: heard.append((previous, reached, clock.now())))

    assert clock.advance(3600) == minutes(60)
    assert asked == [(START, minutes(60))]
    assert heard == [
        (START, minutes(10), minutes(10)),
        (minutes(10), minutes(20), minutes(20)),
        (minutes(20), minutes(30), minutes(30)),
        (minutes(30), minutes(60), minutes(60)),
    ]
    assert clock.now() == minutes(60)


def test_a_backward_move_makes_no_stops() -> None:
    clock = EmulatorClock(base=lambda: START)
    clock.set(minutes(60))
    heard: list[tuple[datetime, datetime]] = []
    clock.add_waypoints(lambda _old, _new: [minutes(30)])
    clock.on_move(lambda previous, reached: heard.append((previous, reached)))

    assert clock.set(minutes(0)) == START
    assert heard == [(minutes(60), START)]


def test_without_waypoints_a_move_is_one_step() -> None:
    clock = EmulatorClock(base=lambda: START)
    heard: list[tuple[datetime, datetime]] = []
    clock.on_move(lambda previous, reached: heard.append((previous, reached)))
    clock.advance(120)
    assert heard == [(START, minutes(2))]
