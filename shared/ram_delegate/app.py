"""The five function entry points in one place, for the local host, the CLI and the tests.

Each function's deployed ``index.py`` imports its own module under ``ram_delegate.handlers`` instead, so its
package carries its own code paths only (``handlers/common.py`` explains the shared protocol: warm instances, the
platform's clock, the HTTP answers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime

from ram_delegate.handlers.common import (
    GENERIC_ERROR_MESSAGE,
    GENERIC_SIGNATURE_MESSAGE,
    host_clock,
    new_instance,
)
from ram_delegate.handlers.owner_expire import owner_expire
from ram_delegate.handlers.owner_onboard import intake_runtime, owner_onboard
from ram_delegate.handlers.partner_expire import partner_expire
from ram_delegate.handlers.partner_onboard import partner_onboard
from ram_delegate.handlers.partner_verify import partner_verify
from ram_delegate.instance import Side, WarmInstance

__all__ = [
    "GENERIC_ERROR_MESSAGE",
    "GENERIC_SIGNATURE_MESSAGE",
    "owner_expire",
    "owner_onboard",
    "partner_expire",
    "partner_onboard",
    "partner_verify",
    "warm_instance",
]


def warm_instance(
    side: Side,
    *,
    webhook: bool,
    env: Mapping[str, str] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    clock: Callable[[], datetime] = host_clock,
) -> WarmInstance:
    """A new per-instance cache for one function of ``side`` (``env``: its environment, ``os.environ`` if None)."""
    intake = intake_runtime if side == "owner" else None
    return new_instance(side, webhook=webhook, env=env, monotonic=monotonic, clock=clock, intake=intake)
