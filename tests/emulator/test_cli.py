"""``aliyun-emulator serve`` as a process: the one listening line, health, clean stop on SIGINT/SIGTERM, bad seeds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wire_support import start_emulator

from aliyun_emulator.control import EmulatorControl
from aliyun_emulator.testing import DEFAULT_TEST_SEED


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(DEFAULT_TEST_SEED), encoding="utf-8")
    return path


@pytest.fixture
def running(seed_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process, url = start_emulator(seed_file)
    yield process, url
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_one_line_answers_health_and_stops_cleanly(
    running: tuple[subprocess.Popen[str], str], stop_signal: signal.Signals
) -> None:
    process, url = running

    healthy = EmulatorControl(url).health()
    process.send_signal(stop_signal)
    stdout, stderr = process.communicate(timeout=10)

    assert healthy
    assert process.returncode == 0
    assert stdout == ""
    assert "Traceback" not in stderr


def test_a_second_instance_gets_its_own_port(seed_file: Path, running: tuple[subprocess.Popen[str], str]) -> None:
    other, other_url = start_emulator(seed_file)
    try:
        assert other_url != running[1]
        assert EmulatorControl(other_url).health()
    finally:
        other.terminate()
        other.communicate(timeout=10)


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"accounts": [{"uid": "12"}]}), json.dumps({"accounts": [], "extra": 1})],
)
def test_an_invalid_seed_exits_2_with_the_reason(tmp_path: Path, content: str) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(content, encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "aliyun_emulator.cli", "serve", "--seed", str(seed_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert f"invalid seed {seed_file}" in result.stderr


def test_a_missing_seed_file_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aliyun_emulator.cli", "serve", "--seed", str(tmp_path / "absent.json")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "invalid seed" in result.stderr
