"""What a handler or a sweep reports back: the status the edge turns into a 200 body, and the plan it ran."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ram_delegate.plan import Step

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while a sweep or a verification works through its grants (for the CLI bar)."""

OutcomeStatus = Literal["applied", "unchanged", "duplicate", "dry-run", "stale"]


@dataclass(frozen=True)
class Outcome:
    """One event handled. ``duplicate``: the same event again, nothing written; ``unchanged``: a different event
    asking for what already holds; ``stale``: older than what RAM records (or than a revocation), refused quietly."""

    status: OutcomeStatus
    ticket: str
    steps: tuple[Step, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ticket": self.ticket,
            "steps": [step.to_dict() for step in self.steps],
            "detail": self.detail,
        }


@dataclass(frozen=True)
class SweepReport:
    """One timer run: how many grants were looked at, which were retired, and what failed (the next run retries)."""

    examined: int
    expired: int
    revoked: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    errors: tuple[str, ...] = ()
    dry_run: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "examined": self.examined,
            "expired": self.expired,
            "revoked": list(self.revoked),
            "steps": [step.to_dict() for step in self.steps],
            "errors": list(self.errors),
            "dry_run": self.dry_run,
            "detail": self.detail,
        }
