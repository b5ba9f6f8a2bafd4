"""STS AssumeRole flow control, built in: 100 calls per second per account by default, set in the seed."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException
from wire_support import ROLE_NAME, partner_user_keys

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.seed import load_seed
from aliyun_emulator.sts.models import ASSUME_ROLE_PER_SECOND, RateQuota
from aliyun_emulator.testing import DEFAULT_TEST_SEED, ENTERPRISE_A_UID, ENTERPRISE_B_UID, sts_client


def test_the_quota_admits_a_burst_of_its_rate_then_refills_at_that_rate() -> None:
    now = [0.0]
    quota = RateQuota(ASSUME_ROLE_PER_SECOND, clock=lambda: now[0])
    assert all(quota.admit() for _ in range(100))
    assert not quota.admit()
    now[0] = 0.005
    assert not quota.admit()
    now[0] = 0.0101
    assert quota.admit()
    assert not quota.admit()
    now[0] = 10.0
    assert sum(quota.admit() for _ in range(150)) == 100


def test_the_default_quota_is_100_per_second() -> None:
    seed = load_seed(DEFAULT_TEST_SEED)
    assert ASSUME_ROLE_PER_SECOND == 100
    assert all("assume_role_per_second" not in account.quotas for account in seed.accounts)


def quota_seed(per_second: int) -> dict[str, Any]:
    seed = copy.deepcopy(dict(DEFAULT_TEST_SEED))
    for account in seed["accounts"]:
        if account["uid"] == ENTERPRISE_B_UID:
            account["quotas"] = {"assume_role_per_second": per_second}
    return seed


def test_a_caller_account_over_its_quota_gets_throttling_user_and_no_session() -> None:
    with Emulator(quota_seed(2)) as emulator:
        user = partner_user_keys(emulator)
        sts = sts_client(emulator, user.access_key_id, user.access_key_secret)
        request = sts_models.AssumeRoleRequest(
            role_arn=f"acs:ram::{ENTERPRISE_A_UID}:role/{ROLE_NAME}", role_session_name="quota"
        )
        sts.assume_role(request)
        sts.assume_role(request)
        sessions = len(emulator.state.dump()["sessions"])
        with pytest.raises(ClientException) as raised:
            sts.assume_role(request)

        assert (raised.value.code, raised.value.status_code) == ("Throttling.User", 400)
        assert "flow control" in str(raised.value.message)
        assert len(emulator.state.dump()["sessions"]) == sessions


def test_the_quota_is_a_seed_setting_checked_at_start_up() -> None:
    with pytest.raises(ValueError, match="assume_role_per_second"):
        load_seed(quota_seed(0))
