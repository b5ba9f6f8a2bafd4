"""Injected faults: scripted errors, added latency and rate limits, by action and optionally by account.

Rate limits and latency are about real throughput, so they run on ``time.monotonic`` (not the emulator clock,
which tests move at will). Throttled calls answer ``Throttling.User`` with HTTP 400 and no ``x-acs-retry-after``
header, which the SDK raises as a plain ``ClientException`` (wire protocol reference §8).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aliyun_emulator.core.errors import ApiError

ANY_ACTION = "*"
THROTTLING_CODE = "Throttling.User"
THROTTLING_MESSAGE = "Request was denied due to user flow control."


@dataclass
class _ErrorFault:
    action: str
    code: str
    status: int
    remaining: int
    account_id: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "code": self.code,
            "status": self.status,
            "remaining": self.remaining,
            "account_id": self.account_id,
            "message": self.message,
        }


@dataclass(frozen=True)
class _LatencyFault:
    action: str
    milliseconds: float
    account_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "milliseconds": self.milliseconds, "account_id": self.account_id}


@dataclass
class _RateLimit:
    """A token bucket per calling account: ``per_second`` refill, burst of ``max(1, per_second)``."""

    action: str
    per_second: float
    account_id: str | None
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # account -> (tokens, last refill)

    def take(self, account_id: str, now: float) -> bool:
        capacity = max(1.0, self.per_second)
        tokens, last = self.buckets.get(account_id, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * self.per_second)
        allowed = tokens >= 1.0
        self.buckets[account_id] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "per_second": self.per_second, "account_id": self.account_id}


@dataclass(frozen=True)
class FaultOutcome:
    """What the faults decide for one call: wait ``delay_seconds``, then answer ``error`` instead (if any)."""

    delay_seconds: float = 0.0
    error: ApiError | None = None


NO_FAULT = FaultOutcome()


class Faults:
    """Thread-safe fault table consulted by the server after authentication and before the product runs."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._errors: list[_ErrorFault] = []
        self._latencies: list[_LatencyFault] = []
        self._rate_limits: list[_RateLimit] = []
        self._empty = True

    def add_error(
        self,
        action: str,
        code: str,
        status: int,
        count: int = 1,
        account_id: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching calls with ``code`` and HTTP ``status`` (400-599) instead of running."""
        _check_action(action)
        if not code:
            raise ValueError("code must not be empty")
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if count < 1:
            raise ValueError("count must be >= 1")
        fault = _ErrorFault(action, code, status, count, account_id, message or f"The emulator injected {code}.")
        with self._lock:
            self._errors.append(fault)
            self._empty = False

    def add_latency(self, action: str, milliseconds: float, account_id: str | None = None) -> None:
        """Delay every matching call by ``milliseconds`` (latencies of several matching entries add up)."""
        _check_action(action)
        if not 0 <= milliseconds <= 60_000:
            raise ValueError("milliseconds must be between 0 and 60000")
        with self._lock:
            self._latencies.append(_LatencyFault(action, float(milliseconds), account_id))
            self._empty = False

    def set_rate_limit(self, action: str, per_second: float, account_id: str | None = None) -> None:
        """Allow ``per_second`` matching calls per calling account; beyond that, ``Throttling.User``.

        Replaces an earlier limit for the same action and account.
        """
        _check_action(action)
        if not per_second > 0:
            raise ValueError("per_second must be > 0")
        with self._lock:
            self._rate_limits = [
                limit for limit in self._rate_limits if (limit.action, limit.account_id) != (action, account_id)
            ]
            self._rate_limits.append(_RateLimit(action, float(per_second), account_id))
            self._empty = False

    def clear(self) -> None:
        with self._lock:
            self._errors.clear()
            self._latencies.clear()
            self._rate_limits.clear()
            self._empty = True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "errors": [fault.to_dict() for fault in self._errors],
                "latencies": [fault.to_dict() for fault in self._latencies],
                "rate_limits": [limit.to_dict() for limit in self._rate_limits],
            }

    def apply(self, action: str, account_id: str) -> FaultOutcome:
        """Decide the faults for one authenticated call (consumes an error fault or a rate-limit token)."""
        if self._empty:  # the common case: no lock, no work
            return NO_FAULT
        with self._lock:
            delay = sum(fault.milliseconds for fault in self._latencies if _matches(fault, action, account_id)) / 1000
            now = self._monotonic()
            for limit in self._rate_limits:
                if _matches(limit, action, account_id) and not limit.take(account_id, now):
                    return FaultOutcome(delay, ApiError(THROTTLING_CODE, THROTTLING_MESSAGE, 400))
            for fault in self._errors:
                if _matches(fault, action, account_id):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._errors.remove(fault)
                    return FaultOutcome(delay, ApiError(fault.code, fault.message, fault.status))
            return FaultOutcome(delay) if delay else NO_FAULT


def _matches(fault: _ErrorFault | _LatencyFault | _RateLimit, action: str, account_id: str) -> bool:
    return fault.action in (action, ANY_ACTION) and fault.account_id in (None, account_id)


def _check_action(action: str) -> None:
    if not action:
        raise ValueError(f"action must be an API action name or {ANY_ACTION!r}")
