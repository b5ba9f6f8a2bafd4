"""Shared by the wire tests: a partner role session set up through the SDK, and raw HTTP for malformed requests."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_sts20150401 import models as sts_models

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, ram_client, sts_client

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
ROOT_B = ("AKIDENTERPRISEB0000001", "secret-b")
ROLE_NAME = "partner-access"
USER_NAME = "partner"
LISTENING = re.compile(r"^aliyun-emulator listening on http://127\.0\.0\.1:(\d+)\n$")


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None


def partner_user_keys(emulator: Emulator | str) -> Keys:
    """B's RAM user with AliyunSTSAssumeRoleAccess and an AccessKey; A's role trusting it, with SLB read-only."""
    trust = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"RAM": [f"acs:ram::{ENTERPRISE_B_UID}:user/{USER_NAME}"]},
            }
        ],
    }
    owner = ram_client(emulator, *ROOT_A)
    owner.create_role(
        ram_models.CreateRoleRequest(
            role_name=ROLE_NAME, assume_role_policy_document=json.dumps(trust), max_session_duration=3600
        )
    )
    owner.attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(
            policy_type="System", policy_name="AliyunSLBReadOnlyAccess", role_name=ROLE_NAME
        )
    )
    partner = ram_client(emulator, *ROOT_B)
    partner.create_user(ram_models.CreateUserRequest(user_name=USER_NAME))
    partner.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="System", policy_name="AliyunSTSAssumeRoleAccess", user_name=USER_NAME
        )
    )
    key = partner.create_access_key(ram_models.CreateAccessKeyRequest(user_name=USER_NAME)).body.access_key
    return Keys(key.access_key_id, key.access_key_secret)


def partner_session_keys(emulator: Emulator | str, duration_seconds: int = 900, user: Keys | None = None) -> Keys:
    """STS credentials of B's user acting as A's role (``emulator``: an Emulator or a ``host:port`` endpoint).

    Without ``user`` the role and the user are set up first (``partner_user_keys``).
    """
    user = user or partner_user_keys(emulator)
    answer = sts_client(emulator, user.access_key_id, user.access_key_secret).assume_role(
        sts_models.AssumeRoleRequest(
            role_arn=f"acs:ram::{ENTERPRISE_A_UID}:role/{ROLE_NAME}",
            role_session_name="wire-test",
            duration_seconds=duration_seconds,
        )
    )
    credentials = answer.body.credentials
    return Keys(credentials.access_key_id, credentials.access_key_secret, credentials.security_token)


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


def send_raw(emulator: Emulator, data: bytes, timeout: float = 10.0) -> RawAnswer:
    """Write raw bytes on a fresh connection and read one HTTP answer (raises if the server drops or hangs)."""
    with socket.create_connection((emulator.host, emulator.port), timeout=timeout) as connection:
        connection.sendall(data)
        response = http.client.HTTPResponse(connection)
        response.begin()
        body = response.read()
        return RawAnswer(response.status, {name.lower(): value for name, value in response.getheaders()}, body)


def request_bytes(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """An HTTP/1.1 request as bytes; Content-Length set from the body, connection closed after the answer."""
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in ("content-length", "connection")]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def start_emulator(seed_file: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """Start the CLI and wait for its listening line; returns the process and the URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "aliyun_emulator.cli", "serve", "--seed", str(seed_file), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = LISTENING.match(line)
    if match is None:
        process.kill()
        raise AssertionError(f"unexpected first line {line!r}; stderr: {process.communicate()[1]}")
    return process, f"http://127.0.0.1:{match.group(1)}"
