"""Partner-side verification: prove with real calls that every grant works exactly as long as it should.

For each grant the partner account holds, the verifier (running as the partner-verify function's own role, which the
owner's trust policy names) assumes the owner's role with the grant's ExternalId for a 900-second session and runs
the probes the grant's profile declares (``probes.py``): the positive probe (a read the grant must allow, in its
region, its resource group, on an instance it names) and, for an active grant, every negative probe (calls it must
refuse: another region, outside its group, an unnamed instance, a write it does not allow). A negative probe that is
allowed is an ``unexpected_allow``, as critical as an expired grant that still works. A grant whose profile declares
no probes (or that the partner does not know) is proven by AssumeRole alone.

* An active grant must be allowed; an expired or revoked one must be refused (``NoPermission`` or a missing role on
  AssumeRole, ``Forbidden.RAM`` on the positive probe). A refusal of an expected-to-work grant is retried a few
  times with bounded backoff, because a fresh grant may not have propagated yet; a grant younger than the propagation
  window that is still refused is reported as ``pending`` (not alerted: the next run will either see it work or
  report an unexpected deny), an older one as ``unexpected_deny``.
* Any unexpected allow is critical: access outliving its expiry or its revocation, or reaching beyond its scope, is
  the failure this product exists to prevent. Errors (throttling after retries, outages) are never counted as refusals.
* Revoked grants: the owner deletes the role and forwards the revocation; the partner marks its assume policy
  revoked and keeps it until the grant's expiry, so the verifier expects a refusal, spends one call on it, and
  raises a critical alert if the grant still works. A grant the partner still records as active whose role no
  longer exists (the forward has not arrived) is reported ``denied_as_expected`` with a note "revoked by the owner",
  after one call (a refusal of an existing role stays an ``unexpected_deny``). A grant whose assume policy is gone
  cannot be checked: its role ARN and ExternalId are gone.

AssumeRole is limited to 100 calls per second per account, for all of the account's users and roles together, so
every AssumeRole goes through one shared pacing limiter (``settings.assume_rate_per_second``) while a bounded thread
pool (``settings.verify_concurrency``) overlaps the calls; throttling that still happens is retried by ``cloud.py``.
The report never carries credentials, tokens or ExternalIds (only a short fingerprint of the latter).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ram_delegate import probes
from ram_delegate.errors import AccessDeniedError, NotFoundError, RamDelegateError
from ram_delegate.grants import (
    KIND_ASSUME,
    TAG_EVENT_TIME,
    PartnerGrant,
    is_managed,
    managed_filter,
    parse_time,
    partner_grant_from,
)

if TYPE_CHECKING:
    from ram_delegate.deps import Deps
    from ram_delegate.outcome import Progress

logger = logging.getLogger("ram_delegate.verify")

CheckOutcome = Literal["ok", "denied_as_expected", "unexpected_allow", "unexpected_deny", "pending", "error"]
Expectation = probes.Expectation

VERIFY_SESSION_SECONDS = 900
ALERT_LIMIT = 20  # grants listed in one alert message; the JSON report has them all


class RateLimiter:
    """A thread-safe pacing limiter (GCRA): at most ``burst`` calls at once, then one call every 1/rate seconds.

    Every caller reserves its slot under the lock and sleeps outside it, so threads queue fairly without spinning.
    """

    def __init__(
        self,
        rate_per_second: float,
        *,
        burst: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self._interval = 1.0 / rate_per_second
        self._tolerance = (burst - 1) * self._interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = -math.inf

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        with self._lock:
            now = self._monotonic()
            slot = max(self._next_slot, now)
            wait = max(0.0, slot - self._tolerance - now)
            self._next_slot = slot + self._interval
        if wait > 0:
            self._sleep(wait)
        return wait


@dataclass(frozen=True)
class GrantCheck:
    """The result of checking one grant; safe to log and to send (no secret in it)."""

    ticket: str
    owner_account_id: str
    role_arn: str
    region: str
    resource_group_id: str | None
    grant_state: str
    expires_at: datetime | None
    expected: Expectation
    observed: Literal["allowed", "denied", "error"]
    outcome: CheckOutcome
    stage: str  # the call that decided: "AssumeRole" or a probe's call (e.g. "slb:DescribeLoadBalancers")
    code: str  # the cloud's (or the library's) error code of a refusal or error; "" when allowed
    request_id: str
    attempts: int
    latency_ms: float
    external_id_fingerprint: str
    note: str = ""
    profile: str = ""
    probes: tuple[probes.ProbeResult, ...] = ()

    @property
    def unexpected(self) -> bool:
        return self.outcome in ("unexpected_allow", "unexpected_deny", "error")

    @property
    def critical(self) -> bool:
        return self.outcome == "unexpected_allow"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "owner_account_id": self.owner_account_id,
            "role_arn": self.role_arn,
            "region": self.region,
            "resource_group_id": self.resource_group_id,
            "grant_state": self.grant_state,
            "expires_at": _iso(self.expires_at) if self.expires_at else None,
            "expected": self.expected,
            "observed": self.observed,
            "outcome": self.outcome,
            "stage": self.stage,
            "code": self.code,
            "request_id": self.request_id,
            "attempts": self.attempts,
            "latency_ms": round(self.latency_ms, 3),
            "external_id": self.external_id_fingerprint,
            "note": self.note,
            "profile": self.profile,
            "probes": [probe.to_dict() for probe in self.probes],
        }


@dataclass(frozen=True)
class VerificationReport:
    """One run of the verifier: the counts an operator reads first, then every grant's check."""

    checked_at: datetime
    checked: int
    ok: int
    denied_as_expected: int
    unexpected_allow: int
    unexpected_deny: int
    pending: int
    errors: int
    latency_ms: dict[str, float | None]
    results: tuple[GrantCheck, ...]
    critical: bool
    alerted: bool

    @property
    def unexpected(self) -> tuple[GrantCheck, ...]:
        return tuple(check for check in self.results if check.unexpected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": _iso(self.checked_at),
            "checked": self.checked,
            "ok": self.ok,
            "denied_as_expected": self.denied_as_expected,
            "unexpected_allow": self.unexpected_allow,
            "unexpected_deny": self.unexpected_deny,
            "pending": self.pending,
            "errors": self.errors,
            "latency_ms": dict(self.latency_ms),
            "critical": self.critical,
            "alerted": self.alerted,
            "results": [check.to_dict() for check in self.results],
        }


@dataclass(frozen=True)
class _Observation:
    observed: Literal["allowed", "denied", "error"]
    stage: str
    code: str
    request_id: str
    probes: tuple[probes.ProbeResult, ...] = ()
    note: str = ""
    leak: bool = False  # a negative probe was allowed: the grant reaches beyond its scope


def verify_grants(
    deps: Deps,
    *,
    now: datetime,
    include_revoked: bool = True,
    propagation_retries: int = 3,
    propagation_backoff_seconds: float = 5.0,
    propagation_window: timedelta = timedelta(minutes=10),
    limiter: RateLimiter | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    progress: Progress | None = None,
) -> VerificationReport:
    """Check every grant the partner account holds, alert on anything unexpected, and return the report.

    ``propagation_*`` bound the retries of a refused active grant (backoff doubles per retry, capped at 60 s);
    tests pass 0 seconds. ``limiter`` defaults to one shared pacing limiter at ``settings.assume_rate_per_second``.
    """
    grants = [listed for listed in _partner_grants(deps, now) if include_revoked or listed.grant.state != "revoked"]
    pacing = limiter or RateLimiter(deps.settings.assume_rate_per_second, monotonic=monotonic, sleep=sleep)
    retry = _PropagationRetry(propagation_retries, propagation_backoff_seconds, propagation_window, sleep)

    done = 0
    done_lock = threading.Lock()

    def check(grant: _Listed) -> GrantCheck:
        nonlocal done
        result = _check_grant(grant, deps, now=now, pacing=pacing, retry=retry, monotonic=monotonic)
        if progress is not None:
            with done_lock:
                done += 1
                progress(done, len(grants))
        return result

    workers = max(1, min(deps.settings.verify_concurrency, len(grants)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rd-verify") as pool:
        results = tuple(pool.map(check, grants))
    report = _summarise(results, now=now)
    if _alert(report, deps):
        report = replace(report, alerted=True)
    _log(report)
    return report


@dataclass(frozen=True)
class _PropagationRetry:
    retries: int
    backoff_seconds: float
    window: timedelta
    sleep: Callable[[float], None]

    def delay(self, retry_number: int) -> float:
        return float(min(60.0, self.backoff_seconds * 2**retry_number))


@dataclass(frozen=True)
class _Listed:
    grant: PartnerGrant
    granted_at: datetime | None  # the owner's grant event time, when the assume policy records it


def _partner_grants(deps: Deps, now: datetime) -> list[_Listed]:
    """What ``grants.list_partner_grants`` returns, plus each grant's time (to recognise a fresh grant)."""
    policies = deps.cloud.ram.list_policies(managed_filter(KIND_ASSUME))
    return [
        _Listed(partner_grant_from(policy, now, deps.settings.seal_keys), parse_time(policy.tags.get(TAG_EVENT_TIME)))
        for policy in policies
        if is_managed(policy.tags)
    ]


def _check_grant(
    listed: _Listed,
    deps: Deps,
    *,
    now: datetime,
    pacing: RateLimiter,
    retry: _PropagationRetry,
    monotonic: Callable[[], float],
) -> GrantCheck:
    grant = listed.grant
    expected: Expectation = "allow" if grant.state == "active" else "deny"
    young = listed.granted_at is not None and now - listed.granted_at < retry.window
    attempts = 0
    elapsed = 0.0
    while True:
        pacing.acquire()
        started = monotonic()
        observation = _observe(grant, deps, expected)
        elapsed += monotonic() - started
        attempts += 1
        # A refusal of a grant that should work is retried for propagation, unless its role is gone and the grant
        # is past the propagation window: that is the owner's revocation, decided by one call.
        settled = expected == "deny" or observation.observed != "denied" or (_role_gone(observation) and not young)
        if settled or attempts > retry.retries:
            break
        retry.sleep(retry.delay(attempts - 1))
    outcome, note = _classify(expected, observation, young=young)
    return GrantCheck(
        ticket=grant.ticket,
        owner_account_id=grant.owner_account_id,
        role_arn=grant.role_arn,
        region=grant.region,
        resource_group_id=grant.resource_group_id,
        grant_state=grant.state,
        expires_at=grant.expires_at,
        expected=expected,
        observed=observation.observed,
        outcome=outcome,
        stage=observation.stage,
        code=observation.code,
        request_id=observation.request_id,
        attempts=attempts,
        latency_ms=elapsed * 1000,
        external_id_fingerprint=fingerprint(grant.external_id),
        note=note or observation.note,
        profile=grant.profile,
        probes=observation.probes,
    )


def _observe(grant: PartnerGrant, deps: Deps, expected: Expectation) -> _Observation:
    """AssumeRole as the grant's holder would do it, then the profile's probes with that session.

    The observation is decided by the first call that did not go as expected: AssumeRole refused, the positive
    probe refused (or, for a grant that should be shut, allowed), a negative probe allowed, or an error.
    """
    try:
        assumed = deps.cloud.sts.assume_role(
            grant.role_arn,
            f"rd-verify-{grant.ticket}",
            external_id=grant.external_id,
            duration_seconds=VERIFY_SESSION_SECONDS,
        )
    except AccessDeniedError as exc:
        return _Observation("denied", "AssumeRole", exc.cloud_code or exc.code, exc.request_id)
    except NotFoundError as exc:  # the owner deleted the role: the door is shut
        return _Observation("denied", "AssumeRole", exc.cloud_code or exc.code, exc.request_id)
    except RamDelegateError as exc:
        code = getattr(exc, "cloud_code", "") or exc.code
        return _Observation("error", "AssumeRole", code, getattr(exc, "request_id", ""))
    except Exception:  # a bug must not hide the other grants' results
        logger.exception("verification of ticket %s failed unexpectedly at AssumeRole", grant.ticket)
        return _Observation("error", "AssumeRole", "InternalError", "")
    profile = deps.profiles.get(grant.profile)
    scope = probes.GrantScope(grant.region, grant.resource_group_id, grant.probe_resource_id)
    calls = probes.plan(profile, scope, expected) if profile is not None else []
    if not calls:
        return _Observation("allowed", "AssumeRole", "", assumed.request_id, note="no probes declared: AssumeRole only")
    session = deps.cloud.with_credentials(assumed.credentials)
    results: list[probes.ProbeResult] = []
    while len(results) < len(calls):
        call = calls[len(results)]
        try:
            result = probes.run(session, call)
        except Exception:  # a bug must not hide the other grants' results
            logger.exception("verification of ticket %s failed unexpectedly at %s", grant.ticket, call.call)
            return _Observation("error", call.call, "InternalError", "", tuple(results))
        results.append(result)
        if not result.as_expected:
            return _deciding(result, tuple(results), positive=len(results) == 1)
        if len(results) == 1 and scope.resource_id is None and result.found and profile is not None:
            # Aim the negative probes' instance calls at a real instance the grant can see.
            calls = probes.plan(profile, replace(scope, resource_id=result.found[0]), expected)
    positive = results[0]
    request_id = positive.request_id or assumed.request_id
    return _Observation(positive.observed, positive.call, positive.code, request_id, tuple(results))


def _deciding(result: probes.ProbeResult, results: tuple[probes.ProbeResult, ...], *, positive: bool) -> _Observation:
    """The observation a probe that went wrong decides; a negative probe allowed is a leak whatever the state."""
    note = "" if positive else f"negative probe {result.call} ({result.target}) was {result.observed}"
    leak = not positive and result.observed == "allowed"
    return _Observation(result.observed, result.call, result.code, result.request_id, results, note, leak)


def _role_gone(observation: _Observation) -> bool:
    """A missing role is the owner's revocation, not propagation: one call decides it, no retry."""
    return observation.stage == "AssumeRole" and observation.code.startswith("EntityNotExist")


def _classify(expected: Expectation, observation: _Observation, *, young: bool) -> tuple[CheckOutcome, str]:
    """The outcome of one check, and a note for the operator where the outcome needs explaining."""
    observed = observation.observed
    if observed == "error":
        return "error", ""
    if observation.leak:
        return "unexpected_allow", ""  # the observation's note names the probe
    if expected == "deny":
        return ("unexpected_allow", "") if observed == "allowed" else ("denied_as_expected", "")
    if observed == "allowed":
        return "ok", ""
    if young:
        return "pending", "refused within the propagation window of a fresh grant"
    if _role_gone(observation):
        # The owner deletes a grant's role only when revoking or expiring it; the partner side keeps its assume
        # policy until its own expiry, so a missing role is the owner's revocation, seen from the partner side.
        return "denied_as_expected", "revoked by the owner (the role no longer exists)"
    return "unexpected_deny", ""


def fingerprint(external_id: str) -> str:
    """A short, irreversible tag of an ExternalId, to correlate a result with a grant without disclosing it."""
    return "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()[:12]


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _summarise(results: tuple[GrantCheck, ...], *, now: datetime) -> VerificationReport:
    def count(outcome: CheckOutcome) -> int:
        return sum(1 for check in results if check.outcome == outcome)

    latencies = sorted(check.latency_ms for check in results)
    latency: dict[str, float | None] = {"p50": None, "p99": None, "max": None}
    if latencies:
        latency = {
            "p50": round(_percentile(latencies, 0.50), 3),
            "p99": round(_percentile(latencies, 0.99), 3),
            "max": round(latencies[-1], 3),
        }
    return VerificationReport(
        checked_at=now,
        checked=len(results),
        ok=count("ok"),
        denied_as_expected=count("denied_as_expected"),
        unexpected_allow=count("unexpected_allow"),
        unexpected_deny=count("unexpected_deny"),
        pending=count("pending"),
        errors=count("error"),
        latency_ms=latency,
        results=results,
        critical=any(check.critical for check in results),
        alerted=False,
    )


def alert_text(report: VerificationReport) -> tuple[str, str]:
    """The alert's title and Markdown body (DingTalk and Slack both render it); no secret in either."""
    title = (
        "ram-delegate: access outlived its grant"
        if report.critical
        else "ram-delegate: unexpected verification results"
    )
    lines = [
        f"checked {report.checked} at {_iso(report.checked_at)}: ok {report.ok}, denied as expected "
        f"{report.denied_as_expected}, unexpected allow {report.unexpected_allow}, unexpected deny "
        f"{report.unexpected_deny}, pending {report.pending}, errors {report.errors}",
        "",
    ]
    unexpected = sorted(report.unexpected, key=lambda check: (not check.critical, check.outcome, check.ticket))
    for check in unexpected[:ALERT_LIMIT]:
        code = f" ({check.code} at {check.stage})" if check.code else ""
        note = f": {check.note}" if check.note else ""
        lines.append(
            f"- {check.outcome}: ticket {check.ticket}, {check.role_arn} in {check.region}, "
            f"grant {check.grant_state}{code}{note}"
        )
    if len(unexpected) > ALERT_LIMIT:
        lines.append(f"- … and {len(unexpected) - ALERT_LIMIT} more (see the verification report)")
    return title, "\n".join(lines)


def _alert(report: VerificationReport, deps: Deps) -> bool:
    """Send one alert when anything is unexpected; a failing alert channel must not lose the report."""
    if not report.unexpected:
        return False
    url = deps.settings.alert_webhook
    if not url:
        logger.warning(
            "verification found %d unexpected result(s) but no alert webhook is configured", len(report.unexpected)
        )
        return False
    title, text = alert_text(report)
    try:
        deps.notifier.alert(url, title, text, critical=report.critical)
    except Exception:
        logger.exception("sending the verification alert failed")
        return False
    return True


def _log(report: VerificationReport) -> None:
    level = logging.CRITICAL if report.critical else logging.WARNING if report.unexpected else logging.INFO
    logger.log(
        level,
        "verification: checked=%d ok=%d denied_as_expected=%d unexpected_allow=%d unexpected_deny=%d pending=%d "
        "errors=%d",
        report.checked,
        report.ok,
        report.denied_as_expected,
        report.unexpected_allow,
        report.unexpected_deny,
        report.pending,
        report.errors,
    )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
