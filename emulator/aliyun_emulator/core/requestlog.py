"""The request log: every API call the emulator answered, with per-action counts (benchmarks count calls with it)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from datetime import datetime
from itertools import islice
from typing import Any, NamedTuple

DEFAULT_MAX_ENTRIES = 100_000


class RequestLogEntry(NamedTuple):
    """One answered API call. ``code`` is empty on success; ``action``/``product`` are empty if unreadable.

    Immutable and cheap to build: a ``NamedTuple``, not a frozen dataclass (built for every request).
    """

    time: datetime
    request_id: str
    product: str
    action: str
    account_id: str
    principal_arn: str
    status: int
    code: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "request_id": self.request_id,
            "product": self.product,
            "action": self.action,
            "account_id": self.account_id,
            "principal_arn": self.principal_arn,
            "status": self.status,
            "code": self.code,
        }


class RequestLog:
    """Thread-safe; keeps the last ``max_entries`` entries, while counts and total cover every call since clear()."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._entries: deque[RequestLogEntry] = deque(maxlen=max_entries)
        self._counts: dict[tuple[str, str], int] = {}
        """Calls per (product, action): one count per call; the per-action views are summed when read."""
        self._total = 0
        self._lock = threading.Lock()

    def record(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            self._total += 1
            if entry.action:
                key = (entry.product, entry.action)
                self._counts[key] = self._counts.get(key, 0) + 1

    @property
    def entries(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._entries)

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    def counts(self) -> dict[str, int]:
        """Calls per action name, e.g. ``{"CreateRole": 2}`` (failed calls included)."""
        with self._lock:
            return self._by_action()

    def counts_by_product(self) -> dict[str, int]:
        """Calls per ``product:Action``, e.g. ``{"ram:CreateRole": 2}``."""
        with self._lock:
            return self._by_product()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()
            self._total = 0

    def _by_action(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for (_product, action), count in self._counts.items():
            counts[action] += count
        return dict(counts)

    def _by_product(self) -> dict[str, int]:
        return {f"{product}:{action}": count for (product, action), count in self._counts.items()}

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """The control interface's view: totals, counts and the most recent ``limit`` entries (all if None)."""
        with self._lock:
            if limit is None:
                entries = list(self._entries)
            else:  # only the newest ``limit``: counts() and total ask for none and must not copy the whole log
                entries = list(islice(reversed(self._entries), max(limit, 0)))[::-1]
            return {
                "total": self._total,
                "counts": self._by_action(),
                "counts_by_product": self._by_product(),
                "entries": [entry.to_dict() for entry in entries],
            }
