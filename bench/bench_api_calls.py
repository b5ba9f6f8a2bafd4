"""Benchmark 1: cloud API calls per operation, counted in the emulator's request log, against a derived lower bound.

Operations run through the local stack exactly as deployed (signed webhook -> owner-onboard -> forwarded
partner.access.granted -> partner-onboard; timers invoke the sweeps). The local FC platform's own AssumeRole calls
(the function credentials, made by ``rd-local-fc``) are not the product's and are excluded. Onboarding is measured
twice: the first grant (a new partner user, the owner account's first grant on the partner side) and the next grant
for the same user while the first is still active.

Lower bounds (no API combines these writes; every read is avoidable by optimistic creation):
- owner onboarding: 3 = CreateRole (trust policy + tags in one call) + CreatePolicy (with tags) + AttachPolicyToRole;
- partner onboarding, first grant: 5 = CreateUser + CreatePolicy (the assume policy, with tags) + AttachPolicyToUser
  + CreatePolicy and AttachPolicyToRole of the owner account's standing verifier policy (once per owner account);
- partner onboarding, next grant (user and verifier policy in place): 2 = CreatePolicy + AttachPolicyToUser;
- revocation (owner side): 3 = DetachPolicyFromRole + DeletePolicy + DeleteRole (RAM refuses to delete an attached
  policy or a role holding policies). ram-delegate's design adds UpdateRole (refuse new sessions first) and a
  tombstone CreatePolicy (refuse stale redeliveries), so its own floor is 5;
- sweep with nothing to do: ceil(N/1000) list calls per side (one tagged listing with MaxItems=1000 can return
  every grant); with N < 1000, 1.

Run: ``.venv/bin/python bench/bench_api_calls.py`` (part of ``make bench``).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from ram_delegate.cli_common import timer_event
from ram_delegate.demo import function_named
from ram_delegate.local.stack import LocalStack
from ram_delegate.webhook import sign

REPO = Path(__file__).resolve().parent.parent
LOCAL_PLATFORM_USER = "user/rd-local-fc"
BOUNDS = {
    "owner onboarding, first grant": 3,
    "partner onboarding, first grant": 5,
    "owner onboarding, next grant": 3,
    "partner onboarding, next grant": 2,
    "revocation (owner)": 3,
    "sweep, nothing to do (owner)": 1,
    "sweep, nothing to do (partner)": 1,
}


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def event(stack: LocalStack, kind: str, ticket: str) -> dict[str, object]:
    now = stack.emulator.clock.now()
    data: dict[str, object] = {"ticket": ticket}
    if kind == "partner.access.approved":
        data.update(
            {
                "partner": {"name": "Enterprise B", "account_id": stack.partner.uid, "user": "partner-engineer"},
                "access": {"profile": "slb-readonly", "region": "cn-hangzhou"},
                "expires_at": iso(now + timedelta(days=7)),
                "requested_by": "alice@enterprise-a.example",
                "approved_by": "bob@enterprise-a.example",
            }
        )
    return {
        "specversion": "1.0",
        "id": f"evt-{uuid.uuid4().hex}",
        "source": "https://tickets.enterprise-a.example/changes",
        "type": kind,
        "time": iso(now),
        "datacontenttype": "application/json",
        "data": data,
    }


def post(stack: LocalStack, document: dict[str, object]) -> None:
    """Deliver one signed event to owner-onboard; anything but 200 stops the benchmark with the answer."""
    body = json.dumps(document).encode()
    headers = {"content-type": "application/json"}
    timestamp = int(stack.emulator.clock.now().timestamp())
    headers.update(sign(stack.webhook_secret, f"msg_{uuid.uuid4().hex}", timestamp, body))
    url = stack.function_url(function_named(stack, "owner-onboard"))
    request = urllib.request.Request(url, body, headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as answer:
            answer.read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{document['type']} for {document['data']}: HTTP {error.code} {error.read()!r}") from None


def product_calls(stack: LocalStack, account_id: str) -> Counter[str]:
    """Calls made in one account since the last clear, without the local FC platform's credential calls."""
    return Counter(
        entry.action
        for entry in stack.emulator.requests.entries
        if entry.account_id == account_id and LOCAL_PLATFORM_USER not in entry.principal_arn
    )


def timer(stack: LocalStack, name: str) -> None:
    stack.invoke(function_named(stack, name), timer_event(stack.emulator.clock.now(), "bench"))


def main() -> int:
    measured: dict[str, Counter[str]] = {}
    with LocalStack(template=REPO / "template.yml") as stack:
        owner, partner = stack.owner.uid, stack.partner.uid
        stack.emulator.requests.clear()
        post(stack, event(stack, "partner.access.approved", "BENCH-0"))
        measured["owner onboarding, first grant"] = product_calls(stack, owner)
        measured["partner onboarding, first grant"] = product_calls(stack, partner)

        stack.emulator.requests.clear()
        post(stack, event(stack, "partner.access.approved", "BENCH-1"))
        measured["owner onboarding, next grant"] = product_calls(stack, owner)
        measured["partner onboarding, next grant"] = product_calls(stack, partner)

        stack.emulator.requests.clear()
        post(stack, event(stack, "partner.access.revoked", "BENCH-1"))
        measured["revocation (owner)"] = product_calls(stack, owner)
        revocation_partner = product_calls(stack, partner)

        stack.emulator.requests.clear()
        timer(stack, "owner-expire")
        measured["sweep, nothing to do (owner)"] = product_calls(stack, owner)
        stack.emulator.requests.clear()
        timer(stack, "partner-expire")
        measured["sweep, nothing to do (partner)"] = product_calls(stack, partner)

    print("API calls per operation (emulator request log; lower bounds in this script's docstring)")
    print(f"  {'operation':<34} {'calls':>5} {'bound':>5} {'ratio':>6}  calls by action")
    for name, bound in BOUNDS.items():
        counts = measured[name]
        total = sum(counts.values())
        detail = ", ".join(f"{action} {n}" for action, n in sorted(counts.items()))
        print(f"  {name:<34} {total:>5} {bound:>5} {total / bound:>5.2f}x  {detail}")
    if revocation_partner:
        detail = ", ".join(f"{action} {n}" for action, n in sorted(revocation_partner.items()))
        print(f"  (revocation, partner side: {sum(revocation_partner.values())} calls: {detail})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
