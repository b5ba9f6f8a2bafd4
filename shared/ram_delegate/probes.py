"""The verifier's probes: the calls a profile declares, made with a grant's session, each expected allowed or refused.

A profile names one positive probe (a read the grant must allow) and negative probes (calls it must refuse: another
region, outside its resource group, an instance it does not name, a write it does not allow). ``plan`` turns them
into concrete calls for one grant and one expectation: an active grant runs the positive probe and then every
negative one; an expired or revoked grant runs only the positive probe, which must then be refused. Every call here
is a read or a write sent with ``DryRun=true``: a probe never changes anything.

Outcomes are only what the cloud said: a permission error is ``denied``; success, ``DryRunOperation``, or "no such
instance" is ``allowed`` (the cloud authorizes a call, on the ARN built from its parameters, before it looks the
instance up: an answer about the instance means the call was let through); anything else (throttling after retries,
an outage) is an ``error`` and never counts as a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ram_delegate.cloud import WriteResult
from ram_delegate.errors import AccessDeniedError, RamDelegateError
from ram_delegate.policy.profiles import PROBE_CALLS, AccessProfile, Probe

if TYPE_CHECKING:
    from ram_delegate.cloud import CloudClients

Expectation = Literal["allow", "deny"]
Observed = Literal["allowed", "denied", "error"]

UNLISTED_SUFFIX = "rdprobe0unlisted"
"""A well-formed id no grant names (probe of "an instance outside the list")."""
_ID_PREFIX = {"slb": "lb-", "alb": "alb-", "nlb": "nlb-", "ecs": "i-"}
_OTHER_REGION = {"cn-hangzhou": "cn-shanghai"}
_DEFAULT_OTHER_REGION = "cn-hangzhou"
_PROBE_NAME = "rd-probe"
_NOT_FOUND = re.compile(r"NotFound|NotExist", re.IGNORECASE)


@dataclass(frozen=True)
class GrantScope:
    """Where a grant applies: its region, its resource group, and one instance it names (scoped grants)."""

    region: str
    resource_group_id: str | None = None
    resource_id: str | None = None


@dataclass(frozen=True)
class ProbeCall:
    """One concrete call of a plan."""

    call: str
    target: str
    expected: Expectation
    region: str
    resource_group_id: str | None
    resource_id: str | None


@dataclass(frozen=True)
class ProbeResult:
    call: str
    target: str
    expected: Expectation
    observed: Observed
    code: str
    request_id: str
    region: str = ""
    resource_id: str | None = None  # the instance an instance call aimed at
    found: tuple[str, ...] = ()  # the instance ids a read saw (the next probes aim at a real one in scope)

    @property
    def as_expected(self) -> bool:
        return self.observed == ("allowed" if self.expected == "allow" else "denied")

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "target": self.target,
            "expected": self.expected,
            "observed": self.observed,
            "code": self.code,
            "request_id": self.request_id,
            "region": self.region,
            "resource_id": self.resource_id,
        }


def other_region(region: str) -> str:
    """A region the grant does not name (any region but its own proves the region scoping)."""
    return _OTHER_REGION.get(region, _DEFAULT_OTHER_REGION)


def unlisted_id(call: str) -> str:
    return _ID_PREFIX[call.split(":", 1)[0]] + UNLISTED_SUFFIX


def plan(profile: AccessProfile, scope: GrantScope, expectation: Expectation) -> list[ProbeCall]:
    """The calls proving one grant: the positive probe (expected ``expectation``), then, for an active grant, each
    negative probe (expected refused). A group probe is skipped for a grant with no group: there is nothing outside.

    Instance calls aim at ``scope.resource_id``: the instance a scoped grant names or, for the others, one the
    positive probe listed (the runner re-plans with it), so that a write probe meets the grant's real scope.
    """
    if profile.positive_probe is None:
        return []
    calls = [_concrete(profile.positive_probe, scope, expectation)]
    if expectation == "allow":
        calls += [
            _concrete(probe, scope, "deny")
            for probe in profile.negative_probes
            if probe.target != "outside_group" or scope.resource_group_id is not None
        ]
    return calls


def _concrete(probe: Probe, scope: GrantScope, expected: Expectation) -> ProbeCall:
    region, group, resource_id = scope.region, scope.resource_group_id, scope.resource_id
    if probe.target == "other_region":
        region = other_region(scope.region)
    elif probe.target == "outside_group":
        group = None
    prefix = _ID_PREFIX[probe.call.split(":", 1)[0]]
    if probe.target == "unlisted" or resource_id is None or not resource_id.startswith(prefix):
        resource_id = unlisted_id(probe.call)  # (an id of another product would only be "not found")
    return ProbeCall(probe.call, probe.target, expected, region, group, resource_id if _needs_id(probe) else None)


def _needs_id(probe: Probe) -> bool:
    return PROBE_CALLS[probe.call] == "instance"


def run(session: CloudClients, call: ProbeCall) -> ProbeResult:
    """Make one probe call with a grant's session and record what the cloud said."""

    def result(observed: Observed, code: str, request_id: str, found: tuple[str, ...] = ()) -> ProbeResult:
        return ProbeResult(
            call.call, call.target, call.expected, observed, code, request_id, call.region, call.resource_id, found
        )

    try:
        request_id, found = CALLS[call.call](session, call)
    except AccessDeniedError as exc:
        return result("denied", exc.cloud_code or exc.code, exc.request_id)
    except RamDelegateError as exc:
        code = getattr(exc, "cloud_code", "") or exc.code
        return result("allowed" if _NOT_FOUND.search(code) else "error", code, getattr(exc, "request_id", ""))
    return result("allowed", "", request_id, found)


def _instance(call: ProbeCall) -> str:
    if call.resource_id is None:  # plan() always names one for an instance call
        raise ValueError(f"probe {call.call} needs an instance id")
    return call.resource_id


def _ids(items: Sequence[Any]) -> tuple[str, tuple[str, ...]]:
    """A read's answer: no request id (cloud.py's reads keep none), and the ids it saw."""
    return "", tuple(item.id for item in items)


def _written(result: WriteResult) -> tuple[str, tuple[str, ...]]:
    return result.request_id, ()


CALLS: Mapping[str, Callable[[CloudClients, ProbeCall], tuple[str, tuple[str, ...]]]] = {
    "slb:DescribeLoadBalancers": lambda s, c: _ids(
        s.slb(c.region).describe_load_balancers(resource_group_id=c.resource_group_id)
    ),
    "slb:DescribeLoadBalancerAttribute": lambda s, c: _ids(
        [s.slb(c.region).describe_load_balancer_attribute(_instance(c))]
    ),
    "alb:ListLoadBalancers": lambda s, c: _ids(
        s.alb(c.region).list_load_balancers(resource_group_id=c.resource_group_id)
    ),
    "alb:UpdateLoadBalancerAttribute": lambda s, c: _written(s.alb(c.region).dry_run_rename(_instance(c), _PROBE_NAME)),
    "nlb:ListLoadBalancers": lambda s, c: _ids(
        s.nlb(c.region).list_load_balancers(resource_group_id=c.resource_group_id)
    ),
    "nlb:UpdateLoadBalancerAttribute": lambda s, c: _written(s.nlb(c.region).dry_run_rename(_instance(c), _PROBE_NAME)),
    "ecs:DescribeInstances": lambda s, c: _ids(
        s.ecs(c.region).describe_instances(resource_group_id=c.resource_group_id)
    ),
    "ecs:StopInstance": lambda s, c: _written(s.ecs(c.region).dry_run_stop(_instance(c))),
}
"""Probe call name -> the call (every name of ``PROBE_CALLS``; a test keeps the two in step)."""
