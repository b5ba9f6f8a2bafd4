"""The README's two-company guide, checked with the real ``s preview`` offline: each company's variable block (read
from the README itself) alone renders its own resources completely, valid for the fc3 schema and readable by the
settings, and needs nothing of the other company.

``s`` (Serverless Devs 3) is installed with npm into build/s-cli when missing (npm reaches only its registry) and
then runs with no network at all (its own network namespace, ``unshare -rn``; ``s`` starts daemons that would call
home) and a temporary HOME. Skipped when npm, the registry or unprivileged namespaces are unavailable.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from ram_delegate.settings import Settings

REPO = Path(__file__).resolve().parents[2]
S_PREFIX = REPO / "build" / "s-cli"
S_BIN = S_PREFIX / "node_modules" / ".bin" / "s"
SCHEMA = Path(__file__).resolve().parents[1] / "data" / "fc3-schema.json"
BLOCK_TITLES = {
    "partner": "# Enterprise B (partner) deploy environment",
    "owner": "# Enterprise A (owner) deploy environment",
}
SIDE_RESOURCES = {
    "owner": {"owner-onboard", "owner-expire"},
    "partner": {"partner-onboard", "partner-expire", "partner-verify"},
}


def guide_variables(side: str) -> dict[str, str]:
    """The ``export`` lines of one side's block in the README."""
    text = (REPO / "README.md").read_text()
    block = text.split(BLOCK_TITLES[side], 1)[1].split("```", 1)[0]
    variables: dict[str, str] = {}
    for line in block.splitlines():
        match = re.match(r"^export\s+(.*)$", line.strip())
        if match:
            for assignment in shlex.split(match[1]):
                name, _, value = assignment.partition("=")
                variables[name] = value
    assert variables, f"no export lines under {BLOCK_TITLES[side]!r}"
    return variables


@pytest.fixture(scope="module")
def s_binary() -> Path:
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("unprivileged network namespaces are unavailable: s would reach the network")
    if not S_BIN.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed")
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(S_PREFIX), "@serverless-devs/s@3"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if installed.returncode != 0 or not S_BIN.exists():
            pytest.skip(f"npm could not install @serverless-devs/s: {installed.stderr[-300:]}")
    return S_BIN


def s_preview(s_binary: Path, variables: dict[str, str], home: Path) -> dict[str, Any]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), **variables}
    result = subprocess.run(
        ["unshare", "-rn", str(s_binary), "preview", "-t", "template.yml", "-o", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    document: dict[str, Any] = json.loads(result.stdout[result.stdout.index("{") :])
    return document


@pytest.mark.parametrize("side", ["partner", "owner"])
def test_each_company_renders_its_side_with_only_its_own_variables(s_binary: Path, side: str, tmp_path: Path) -> None:
    variables = guide_variables(side)
    rendered = s_preview(s_binary, variables, tmp_path)
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    account = variables["OWNER_ACCOUNT_ID" if side == "owner" else "PARTNER_ACCOUNT_ID"]
    for name in SIDE_RESOURCES[side]:
        resource = rendered["resources"][name]
        props = resource["props"]
        assert resource["access"] == side
        assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(props)] == []
        assert props["role"].startswith(f"acs:ram::{account}:role/")
        assert props["logConfig"] == "auto"
        assert props["runtime"] == "python3.12"
        environment = props["environmentVariables"]
        settings = Settings.from_env(environment)
        assert settings.side == side
        assert (settings.kms_seal_secret, settings.seal_secret) == (f"ram-delegate/{side}/seal", None)  # in KMS
        if props.get("triggers", [{}])[0].get("triggerType") == "http":
            assert props["instanceConcurrency"] > 1
            assert props["concurrencyConfig"]["reservedConcurrency"] >= 1
            assert settings.uses_kms  # the guide keeps every secret in KMS, none in the function configuration
            assert not settings.webhook_secrets
            assert not settings.partner_secrets
        else:
            assert (props["instanceConcurrency"], props["concurrencyConfig"]["reservedConcurrency"]) == (1, 1)
    if side == "owner":
        onboard = rendered["resources"]["owner-onboard"]["props"]["environmentVariables"]
        assert onboard["RAM_DELEGATE_PARTNER_ENDPOINT"] == variables["RAM_DELEGATE_PARTNER_ENDPOINT"]
        assert onboard["RAM_DELEGATE_KMS_WEBHOOK_SECRET"] == variables["RAM_DELEGATE_KMS_WEBHOOK_SECRET"]
    else:
        onboard = rendered["resources"]["partner-onboard"]["props"]["environmentVariables"]
        assert onboard["RAM_DELEGATE_KMS_WEBHOOK_SECRET"] == variables["RAM_DELEGATE_KMS_PARTNER_SECRET"]


def test_the_guide_uses_exactly_the_secret_names_the_function_roles_may_read() -> None:
    roles = REPO / "shared" / "ram_delegate" / "roles"
    readable = {
        side: {
            resource.removeprefix("acs:kms:*:*:secret/")
            for statement in json.loads((roles / f"{side}-function.json").read_text())["Statement"]
            if statement["Action"] == "kms:GetSecretValue"
            for resource in statement["Resource"]
        }
        for side in ("owner", "partner")
    }
    for side in ("owner", "partner"):
        named = {value for name, value in guide_variables(side).items() if name.startswith("RAM_DELEGATE_KMS_")}
        assert named
        assert named <= readable[side]
