"""Fixtures of the verifier tests: a fresh two-account stack per test (the emulator is reset for each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from verify_stack import Stack, build_stack

if TYPE_CHECKING:
    from aliyun_emulator.emulator import Emulator


@pytest.fixture
def stack(aliyun_emulator: Emulator) -> Stack:
    # The verifier tests move the emulator clock past expiries while the SDK signs with the host's time.
    aliyun_emulator.accept_host_clock = True
    return build_stack(aliyun_emulator)
