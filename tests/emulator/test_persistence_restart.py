"""``--state FILE``: a restarted emulator still has its accounts, roles, keys, live sessions and clock."""

from __future__ import annotations

import json
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_tea_openapi.exceptions import ClientException
from wire_support import ROOT_A, partner_session_keys, partner_user_keys, start_emulator

from aliyun_emulator.control import EmulatorControl
from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import DEFAULT_TEST_SEED, ENTERPRISE_B_UID, ram_client, slb_client, sts_client


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_cli_restart_with_state_keeps_roles_keys_and_sessions(tmp_path: Path, stop_signal: signal.Signals) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(DEFAULT_TEST_SEED), encoding="utf-8")
    state_file = tmp_path / "state.sqlite"
    process, url = start_emulator(seed_file, "--state", str(state_file))
    try:
        endpoint = url.removeprefix("http://")
        user = partner_user_keys(endpoint)
        session = partner_session_keys(endpoint, user=user)
        ram_client(endpoint, *ROOT_A).create_user(ram_models.CreateUserRequest(user_name="kept"))
    finally:
        process.send_signal(stop_signal)
        process.communicate(timeout=10)

    restarted, restarted_url = start_emulator(seed_file, "--state", str(state_file))
    try:
        endpoint = restarted_url.removeprefix("http://")
        owner = ram_client(endpoint, *ROOT_A)
        role = owner.get_role(ram_models.GetRoleRequest(role_name="partner-access")).body.role
        kept = owner.get_user(ram_models.GetUserRequest(user_name="kept")).body.user
        user_identity = sts_client(endpoint, user.access_key_id, user.access_key_secret).get_caller_identity().body
        listing = slb_client(
            endpoint, session.access_key_id, session.access_key_secret, session.security_token
        ).describe_load_balancers(slb_models.DescribeLoadBalancersRequest(region_id="cn-hangzhou"))
    finally:
        restarted.terminate()
        restarted.communicate(timeout=10)

    assert role.role_name == "partner-access"
    assert kept.user_name == "kept"
    assert (user_identity.identity_type, user_identity.arn) == ("RAMUser", f"acs:ram::{ENTERPRISE_B_UID}:user/partner")
    assert listing.body.total_count == 3


def test_in_process_restart_with_state_file_and_without(tmp_path: Path) -> None:
    state_file = tmp_path / "state.sqlite"
    with Emulator(DEFAULT_TEST_SEED, state_file=state_file) as first:
        session = partner_session_keys(first)

    with Emulator(DEFAULT_TEST_SEED, state_file=state_file) as second:
        identity = sts_client(
            second, session.access_key_id, session.access_key_secret, session.security_token
        ).get_caller_identity()
    with Emulator(DEFAULT_TEST_SEED) as fresh, pytest.raises(ClientException) as raised:
        sts_client(
            fresh, session.access_key_id, session.access_key_secret, session.security_token
        ).get_caller_identity()

    assert identity.body.identity_type == "AssumedRoleUser"
    assert raised.value.code == "InvalidAccessKeyId.NotFound"


def test_a_killed_emulator_keeps_its_clock(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(DEFAULT_TEST_SEED), encoding="utf-8")
    state_file = tmp_path / "state.sqlite"
    process, url = start_emulator(seed_file, "--state", str(state_file))
    try:
        moved = EmulatorControl(url).clock.advance(30 * 86_400)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    with Emulator(DEFAULT_TEST_SEED, state_file=state_file) as restarted:
        now = restarted.clock.now()
        restarted.reset()
        after_reset = restarted.clock.now()

    assert timedelta(0) <= now - moved < timedelta(minutes=5)
    assert after_reset < moved - timedelta(days=29)
