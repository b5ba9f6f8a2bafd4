"""Role lifecycle cost, side by side: aliyun-emulator, the SDK's own floor, and moto_server, in interleaved rounds.

Each lifecycle is five calls: CreateRole, AttachPolicyToRole, AssumeRole (as a partner user of another account),
DetachPolicyFromRole, DeleteRole. Three targets, each a server in its own process so the client never shares a GIL
with it:

* **emulator**: ``aliyun-emulator serve`` driven by the official Alibaba SDK (ACS3 signing, keep-alive); every
  signature is verified and every permission evaluated.
* **floor**: the same SDK code against a canned server that answers ``{"RequestId": ...}`` to anything (keep-alive):
  what a call costs the client plus the loopback, i.e. the best any emulator could do.
* **moto**: ``moto_server`` driven by boto3 (IAM + STS, no IAM enforcement). moto_server (werkzeug) answers
  ``Connection: close`` to every call, so boto3 reconnects each time: keep-alive is not possible there.

Rounds are interleaved (``--rounds``, at least 5), and inside a round the targets take turns lifecycle by lifecycle
in a new random order each time (seeded, so a run is repeatable), so drift on a shared machine hits every target
alike, and so does the cost of following another target (its caches cold after moto's work): a fixed rotation
(E F M, F M E, M E F, ...) put the emulator right after moto in two turns of three and the floor in one.

Printed: the median with min/max over the rounds of the emulator's, the floor's and moto's ms per call,
emulator/floor, moto/emulator, and the emulator's server CPU per call (its process's user+system time over the
round, from ``/proc``; the canned server's too). With ``--max-floor-ratio R`` it exits 1 when the median
emulator/floor is above R (the goal is 1.25). Needs ``requirements-bench.lock`` (moto[server], boto3): ``make bench``
installs it; without moto the moto column is skipped.

Usage: ``python bench/bench_emulator_vs_moto.py [--rounds 5] [--lifecycles 100] [--max-floor-ratio R]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CALLS_PER_LIFECYCLE = 5
FLOOR_GOAL = 1.25
"""Issue 12's goal for the median emulator/floor (printed; enforced only with ``--max-floor-ratio``)."""
WARMUP_LIFECYCLES = 10
PARTNER_USER = "partner"
ROLE_PREFIX = "bench-role-"
OWNER_KEY = ("AKIDENTERPRISEA0000001", "secret-a")
PARTNER_ROOT_KEY = ("AKIDENTERPRISEB0000001", "secret-b")
LISTENING_PREFIX = "listening on "
CANNED_BODY = b'{"RequestId":"00000000-0000-0000-0000-000000000000"}'
_CANNED_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\nx-acs-request-id: 0\r\n"
    + f"Content-Length: {len(CANNED_BODY)}\r\nConnection: keep-alive\r\n\r\n".encode()
    + CANNED_BODY
)


def _isolate_from_environment() -> None:
    # Loopback only: no proxy may capture the calls, and the Alibaba SDK must not probe the ECS metadata service.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"


# --- servers, each in its own process ------------------------------------------------------------------------------


def serve_canned() -> int:
    """The floor's server: reads a request head and its body, answers the canned body; one thread per connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"{LISTENING_PREFIX}{listener.getsockname()[1]}", flush=True)

    def connection_loop(connection: socket.socket) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = connection.makefile("rb")
        with connection, reader:
            while True:
                length = 0
                line = reader.readline()
                if not line:
                    return
                while line not in (b"\r\n", b""):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                    line = reader.readline()
                reader.read(length)
                connection.sendall(_CANNED_ANSWER)

    while True:
        connection, _ = listener.accept()
        threading.Thread(target=connection_loop, args=(connection,), daemon=True).start()


@contextmanager
def _process(command: list[str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A server process that prints ``... listening on [http://host:]PORT``; yields it and its port."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if LISTENING_PREFIX not in line:
            raise SystemExit(f"{command[2:4]} did not start: {line!r}")
        yield process, int(line.strip().rstrip("/").rsplit(":", 1)[-1].rsplit(" ", 1)[-1])
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def _moto_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("moto_server did not start") from None
                time.sleep(0.1)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- clients -------------------------------------------------------------------------------------------------------

Lifecycle = Callable[[str], None]


def alibaba_lifecycle(endpoint: str, *, prepare: bool) -> Lifecycle:
    """The five calls through the official Alibaba SDK; ``prepare`` creates the partner user first (emulator)."""
    from alibabacloud_ram20150501 import models as ram_models
    from alibabacloud_sts20150401 import models as sts_models

    from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, ram_client, sts_client

    owner = ram_client(endpoint, *OWNER_KEY)
    partner_key = PARTNER_ROOT_KEY
    if prepare:
        partner = ram_client(endpoint, *PARTNER_ROOT_KEY)
        partner.create_user(ram_models.CreateUserRequest(user_name=PARTNER_USER))
        partner.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                policy_type="System", policy_name="AliyunSTSAssumeRoleAccess", user_name=PARTNER_USER
            )
        )
        key = partner.create_access_key(ram_models.CreateAccessKeyRequest(user_name=PARTNER_USER)).body.access_key
        partner_key = (key.access_key_id, key.access_key_secret)
    partner_sts = sts_client(endpoint, *partner_key)
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

    def lifecycle(name: str) -> None:
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

    return lifecycle


def moto_lifecycle(endpoint: str) -> Lifecycle:
    import boto3

    dummy: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    iam = boto3.client("iam", **dummy)
    user_arn = iam.create_user(UserName=PARTNER_USER)["User"]["Arn"]
    assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    iam.put_user_policy(UserName=PARTNER_USER, PolicyName="assume", PolicyDocument=json.dumps(assume))
    key = iam.create_access_key(UserName=PARTNER_USER)["AccessKey"]
    read = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}],
    }
    read_only_arn = iam.create_policy(PolicyName="ElbReadOnly", PolicyDocument=json.dumps(read))["Policy"]["Arn"]
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

    def lifecycle(name: str) -> None:
        role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=read_only_arn)
        partner_sts.assume_role(RoleArn=role_arn, RoleSessionName="bench", DurationSeconds=900)
        iam.detach_role_policy(RoleName=name, PolicyArn=read_only_arn)
        iam.delete_role(RoleName=name)

    return lifecycle


# --- the run -------------------------------------------------------------------------------------------------------


class Target:
    def __init__(self, name: str, lifecycle: Lifecycle, pid: int | None = None) -> None:
        self.name = name
        self.lifecycle = lifecycle
        self.pid = pid
        self.ms_per_call: list[float] = []
        self.cpu_ms_per_call: list[float] = []
        self._next = 0

    def one(self) -> float:
        """Run one lifecycle; its wall time in seconds."""
        self._next += 1
        name = f"{ROLE_PREFIX}{self._next}"
        started = time.perf_counter()
        self.lifecycle(name)
        return time.perf_counter() - started

    def cpu(self) -> float:
        return _cpu_seconds(self.pid) if self.pid is not None else 0.0

    def warm_up(self) -> None:
        for index in range(WARMUP_LIFECYCLES):
            self.lifecycle(f"warmup-{index}")


def spread(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} (min {min(values):.{digits}f}, max {max(values):.{digits}f})"


def run(rounds: int, lifecycles: int, with_moto: bool) -> dict[str, Target]:
    with tempfile.TemporaryDirectory() as folder:
        from aliyun_emulator.testing import DEFAULT_TEST_SEED

        seed = json.loads(json.dumps(DEFAULT_TEST_SEED))
        for account in seed["accounts"]:
            # The loop assumes a role about every 5 calls, faster than STS's 100/s: lift the quota for the benchmark.
            account["quotas"] = {"assume_role_per_second": 1_000_000}
        seed_file = Path(folder, "seed.json")
        seed_file.write_text(json.dumps(seed))
        emulator_command = [sys.executable, "-m", "aliyun_emulator.cli", "serve", "--seed", str(seed_file)]
        canned_command = [sys.executable, __file__, "--serve-canned"]
        with _process(emulator_command) as (emulator, emulator_port), _process(canned_command) as (canned, canned_port):
            targets = [
                Target("emulator", alibaba_lifecycle(f"127.0.0.1:{emulator_port}", prepare=True), emulator.pid),
                Target("floor", alibaba_lifecycle(f"127.0.0.1:{canned_port}", prepare=False), canned.pid),
            ]
            if not with_moto:
                return _rounds(targets, rounds, lifecycles)
            with _moto_process() as (_, moto_port):
                targets.append(Target("moto", moto_lifecycle(f"http://127.0.0.1:{moto_port}")))
                return _rounds(targets, rounds, lifecycles)


def _rounds(targets: list[Target], rounds: int, lifecycles: int, seed: int = 12) -> dict[str, Target]:
    """Interleaved twice over: rounds follow each other, and inside a round the targets take turns lifecycle by
    lifecycle in a random order, so a burst of load on a shared machine, and the cold start after another target's
    turn, land on every target alike (each follows each other target, and itself, equally often on average)."""
    for target in targets:
        target.warm_up()
    calls = lifecycles * CALLS_PER_LIFECYCLE
    order = random.Random(seed)
    for _ in range(rounds):
        elapsed = dict.fromkeys((t.name for t in targets), 0.0)
        cpu_before = {t.name: t.cpu() for t in targets}
        for _index in range(lifecycles):
            for target in order.sample(targets, len(targets)):
                elapsed[target.name] += target.one()
        for target in targets:
            target.ms_per_call.append(elapsed[target.name] * 1000 / calls)
            if target.pid is not None:
                target.cpu_ms_per_call.append((target.cpu() - cpu_before[target.name]) * 1000 / calls)
    return {target.name: target for target in targets}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds, at least 5 (default 5)")
    parser.add_argument("--lifecycles", type=int, default=100, help="role lifecycles per target per round")
    parser.add_argument(
        "--max-floor-ratio", type=float, default=None, help="exit 1 when the median emulator/floor is above this"
    )
    parser.add_argument("--serve-canned", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.serve_canned:
        return serve_canned()
    if arguments.rounds < 5:
        parser.error("--rounds must be at least 5")
    _isolate_from_environment()
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401

        with_moto = True
    except ImportError as missing:
        print(f"moto[server]/boto3 missing ({missing}): moto skipped; make bench installs them.", file=sys.stderr)
        with_moto = False
    targets = run(arguments.rounds, arguments.lifecycles, with_moto)
    emulator, floor = targets["emulator"], targets["floor"]
    calls = arguments.lifecycles * CALLS_PER_LIFECYCLE
    print(f"{arguments.rounds} interleaved rounds of {calls} calls per target; median (min, max) over the rounds")
    print(f"{'emulator ms/call (Alibaba SDK, keep-alive)':<48} {spread(emulator.ms_per_call)}")
    print(f"{'floor ms/call (same SDK, canned server)':<48} {spread(floor.ms_per_call)}")
    pairs = list(zip(emulator.ms_per_call, floor.ms_per_call, strict=True))
    floor_ratios = [e / f for e, f in pairs]
    if "moto" in targets:
        moto_target = targets["moto"]
        print(f"{'moto ms/call (boto3, reconnects every call)':<48} {spread(moto_target.ms_per_call)}")
    print(f"{'emulator / floor':<48} {spread(floor_ratios)} (goal <= {FLOOR_GOAL:g})")
    if "moto" in targets:
        moto_ratios = [m / e for m, e in zip(targets["moto"].ms_per_call, emulator.ms_per_call, strict=True)]
        print(f"{'moto / emulator':<48} {spread(moto_ratios)}")
    print(f"{'emulator server CPU ms/call':<48} {spread(emulator.cpu_ms_per_call, 3)} (goal <= 0.35)")
    print(f"{'floor (canned) server CPU ms/call':<48} {spread(floor.cpu_ms_per_call, 3)}")
    limit = arguments.max_floor_ratio
    return 0 if limit is None or statistics.median(floor_ratios) <= limit else 1


if __name__ == "__main__":
    sys.exit(main())
