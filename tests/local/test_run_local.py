"""``ram-delegate local``: what it prints, the ready line, and a clean stop on SIGINT."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ram_delegate.local.stack import READY_LINE, run_local

REPO = Path(__file__).resolve().parents[2]
GIVEN_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes of base64


def test_prints_urls_accounts_and_the_given_secret_then_ready(tmp_path: Path) -> None:
    out = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    env = {"RAM_DELEGATE_WEBHOOK_SECRET": GIVEN_SECRET}
    runner = threading.Thread(
        target=lambda: result.append(run_local(template=REPO / "template.yml", env=env, out=out, stop=stop))
    )
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
    assert "/ram-delegate-owner-onboard" in printed and "/ram-delegate-partner-onboard" in printed
    assert "timer every-5-minutes '0 */5 * * * *'" in printed
    assert "enterprise-a uid 1357924680135792 root AccessKeyId AKLOCALENTERPRISEA0001" in printed
    assert "enterprise-b uid 2468013579246801" in printed
    assert f"(RAM_DELEGATE_WEBHOOK_SECRET, from the environment): {GIVEN_SECRET}" in printed
    assert "local-only-secret" not in out.getvalue()  # root secrets stay in the seed file
    assert lines[-1] == "ram-delegate local stopped"


def test_the_command_generates_a_secret_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAM_DELEGATE_WEBHOOK_SECRET"}
    command = [sys.executable, "-m", "ram_delegate.cli", "local", "--template", str(REPO / "template.yml")]
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
        assert seen and seen[-1] == READY_LINE, (seen, process.stderr.read() if process.poll() is not None else "")
        assert any("(RAM_DELEGATE_WEBHOOK_SECRET, generated): whsec_" in line for line in seen)
        process.send_signal(signal.SIGINT)
        remaining, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert remaining.splitlines()[-1] == "ram-delegate local stopped"
    assert "Traceback" not in errors
