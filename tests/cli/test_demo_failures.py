"""``ram-delegate demo`` exits 1 when a step misbehaves: the same template with one function misconfigured."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ram_delegate.cli import main

REPO = Path(__file__).resolve().parents[2]
DRY_RUN_FROM_ENV = "RAM_DELEGATE_DRY_RUN: ${env('RAM_DELEGATE_DRY_RUN', '')}"


def misconfigured_template(tmp_path: Path, old: str, new: str) -> Path:
    """template.yml with the first ``old`` (it lies in the owner functions, which come first) replaced by ``new``."""
    text = (REPO / "template.yml").read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1).replace("code: ./functions/", f"code: {REPO}/functions/")
    path = tmp_path / "template.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "first_failing_step"),
    [
        pytest.param(DRY_RUN_FROM_ENV, "RAM_DELEGATE_DRY_RUN: 'true'", 2, id="owner-onboard-only-plans"),
        pytest.param("enable: true", "enable: false", 7, id="owner-expire-timer-disabled"),
    ],
)
def test_a_misbehaving_step_fails_the_demo(tmp_path: Path, old: str, new: str, first_failing_step: int) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    template = misconfigured_template(tmp_path, old, new)
    code = main(["--json", "demo", "--template", str(template)], env={}, stdout=stdout, stderr=stderr)
    story = json.loads(stdout.getvalue())
    assert code == 1
    assert story["passed"] is False
    results = [step["result"] for step in story["steps"]]
    assert results[: first_failing_step - 1] == ["PASS"] * (first_failing_step - 1)
    assert results[first_failing_step - 1] == "FAIL"


def test_a_template_the_host_cannot_serve_fails_the_demo_without_a_traceback(tmp_path: Path) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    template = misconfigured_template(tmp_path, "code: ./functions/owner-onboard", "code: ./functions/nowhere")
    code = main(["demo", "--template", str(template)], env={}, stdout=stdout, stderr=stderr)
    assert code == 1
    assert "cannot start the local stack" in stderr.getvalue()
    assert "nowhere" in stderr.getvalue()
    assert "PASS" not in stdout.getvalue()
