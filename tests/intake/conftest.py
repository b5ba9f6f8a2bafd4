"""The loopback vendor fakes, one server per test module, with a clean record for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from vendor_fakes import VendorFakes


@pytest.fixture(scope="module")
def fakes() -> Iterator[VendorFakes]:
    with VendorFakes() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_fakes(request: pytest.FixtureRequest) -> None:
    if "fakes" in request.fixturenames:
        running: VendorFakes = request.getfixturevalue("fakes")
        with running.state.lock:
            running.state.requests.clear()
            running.state.fail_next = 0
