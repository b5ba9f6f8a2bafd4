"""Each function as deployed: its package (built by ``make package``'s module) in a clean Python 3.12 interpreter with
only the package on its path, driven through FC-shaped HTTP and timer events against the emulator.

The owner's partner endpoint is a loopback front door that hands the forwarded request to the partner-onboard
instance, as FC's gateway would. Credentials are STS sessions of the function roles (assumed by a stand-in for FC)
handed in the environment, the python3.12 way; partner-onboard reads its secret from the emulator's KMS with them.
One session per instance, renewed only when the test says so, so a warm instance meets an expired first session.
Skipped when no Python 3.12 is installed or the packages cannot be built (no PyPI).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aliyun_emulator.testing import ENTERPRISE_A_UID, ENTERPRISE_B_UID, admit_role_assumer, ram_client, sts_client
from ram_delegate.bootstrap import OWNER_FUNCTION_ROLE, PARTNER_FUNCTION_ROLE, bootstrap
from ram_delegate.cloud import CloudClients, Credentials, RetryPolicy
from ram_delegate.grants import role_name
from ram_delegate.local.packaged import PackagedInstance, http_event, timer_event
from ram_delegate.packaging import PRODUCT_SDKS, find_runtime_python
from ram_delegate.settings import Settings
from ram_delegate.webhook import generate_secret, sign

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ("owner-onboard", "owner-expire", "partner-onboard", "partner-expire", "partner-verify")
VERIFIER = "ram-delegate-verifier"
ROOT = {
    ENTERPRISE_A_UID: Credentials("AKIDENTERPRISEA0000001", "secret-a"),
    ENTERPRISE_B_UID: Credentials("AKIDENTERPRISEB0000001", "secret-b"),
}
PARTNER_KMS_SECRET = "ram-delegate/partner/forwarding"
OWNER_SECRET = generate_secret()
PARTNER_SECRET = generate_secret()


def _sources_newer_than(package: Path) -> bool:
    built = package.parent / f"{package.name}.zip"  # written last by the packaging step
    if not built.exists() or not (package / "index.py").exists():
        return True
    stamp = built.stat().st_mtime
    sources = [
        *(REPO / "shared" / "ram_delegate").rglob("*.py"),
        *(REPO / "functions").rglob("index.py"),
        REPO / "requirements-runtime.lock",
    ]
    return any(path.stat().st_mtime > stamp for path in sources)


@pytest.fixture(scope="module")
def python() -> str:
    found = find_runtime_python()
    if found is None:
        pytest.skip("no Python 3.12 interpreter (PATH, pyenv or FC_PYTHON_BIN)")
    return found


@pytest.fixture(scope="module")
def packages(python: str) -> dict[str, Path]:
    built: dict[str, Path] = {}
    for name in FUNCTIONS:
        package = REPO / "build" / "package" / name
        if _sources_newer_than(package):
            result = subprocess.run(
                [sys.executable, "-m", "ram_delegate.packaging", name, "--repo", str(REPO)],
                capture_output=True,
                text=True,
                timeout=900,
            )
            if result.returncode != 0:
                pytest.skip(f"make package {name} failed (PyPI unreachable?): {result.stderr[-500:]}")
        built[name] = package
    return built


class Roles:
    """Function-role sessions as FC would hand them: assumed by a stand-in user, one hour each."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.keys: dict[str, tuple[str, str]] = {}
        for account, side, roles in (
            (ENTERPRISE_A_UID, "owner", [OWNER_FUNCTION_ROLE]),
            (ENTERPRISE_B_UID, "partner", [PARTNER_FUNCTION_ROLE, VERIFIER]),
        ):
            settings = Settings(
                side=side,  # type: ignore[arg-type]
                account_id=account,
                endpoint=emulator.endpoint,
                protocol="http",
                verifier_role=VERIFIER,
            )
            bootstrap(side, CloudClients(settings, ROOT[account], retry=RetryPolicy(sleep=lambda _s: None)), settings)  # type: ignore[arg-type]
            root = ROOT[account]
            ram = ram_client(emulator, root.access_key_id, root.access_key_secret)
            self.keys[account] = admit_role_assumer(
                ram, account, "packaged-fc", roles, policy_name="packaged-fc-assume"
            )

    def session(self, account: str, role: str) -> dict[str, str]:
        from alibabacloud_sts20150401 import models

        key_id, secret = self.keys[account]
        request = models.AssumeRoleRequest(
            role_arn=f"acs:ram::{account}:role/{role}", role_session_name="fc", duration_seconds=3600
        )
        creds = sts_client(self.emulator, key_id, secret).assume_role(request).body.credentials
        return {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": creds.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": creds.access_key_secret,
            "ALIBABA_CLOUD_SECURITY_TOKEN": creds.security_token,
        }


class FrontDoor:
    """The partner-onboard HTTP trigger: a loopback server turning each request into an FC event for the instance."""

    def __init__(self, emulator: Any) -> None:
        self.instance: PackagedInstance | None = None
        self.env: dict[str, str] = {}
        """What the platform hands the partner instance with the next request (renewed credentials)."""
        self.lock = threading.Lock()
        door = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                event = http_event(body, headers, emulator.clock.now(), account_id=ENTERPRISE_B_UID)
                assert door.instance is not None
                with door.lock:
                    answer = door.instance.invoke(event, env=door.env)
                result = answer["result"] or {"statusCode": 502, "body": "{}"}
                payload = str(result.get("body", "")).encode()
                self.send_response(int(result["statusCode"]))
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def environment(name: str, emulator: Any, extra: dict[str, str]) -> dict[str, str]:
    side = name.split("-", 1)[0]
    env = {
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "FC_ACCOUNT_ID": ENTERPRISE_A_UID if side == "owner" else ENTERPRISE_B_UID,
        "FC_REGION": "cn-hangzhou",
        "FC_FUNCTION_NAME": f"ram-delegate-{name}",
        "RAM_DELEGATE_SIDE": side,
        "RAM_DELEGATE_ENDPOINT": emulator.endpoint,
        "RAM_DELEGATE_PROTOCOL": "http",
        "RAM_DELEGATE_VERIFIER_ROLE": VERIFIER,
        "RAM_DELEGATE_ALLOWED_OWNERS": ENTERPRISE_A_UID,
    }
    if name == "partner-onboard":  # its secret from KMS Secrets Manager, read with its role's own session
        env["RAM_DELEGATE_KMS_WEBHOOK_SECRET"] = PARTNER_KMS_SECRET
    else:
        env["RAM_DELEGATE_WEBHOOK_SECRET"] = OWNER_SECRET if side == "owner" else PARTNER_SECRET
    return env | extra


def approval(now: datetime, ticket: str, *, hours: float = 2) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"evt-{uuid.uuid4().hex}",
            "source": "https://tickets.example/ops",
            "type": "partner.access.approved",
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": {
                "ticket": ticket,
                "partner": {"name": "Enterprise B", "account_id": ENTERPRISE_B_UID, "user": "alice"},
                "access": {"profile": "slb-readonly", "region": "cn-hangzhou", "resource_group_id": None},
                "expires_at": (now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "requested_by": "bob@enterprise-b.example",
                "approved_by": "carol@enterprise-a.example",
            },
        }
    ).encode()


def revocation(now: datetime, ticket: str) -> bytes:
    event = {
        "specversion": "1.0",
        "id": f"evt-{uuid.uuid4().hex}",
        "source": "https://tickets.example/ops",
        "type": "partner.access.revoked",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"ticket": ticket},
    }
    return json.dumps(event).encode()


def signed(body: bytes, now: datetime, secret: str = OWNER_SECRET, msg_id: str | None = None) -> dict[str, Any]:
    headers = sign(secret, msg_id or f"msg_{uuid.uuid4().hex}", int(now.timestamp()), body)
    return http_event(body, headers, now, account_id=ENTERPRISE_A_UID)


def status_of(answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert answer["error"] is None, answer
    result = answer["result"]
    return int(result["statusCode"]), json.loads(result["body"])


def role_exists(emulator: Any, ticket: str) -> bool:
    from alibabacloud_ram20150501 import models

    root = ROOT[ENTERPRISE_A_UID]
    roles = ram_client(emulator, root.access_key_id, root.access_key_secret).list_roles(models.ListRolesRequest())
    return any(role.role_name == role_name(ticket) for role in roles.body.roles.role)


@pytest.fixture
def world(aliyun_emulator: Any, python: str, packages: dict[str, Path]) -> Iterator[dict[str, Any]]:
    aliyun_emulator.accept_host_clock = True  # packages sign with the host clock; the test moves the cloud's
    roles = Roles(aliyun_emulator)
    aliyun_emulator.state.accounts[ENTERPRISE_B_UID].kms.put(PARTNER_KMS_SECRET, PARTNER_SECRET)
    door = FrontDoor(aliyun_emulator)
    instances: dict[str, PackagedInstance] = {}
    sessions = {
        "owner": roles.session(ENTERPRISE_A_UID, OWNER_FUNCTION_ROLE),
        "partner": roles.session(ENTERPRISE_B_UID, PARTNER_FUNCTION_ROLE),
        "verifier": roles.session(ENTERPRISE_B_UID, VERIFIER),
    }
    owner_extra = {
        "RAM_DELEGATE_PARTNER_ENDPOINT": door.url,
        "RAM_DELEGATE_PARTNER_SECRET": PARTNER_SECRET,
        "RAM_DELEGATE_ALLOWED_PARTNERS": ENTERPRISE_B_UID,
    }
    try:
        for name in FUNCTIONS:
            session = sessions["verifier" if name == "partner-verify" else name.split("-", 1)[0]]
            extra = owner_extra if name == "owner-onboard" else {}
            if name == "partner-onboard":
                extra = {"RAM_DELEGATE_ALLOWED_OWNERS": ENTERPRISE_A_UID}  # the partner trusts this owner only
            instances[name] = PackagedInstance(
                python, packages[name], environment(name, aliyun_emulator, extra | session)
            )
        door.instance = instances["partner-onboard"]
        yield {"instances": instances, "roles": roles, "emulator": aliyun_emulator, "door": door}
    finally:
        for instance in instances.values():
            instance.__exit__(None, None, None)
        door.close()


def test_packages_hold_only_what_the_functions_import(packages: dict[str, Path]) -> None:
    for package in packages.values():
        assert not (package / "aliyun_emulator").exists()
        assert not (package / "ram_delegate" / "local").exists()
        assert not (package / "ram_delegate" / "cli.py").exists()
        assert not (package / "ram_delegate" / "demo.py").exists()
        pycs = list(package.rglob("*.pyc"))
        assert pycs
        assert all(pyc.name.endswith(".cpython-312.pyc") for pyc in pycs)
        assert (package / "ram_delegate" / "policy" / "profiles.json").exists()


CLIENTS = {
    "owner-onboard": {"alibabacloud_ram20150501", "alibabacloud_resourcemanager20200331", "alibabacloud_fc20230330"},
    "owner-expire": {"alibabacloud_ram20150501", "alibabacloud_resourcemanager20200331", "alibabacloud_fc20230330"},
    "partner-onboard": {"alibabacloud_ram20150501"},
    "partner-expire": {"alibabacloud_ram20150501"},
    "partner-verify": {
        "alibabacloud_ram20150501",
        "alibabacloud_sts20150401",
        "alibabacloud_slb20140515",
        "alibabacloud_alb20200616",
        "alibabacloud_nlb20220430",
        "alibabacloud_ecs20140526",
    },
}
"""The product SDKs each function's code calls (only the owner's code reads Resource Manager: its steps and its drift
audit live in the owner package, which no partner function imports)."""


def test_each_package_carries_its_own_clients_and_code_paths(packages: dict[str, Path]) -> None:
    every_client = set().union(*CLIENTS.values())
    for name, package in packages.items():
        carried = {path.name for path in package.iterdir() if path.name in every_client}
        assert carried == CLIENTS[name], name
        owner_side = name.startswith("owner")
        assert (package / "yaml").exists() == owner_side, name  # the intake file is the owner's
        assert (package / "ram_delegate" / "intake" / "service.py").exists() == owner_side, name
        assert (package / "ram_delegate" / "verify.py").exists() == (name == "partner-verify"), name
        assert (package / "ram_delegate" / "handlers" / f"{name.replace('-', '_')}.py").exists()
    assert len({(package / "index.py").read_text() for package in packages.values()}) == len(packages)


LAZY_MODELS_CHECK = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
for sdk in sys.argv[2:]:
    models = importlib.import_module(sdk + ".models")
    for name in models.__all__:
        assert getattr(models, name).__name__ == name, (sdk, name)
    print(sdk, len(models.__all__))
"""


def test_the_lazy_models_resolve_every_published_name(python: str, packages: dict[str, Path]) -> None:
    package = packages["partner-verify"]
    sdks = sorted(sdk for sdk in set(PRODUCT_SDKS.values()) if (package / sdk / "models").is_dir())
    assert len(sdks) == 6
    result = subprocess.run(
        [python, "-I", "-S", "-B", "-c", LAZY_MODELS_CHECK, str(package), *sdks],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    counts = dict(line.split() for line in result.stdout.splitlines())
    stage = REPO / "build" / "stage-cp3.12"
    for sdk in sdks:
        published = ast.parse((stage / sdk / "models" / "__init__.py").read_text())
        imported = [node for node in published.body if isinstance(node, ast.ImportFrom) and node.level == 1]
        assert int(counts[sdk]) == len(imported), sdk


def test_the_packaged_functions_end_to_end_with_a_warm_instance_past_its_first_credentials(
    world: dict[str, Any],
) -> None:
    instances: dict[str, PackagedInstance] = world["instances"]
    emulator = world["emulator"]
    owner = instances["owner-onboard"]
    now = emulator.clock.now()

    body = approval(now, "PKG-1")
    delivery = signed(body, now, msg_id="msg_pkg_1")
    first = owner.invoke(delivery)
    status, answer = status_of(first)
    assert (status, answer.get("status")) == (200, "applied"), answer
    assert role_exists(emulator, "PKG-1")
    # synchronous calls only: the SDK's asynchronous stack and its credential scheduler were never loaded
    assert not {"aiohttp", "aiofiles", "apscheduler", "asyncio"} & set(first["loaded"])
    ram_models = [name for name in first["loaded"] if name.startswith("alibabacloud_ram20150501.models._")]
    assert 0 < len(ram_models) < 60  # the models the calls used, not the SDK's 294

    redelivery = signed(body, now, msg_id="msg_pkg_1")
    status, answer = status_of(owner.invoke(redelivery))
    assert (status, answer["status"]) == (200, "duplicate")

    forged = signed(approval(now, "PKG-2"), now, secret=generate_secret())
    status, answer = status_of(owner.invoke(forged))
    assert status == 401
    assert not role_exists(emulator, "PKG-2")

    status_check = instances["partner-verify"].invoke(timer_event(now + timedelta(minutes=15), "hourly"))
    assert status_check["error"] is None, status_check
    assert (status_check["result"]["checked"], status_check["result"]["ok"]) == (1, 1)
    assert not {"aiohttp", "aiofiles", "apscheduler", "asyncio"} & set(status_check["loaded"])

    # The cloud's clock moves past every first session's hour. The functions keep the platform's clock (the host's,
    # as deployed: nothing in an event sets it), so deliveries from here on are stamped with the host's time.
    emulator.clock.advance(3 * 3600)
    later = datetime.now(timezone.utc).replace(microsecond=0)
    stale = owner.invoke(signed(approval(later, "PKG-3"), later))
    stale_status, stale_answer = status_of(stale)
    assert stale_status == 502  # the control: a session kept past its expiry is refused by the cloud
    assert "InvalidSecurityToken.Expired" in stale_answer["message"]

    roles: Roles = world["roles"]
    owner_renewed = roles.session(ENTERPRISE_A_UID, OWNER_FUNCTION_ROLE)
    partner_renewed = roles.session(ENTERPRISE_B_UID, PARTNER_FUNCTION_ROLE)
    door: FrontDoor = world["door"]
    door.env = partner_renewed
    status, answer = status_of(owner.invoke(signed(revocation(later, "PKG-1"), later), env=owner_renewed))
    assert (status, answer["status"]) == (200, "applied"), answer
    assert not role_exists(emulator, "PKG-1")
    expired = instances["owner-expire"].invoke(timer_event(later, "every-5-minutes"), env=owner_renewed)
    assert expired["error"] is None, expired
    swept = instances["partner-expire"].invoke(timer_event(later, "every-5-minutes"), env=partner_renewed)
    assert swept["error"] is None, swept

    status, answer = status_of(owner.invoke(signed(approval(later, "PKG-4"), later), env=owner_renewed))
    assert (status, answer["status"]) == (200, "applied"), answer  # the same warm instance, its renewed session
    assert role_exists(emulator, "PKG-4")


def test_a_package_is_reproducible_from_the_lock(python: str, packages: dict[str, Path], tmp_path: Path) -> None:
    from ram_delegate.packaging import build, write_zip

    stage_dir = REPO / "build" / "stage-cp3.12"
    again = build("partner-expire", REPO, stage_dir, tmp_path / "partner-expire", python)
    assert again.zip_sha256 == write_zip(packages["partner-expire"], tmp_path / "first.zip")
