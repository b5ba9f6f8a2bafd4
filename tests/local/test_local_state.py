"""``ram-delegate local --state FILE``: the cloud and the emulator clock survive a restart of the local stack."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from alibabacloud_ram20150501 import models as ram_models

from aliyun_emulator.testing import ram_client
from ram_delegate.local.stack import LOCAL_FC_USER, LocalStack

REPO = Path(__file__).resolve().parents[2]
TRUST = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": ["acs:ram::2222222222222222:root"]}}
        ],
    }
)


def test_a_restarted_stack_keeps_its_cloud_and_its_clock(tmp_path: Path) -> None:
    state = tmp_path / "cloud.sqlite"
    with LocalStack(template=REPO / "template.yml", env={}, state_file=state) as first:
        owner = first.owner
        ram = ram_client(first.emulator.endpoint, owner.access_key_id, owner.access_key_secret)
        ram.create_role(ram_models.CreateRoleRequest(role_name="survivor", assume_role_policy_document=TRUST))
        first.advance_clock(2 * 86_400)
        moved_to = first.emulator.clock.now()

    with LocalStack(template=REPO / "template.yml", env={}, state_file=state) as second:
        owner = second.owner
        ram = ram_client(second.emulator.endpoint, owner.access_key_id, owner.access_key_secret)
        assert ram.get_role(ram_models.GetRoleRequest(role_name="survivor")).body.role.role_name == "survivor"
        assert second.emulator.clock.now() >= moved_to
        assert second.emulator.clock.now() - moved_to < timedelta(minutes=5)
        keys = ram.list_access_keys(ram_models.ListAccessKeysRequest(user_name=LOCAL_FC_USER)).body.access_keys
        assert len(keys.access_key) == 1  # the stand-in's old key was replaced, not piled up
        trusted = ram.get_role(ram_models.GetRoleRequest(role_name="ram-delegate-owner")).body.role
        principals = [
            statement["Principal"].get("RAM")
            for statement in json.loads(trusted.assume_role_policy_document)["Statement"]
        ]
        assert principals.count([f"acs:ram::{owner.uid}:user/{LOCAL_FC_USER}"]) == 1
