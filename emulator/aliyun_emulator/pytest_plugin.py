"""pytest plugin: an in-process emulator per test session, reset before every test that uses it.

Fixtures: ``aliyun_emulator`` (a started ``Emulator``: ``endpoint``, ``clock``, ``faults``, ``requests``, ``state``),
``emulator_accounts`` (the seeded accounts, with their root keys). Override ``aliyun_emulator_seed`` (session scope)
in a conftest to start from another seed. Imports are lazy so that loading the plugin costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aliyun_emulator.emulator import Emulator
    from aliyun_emulator.seed import SeedAccount

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(scope="session")
def aliyun_emulator_seed() -> Mapping[str, Any]:
    """The seed the session's emulator starts from (override in a conftest for another world)."""
    from aliyun_emulator.testing import DEFAULT_TEST_SEED

    return DEFAULT_TEST_SEED


@pytest.fixture(scope="session")
def _aliyun_emulator_session(aliyun_emulator_seed: Mapping[str, Any]) -> Iterator[Emulator]:
    from aliyun_emulator.emulator import Emulator

    # The SDK would otherwise route loopback calls through a proxy or probe the ECS metadata service.
    os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
    for name in _PROXY_VARIABLES:
        os.environ.pop(name, None)
    emulator = Emulator(aliyun_emulator_seed).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def aliyun_emulator(_aliyun_emulator_session: Emulator) -> Emulator:
    """The session's emulator, back at its seed (state, clock, faults, request log, nonces) for this test."""
    _aliyun_emulator_session.reset()
    return _aliyun_emulator_session


@pytest.fixture
def emulator_accounts(aliyun_emulator: Emulator) -> tuple[SeedAccount, ...]:
    """The seeded accounts (uid, alias, root AccessKey pair, resource groups, load balancers)."""
    return aliyun_emulator.seed.accounts
