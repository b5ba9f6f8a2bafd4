"""How many policy evaluations per second the emulator can afford on every API call.

An identity with 3 policies totalling 10 statements (exact and wildcard actions, resource patterns across accounts,
conditions on time, source IP, transport and ExternalId), then the same with a session policy. Runs in about 2 s.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from ram_delegate.policy import AttachedPolicy, AuthRequest, ContextValue, evaluate, parse_policy

OWNER, OTHER = "1111111111111111", "2222222222222222"
EXPIRY = "2030-01-01T00:00:00Z"
SECONDS_PER_CASE = 1.0

ACCESS = {
    "Version": "1",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["slb:Describe*", "slb:List*", "slb:Get*"],
            "Resource": f"acs:slb:*:{OWNER}:*",
            "Condition": {"DateLessThan": {"acs:CurrentTime": EXPIRY}},
        },
        {"Effect": "Allow", "Action": "ecs:DescribeInstances", "Resource": f"acs:ecs:cn-hangzhou:{OWNER}:instance/*"},
        {"Effect": "Deny", "Action": "slb:Delete*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["vpc:Describe*", "vpc:List*"],
            "Resource": "*",
            "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        },
    ],
}
GUARD = {
    "Version": "1",
    "Statement": [
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"acs:SecureTransport": False}}},
        {"Effect": "Deny", "Action": "ram:*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": ["slb:*", "ecs:*", "vpc:*", "sts:*"], "Resource": f"acs:*:*:{OTHER}:*"},
    ],
}
ASSUME = {
    "Version": "1",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": f"acs:ram::{OWNER}:role/partner-access",
            "Condition": {"StringEquals": {"sts:ExternalId": "ext-42"}, "DateLessThan": {"acs:CurrentTime": EXPIRY}},
        },
        {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
        {"Effect": "Allow", "Action": "slb:?escribeZones", "Resource": f"acs:slb:cn-*:{OWNER}:*"},
    ],
}
SESSION = {
    "Version": "1",
    "Statement": [{"Effect": "Allow", "Action": ["slb:Describe*", "ecs:Describe*"], "Resource": "*"}],
}

NOW = datetime.now(timezone.utc)
CONTEXT: dict[str, ContextValue] = {
    "acs:CurrentTime": NOW,
    "acs:SourceIp": "10.1.2.3",
    "acs:SecureTransport": True,
    "sts:ExternalId": "ext-42",
}
REQUESTS = [
    AuthRequest("slb:DescribeLoadBalancers", f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/lb-1", "rg-a", CONTEXT),
    AuthRequest("slb:DeleteLoadBalancer", f"acs:slb:cn-hangzhou:{OWNER}:loadbalancer/lb-1", None, CONTEXT),
    AuthRequest("ecs:DescribeInstances", f"acs:ecs:cn-hangzhou:{OWNER}:instance/i-1", None, CONTEXT),
    AuthRequest("sts:AssumeRole", f"acs:ram::{OWNER}:role/partner-access", None, CONTEXT),
    AuthRequest("oss:GetObject", f"acs:oss:cn-hangzhou:{OTHER}:bucket/key", None, CONTEXT),
    AuthRequest(
        "vpc:DescribeVpcs",
        f"acs:vpc:cn-hangzhou:{OWNER}:vpc/vpc-1",
        None,
        {**CONTEXT, "acs:CurrentTime": NOW + timedelta(days=1)},
    ),
]


def rate(policies: list[AttachedPolicy], *, with_session: bool) -> float:
    """Evaluations per second, cycling through the request mix for about SECONDS_PER_CASE."""
    session_policy = parse_policy(SESSION, "session") if with_session else None
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < SECONDS_PER_CASE:
        for request in REQUESTS * 50:
            evaluate(request, policies, session_policy)
        count += len(REQUESTS) * 50
    return count / elapsed


def main() -> None:
    documents = [parse_policy(ACCESS), parse_policy(GUARD), parse_policy(ASSUME)]
    statements = sum(len(d.statements) for d in documents)
    policies = [AttachedPolicy(d, name=f"p{i}") for i, d in enumerate(documents)]
    plain = rate(policies, with_session=False)
    print(f"policy evaluation: {plain:,.0f} evals/s ({statements} statements, {len(policies)} policies)")
    print(
        f"policy evaluation with session policy: {rate(policies, with_session=True):,.0f} evals/s "
        f"({statements} statements, {len(policies)} policies + 1 session statement)"
    )


if __name__ == "__main__":
    main()
