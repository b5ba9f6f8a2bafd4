"""``ram-delegate local``: what it prints, the ready line, and a clean stop on SIGINT."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aliyun_emulator.testing import DEFAULT_TEST_SEED
from ram_delegate.local.run import run_local
from ram_delegate.local.stack import READY_LINE

REPO = Path(__file__).resolve().parents[2]
GIVEN_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes of base64


def test_prints_urls_accounts_and_the_given_secret_then_ready(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(DEFAULT_TEST_SEED), encoding="utf-8")
    out = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    env = {"RAM_DELEGATE_WEBHOOK_SECRET": GIVEN_SECRET}

    def run() -> None:
        result.append(run_local(template=REPO / "template.yml", seed=seed, env=env, out=out, stop=stop))

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 30
    while READY_LINE not in out.getvalue() and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=30)

    assert result == [0]
    lines = out.getvalue().splitlines()
    ready = lines.index(READY_LINE)
    printed = "\n".join(lines[:ready])
    assert "http://127.0.0.1:" in printed
    assert "/ram-delegate-owner-onboard" in printed
    assert "/ram-delegate-partner-onboard" in printed
    assert "timer every-5-minutes '0 */5 * * * *'" in printed
    # the seed's first account is the owner side, its second the partner side
    assert "owner account: enterprise-a uid 1111111111111111 root AccessKeyId AKIDENTERPRISEA0000001" in printed
    assert "partner account: enterprise-b uid 2222222222222222" in printed
    assert f"(RAM_DELEGATE_WEBHOOK_SECRET, from the environment): {GIVEN_SECRET}" in printed
    assert "secret-a" not in out.getvalue()  # root secrets stay in the seed file
    assert lines[-1] == "ram-delegate local stopped"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_command_generates_a_secret_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAM_DELEGATE_WEBHOOK_SECRET"}
    cloud_port, port = free_port(), free_port()
    command = [
        sys.executable, "-m", "ram_delegate.cli", "local", "--template", str(REPO / "template.yml"),
        "--cloud-port", str(cloud_port), "--port", str(port),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line.rstrip("\n"))
            if line.rstrip("\n") == READY_LINE:
                break
        assert seen[-1:] == [READY_LINE], (seen, process.stderr.read() if process.poll() is not None else "")
        assert any("(RAM_DELEGATE_WEBHOOK_SECRET, generated): whsec_" in line for line in seen)
        assert f"function host: http://127.0.0.1:{port}" in seen
        assert any(line.endswith(f"--endpoint 127.0.0.1:{cloud_port}") for line in seen)
        assert any(line.endswith(f"http://127.0.0.1:{port}/ram-delegate-owner-onboard") for line in seen)
        assert any(line.startswith("owner account: enterprise-a uid 1357924680135792") for line in seen)  # default
        assert not any("local-only-secret" in line for line in seen)
        process.send_signal(signal.SIGINT)
        remaining, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert remaining.splitlines()[-1] == "ram-delegate local stopped"
    assert "Traceback" not in errors


def test_an_unusable_webhook_secret_stops_the_start(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    env = {"RAM_DELEGATE_WEBHOOK_SECRET": "whsec_not-base64!"}
    assert run_local(template=REPO / "template.yml", env=env, out=out, stop=threading.Event()) == 1
    assert READY_LINE not in out.getvalue()
    error = capsys.readouterr().err
    assert "cannot start" in error
    assert "ram-delegate-owner-onboard" in error
    assert "not-base64" not in error  # the secret itself is never echoed
