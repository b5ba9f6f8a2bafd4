"""The emulator clock: one source of "now" for signatures, STS expiry, policy conditions and timers.

It starts at the host's time and can be moved (never backwards by ``advance``) so tests and the local stack can
drive expiry end to end without sleeping. A forward move stops at every waypoint a subscriber asks for (a timer's
due time), so whatever runs there sees the cloud as it was at that instant, not at the move's target.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone

MoveListener = Callable[[datetime, datetime], None]
"""``listener(previous, reached)``: the clock went from ``previous`` to ``reached`` and reads ``reached`` now."""

Waypoints = Callable[[datetime, datetime], Iterable[datetime]]
"""``waypoints(old, new)``: the instants in ``(old, new)`` where a forward move from ``old`` to ``new`` must stop."""


def utc_now() -> datetime:
    """The host's wall clock, in UTC (the emulator's starting point)."""
    return datetime.now(timezone.utc)


class EmulatorClock:
    """A thread-safe clock offset from a base clock; listeners hear every move (timers fire on them)."""

    def __init__(self, base: Callable[[], datetime] = utc_now) -> None:
        self._base = base
        self._offset = timedelta(0)
        self._lock = threading.Lock()
        self._move_lock = threading.Lock()
        """Held for a whole move, so two moves never interleave their stops."""
        self._listeners: list[MoveListener] = []
        self._waypoints: list[Waypoints] = []

    def now(self) -> datetime:
        # No lock: the offset is one immutable value, replaced whole by a move; a read racing a move sees the time
        # before or after it, as it would queued behind the lock.
        return self._base() + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds`` (>= 0); returns the new now."""
        if seconds < 0:
            raise ValueError("advance_seconds must be >= 0")
        return self._move(lambda current: current + timedelta(seconds=seconds))

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` (timezone-aware); returns the new now."""
        if when.tzinfo is None:
            raise ValueError("the time must carry a timezone")
        return self._move(lambda _current: when.astimezone(timezone.utc))

    def on_move(self, listener: MoveListener) -> None:
        """Call ``listener(previous, reached)`` at every stop of every move (the last stop is the target)."""
        with self._lock:
            self._listeners.append(listener)

    def add_waypoints(self, waypoints: Waypoints) -> None:
        """Make every forward move stop at the instants ``waypoints(old, new)`` names, in time order."""
        with self._lock:
            self._waypoints.append(waypoints)

    def _move(self, target: Callable[[datetime], datetime]) -> datetime:
        with self._move_lock:
            with self._lock:
                old = self._base() + self._offset
                new = target(old)
                listeners = list(self._listeners)
                sources = list(self._waypoints)
            stops: set[datetime] = set()
            if new > old:
                stops = {stop for source in sources for stop in source(old, new) if old < stop < new}
            previous = old
            for reached in [*sorted(stops), new]:
                with self._lock:
                    self._offset = reached - self._base()
                for listener in listeners:
                    listener(previous, reached)
                previous = reached
            return new
