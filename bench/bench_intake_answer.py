"""Benchmark: time to answer for each intake adapter through the local FC host, 500 deliveries each.

What is measured: the client-side wall time of one HTTP POST of a vendor-shaped delivery (signed or encrypted by the
vendor's algorithm, a fresh delivery id each time) to ``/<owner-onboard>/<source>`` on the local stack, from sending
the request to reading the whole answer, on one keep-alive connection per adapter. Each delivery is an approval the
front door verifies, decrypts, validates and queues as an asynchronous invocation; the worker then applies it, but
outside the measured window: after each answer the bench waits until the worker is idle (on FC the worker runs in
another instance), so the answers measure the front door alone. Rounds are interleaved (10 deliveries of each adapter
per round, 50 rounds) so that machine load falls on all adapters alike. Goal: p99 below 100 ms, against the
tightest vendor limits (DingTalk's URL check 1.5 s, Feishu 3 s, GitHub 10 s).

Run: ``.venv/bin/python bench/bench_intake_answer.py`` (part of ``make bench``).
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "intake"))  # the loopback vendor fakes and the test intake file

from intake_support import ENV, RECEIVER_ID, intake_yaml, payload  # noqa: E402
from vendor_fakes import VendorFakes  # noqa: E402

from ram_delegate.intake import senders  # noqa: E402
from ram_delegate.intake.config import ENV_INTAKE_FILE  # noqa: E402
from ram_delegate.local.stack import LocalStack  # noqa: E402

DELIVERIES = 500
PER_ROUND = 10
GOAL_P99_MS = 100.0
LIMITS_MS = {"dingtalk": 1500.0, "feishu": 3000.0, "github": 10000.0, "jira": 10000.0, "token": 10000.0}
OWNER_ONBOARD = "ram-delegate-owner-onboard"


def builders(stack: LocalStack) -> dict[str, Callable[[], senders.Delivery]]:
    partner = stack.partner.uid
    jira_doc = json.loads(json.dumps(payload("jira-issue-updated.json")).replace("2222222222222222", partner))
    github_doc = json.loads(json.dumps(payload("github-issues-labeled.json")).replace("2222222222222222", partner))
    jira_body, github_body = json.dumps(jira_doc).encode(), json.dumps(github_doc).encode()
    finish = payload("dingtalk-bpms-instance-change-finish.json")
    approved = payload("feishu-approval-instance-approved.json")

    def dingtalk() -> senders.Delivery:
        message = json.dumps({**finish, "processInstanceId": f"dt-{uuid.uuid4().hex[:12]}"}).encode()
        return senders.dingtalk(
            message,
            token=ENV["RAM_DELEGATE_DINGTALK_TOKEN"],
            aes_key=ENV["RAM_DELEGATE_DINGTALK_AES_KEY"],
            receiver_id=RECEIVER_ID,
            now=stack.emulator.clock.now(),
        )

    def feishu() -> senders.Delivery:
        document = {**approved, "uuid": uuid.uuid4().hex}
        document["event"] = {**approved["event"], "instance_code": f"FS-{uuid.uuid4().hex[:12]}"}
        return senders.feishu(
            document,
            verification_token=ENV["RAM_DELEGATE_FEISHU_VERIFICATION_TOKEN"],
            encrypt_key=ENV["RAM_DELEGATE_FEISHU_ENCRYPT_KEY"],
            now=stack.emulator.clock.now(),
        )

    def token() -> senders.Delivery:
        now = stack.emulator.clock.now()
        event = {
            "specversion": "1.0",
            "id": f"jsm-{uuid.uuid4().hex}",
            "source": "jira-automation",
            "type": "partner.access.approved",
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": {
                "ticket": "BENCH-TOKEN",
                "partner": {"name": "Enterprise B", "account_id": partner, "user": "alice"},
                "access": {"profile": "slb-readonly", "region": "cn-hangzhou"},
                "expires_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "requested_by": "bob@enterprise-b.example",
                "approved_by": "carol@enterprise-a.example",
            },
        }
        return senders.token(json.dumps(event).encode(), "intake-bearer-token-new")

    return {
        "jira": lambda: senders.jira(jira_body, "jira-webhook-secret-new"),
        "github": lambda: senders.github(github_body, ENV["RAM_DELEGATE_GITHUB_SECRET"]),
        "dingtalk": dingtalk,
        "feishu": feishu,
        "token": token,
    }


def percentile(sorted_ms: list[float], fraction: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[index]


def main() -> int:
    samples: dict[str, list[float]] = {}
    failures: dict[str, int] = {}
    with VendorFakes() as fakes, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "intake.yml"
        path.write_text(intake_yaml(fakes.url), encoding="utf-8")
        with LocalStack(template=REPO / "template.yml", env={**ENV, ENV_INTAKE_FILE: str(path)}) as stack:
            # each DingTalk/Feishu delivery names a new instance (so each one is queued); the worker finds it
            # withdrawn and grants nothing, so the bench does not pile up grants
            fakes.state.dingtalk_default = {
                **payload("dingtalk-process-instance.json")["result"],
                "status": "TERMINATED",
            }
            fakes.state.feishu_default = {
                **payload("feishu-approval-instance-detail.json")["data"],
                "status": "CANCELED",
            }
            base = urlsplit(stack.function_url(OWNER_ONBOARD))
            build = builders(stack)
            connections = {
                source: http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=60)
                for source in build
            }
            samples = {source: [] for source in build}
            failures = dict.fromkeys(build, 0)
            for _ in range(DELIVERIES // PER_ROUND):
                for source, make in build.items():
                    for _ in range(PER_ROUND):
                        delivery = make()
                        target = f"{base.path}/{source}" + (f"?{urlencode(delivery.query)}" if delivery.query else "")
                        connection = connections[source]
                        started = time.perf_counter()
                        connection.request("POST", target, body=delivery.body, headers=delivery.headers)
                        answer = connection.getresponse()
                        answer.read()
                        samples[source].append((time.perf_counter() - started) * 1000)
                        if not 200 <= answer.status < 300:
                            failures[source] += 1
                        stack.wait_async(timeout=60)
            for connection in connections.values():
                connection.close()
    print(f"intake time to answer through the local host: {DELIVERIES} deliveries per adapter, interleaved rounds of")
    print(f"{PER_ROUND}, client-side wall time per POST (the asynchronous worker runs outside the measured window)")
    medians = {source: statistics.median(values) for source, values in samples.items()}
    fastest = min(medians.values())
    for source, values in samples.items():
        ordered = sorted(values)
        p50, p99 = percentile(ordered, 0.50), percentile(ordered, 0.99)
        print(
            f"  {source:<9} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {ordered[-1]:6.1f} ms  "
            f"median/fastest {medians[source] / fastest:4.2f}  p99/vendor limit {p99 / LIMITS_MS[source]:.4f}  "
            f"{'OK' if p99 < GOAL_P99_MS else 'OVER'} (goal p99 < {GOAL_P99_MS:.0f} ms)  non-2xx {failures[source]}"
        )
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
