"""The pytest plugin isolates tests: whatever one test changes (state, clock, faults, request log) the next one
does not see. The same test runs twice; whichever runs second fails if the first one's changes leaked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_ram20150501 import models as ram_models

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.seed import SeedAccount
from aliyun_emulator.testing import ram_client


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_starts_from_the_seed(
    aliyun_emulator: Emulator, emulator_accounts: tuple[SeedAccount, ...], run: int
) -> None:
    owner = emulator_accounts[0]
    client = ram_client(aliyun_emulator, owner.access_key_id, owner.access_key_secret)

    assert client.list_users(ram_models.ListUsersRequest()).body.users.user == []
    assert abs(aliyun_emulator.clock.now() - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert aliyun_emulator.faults.snapshot() == {"errors": [], "latencies": [], "rate_limits": []}
    assert aliyun_emulator.requests.counts() == {"ListUsers": 1}

    client.create_user(ram_models.CreateUserRequest(user_name=f"leftover-{run}"))
    aliyun_emulator.clock.advance(86_400 * 30)
    aliyun_emulator.faults.add_error("ListUsers", "ServiceUnavailable", 503, count=5)
