"""The cloud commands against a real local stack (emulator + FC host), through ``--endpoint``, and the demo."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.seed import SeedAccount
from aliyun_emulator.testing import ram_client
from ram_delegate.cli import main
from ram_delegate.demo import expiry_after, function_named
from ram_delegate.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yml"
TICKET = "CLI-7"
WRITE_PREFIXES = ("Create", "Delete", "Attach", "Detach", "Update", "Tag", "Untag", "Set")


def run_cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), env=env or {}, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def keys(account: SeedAccount) -> dict[str, str]:
    return {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": account.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": account.access_key_secret,
    }


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack(template=TEMPLATE, env={}) as running:
        yield running


def approve(stack: LocalStack, tmp_path: Path, expires_at: datetime) -> None:
    """Deliver a signed approval with ``ram-delegate send``, as an operator would."""
    now = stack.emulator.clock.now()
    event = {
        "specversion": "1.0",
        "id": "evt-cli-7",
        "source": "https://tickets.enterprise-a.example/changes",
        "type": "partner.access.approved",
        "time": iso(now),
        "data": {
            "ticket": TICKET,
            "partner": {"name": "Enterprise B", "account_id": stack.partner.uid, "user": "partner-engineer"},
            "access": {"profile": "slb-readonly", "region": "cn-hangzhou"},
            "expires_at": iso(expires_at),
            "requested_by": "alice@enterprise-a.example",
            "approved_by": "bob@enterprise-a.example",
        },
    }
    path = tmp_path / "approved.json"
    path.write_text(json.dumps(event))
    url = stack.function_url(function_named(stack, "owner-onboard"))
    code, out, err = run_cli(
        "--json", "send", "--url", url, "--event", str(path),
        "--secret", stack.webhook_secret, "--timestamp", str(int(now.timestamp())),
    )  # fmt: skip
    assert code == 0, (out, err)
    assert json.loads(out)["status"] == 200


def writes(stack: LocalStack) -> int:
    return sum(n for action, n in stack.emulator.requests.counts().items() if action.startswith(WRITE_PREFIXES))


def test_send_then_grants_on_both_sides(stack: LocalStack, tmp_path: Path) -> None:
    expires_at = (stack.emulator.clock.now() + timedelta(days=3)).replace(microsecond=0)
    approve(stack, tmp_path, expires_at)
    endpoint = ("--endpoint", stack.cloud_endpoint)

    code, out, _ = run_cli(*endpoint, "--json", "grants", "--side", "owner", env=keys(stack.owner))
    owner = json.loads(out)
    assert code == 0
    [grant] = [g for g in owner["grants"] if g["ticket"] == TICKET]
    assert grant["state"] == "active"
    assert grant["expires_at"] == iso(expires_at)
    assert grant["role_arn"].startswith(f"acs:ram::{stack.owner.uid}:role/")

    code, out, _ = run_cli(*endpoint, "grants", "--side", "partner", env=keys(stack.partner))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["TICKET", "PARTNER", "PROFILE", "SCOPE", "EXPIRES", "STATE"]
    assert any(line.startswith(TICKET) and line.rstrip().endswith("active") for line in lines[2:])


def test_partner_grants_json_masks_the_external_id_unless_asked(stack: LocalStack, tmp_path: Path) -> None:
    approve(stack, tmp_path, stack.emulator.clock.now() + timedelta(days=3))
    endpoint = ("--endpoint", stack.cloud_endpoint)
    trust = ram_client(stack.emulator, stack.owner.access_key_id, stack.owner.access_key_secret)
    from alibabacloud_ram20150501 import models

    role = trust.get_role(models.GetRoleRequest(role_name="rd-cli-7")).body.role
    condition = json.loads(role.assume_role_policy_document)["Statement"][0]["Condition"]
    external_id = condition["StringEquals"]["sts:ExternalId"]

    # The partner keeps it encrypted under its functions' seal key: a reader of B without the key sees nothing.
    code, unreadable, _ = run_cli(
        *endpoint, "--json", "grants", "--side", "partner", "--show-external-id", env=keys(stack.partner)
    )
    [grant] = [g for g in json.loads(unreadable)["grants"] if g["ticket"] == TICKET]
    assert grant["external_id"] == ""
    with_key = {**keys(stack.partner), "RAM_DELEGATE_SEAL_SECRET": stack.partner_seal_secret}

    code, masked, _ = run_cli(*endpoint, "--json", "grants", "--side", "partner", env=with_key)
    [grant] = [g for g in json.loads(masked)["grants"] if g["ticket"] == TICKET]
    assert code == 0
    assert external_id not in masked
    assert grant["external_id"] == f"{external_id[:4]}…({len(external_id)} chars)"

    code, shown, _ = run_cli(*endpoint, "--json", "grants", "--side", "partner", "--show-external-id", env=with_key)
    [grant] = [g for g in json.loads(shown)["grants"] if g["ticket"] == TICKET]
    assert grant["external_id"] == external_id

    # The key kept in KMS instead: the CLI reads it with the caller's credentials (never the tag alone).
    stack.emulator.state.accounts[stack.partner.uid].kms.put("ram-delegate/partner/seal", stack.partner_seal_secret)
    in_kms = {**keys(stack.partner), "RAM_DELEGATE_KMS_SEAL_SECRET": "ram-delegate/partner/seal"}
    code, from_kms, _ = run_cli(*endpoint, "--json", "grants", "--side", "partner", "--show-external-id", env=in_kms)
    [grant] = [g for g in json.loads(from_kms)["grants"] if g["ticket"] == TICKET]
    assert (code, grant["external_id"]) == (0, external_id)


def test_sweep_dry_run_plans_without_writing_then_sweep_removes(stack: LocalStack, tmp_path: Path) -> None:
    expires_at = expiry_after(stack.emulator.clock.now(), timedelta(minutes=20))
    approve(stack, tmp_path, expires_at)
    # Past the expiry, but the five-minute timers last fell due before it: nothing has swept yet.
    stack.advance_clock((expires_at + timedelta(seconds=30) - stack.emulator.clock.now()).total_seconds())
    endpoint = ("--endpoint", stack.cloud_endpoint)
    before = writes(stack)

    code, out, _ = run_cli(*endpoint, "--json", "sweep", "--dry-run", "--side", "owner", env=keys(stack.owner))
    plan = json.loads(out)
    assert code == 0
    assert plan["dry_run"] is True
    assert plan["report"]["expired"] == 1
    assert any(step["action"] == "DeleteRole" for step in plan["report"]["steps"])
    assert writes(stack) == before

    code, out, _ = run_cli(*endpoint, "sweep", "--side", "owner", env=keys(stack.owner))
    assert code == 0
    assert "removed:" in out
    assert writes(stack) > before
    code, out, _ = run_cli(*endpoint, "--json", "grants", "--side", "owner", env=keys(stack.owner))
    assert [g for g in json.loads(out)["grants"] if g["ticket"] == TICKET and g["state"] != "revoked"] == []


def test_verify_reports_ok_for_the_partner_user_and_unexpected_deny_for_root(stack: LocalStack, tmp_path: Path) -> None:
    approve(stack, tmp_path, stack.emulator.clock.now() + timedelta(days=1))
    endpoint = ("--endpoint", stack.cloud_endpoint)
    from alibabacloud_ram20150501 import models

    # The test, as B's root, lets the partner user read B's RAM (to list the grants) and gives it a key.
    root = ram_client(stack.cloud_endpoint, stack.partner.access_key_id, stack.partner.access_key_secret)
    root.attach_policy_to_user(
        models.AttachPolicyToUserRequest(
            policy_type="System", policy_name="AliyunRAMReadOnlyAccess", user_name="partner-engineer"
        )
    )
    key = root.create_access_key(models.CreateAccessKeyRequest(user_name="partner-engineer")).body.access_key
    as_user = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": key.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": key.access_key_secret,
    }
    as_user["RAM_DELEGATE_ACCOUNT_ID"] = stack.partner.uid
    as_user["RAM_DELEGATE_SEAL_SECRET"] = stack.partner_seal_secret  # the ExternalIds are kept encrypted under it

    code, out, _ = run_cli(*endpoint, "--json", "verify", env=as_user)
    report = json.loads(out)
    assert code == 0
    assert (report["checked"], report["ok"], report["unexpected_deny"]) == (1, 1, 0)

    # B's root may not assume roles: past the propagation window the active grant looks broken from there.
    stack.advance_clock(15 * 60)
    code, out, _ = run_cli(*endpoint, "verify", env=keys(stack.partner))
    assert code == 1
    assert "1 unexpected deny" in out


def test_invoke_through_the_fc_api_of_the_local_host(stack: LocalStack) -> None:
    host = stack.url.removeprefix("http://")
    code, out, err = run_cli(
        "--endpoint", host, "--json", "invoke", function_named(stack, "owner-expire"), env=keys(stack.owner)
    )
    answer: dict[str, Any] = json.loads(out)
    assert code == 0, err
    assert answer["status"] == 200
    assert answer["request_id"]
    assert answer["error_type"] is None


def test_invoke_with_wrong_keys_is_refused(stack: LocalStack) -> None:
    host = stack.url.removeprefix("http://")
    wrong = {"ALIBABA_CLOUD_ACCESS_KEY_ID": stack.owner.access_key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-it"}
    code, _, err = run_cli("--endpoint", host, "invoke", function_named(stack, "owner-expire"), env=wrong)
    assert code == 1
    assert "InvokeFunction failed" in err
    assert "not-it" not in err


def test_bootstrap_creates_then_changes_nothing(aliyun_emulator: Emulator) -> None:
    owner = aliyun_emulator.seed.accounts[0]
    endpoint = ("--endpoint", aliyun_emulator.endpoint)
    code, out, _ = run_cli(*endpoint, "--json", "bootstrap", "--side", "owner", env=keys(owner))
    first = json.loads(out)
    assert code == 0
    assert first["changed"] is True
    assert all("CreateRole" in role["changes"] for role in first["roles"])

    code, out, _ = run_cli(*endpoint, "bootstrap", "--side", "owner", env=keys(owner))
    assert code == 0
    assert "nothing changed" in out
    assert all(line.rstrip().endswith("none") for line in out.splitlines()[3:])


def test_demo_tells_the_whole_lifecycle_and_exits_0() -> None:
    code, out, err = run_cli("--json", "demo", "--template", str(TEMPLATE))
    story = json.loads(out)
    assert code == 0, json.dumps([s for s in story["steps"] if s["result"] != "PASS"], indent=1) + err
    assert story["passed"] is True
    assert [step["number"] for step in story["steps"]] == list(range(1, 9))
    operator = story["steps"][3]["facts"]
    assert (len(operator["attached"]), operator["refusal"]) == (1, "Forbidden.RAM")
    assert story["seconds"] < 20
