"""The emulator clock: one source of "now" for signatures, STS expiry, policy conditions and timers.

It starts at the host's time and can be moved (never backwards by ``advance``) so tests and the local stack can
drive expiry end to end without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone


def utc_now() -> datetime:
    """The host's wall clock, in UTC (the emulator's starting point)."""
    return datetime.now(timezone.utc)


class EmulatorClock:
    """A thread-safe clock offset from a base clock; listeners hear every move (timers fire on them)."""

    def __init__(self, base: Callable[[], datetime] = utc_now) -> None:
        self._base = base
        self._offset = timedelta(0)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[datetime, datetime], None]] = []

    def now(self) -> datetime:
        with self._lock:
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

    def on_move(self, listener: Callable[[datetime, datetime], None]) -> None:
        """Call ``listener(old, new)`` after every move."""
        with self._lock:
            self._listeners.append(listener)

    def _move(self, target: Callable[[datetime], datetime]) -> datetime:
        with self._lock:
            base = self._base()
            old = base + self._offset
            new = target(old)
            self._offset = new - base
            listeners = list(self._listeners)
        for listener in listeners:
            listener(old, new)
        return new
