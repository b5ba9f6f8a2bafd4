"""Node clients we did not write (``@alicloud/pop-core``, the Tea SDK ``@alicloud/sts20150401`` in ACS3 and v2 signing)
run the seed's procedure and its main refusals. Optional: it needs ``node`` and the packages, which ``make
node-clients`` installs into ``.node-clients/`` (or point ``RAM_DELEGATE_NODE_MODULES`` at a ``node_modules``); without
either the test skips. ``make test`` never downloads them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from aliyun_emulator.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("node") / "seed_procedure.js"
PACKAGES = ("@alicloud/pop-core", "@alicloud/openapi-client", "@alicloud/sts20150401")


def node_modules() -> Path | None:
    configured = os.environ.get("RAM_DELEGATE_NODE_MODULES")
    folder = Path(configured) if configured else REPO / ".node-clients" / "node_modules"
    return folder if all((folder / package).is_dir() for package in PACKAGES) else None


def test_node_clients_run_the_seed_procedure_and_its_refusals(aliyun_emulator: Emulator) -> None:
    node = shutil.which("node")
    modules = node_modules()
    if node is None or modules is None:
        pytest.skip("node and the @alicloud packages are needed: run `make node-clients`")
    environment = {**os.environ, "NODE_PATH": str(modules)}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        environment.pop(name, None)
    done = subprocess.run(
        [node, str(SCRIPT), aliyun_emulator.endpoint],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)

    assert outcome["createdArn"] == "acs:ram::1111111111111111:role/node-slb"
    assert outcome["tagged"] == ["node-slb"]
    assert outcome["assumedArns"] == ["acs:ram::1111111111111111:role/node-slb/node-42"] * 2
    assert outcome["loadBalancers"] == 3
    assert outcome["refusals"] == {
        "wrongSecret": "SignatureDoesNotMatch",
        "rootAssumes": "NoPermission",
        "untrustedRole": "EntityNotExist.Role",
        "unimplementedFilter": "InvalidParameter",
        "detached": "Forbidden.RAM",
    }
