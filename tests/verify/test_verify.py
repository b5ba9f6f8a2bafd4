"""The verifier against real grants on the emulator, through the official SDKs, as partner-verify runs it."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from verify_stack import ALERT_WEBHOOK, OWNER, PARTNER, Stack

from ram_delegate.cloud import RetryPolicy
from ram_delegate.deps import Deps
from ram_delegate.grants import TAG_EXPIRES_AT, TAG_STATE, assume_policy_name, role_name
from ram_delegate.verify import VerificationReport, fingerprint, verify_grants

REPORT_KEYS = {
    "checked_at",
    "checked",
    "ok",
    "denied_as_expected",
    "unexpected_allow",
    "unexpected_deny",
    "pending",
    "errors",
    "latency_ms",
    "critical",
    "alerted",
    "results",
}
RESULT_KEYS = {
    "ticket",
    "owner_account_id",
    "role_arn",
    "region",
    "resource_group_id",
    "grant_state",
    "expires_at",
    "expected",
    "observed",
    "outcome",
    "stage",
    "code",
    "request_id",
    "attempts",
    "latency_ms",
    "external_id",
    "note",
    "profile",
    "probes",
}


def run(stack: Stack, deps: Deps | None = None, **options: object) -> VerificationReport:
    """One partner-verify run at the emulator's current time, with no propagation waits.

    Pass ``deps`` built before injecting faults into AssumeRole: the harness gets the verifier's session that way.
    """
    options.setdefault("propagation_backoff_seconds", 0)
    return verify_grants(deps or stack.verifier(), now=stack.now(), **options)  # type: ignore[arg-type]


def counts(report: VerificationReport) -> tuple[int, int, int, int, int, int, int]:
    return (
        report.checked,
        report.ok,
        report.denied_as_expected,
        report.unexpected_allow,
        report.unexpected_deny,
        report.pending,
        report.errors,
    )


def owner_ram(stack: Stack):  # type: ignore[no-untyped-def]
    from aliyun_emulator.testing import ram_client

    return ram_client(stack.emulator, "AKIDENTERPRISEA0000001", "secret-a")


def retag_assume_policy(stack: Stack, ticket: str, tags: dict[str, str]) -> None:
    """As B's root: change what the partner side records about a grant (the cloud's policies stay as they are)."""
    from alibabacloud_ram20150501 import models

    from aliyun_emulator.testing import ram_client

    ram = ram_client(stack.emulator, "AKIDENTERPRISEB0000001", "secret-b")
    ram.tag_resources(
        models.TagResourcesRequest(
            resource_type="policy",
            resource_names=[assume_policy_name(OWNER, ticket)],
            tag=[models.TagResourcesRequestTag(key=key, value=value) for key, value in tags.items()],
        )
    )


def test_active_grant_is_allowed_and_the_report_has_exactly_its_keys(stack: Stack) -> None:
    stack.approve("OPS-1")

    report = run(stack)

    assert counts(report) == (1, 1, 0, 0, 0, 0, 0)
    assert not report.critical
    assert not report.alerted
    assert stack.notifier.alerts == []
    body = report.to_dict()
    assert set(body) == REPORT_KEYS
    assert set(body["latency_ms"]) == {"p50", "p99", "max"}
    assert [set(result) for result in body["results"]] == [RESULT_KEYS]
    (check,) = body["results"]
    assert check["role_arn"] == f"acs:ram::{OWNER}:role/{role_name('OPS-1')}"
    assert (check["expected"], check["observed"], check["stage"], check["code"]) == (
        "allow",
        "allowed",
        "slb:DescribeLoadBalancers",
        "",
    )
    assert check["attempts"] == 1
    assert check["request_id"]
    assert 0 < body["latency_ms"]["p50"] <= body["latency_ms"]["p99"] <= body["latency_ms"]["max"]
    json.dumps(body)  # the report is plain JSON


def test_report_never_carries_the_external_id_or_credentials(stack: Stack) -> None:
    stack.approve("OPS-2")
    (granted,) = stack.notifier.events
    external_id = granted.data.external_id  # type: ignore[union-attr]

    text = json.dumps(run(stack).to_dict())

    assert external_id not in text
    assert fingerprint(external_id) in text
    assert "STS." not in text
    assert "secret" not in text.lower()


def test_resource_group_scoped_grant_is_checked_in_its_group(stack: Stack) -> None:
    stack.approve("OPS-3", group="rg-aaaaaaaaaaaaa1")

    report = run(stack)

    assert counts(report) == (1, 1, 0, 0, 0, 0, 0)
    assert report.results[0].resource_group_id == "rg-aaaaaaaaaaaaa1"
    listed = [
        entry for entry in stack.emulator.requests.entries if entry.action == "DescribeLoadBalancers" and not entry.code
    ]
    assert listed, "the scoped grant's listing must have succeeded"


def test_expired_grant_is_refused_before_any_sweep(stack: Stack) -> None:
    stack.approve("OPS-4", expires_in=timedelta(hours=1))
    stack.emulator.clock.advance(2 * 3600)

    report = run(stack)

    assert counts(report) == (1, 0, 1, 0, 0, 0, 0)
    check = report.results[0]
    assert (check.grant_state, check.expected, check.observed, check.stage) == (
        "expired",
        "deny",
        "denied",
        "AssumeRole",
    )
    assert check.code == "NoPermission"
    assert stack.notifier.alerts == []


def test_grant_revoked_mid_way_is_refused(stack: Stack) -> None:
    stack.approve("OPS-5")
    stack.approve("OPS-6")
    stack.emulator.clock.advance(1800)
    stack.revoke("OPS-5")

    report = run(stack)

    by_ticket = {check.ticket: check for check in report.results}
    assert counts(report) == (2, 1, 1, 0, 0, 0, 0)
    assert by_ticket["OPS-6"].outcome == "ok"
    revoked = by_ticket["OPS-5"]
    assert (revoked.outcome, revoked.stage, revoked.code) == ("denied_as_expected", "AssumeRole", "EntityNotExist.Role")
    assert (revoked.grant_state, revoked.expected, revoked.attempts) == ("revoked", "deny", 1)  # the partner knows
    assert stack.notifier.alerts == []


def test_a_revoked_grant_costs_one_call_and_alerts_critically_if_it_still_works(stack: Stack) -> None:
    """The partner records the owner's revocation; if the owner's role still admitted the grant, that is critical."""
    from ram_delegate.events import RevokedEvent, parse_event
    from ram_delegate.partner import handle_revoked_forward

    stack.approve("OPS-11")
    forwarded = parse_event(
        {
            "specversion": "1.0",
            "id": "evt-forged-forward",
            "source": f"ram-delegate://owner/{OWNER}",
            "type": "partner.access.revoked",
            "time": stack.now().isoformat(),
            "data": {"ticket": "OPS-11", "owner_account_id": OWNER},
        }
    )
    assert isinstance(forwarded, RevokedEvent)
    handle_revoked_forward(forwarded, stack.partner, now=stack.now())  # as if the owner had lost its revocation
    report = run(stack, propagation_retries=3)
    [check] = report.results
    assert (check.grant_state, check.expected, check.outcome, check.attempts) == (
        "revoked",
        "deny",
        "unexpected_allow",
        1,
    )
    assert report.critical
    assert [alert.critical for alert in stack.notifier.alerts] == [True]


def test_a_grant_whose_role_is_gone_costs_one_call_even_before_the_partner_is_told(stack: Stack) -> None:
    stack.approve("OPS-12")
    stack.notifier.deliver = None  # the forward of the revocation does not arrive
    stack.revoke("OPS-12")
    stack.emulator.clock.advance(1800)  # past the propagation window of a fresh grant
    report = run(stack, propagation_retries=3, propagation_backoff_seconds=30)
    [check] = report.results
    assert (check.grant_state, check.outcome, check.attempts) == ("active", "denied_as_expected", 1)
    assert "revoked" in check.note


@pytest.mark.parametrize(
    ("ticket", "record"),
    [
        ("OPS-7", {TAG_STATE: "revoked"}),
        ("OPS-8", {TAG_EXPIRES_AT: "2020-01-01T00:00:00Z"}),
    ],
    ids=["recorded-revoked", "recorded-expiry-shortened"],
)
def test_access_the_grant_no_longer_allows_is_a_critical_alert(
    stack: Stack, ticket: str, record: dict[str, str]
) -> None:
    stack.approve(ticket)
    retag_assume_policy(stack, ticket, record)  # the grant says "no more", but the owner's role still admits

    report = run(stack)

    assert counts(report) == (1, 0, 0, 1, 0, 0, 0)
    assert report.critical
    assert report.alerted
    (alert,) = stack.notifier.alerts
    assert alert.critical
    assert alert.url == ALERT_WEBHOOK
    assert ticket in alert.text
    assert "unexpected_allow" in alert.text


def test_revoked_grants_can_be_left_out(stack: Stack) -> None:
    stack.approve("OPS-9")
    retag_assume_policy(stack, "OPS-9", {TAG_STATE: "revoked"})

    report = run(stack, include_revoked=False)

    assert counts(report) == (0, 0, 0, 0, 0, 0, 0)
    assert report.latency_ms == {"p50": None, "p99": None, "max": None}


def test_active_grant_refused_is_a_non_critical_alert(stack: Stack) -> None:
    from alibabacloud_ram20150501 import models

    stack.approve("OPS-10")
    owner_ram(stack).detach_policy_from_role(
        models.DetachPolicyFromRoleRequest(
            policy_name="rd-access-ops-10", policy_type="Custom", role_name=role_name("OPS-10")
        )
    )
    stack.emulator.clock.advance(3600)  # well past any propagation window

    report = run(stack, propagation_retries=2)

    assert counts(report) == (1, 0, 0, 0, 1, 0, 0)
    check = report.results[0]
    assert (check.stage, check.code, check.attempts) == ("slb:DescribeLoadBalancers", "Forbidden.RAM", 3)
    assert not report.critical
    (alert,) = stack.notifier.alerts
    assert not alert.critical
    assert "unexpected_deny" in alert.text


def test_fresh_grant_still_refused_after_retries_is_pending_not_alerted(stack: Stack) -> None:
    from alibabacloud_ram20150501 import models

    stack.approve("OPS-11")
    owner_ram(stack).detach_policy_from_role(
        models.DetachPolicyFromRoleRequest(
            policy_name="rd-access-ops-11", policy_type="Custom", role_name=role_name("OPS-11")
        )
    )

    report = run(stack, propagation_retries=1, propagation_window=timedelta(minutes=10))

    assert counts(report) == (1, 0, 0, 0, 0, 1, 0)
    assert report.results[0].attempts == 2
    assert stack.notifier.alerts == []


def test_refusal_that_clears_on_retry_is_ok(stack: Stack) -> None:
    stack.approve("OPS-12")
    deps = stack.verifier()
    stack.emulator.faults.add_error("AssumeRole", "NoPermission", 403, count=1, account_id=PARTNER)

    report = run(stack, deps, propagation_retries=2)

    assert counts(report) == (1, 1, 0, 0, 0, 0, 0)
    assert report.results[0].attempts == 2


def test_cloud_errors_are_errors_never_refusals(stack: Stack) -> None:
    stack.approve("OPS-13", expires_in=timedelta(hours=1))
    stack.emulator.clock.advance(2 * 3600)
    deps = stack.verifier()
    stack.emulator.faults.add_error("AssumeRole", "ServiceUnavailable", 503, count=50, account_id=PARTNER)

    report = run(stack, deps)

    assert counts(report) == (1, 0, 0, 0, 0, 0, 1)
    assert report.results[0].code == "ServiceUnavailable"
    (alert,) = stack.notifier.alerts
    assert not alert.critical


def test_no_alert_without_a_webhook_but_the_report_still_says_so(stack: Stack) -> None:
    stack.approve("OPS-14")
    retag_assume_policy(stack, "OPS-14", {TAG_STATE: "revoked"})

    report = verify_grants(stack.verifier(alert_webhook=None), now=stack.now(), propagation_backoff_seconds=0)

    assert report.critical
    assert not report.alerted
    assert stack.notifier.alerts == []


def test_pacing_at_the_quota_causes_no_throttling(stack: Stack) -> None:
    # Five checks against a bucket of four: only pacing keeps the fifth call from being throttled (and the retry
    # policy of these tests does not wait, so a throttled call would end as an error).
    tickets = [f"OPS-2{index}" for index in range(5)]
    for ticket in tickets:
        stack.approve(ticket)
    deps = stack.verifier(assume_rate_per_second=4)
    stack.emulator.faults.set_rate_limit("AssumeRole", 4, account_id=PARTNER)
    stack.emulator.requests.clear()

    started = time.monotonic()
    report = verify_grants(deps, now=stack.now(), propagation_backoff_seconds=0)

    assert counts(report) == (5, 5, 0, 0, 0, 0, 0)
    assert time.monotonic() - started >= 4 / 4 * 0.95
    assert not [entry for entry in stack.emulator.requests.entries if entry.code == "Throttling.User"]


def test_throttling_beyond_the_quota_is_backed_off_without_errors(stack: Stack) -> None:
    # Eight grants for one partner user: within RAM's 10 custom policies per user (the verifier role holds one).
    tickets = [f"OPS-3{index}" for index in range(8)]
    for ticket in tickets:
        stack.approve(ticket)
    # Real (short) backoff: throttled calls must wait for the emulator's bucket to refill.
    backoff = RetryPolicy(attempts=6, base_seconds=0.2, cap_seconds=2.0, random=lambda: 1.0)
    deps = stack.verifier(retry=backoff, assume_rate_per_second=100)
    stack.emulator.faults.set_rate_limit("AssumeRole", 4, account_id=PARTNER)
    stack.emulator.requests.clear()

    report = verify_grants(deps, now=stack.now(), propagation_backoff_seconds=0)

    assert counts(report) == (8, 8, 0, 0, 0, 0, 0)
    assert [entry for entry in stack.emulator.requests.entries if entry.code == "Throttling.User"]


def test_progress_is_reported_once_per_grant_up_to_the_total(stack: Stack) -> None:
    for ticket in ("OPS-41", "OPS-42", "OPS-43"):
        stack.approve(ticket)
    reports: list[tuple[int, int]] = []

    report = run(stack, progress=lambda done, total: reports.append((done, total)))

    assert report.checked == 3
    assert reports == [(1, 3), (2, 3), (3, 3)]


def test_a_role_the_owner_deleted_costs_one_call_and_no_wait(stack: Stack) -> None:
    stack.approve("OPS-21")
    stack.emulator.clock.advance(1800)  # past the propagation window of a fresh grant
    stack.revoke("OPS-21")
    waits: list[float] = []

    report = verify_grants(stack.verifier(), now=stack.now(), propagation_backoff_seconds=5, sleep=waits.append)

    (check,) = report.results
    assert (check.outcome, check.code, check.attempts) == ("denied_as_expected", "EntityNotExist.Role", 1)
    assert sum(waits) < 1  # only pacing, never the 5 + 10 + 20 s of propagation backoff


def test_a_missing_role_of_a_fresh_grant_is_still_retried(stack: Stack) -> None:
    """Within the propagation window a missing role may be a role not yet visible: retried, then pending."""
    stack.approve("OPS-22")
    stack.notifier.deliver = None  # the partner has not heard of the revocation (it expects the grant to work)
    stack.revoke("OPS-22")

    report = run(stack, propagation_retries=2)

    (check,) = report.results
    assert (check.outcome, check.attempts) == ("pending", 3)
