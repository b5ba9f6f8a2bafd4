"""The command line itself: parsing, exit codes, output formats, ``lint`` and ``send`` (no cloud needed)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ram_delegate.cli import build_parser, main, parse_args
from ram_delegate.errors import SignatureError
from ram_delegate.webhook import generate_secret, verify_standard_webhook

SAFE_POLICY = {
    "Version": "1",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["slb:DescribeLoadBalancers"],
            "Resource": "acs:slb:cn-hangzhou:1111111111111111:*",
            "Condition": {"DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}},
        }
    ],
}
ADMIN_POLICY = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def run_cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), env=env or {}, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="no-command"),
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param(["grants", "--side", "middle"], id="bad-side"),
        pytest.param(["bootstrap"], id="bootstrap-without-side"),
        pytest.param(["send", "--event", "x.json"], id="send-without-url"),
        pytest.param(["send", "--url", "http://127.0.0.1:9/x"], id="send-without-event"),
        pytest.param(["send", "--url", "http://127.0.0.1:9/x", "--event", "a.json", "-"], id="send-two-sources"),
        pytest.param(["lint"], id="lint-without-target"),
        pytest.param(["lint", "p.json", "--profiles"], id="lint-two-targets"),
        pytest.param(["invoke"], id="invoke-without-function"),
        pytest.param(["local", "--port", "eighty"], id="local-bad-port"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv, env={})
    assert exited.value.code == 2
    assert "usage: ram-delegate" in capsys.readouterr().err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"], env={})
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "send", "grants", "sweep", "verify", "invoke", "bootstrap", "lint", "local"):
        assert command in text


def test_global_flags_work_before_and_after_the_command() -> None:
    parser = build_parser()
    before = parse_args(parser, ["--json", "-v", "--endpoint", "127.0.0.1:1", "--region", "cn-shanghai", "grants"])
    after = parse_args(parser, ["grants", "--json", "-vv", "--endpoint", "127.0.0.1:1", "--region", "cn-shanghai"])
    plain = parse_args(parser, ["grants"])
    assert (before.json, before.verbose, before.endpoint, before.region) == (True, 1, "127.0.0.1:1", "cn-shanghai")
    assert (after.json, after.verbose, after.endpoint, after.region) == (True, 2, "127.0.0.1:1", "cn-shanghai")
    assert (plain.json, plain.verbose, plain.endpoint, plain.region) == (False, 0, None, None)


def test_lint_clean_policy_exits_0(tmp_path: Path) -> None:
    policy = tmp_path / "safe.json"
    policy.write_text(json.dumps(SAFE_POLICY))
    code, out, err = run_cli("lint", str(policy), "--time-bound")
    assert code == 0, err
    assert "error" not in out.lower().replace("0 error(s)", "")


def test_lint_error_finding_exits_1_and_prints_a_table(tmp_path: Path) -> None:
    policy = tmp_path / "admin.json"
    policy.write_text(json.dumps(ADMIN_POLICY))
    code, out, _ = run_cli("lint", str(policy))
    assert code == 1
    header = out.splitlines()[0]
    assert header.split() == ["SUBJECT", "SEVERITY", "RULE", "PATH", "MESSAGE"]
    assert any(line.split()[1] == "error" for line in out.splitlines()[2:] if line.startswith("admin.json"))


def test_lint_json_output_parses(tmp_path: Path) -> None:
    policy = tmp_path / "admin.json"
    policy.write_text(json.dumps(ADMIN_POLICY))
    code, out, _ = run_cli("--json", "lint", str(policy))
    document = json.loads(out)
    assert code == 1
    assert document["errors"] >= 1
    assert {finding["severity"] for finding in document["findings"]} >= {"error"}


def test_lint_malformed_policy_exits_1_with_the_problem_paths(tmp_path: Path) -> None:
    policy = tmp_path / "broken.json"
    policy.write_text(json.dumps({"Version": "2", "Statement": [{"Effect": "Maybe", "Action": "x", "Resource": "*"}]}))
    code, out, _ = run_cli("--json", "lint", str(policy))
    document = json.loads(out)
    assert code == 1
    paths = {finding["path"] for finding in document["findings"]}
    assert "Version" in paths
    assert any(path.startswith("Statement[0]") for path in paths)


def test_lint_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run_cli("lint", str(tmp_path / "absent.json"))
    assert code == 2
    assert "cannot read" in err


def test_lint_profiles_passes_for_the_shipped_profiles() -> None:
    code, out, _ = run_cli("lint", "--profiles")
    assert code == 0
    header = out.splitlines()[0].split()
    assert header[:5] == ["PROFILE", "PRODUCTS", "ACTIONS", "SCOPING", "PROBES"]
    for name in ("slb-readonly", "alb-readonly", "nlb-readonly", "ecs-readonly", "slb-operator"):
        assert any(line.startswith(name) for line in out.splitlines()), name
    operator = next(line for line in out.splitlines() if line.startswith("slb-operator"))
    assert "ids required" in operator
    assert "-slb:DescribeLoadBalancerAttribute@unlisted" in operator


def test_lint_profiles_json_lists_the_catalog() -> None:
    code, out, _ = run_cli("--json", "lint", "--profiles")
    assert code == 0
    catalog = {row["profile"]: row for row in json.loads(out)["profiles"]}
    assert catalog["alb-readonly"]["products"] == "alb"
    assert catalog["slb-operator"]["scoping"] == "region, group optional, ids required"


def test_lint_profiles_refuses_a_dangerous_operator_profile(tmp_path: Path) -> None:
    extra = tmp_path / "profiles.json"
    extra.write_text(
        json.dumps(
            {
                "profiles": {
                    "ram-admin": {
                        "description": "far too much",
                        "actions": ["ram:*"],
                        "resource_template": "acs:ram::{account_id}:*",
                    }
                }
            }
        )
    )
    code, out, _ = run_cli("--json", "lint", "--profiles", "--profiles-file", str(extra))
    document = json.loads(out)
    assert code == 1
    assert document["errors"] >= 1


class _Recorder(BaseHTTPRequestHandler):
    """Answers like the owner-onboard trigger would: 200 with a JSON body; remembers what it got."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        answer = json.dumps({"status": "applied", "ticket": "T-1"}).encode()
        self.send_response(type(self).status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/owner-onboard", handler
    finally:
        server.shutdown()
        server.server_close()


def test_send_signs_with_standard_webhooks_and_prints_the_answer(
    tmp_path: Path, receiver: tuple[str, type[_Recorder]]
) -> None:
    url, handler = receiver
    secret = generate_secret()
    event = tmp_path / "approved.json"
    event.write_bytes(b'{"specversion": "1.0", "type": "partner.access.approved"}')
    code, out, _ = run_cli("send", "--url", url, "--event", str(event), env={"RAM_DELEGATE_WEBHOOK_SECRET": secret})
    assert code == 0
    assert out.splitlines()[0] == "HTTP 200"
    assert '"applied"' in out
    (headers, body) = handler.received[0]
    assert body == event.read_bytes()
    assert headers["webhook-id"].startswith("msg_")
    now = datetime.fromtimestamp(int(headers["webhook-timestamp"]), timezone.utc)
    assert verify_standard_webhook(headers, body, [secret], now=now) == headers["webhook-id"]
    with pytest.raises(SignatureError):
        verify_standard_webhook(headers, body, [generate_secret()], now=now)


@pytest.mark.parametrize("separator", [" ", ",", "\n"], ids=["space", "comma", "newline"])
def test_send_signs_with_the_current_secret_of_a_rotation_list(
    tmp_path: Path, receiver: tuple[str, type[_Recorder]], separator: str
) -> None:
    url, handler = receiver
    current, previous = generate_secret(), generate_secret()
    event = tmp_path / "revoked.json"
    event.write_bytes(b'{"specversion": "1.0", "type": "partner.access.revoked"}')
    code, _, _ = run_cli(
        "send",
        "--url",
        url,
        "--event",
        str(event),
        env={"RAM_DELEGATE_WEBHOOK_SECRET": f"{current}{separator}{previous}"},
    )
    assert code == 0
    (headers, body) = handler.received[0]
    now = datetime.fromtimestamp(int(headers["webhook-timestamp"]), timezone.utc)
    assert verify_standard_webhook(headers, body, [current], now=now) == headers["webhook-id"]
    with pytest.raises(SignatureError):
        verify_standard_webhook(headers, body, [previous], now=now)


def test_send_reads_stdin_and_reports_a_refusal_as_failure(
    receiver: tuple[str, type[_Recorder]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = receiver
    handler.status = 401
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"a": 1}')))
    secret = generate_secret()
    code, out, _ = run_cli("--json", "send", "--url", url, "-", "--secret", secret, "--timestamp", "1700000000")
    document = json.loads(out)
    assert code == 1
    assert document["status"] == 401
    assert document["body"] == {"status": "applied", "ticket": "T-1"}
    assert handler.received[0][1] == b'{"a": 1}'
    assert handler.received[0][0]["webhook-timestamp"] == "1700000000"


def test_send_without_a_secret_is_a_usage_error(tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text("{}")
    code, _, err = run_cli("send", "--url", "http://127.0.0.1:9/x", "--event", str(event))
    assert code == 2
    assert "RAM_DELEGATE_WEBHOOK_SECRET" in err


def test_send_with_a_malformed_secret_is_a_usage_error(tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text("{}")
    code, _, err = run_cli("send", "--url", "http://127.0.0.1:9/x", "--event", str(event), "--secret", "whsec_short")
    assert code == 2
    assert "whsec_short" not in err


def test_send_to_nobody_fails_with_exit_1(tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text("{}")
    code, _, err = run_cli(
        "send", "--url", "http://127.0.0.1:1/x", "--event", str(event), "--secret", generate_secret(), "--timeout", "2"
    )
    assert code == 1
    assert "could not reach" in err


def test_cloud_commands_without_credentials_fail_with_exit_1() -> None:
    code, _, err = run_cli("grants", "--endpoint", "127.0.0.1:1")
    assert code == 1
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in err


def test_invoke_without_endpoint_or_account_is_a_usage_error() -> None:
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKIDEXAMPLE", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "example-secret"}
    code, _, err = run_cli("invoke", "owner-expire", env=env)
    assert code == 2
    assert "--endpoint" in err


def test_commands_that_read_no_grants_never_ask_kms_for_the_seal_key() -> None:
    """With RAM_DELEGATE_KMS_SEAL_SECRET set, lint and invoke run as before (only the commands that decide ownership
    read the key, with the caller's credentials)."""
    env = {"RAM_DELEGATE_KMS_SEAL_SECRET": "ram-delegate/owner/seal"}
    code, _, err = run_cli("lint", "--profiles", env=env)
    assert (code, err) == (0, "")
    keys = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKIDEXAMPLE", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "example-secret"}
    code, _, err = run_cli("invoke", "owner-expire", env={**env, **keys})
    assert (code, "--endpoint" in err) == (2, True)  # its own usage error, no KMS call (which could not succeed)
    # grants decides ownership: it asks KMS (here a closed loopback port, so the read fails and says so).
    account = {"RAM_DELEGATE_ACCOUNT_ID": "2222222222222222"}
    code, _, err = run_cli("--endpoint", "127.0.0.1:9", "grants", "--side", "partner", env={**env, **keys, **account})
    assert code != 0
    assert "GetSecretValue" in err
