"""Role lifecycle throughput: aliyun-emulator (official Alibaba SDK) versus moto_server (boto3), in one run.

Each lifecycle is five calls: CreateRole, AttachPolicyToRole, AssumeRole (as a partner user of another account),
DetachPolicyFromRole, DeleteRole. The emulator verifies every signature and evaluates every permission; moto runs
with its defaults (no IAM enforcement). Prints calls per second for both and the ratio, and exits 1 when the
ratio is below ``--min-ratio`` (the goal: at least twice moto's rate). Also prints the median time of one SDK call
against the emulator (the Nagle check: about a millisecond, not 40). Needs ``requirements-bench.lock``
(moto[server], boto3): ``make bench`` installs it.

Usage: ``python bench/bench_emulator_vs_moto.py [--lifecycles 200] [--min-ratio 2]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

CALLS_PER_LIFECYCLE = 5
WARMUP_LIFECYCLES = 10
LATENCY_SAMPLES = 200
PARTNER_USER = "partner"
ROLE_PREFIX = "bench-role-"


def _isolate_from_environment() -> None:
    # Loopback only: no proxy may capture the calls, and the Alibaba SDK must not probe the ECS metadata service.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"


def _timed(label: str, lifecycles: int, run_one: Callable[[int], None]) -> float:
    for index in range(WARMUP_LIFECYCLES):
        run_one(-1 - index)
    started = time.perf_counter()
    for index in range(lifecycles):
        run_one(index)
    elapsed = time.perf_counter() - started
    calls = lifecycles * CALLS_PER_LIFECYCLE
    rate = calls / elapsed
    print(f"{label:<40} {calls:>6} calls in {elapsed:6.2f} s = {rate:8.1f} calls/s")
    return rate


def bench_emulator(lifecycles: int) -> float:
    from alibabacloud_ram20150501 import models as ram_models
    from alibabacloud_sts20150401 import models as sts_models

    from aliyun_emulator.emulator import Emulator
    from aliyun_emulator.testing import DEFAULT_TEST_SEED, ENTERPRISE_A_UID, ENTERPRISE_B_UID, ram_client, sts_client

    with Emulator(DEFAULT_TEST_SEED) as emulator:
        owner = ram_client(emulator, "AKIDENTERPRISEA0000001", "secret-a")
        partner = ram_client(emulator, "AKIDENTERPRISEB0000001", "secret-b")
        partner.create_user(ram_models.CreateUserRequest(user_name=PARTNER_USER))
        partner.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                policy_type="System", policy_name="AliyunSTSAssumeRoleAccess", user_name=PARTNER_USER
            )
        )
        key = partner.create_access_key(ram_models.CreateAccessKeyRequest(user_name=PARTNER_USER)).body.access_key
        partner_sts = sts_client(emulator, key.access_key_id, key.access_key_secret)
        trust = json.dumps(
            {
                "Version": "1",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"RAM": [f"acs:ram::{ENTERPRISE_B_UID}:user/{PARTNER_USER}"]},
                    }
                ],
            }
        )

        def lifecycle(index: int) -> None:
            name = f"warmup-{-index}" if index < 0 else f"{ROLE_PREFIX}{index}"
            owner.create_role(ram_models.CreateRoleRequest(role_name=name, assume_role_policy_document=trust))
            attachment = {"policy_type": "System", "policy_name": "AliyunSLBReadOnlyAccess", "role_name": name}
            owner.attach_policy_to_role(ram_models.AttachPolicyToRoleRequest(**attachment))
            partner_sts.assume_role(
                sts_models.AssumeRoleRequest(
                    role_arn=f"acs:ram::{ENTERPRISE_A_UID}:role/{name}", role_session_name="bench", duration_seconds=900
                )
            )
            owner.detach_policy_from_role(ram_models.DetachPolicyFromRoleRequest(**attachment))
            owner.delete_role(ram_models.DeleteRoleRequest(role_name=name))

        emulator.requests.clear()
        rate = _timed("aliyun-emulator (official SDK, ACS3)", lifecycles, lifecycle)
        counted = emulator.requests.counts()
        expected = lifecycles + WARMUP_LIFECYCLES
        if counted.get("AssumeRole") != expected or emulator.requests.total != expected * CALLS_PER_LIFECYCLE:
            raise SystemExit(f"unexpected request log after the run: {counted}")
        failures = [entry for entry in emulator.requests.entries if entry.status != 200]
        if failures:
            raise SystemExit(f"{len(failures)} emulator calls failed, first: {failures[0]}")
        _print_call_latency(partner_sts)
        return rate


def _print_call_latency(client: Any) -> None:
    """Median wall time of one signed SDK call (GetCallerIdentity): ~1 ms, or ~40 ms if Nagle were not disabled."""
    durations = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        client.get_caller_identity()
        durations.append(time.perf_counter() - started)
    durations.sort()
    median, p90 = durations[len(durations) // 2], durations[int(len(durations) * 0.9)]
    print(f"{'one SDK call (GetCallerIdentity)':<40} median {median * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms")


def bench_moto(lifecycles: int) -> float:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        dummy: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        iam = boto3.client("iam", **dummy)
        user_arn = iam.create_user(UserName=PARTNER_USER)["User"]["Arn"]
        iam.put_user_policy(
            UserName=PARTNER_USER,
            PolicyName="assume",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName=PARTNER_USER)["AccessKey"]
        read_only_arn = iam.create_policy(
            PolicyName="ElbReadOnly",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}],
                }
            ),
        )["Policy"]["Arn"]
        partner_sts = boto3.client(
            "sts",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": user_arn}}],
            }
        )

        def lifecycle(index: int) -> None:
            name = f"warmup-{-index}" if index < 0 else f"{ROLE_PREFIX}{index}"
            role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            iam.attach_role_policy(RoleName=name, PolicyArn=read_only_arn)
            partner_sts.assume_role(RoleArn=role_arn, RoleSessionName="bench", DurationSeconds=900)
            iam.detach_role_policy(RoleName=name, PolicyArn=read_only_arn)
            iam.delete_role(RoleName=name)

        return _timed("moto_server (boto3, no IAM enforcement)", lifecycles, lifecycle)
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lifecycles", type=int, default=200, help="timed role lifecycles per target (default 200)")
    parser.add_argument("--min-ratio", type=float, default=2.0, help="exit 1 below this emulator/moto ratio")
    arguments = parser.parse_args(argv)
    _isolate_from_environment()
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as missing:
        print(
            f"moto[server] and boto3 are needed for this benchmark ({missing}); "
            "install requirements-bench.lock (make bench does).",
            file=sys.stderr,
        )
        return 2
    emulator_rate = bench_emulator(arguments.lifecycles)
    moto_rate = bench_moto(arguments.lifecycles)
    ratio = emulator_rate / moto_rate
    print(f"{'ratio emulator / moto':<40} {ratio:8.2f}x (goal >= {arguments.min_ratio:g}x)")
    return 0 if ratio >= arguments.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
