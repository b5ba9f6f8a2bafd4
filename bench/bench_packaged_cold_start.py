"""Benchmark 7: packaged cold start — each function's package (``make package``) in a clean Python 3.12 interpreter,
from the first line of the runtime stand-in to the first invocation's answer, against importing the three SDK clients.

Each round starts fresh processes (``python3.12 -I -S -B``: no site-packages, nothing written, only the package on
the path) in interleaved order: the bound (``import`` of the RAM, STS and SLB clients as published: partner-verify's
package with the vendor patches undone, so the deferred imports are our gain, not a lighter bound), then
each function's first invocation against the emulator: owner-onboard a signed approval (the partner endpoint is a
loopback stub answering 200 that keeps what it receives), partner-onboard the grant owner-onboard forwarded in the
same round, the three timers one run each (partner-verify checks that grant for real); then the round's grant is
removed from both accounts, so every round does the same work.
Medians of ROUNDS rounds and the ratio to the bound are printed (goal <= 1.1x), with each package's size.

Run: ``.venv/bin/python bench/bench_packaged_cold_start.py`` (part of ``make bench``; builds missing packages).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.seed import SeedAccount
from aliyun_emulator.testing import admit_role_assumer, ram_client, sts_client
from ram_delegate.bootstrap import bootstrap
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.grants import access_policy_name, assume_policy_name, role_name
from ram_delegate.local.packaged import PackagedInstance, http_event, timer_event
from ram_delegate.local.stack import _default_seed_text
from ram_delegate.packaging import PRODUCT_SDKS, RUNTIME_PYTHON, VENDOR_PATCHES, find_runtime_python
from ram_delegate.settings import Settings
from ram_delegate.webhook import generate_secret, sign

ROUNDS = 5
GOAL_RATIO = 1.1
REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = ("owner-onboard", "owner-expire", "partner-onboard", "partner-expire", "partner-verify")
DEFER = "from ram_delegate.deferred_imports import defer; defer(); "
PARTS = {
    "RAM client (async stack deferred)": DEFER + "import alibabacloud_ram20150501.client",
    "pydantic": "import pydantic; from pydantic import BaseModel",
    "ram_delegate.settings": "import ram_delegate.settings",
    "ram_delegate.events": "import ram_delegate.events",
    "index (handler module)": "import index",
    "index + RAM client": "import index, alibabacloud_ram20150501.client",
}
"""Where the time goes: single imports from the owner-onboard package, each in a fresh process."""
PART = (
    "import time, sys\n"
    "started = time.perf_counter()\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "{}\n"
    "print(time.perf_counter() - started)\n"
)
BOUND = (
    "import time, sys\n"
    "started = time.perf_counter()\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "import alibabacloud_ram20150501.client, alibabacloud_sts20150401.client, alibabacloud_slb20140515.client\n"
    "print(time.perf_counter() - started)\n"
)


FORWARDED: list[tuple[bytes, dict[str, str]]] = []
"""What owner-onboard forwarded to the partner stub: the body and headers of each partner.access.granted."""


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        FORWARDED.append((body, {name.lower(): value for name, value in self.headers.items()}))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


@contextmanager
def partner_stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/partner"
    finally:
        server.shutdown()
        server.server_close()


def package_dir(name: str) -> Path:
    directory = REPO / "build" / "package" / name
    if not (directory / "index.py").exists():
        subprocess.run([sys.executable, "-m", "ram_delegate.packaging", name, "--repo", str(REPO)], check=True)
    return directory


def stock_sdk(python: str, verify_package: Path) -> Path:
    """The bound's code: the SDK as published, i.e. partner-verify's package (it carries the RAM, STS and SLB clients)
    with the vendor patches and lazy models undone, recompiled by the runtime's Python like the package."""
    target = REPO / "build" / "bench-stock-sdk"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(verify_package, target)
    stage = REPO / "build" / f"stage-cp{RUNTIME_PYTHON}"
    lazy_models = [f"{sdk}/models/__init__.py" for sdk in PRODUCT_SDKS.values()]
    patched = sorted({patch.path for patch in VENDOR_PATCHES} | {p for p in lazy_models if (target / p).exists()})
    for path in patched:
        shutil.copy2(stage / path, target / path)
    compile_all = [python, "-I", "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*compile_all, *(str(target / path) for path in patched)], check=True, stdout=subprocess.DEVNULL)
    return target


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def environment(
    name: str, account: SeedAccount, emulator: Emulator, secrets: tuple[str, str], partner_url: str, peer: SeedAccount
) -> dict[str, str]:
    """``secrets``: the ticketing system's and the forwarding one (the partner side verifies with the latter)."""
    side = name.split("-", 1)[0]
    allowed = "RAM_DELEGATE_ALLOWED_PARTNERS" if side == "owner" else "RAM_DELEGATE_ALLOWED_OWNERS"
    return {
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": account.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": account.access_key_secret,
        "FC_ACCOUNT_ID": account.uid,
        "FC_REGION": "cn-hangzhou",
        "FC_FUNCTION_NAME": f"ram-delegate-{name}",
        "RAM_DELEGATE_SIDE": side,
        "RAM_DELEGATE_ENDPOINT": emulator.endpoint,
        "RAM_DELEGATE_PROTOCOL": "http",
        "RAM_DELEGATE_WEBHOOK_SECRET": secrets[0] if side == "owner" else secrets[1],
        "RAM_DELEGATE_PARTNER_ENDPOINT": partner_url,
        "RAM_DELEGATE_VERIFIER_ROLE": "ram-delegate-verifier",
        allowed: peer.uid,
    } | ({"RAM_DELEGATE_PARTNER_SECRET": secrets[1]} if side == "owner" else {})


def forget_grant(roots: dict[str, CloudClients], owner: SeedAccount, ticket: str) -> None:
    """Remove a round's grant from both accounts with their root keys, so every round's functions find exactly one
    grant (the verifier's and the sweeps' work would otherwise grow with the rounds)."""
    owner_ram, partner_ram = roots["owner"].ram, roots["partner"].ram
    user, assume = f"u-{ticket.lower()}", assume_policy_name(owner.uid, ticket)
    for attached in partner_ram.list_policies_for_user(user):
        partner_ram.detach_policy_from_user(attached.name, user, attached.policy_type)
    partner_ram.delete_policy(assume)
    partner_ram.delete_user(user)
    role = role_name(ticket)
    for attached in owner_ram.list_policies_for_role(role):
        owner_ram.detach_policy_from_role(attached.name, role, attached.policy_type)
    owner_ram.delete_policy(access_policy_name(ticket))
    owner_ram.delete_role(role)


def first_event(name: str, now: datetime, partner: SeedAccount, secret: str, ticket: str) -> dict[str, Any]:
    """owner-onboard: a signed approval; partner-onboard: the grant owner-onboard just forwarded; timers: a tick."""
    if name.endswith(("expire", "verify")):
        return timer_event(now, name)
    if name == "partner-onboard":
        body, headers = FORWARDED[-1]
        return http_event(body, {k: v for k, v in headers.items() if k.startswith("webhook-")}, now)
    data: dict[str, Any] = {
        "ticket": ticket,
        "partner": {"name": "Enterprise B", "account_id": partner.uid, "user": f"u-{ticket.lower()}"},
        "access": {"profile": "slb-readonly", "region": "cn-hangzhou", "resource_group_id": None},
        "expires_at": iso(now + timedelta(days=7)),
        "requested_by": "bob@enterprise-b.example",
        "approved_by": "carol@enterprise-a.example",
    }
    body = json.dumps(
        {"specversion": "1.0", "id": f"evt-{uuid.uuid4().hex}", "source": "bench", "time": iso(now)}
        | {"type": "partner.access.approved", "data": data}
    ).encode()
    headers = sign(secret, f"msg_{uuid.uuid4().hex}", int(now.timestamp()), body)
    return http_event(body, headers, now)


def verifier_session(emulator: Emulator, partner: SeedAccount) -> dict[str, str]:
    """STS credentials of the partner's verifier role, assumed by a stand-in for FC (as the local stack does)."""
    from alibabacloud_sts20150401 import models

    ram = ram_client(emulator, partner.access_key_id, partner.access_key_secret)
    key_id, key_secret = admit_role_assumer(
        ram, partner.uid, "bench-fc", ["ram-delegate-verifier"], policy_name="bench-fc-assume"
    )
    request = models.AssumeRoleRequest(
        role_arn=f"acs:ram::{partner.uid}:role/ram-delegate-verifier", role_session_name="fc", duration_seconds=3600
    )
    creds = sts_client(emulator, key_id, key_secret).assume_role(request).body.credentials
    return {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": creds.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": creds.access_key_secret,
        "ALIBABA_CLOUD_SECURITY_TOKEN": creds.security_token,
    }


def main() -> int:
    python = find_runtime_python()
    if python is None:
        print("no Python 3.12 interpreter (PATH, pyenv or FC_PYTHON_BIN): cannot measure the runtime's cold start")
        return 0
    packages = {name: package_dir(name) for name in FUNCTIONS}
    stock = stock_sdk(python, packages["partner-verify"])
    secret = generate_secret()
    secrets = (secret, generate_secret())
    bound: list[float] = []
    firsts: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    imports: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    with Emulator(_default_seed_text()) as emulator, partner_stub() as partner_url:
        owner, partner = emulator.seed.accounts[0], emulator.seed.accounts[1]
        roots: dict[str, CloudClients] = {}
        sides: tuple[tuple[Literal["owner", "partner"], SeedAccount], ...] = (("owner", owner), ("partner", partner))
        for side, account in sides:
            peer = partner if side == "owner" else owner
            env = environment(f"{side}-onboard", account, emulator, secrets, partner_url, peer)
            settings = Settings.from_env(env, side=side)
            roots[side] = CloudClients(settings, Credentials(account.access_key_id, account.access_key_secret))
            bootstrap(side, roots[side], settings)  # the verifier role the partner side checks
        verifier = verifier_session(emulator, partner)
        for _ in range(ROUNDS):
            result = subprocess.run(
                [python, "-I", "-S", "-B", "-c", BOUND, str(stock)],
                check=True,
                capture_output=True,
                text=True,
            )
            bound.append(float(result.stdout))
            ticket = f"COLD-{uuid.uuid4().hex[:8].upper()}"
            for name in FUNCTIONS:
                account, peer = (owner, partner) if name.startswith("owner") else (partner, owner)
                env = environment(name, account, emulator, secrets, partner_url, peer)
                if name == "partner-verify":
                    env |= verifier  # a root key may not assume roles: the verifier runs as its role, as on FC
                with PackagedInstance(python, packages[name], env) as instance:
                    answer = instance.invoke(first_event(name, emulator.clock.now(), partner, secret, ticket))
                    instance.close()
                if answer["error"] or (
                    isinstance(answer["result"], dict) and answer["result"].get("statusCode", 200) >= 300
                ):
                    print(f"{name}: first invocation failed: {answer}")
                    return 1
                firsts[name].append(float(answer["since_start"]))
                imports[name].append(instance.import_seconds)
            forget_grant(roots, owner, ticket)
        parts: dict[str, list[float]] = {label: [] for label in PARTS}
        for _ in range(ROUNDS):
            for label, code in PARTS.items():
                result = subprocess.run(
                    [python, "-I", "-S", "-B", "-c", PART.format(code), str(packages["owner-onboard"])],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                parts[label].append(float(result.stdout))
    bound_median = statistics.median(bound)
    print(f"packaged cold start, Python 3.12 ({python}), median of {ROUNDS} interleaved rounds")
    print(f"  {'bound: RAM + STS + SLB client imports (stock SDK)':<40}{bound_median * 1000:7.1f} ms")
    worst = 0.0
    for name in FUNCTIONS:
        first = statistics.median(firsts[name])
        ratio = first / bound_median
        worst = max(worst, ratio)
        print(
            f"  {name:<18} import {statistics.median(imports[name]) * 1000:6.1f} ms, to first answer "
            f"{first * 1000:7.1f} ms  {ratio:.2f}x bound"
        )
    print(f"worst ratio {worst:.2f}x (goal <= {GOAL_RATIO}x): {'met' if worst <= GOAL_RATIO else 'missed'}")
    print("where the time goes (imports from the owner-onboard package, fresh processes, medians):")
    for label, samples in parts.items():
        print(f"  {label:<38}{statistics.median(samples) * 1000:7.1f} ms")
    for name, directory in packages.items():
        files = [path for path in directory.rglob("*") if path.is_file()]
        size = sum(path.stat().st_size for path in files) / 2**20
        archive = directory.parent / f"{name}.zip"
        zipped = archive.stat().st_size / 2**20 if archive.exists() else float("nan")
        print(f"  package {name:<16} {len(files):5d} files {size:6.1f} MiB, zipped {zipped:5.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
