"""Drive ``CloudState`` directly (no HTTP, no signatures): the fast way to test product rules one by one."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from aliyun_emulator.core.clock import EmulatorClock
from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.core.request import ApiRequest
from aliyun_emulator.seed import load_seed
from aliyun_emulator.state import CloudState
from aliyun_emulator.testing import DEFAULT_TEST_SEED

ROOT_A = "AKIDENTERPRISEA0000001"
ROOT_B = "AKIDENTERPRISEB0000001"
UID_A = "1111111111111111"
UID_B = "2222222222222222"


def trust_policy(*principals: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": list(principals)}}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "1", "Statement": [statement]})


def allow(action: str | list[str], resource: str = "*") -> str:
    return json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})


class Cloud:
    """A ``CloudState`` plus a clock, and one ``call`` that mimics what the server hands to ``dispatch``."""

    def __init__(self, state_file: str | Path | None = None, clock: EmulatorClock | None = None) -> None:
        self.clock = clock or EmulatorClock()
        self.source_ip = "127.0.0.1"
        self.state = CloudState(load_seed(DEFAULT_TEST_SEED), self.clock, state_file)

    def call(self, access_key_id: str, product: str, action: str, **params: Any) -> dict[str, Any]:
        credential = self.state.resolve_access_key(access_key_id)
        assert credential is not None, f"unknown key {access_key_id}"
        request = ApiRequest(
            product=product,
            action=action,
            version="",
            params={name: value if isinstance(value, str) else json.dumps(value) for name, value in params.items()},
            principal=credential.principal,
            request_id=str(uuid.uuid4()),
            now=self.clock.now(),
            source_ip=self.source_ip,
        )
        return self.state.dispatch(request)

    def ram(self, access_key_id: str, action: str, **params: Any) -> dict[str, Any]:
        return self.call(access_key_id, "ram", action, **params)

    def refused(self, access_key_id: str, product: str, action: str, **params: Any) -> ApiError:
        with pytest.raises(ApiError) as info:
            self.call(access_key_id, product, action, **params)
        return info.value

    def user_with_key(self, root: str, name: str, *system_policies: str) -> tuple[str, str]:
        """A RAM user holding the given system policies; returns its AccessKeyId and secret."""
        self.ram(root, "CreateUser", UserName=name)
        for policy in system_policies:
            self.ram(root, "AttachPolicyToUser", UserName=name, PolicyType="System", PolicyName=policy)
        key = self.ram(root, "CreateAccessKey", UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["AccessKeySecret"]

    def partner_role(
        self, name: str = "partner", *policies: str, trusted: str = f"acs:ram::{UID_B}:user/alice"
    ) -> None:
        self.ram(ROOT_A, "CreateRole", RoleName=name, AssumeRolePolicyDocument=trust_policy(trusted))
        for policy in policies:
            self.ram(ROOT_A, "AttachPolicyToRole", RoleName=name, PolicyType="System", PolicyName=policy)

    def assume(self, access_key_id: str, role: str = "partner", **params: Any) -> str:
        body = self.call(
            access_key_id, "sts", "AssumeRole", RoleArn=f"acs:ram::{UID_A}:role/{role}", RoleSessionName="s1", **params
        )
        return str(body["Credentials"]["AccessKeyId"])
