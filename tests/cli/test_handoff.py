"""``ram-delegate handoff``: each side's values for the other company and the ticketing system, never a secret."""

from __future__ import annotations

import io
import json

from ram_delegate.cli import main
from ram_delegate.handoff import fingerprint
from ram_delegate.webhook import generate_secret

OWNER_URL = "https://ram-delegate-owner-onboard-abc.cn-hangzhou.fcapp.run"
PARTNER_URL = "https://ram-delegate-partner-onboard-xyz.cn-hangzhou.fcapp.run"


def run(*argv: str, env: dict[str, str]) -> tuple[int, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["handoff", *argv], env=env, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue()


def test_the_partner_hands_its_url_account_and_verifier_role_and_only_a_fingerprint_of_the_secret() -> None:
    secret = generate_secret()
    env = {"PARTNER_ACCOUNT_ID": "2222222222222222", "RAM_DELEGATE_PARTNER_SECRET": secret}
    code, text = run("--side", "partner", "--url", PARTNER_URL, env=env)
    assert code == 0
    assert PARTNER_URL in text
    assert "2222222222222222" in text
    assert "ram-delegate-verifier" in text
    assert fingerprint(secret) in text
    assert secret not in text
    assert "secret channel" in text


def test_the_owner_hands_the_ticketing_system_its_url_and_scheme_and_lists_what_it_still_lacks() -> None:
    env = {"OWNER_ACCOUNT_ID": "1111111111111111", "RAM_DELEGATE_KMS_WEBHOOK_SECRET": "ram-delegate/owner/webhook"}
    code, text = run("--side", "owner", "--url", OWNER_URL, env=env)
    assert code == 1  # no partner endpoint and no forwarding secret yet
    assert OWNER_URL in text
    assert "Standard Webhooks" in text
    assert "partner.access.approved" in text
    assert "KMS secret ram-delegate/owner/webhook" in text
    assert "RAM_DELEGATE_PARTNER_ENDPOINT" in text.split("Still missing", 1)[1]


def test_json_output_and_a_missing_url() -> None:
    secret = generate_secret()
    env = {
        "OWNER_ACCOUNT_ID": "1111111111111111",
        "RAM_DELEGATE_WEBHOOK_SECRET": secret,
        "RAM_DELEGATE_PARTNER_ENDPOINT": PARTNER_URL,
        "RAM_DELEGATE_KMS_PARTNER_SECRET": "ram-delegate/owner/partner-forwarding",
    }
    code, text = run("--side", "owner", "--json", env=env)
    document = json.loads(text)
    assert code == 1
    assert document["missing"] == [document["missing"][0]]
    assert document["missing"][0].startswith("--url")
    assert secret not in text
