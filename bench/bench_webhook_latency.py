"""Benchmark 5: webhook latency through the local FC host, for 1,000 signed events.

What is measured: the wall time of one HTTP POST (client side, one keep-alive connection) to the owner-onboard HTTP
trigger of the local stack, from sending the request to reading the whole answer. The 1,000 events are a mix:
NEW_APPROVALS first deliveries of distinct approved tickets (each creates the owner's role and policies and forwards
partner.access.granted to partner-onboard, which creates B's side before the answer returns) interleaved with
redeliveries of already-applied events (same webhook-id and body, fresh timestamp and signature, as a sender's retry
sends them): those answer 200 "duplicate" after reads only. p50 and p99 are reported for each kind and overall.
The bound for a duplicate is one emulator round trip per read the handler needs; the figure to watch is p99 against
the 10 s a sender like GitHub waits.

Run: ``.venv/bin/python bench/bench_webhook_latency.py`` (part of ``make bench``).
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from ram_delegate.demo import function_named
from ram_delegate.local.stack import LocalStack
from ram_delegate.webhook import sign

REPO = Path(__file__).resolve().parent.parent
EVENTS = 1000
NEW_APPROVALS = 100
SENDER_TIMEOUT_SECONDS = 10.0


def approved(stack: LocalStack, ticket: str) -> bytes:
    now = stack.emulator.clock.now()
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"evt-{uuid.uuid4().hex}",
            "source": "https://tickets.enterprise-a.example/changes",
            "type": "partner.access.approved",
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "datacontenttype": "application/json",
            "data": {
                "ticket": ticket,
                # One partner user per ticket: RAM allows 10 custom policies per user.
                "partner": {
                    "name": "Enterprise B",
                    "account_id": stack.partner.uid,
                    "user": f"engineer-{ticket.lower()}",
                },
                "access": {"profile": "slb-readonly", "region": "cn-hangzhou"},
                "expires_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "requested_by": "alice@enterprise-a.example",
                "approved_by": "bob@enterprise-a.example",
            },
        }
    ).encode()


def percentile(sorted_ms: list[float], fraction: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[index]


def describe(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    return (
        f"  {name:<12} n={len(ordered):>4}  p50 {percentile(ordered, 0.50):7.1f} ms  "
        f"p99 {percentile(ordered, 0.99):7.1f} ms  max {ordered[-1]:7.1f} ms  mean {statistics.fmean(ordered):7.1f} ms"
    )


def main() -> int:
    latencies: dict[str, list[float]] = {"new": [], "duplicate": []}
    failures = 0
    with LocalStack(template=REPO / "template.yml") as stack:
        url = urlsplit(stack.function_url(function_named(stack, "owner-onboard")))
        connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
        delivered: list[tuple[str, bytes]] = []
        every = EVENTS // NEW_APPROVALS
        for index in range(EVENTS):
            if index % every == 0:
                kind, message_id, body = "new", f"msg_{uuid.uuid4().hex}", approved(stack, f"LAT-{index:04d}")
                delivered.append((message_id, body))
            else:
                kind = "duplicate"
                message_id, body = delivered[index % len(delivered)]
            headers = {"content-type": "application/json"}
            headers.update(sign(stack.webhook_secret, message_id, int(stack.emulator.clock.now().timestamp()), body))
            started = time.perf_counter()
            connection.request("POST", url.path, body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            latencies[kind].append((time.perf_counter() - started) * 1000)
            if answer.status != 200:
                failures += 1
        connection.close()
    everything = latencies["new"] + latencies["duplicate"]
    print(f"webhook latency through the local host: {EVENTS} signed events ({NEW_APPROVALS} new approvals, the rest")
    print("redeliveries of applied events), client-side wall time per POST on one keep-alive connection")
    print(describe("new", latencies["new"]))
    print(describe("duplicate", latencies["duplicate"]))
    print(describe("all", everything))
    p99_seconds = percentile(sorted(everything), 0.99) / 1000
    print(f"p99 / {SENDER_TIMEOUT_SECONDS:.0f} s sender timeout = {p99_seconds / SENDER_TIMEOUT_SECONDS:.4f}")
    print(f"non-200 answers: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
