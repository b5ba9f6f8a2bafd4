"""Fixtures of the edge tests: both sides' deps on the emulator, wired through the loopback notifier."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from edge_support import (
    EXTERNAL_IDS,
    FORBIDDEN_IN_LOGS,
    SIGNATURES,
    LoopbackNotifier,
    make_deps,
)

from ram_delegate.deps import Deps


@pytest.fixture
def partner_deps(aliyun_emulator: Any) -> Deps:
    return make_deps(aliyun_emulator, "partner", LoopbackNotifier(None))


@pytest.fixture
def notifier(partner_deps: Deps) -> LoopbackNotifier:
    return LoopbackNotifier(partner_deps)


@pytest.fixture
def owner_deps(aliyun_emulator: Any, notifier: LoopbackNotifier) -> Deps:
    return make_deps(aliyun_emulator, "owner", notifier)


@pytest.fixture
def now(aliyun_emulator: Any) -> datetime:
    current: datetime = aliyun_emulator.clock.now().replace(microsecond=0)
    return current


@pytest.fixture(autouse=True)
def no_secret_in_any_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Catalog 26: after each test, no captured line holds a key, token, secret, signature or ExternalId."""
    SIGNATURES.clear()
    EXTERNAL_IDS.clear()
    caplog.set_level(logging.DEBUG)
    yield
    text = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    leaks = [marker for marker in (*FORBIDDEN_IN_LOGS, *SIGNATURES, *EXTERNAL_IDS) if marker in text]
    assert leaks == []
