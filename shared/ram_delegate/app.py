"""The five function entry points: FC event in, handler call, FC answer out.

Each keeps a ``WarmInstance`` (``instance.py``): settings from the environment, the HTTP notifier, the audit log and
the access profiles are built once per instance; the function role's credentials are read at every invocation and
the cloud clients rebuilt when they change, so a warm instance never signs with expired credentials. Tests pass
``deps=``; the local host passes one ``instance=`` per served function (built with the emulator's clock).
"Now" is ``deps.clock()``: the platform's clock, never the event body. Anyone allowed to call InvokeFunction can
write ``requestContext.timeEpoch`` or ``triggerTime``, so a time read from the event would let the caller replay an
old signed request or age tombstones at will. The local host injects the emulator clock into the dependencies.

HTTP answers: 200 done, duplicate, stale or unchanged (never 409: senders retry it); 400 invalid payload with every
problem; 401 any signature problem, with one generic message; 413 body over the cap (checked before hashing);
422 guardrail refusal or a RAM quota reached (nothing of the refused change is left behind); 503 with Retry-After
when the cloud stays unavailable after retries (ticketing systems retry 5xx); 500 with a generic message for
anything unexpected. Timer functions return their report and let errors
propagate, so FC's asynchronous retry runs them again.

The owner endpoint accepts ``partner.access.approved`` and ``partner.access.revoked``. The partner endpoint accepts
``partner.access.granted`` and the ``partner.access.revoked`` the owner forwards: the partner records the revocation
(its assume policy is detached and marked revoked) so the verifier expects a refusal and alerts if access remains.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from ram_delegate.audit import AuditLog, install_redaction
from ram_delegate.errors import (
    CloudError,
    ConfigurationError,
    GuardrailError,
    InvalidInputError,
    PayloadTooLargeError,
    Problem,
    QuotaExceededError,
    RamDelegateError,
    RetryableCloudError,
    SignatureError,
)
from ram_delegate.events import APPROVED, GRANTED, REVOKED, ApprovedEvent, GrantedEvent, RevokedEvent, parse_event
from ram_delegate.fc import HttpRequest, TimerEvent, http_response
from ram_delegate.instance import WarmInstance
from ram_delegate.intake.service import serve as serve_intake
from ram_delegate.intake.service import source_of
from ram_delegate.settings import (
    ENV_ALLOWED_PARTNERS,
    ENV_HUB_SECRET,
    ENV_PARTNER_SECRET,
    ENV_WEBHOOK_SECRET,
    Settings,
)
from ram_delegate.webhook import (
    HUB_HEADERS,
    check_hub_secret,
    decode_secret,
    verify_hub_signature,
    verify_standard_webhook,
)

if TYPE_CHECKING:
    from ram_delegate.cloud import Credentials
    from ram_delegate.deps import Deps
    from ram_delegate.outcome import Outcome

logger = logging.getLogger(__name__)

Side = Literal["owner", "partner"]
GENERIC_SIGNATURE_MESSAGE = "the webhook signature could not be verified"
GENERIC_ERROR_MESSAGE = "internal error; the request was logged"
ACCEPTED_TYPES: Mapping[Side, frozenset[str]] = {
    "owner": frozenset({APPROVED, REVOKED}),
    "partner": frozenset({GRANTED, REVOKED}),
}

_instances_lock = threading.Lock()
_instances: dict[tuple[Side, bool], WarmInstance] = {}


def _utc_now() -> datetime:
    """The host clock: only a fallback for a timer invoked by hand, with no triggerTime."""
    return datetime.now(timezone.utc)


def _build_deps(
    side: Side,
    credentials: Credentials,
    source: Mapping[str, str],
    *,
    webhook: bool,
    clock: Callable[[], datetime],
) -> Deps:
    """What an instance builds once: settings from its environment, clients for its first credentials, the rest.

    ``clock`` is the platform's clock (the host's in Function Compute; the local host passes the emulator's).
    """
    from ram_delegate.cloud import CloudClients
    from ram_delegate.deps import Deps
    from ram_delegate.notify import HttpNotifier
    from ram_delegate.policy import load_profiles

    settings = Settings.from_env(source, side=side)
    cloud = CloudClients(settings, credentials)
    intake = None
    if side == "owner":
        from ram_delegate.intake.service import build_runtime

        try:
            intake = build_runtime(source, cloud, settings.account_id)
        except ConfigurationError as exc:
            if webhook:
                raise
            # owner-expire only sends reminders with it: a broken intake file must never stop the sweep
            logger.error("intake reminders disabled: %s %s", exc.message, [str(p) for p in exc.problems])
    return Deps(
        settings=settings,
        cloud=cloud,
        clock=clock,
        notifier=HttpNotifier(signing_secret=settings.alert_secret),
        audit=AuditLog(),
        profiles=load_profiles(settings.profiles_file),
        intake=intake,
    )


def _check_webhook_secrets(settings: Settings) -> None:
    """An endpoint that cannot authenticate its callers (or sign what it forwards) must not start.

    Every secret of every rotation list is checked, so a weak old secret cannot hide behind a strong current one.
    The problems name the variable and the position in its list, never the secret.
    """
    if not settings.webhook_secrets and not settings.hub_secrets:
        raise ConfigurationError(f"no webhook secret configured ({ENV_WEBHOOK_SECRET} or {ENV_HUB_SECRET})")
    problems: list[Problem] = []
    checks: tuple[tuple[str, tuple[str, ...], Callable[[str], object]], ...] = (
        (ENV_WEBHOOK_SECRET, settings.webhook_secrets, decode_secret),
        (ENV_PARTNER_SECRET, settings.partner_secrets, decode_secret),
        (ENV_HUB_SECRET, settings.hub_secrets, check_hub_secret),
    )
    for name, secrets, check in checks:
        for index, secret in enumerate(secrets):
            try:
                check(secret)
            except ValueError as exc:
                problems.append(Problem(f"{name}[{index}]", str(exc)))
    if settings.side == "owner" and not settings.allowed_partners:
        problems.append(Problem(ENV_ALLOWED_PARTNERS, "no partner account is allowed: name the partner account(s)"))
    if problems:
        raise ConfigurationError("unusable webhook configuration", problems=problems)


def warm_instance(
    side: Side,
    *,
    webhook: bool,
    env: Mapping[str, str] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    clock: Callable[[], datetime] = _utc_now,
) -> WarmInstance:
    """A new per-instance cache for one function (``env``: its environment, ``os.environ`` when deployed)."""
    check = _check_webhook_secrets if webhook else None
    build = partial(_build_deps, webhook=webhook, clock=clock)
    return WarmInstance(side, build, env, check=check, monotonic=monotonic)


def _instance_for(side: Side, instance: WarmInstance | None, *, webhook: bool) -> WarmInstance:
    if instance is not None:
        return instance
    with _instances_lock:
        found = _instances.get((side, webhook))
        if found is None:
            found = _instances[(side, webhook)] = warm_instance(side, webhook=webhook)
        return found


def _deps_for(side: Side, context: object, instance: WarmInstance | None, *, webhook: bool) -> Deps:
    return _instance_for(side, instance, webhook=webhook).deps(context)


def _at(deps: Deps, now: datetime) -> Deps:
    """The same dependencies with the clock pinned to this invocation's time."""
    return replace(deps, clock=lambda: now)


# ---------------------------------------------------------------------------------------------------------------
# HTTP endpoints
# ---------------------------------------------------------------------------------------------------------------


def owner_onboard(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """owner-onboard: approved -> converge the grant and tell the partner; revoked -> shut the door.

    It also serves the intake sources on ``/<source>`` and runs their jobs when invoked asynchronously.
    """
    from ram_delegate.intake.service import job_of

    job = job_of(event)
    if job is not None:
        return _run_intake_job(job, context, deps, instance)
    return _serve_webhook("owner", event, context, deps, instance)


def partner_onboard(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """partner-onboard: granted -> the partner user and its assume policy."""
    return _serve_webhook("partner", event, context, deps, instance)


def _serve_webhook(
    side: Side, event: bytes, context: object, deps: Deps | None, instance: WarmInstance | None
) -> dict[str, Any]:
    install_redaction()
    warm = None if deps is not None else _instance_for(side, instance, webhook=True)
    try:
        deps = deps or _deps_for(side, context, warm, webhook=True)
    except ConfigurationError as exc:
        logger.error("%s-onboard cannot start: %s %s", side, exc.message, [str(p) for p in exc.problems])
        return http_response(500, {"code": exc.code, "message": "the function is misconfigured"})
    request_id = ""
    try:
        now = deps.clock()
        request = HttpRequest.parse(event, max_body_bytes=deps.settings.max_body_bytes, now=now)
        request_id = request.request_id
        if request.method and request.method != "POST":
            return http_response(
                405, {"code": "MethodNotAllowed", "message": "only POST is accepted"}, {"allow": "POST"}
            )
        if side == "owner" and (source := source_of(request.path)) is not None:
            return serve_intake(source, request, deps.intake.bound(deps.cloud) if deps.intake else None)
        try:
            signer = _authenticate(side, request, deps.settings, now)
        except SignatureError:
            if warm is None or not deps.settings.uses_kms:
                raise
            deps = warm.deps(context, after_signature_failure=True)  # the secret may have been rotated in KMS
            signer = _authenticate(side, request, deps.settings, now)
        outcome = _dispatch(side, request, _at(deps, now), now, signer)
    except SignatureError as exc:
        logger.warning("%s-onboard %s: 401 %s", side, request_id, exc.message)
        return http_response(401, {"code": exc.code, "message": GENERIC_SIGNATURE_MESSAGE})
    except RetryableCloudError as exc:
        retry_after = str(deps.cloud.retry.retry_after_seconds())
        logger.warning("%s-onboard %s: 503 %s %s", side, request_id, exc.cloud_code, exc.message)
        return http_response(503, exc.to_dict(), {"retry-after": retry_after})
    except (InvalidInputError, PayloadTooLargeError, GuardrailError, QuotaExceededError) as exc:
        logger.info("%s-onboard %s: %s %s", side, request_id, exc.status, exc.code)
        return http_response(exc.status, exc.to_dict())
    except CloudError as exc:
        logger.error("%s-onboard %s: 502 %s %s (%s)", side, request_id, exc.cloud_code, exc.action, exc.request_id)
        return http_response(502, {"code": exc.code, "message": exc.message, "request_id": exc.request_id})
    except RamDelegateError as exc:
        logger.error("%s-onboard %s: 500 %s", side, request_id, exc.code)
        return http_response(500, {"code": exc.code, "message": GENERIC_ERROR_MESSAGE})
    except Exception as exc:
        logger.error("%s-onboard %s: 500 unexpected %s", side, request_id, type(exc).__name__, exc_info=True)
        return http_response(500, {"code": "InternalError", "message": GENERIC_ERROR_MESSAGE})
    logger.info("%s-onboard %s: 200 %s %s", side, request_id, outcome.status, outcome.ticket)
    return http_response(200, outcome.to_dict())


def _run_intake_job(
    job: Mapping[str, Any], context: object, deps: Deps | None, instance: WarmInstance | None
) -> dict[str, Any]:
    """The intake worker (an asynchronous invocation): errors that deserve a retry propagate, so FC retries."""
    from ram_delegate.intake.service import run_job

    install_redaction()
    current = deps or _deps_for("owner", context, instance, webhook=True)
    if current.intake is None:
        logger.error("owner-onboard: an intake job arrived but no intake file is configured")
        return {"status": "dropped", "reason": "no intake file"}

    def apply(document: Mapping[str, Any]) -> Outcome:
        now = current.clock()  # the platform's clock when the job runs: a job's own times are its sender's word
        return _apply_owner_event(document, _at(current, now), now)

    return run_job(job, current.intake, apply)


def _apply_owner_event(document: Mapping[str, Any], deps: Deps, now: datetime) -> Outcome:
    """An intake event through the same owner logic as a signed webhook."""
    from ram_delegate.owner import handle_approved, handle_revoked

    event = parse_event(document)
    if isinstance(event, ApprovedEvent):
        return handle_approved(event, deps, now=now, dry_run=deps.settings.dry_run)
    if isinstance(event, RevokedEvent):
        return handle_revoked(event, deps, now=now, dry_run=deps.settings.dry_run)
    raise InvalidInputError("the owner does not accept this event", problems=[Problem("type", event.type)])


def _authenticate(side: Side, request: HttpRequest, settings: Settings, now: datetime) -> str | None:
    """Standard Webhooks when its headers are there or it is the only scheme configured, else the hub signature.

    On the partner side, the owner account whose own secret signed the request (None for a shared secret).
    """
    if side == "partner" and settings.owner_secrets:
        from ram_delegate.partner_trust import signing_owner

        return signing_owner(request.headers, request.body, settings, now=now)[1]
    hub_signed = any(name in request.headers for name in HUB_HEADERS)
    if settings.hub_secrets and hub_signed and "webhook-signature" not in request.headers:
        verify_hub_signature(request.headers, request.body, settings.hub_secrets)
        return None
    verify_standard_webhook(
        request.headers,
        request.body,
        settings.webhook_secrets,
        now=now,
        tolerance=settings.webhook_tolerance_seconds,
    )
    return None


def _dispatch(side: Side, request: HttpRequest, deps: Deps, now: datetime, signer: str | None = None) -> Outcome:
    try:
        event = parse_event(request.body)
    except RecursionError:
        raise InvalidInputError("the body is nested too deeply", problems=[Problem("", "nesting")]) from None
    if event.type not in ACCEPTED_TYPES[side]:
        accepted = ", ".join(sorted(ACCEPTED_TYPES[side]))
        raise InvalidInputError(
            f"this endpoint does not accept {event.type}", problems=[Problem("type", f"expected one of: {accepted}")]
        )
    dry_run = deps.settings.dry_run
    if isinstance(event, GrantedEvent):
        from ram_delegate.partner import handle_granted
        from ram_delegate.partner_trust import check_signer

        check_signer(event, deps.settings, signer)
        return handle_granted(event, deps, now=now, dry_run=dry_run)
    if isinstance(event, ApprovedEvent):
        from ram_delegate.owner import handle_approved

        return handle_approved(event, deps, now=now, dry_run=dry_run)
    if side == "partner":
        from ram_delegate.partner import handle_revoked_forward

        if signer is not None:  # an owner's own secret signed it: it revokes that owner's grants, whatever it names
            event = event.model_copy(update={"data": event.data.model_copy(update={"owner_account_id": signer})})
        return handle_revoked_forward(event, deps, now=now, dry_run=dry_run)
    from ram_delegate.owner import handle_revoked

    return handle_revoked(event, deps, now=now, dry_run=dry_run)


# ---------------------------------------------------------------------------------------------------------------
# Timer functions
# ---------------------------------------------------------------------------------------------------------------


def owner_expire(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """owner-expire (every 5 minutes): revoke expired grants, drop old tombstones, heal drifted grants."""
    from ram_delegate.drift import audit_owner_grants
    from ram_delegate.owner import sweep_owner

    def sweep(current: Deps, now: datetime) -> dict[str, Any]:
        notices = None
        if current.intake is not None and not current.settings.dry_run:
            from ram_delegate.intake.reminders import run_reminders

            notices = run_reminders(current.intake, current.cloud, now)
        report = sweep_owner(current, now=now, dry_run=current.settings.dry_run).to_dict()
        if notices is not None:
            report["intake_notices"] = notices
        drift = audit_owner_grants(current, now=now, heal=not current.settings.dry_run)
        return {**report, "drift": [finding.to_dict() for finding in drift]}

    return _run_timer("owner", "owner-expire", event, context, deps, instance, sweep)


def partner_expire(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """partner-expire (every 5 minutes): remove expired assume policies and the users ram-delegate created, heal
    drifted assume policies."""
    from ram_delegate.drift import audit_partner_grants
    from ram_delegate.partner import sweep_partner

    def sweep(current: Deps, now: datetime) -> dict[str, Any]:
        report = sweep_partner(current, now=now, dry_run=current.settings.dry_run).to_dict()
        drift = audit_partner_grants(current, now=now, heal=not current.settings.dry_run)
        return {**report, "drift": [finding.to_dict() for finding in drift]}

    return _run_timer("partner", "partner-expire", event, context, deps, instance, sweep)


def partner_verify(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """partner-verify (hourly): prove active grants work and expired or revoked ones are refused."""
    from ram_delegate.verify import verify_grants

    def verify(current: Deps, now: datetime) -> dict[str, Any]:
        return verify_grants(current, now=now).to_dict()

    return _run_timer("partner", "partner-verify", event, context, deps, instance, verify)


def _run_timer(
    side: Side,
    name: str,
    event: bytes,
    context: object,
    deps: Deps | None,
    instance: WarmInstance | None,
    job: Callable[[Deps, datetime], dict[str, Any]],
) -> dict[str, Any]:
    install_redaction()
    try:
        deps = deps or _deps_for(side, context, instance, webhook=False)
        TimerEvent.parse(event)  # malformed input is refused; its triggerTime is the caller's word, not a clock
        now = deps.clock()
        report = job(_at(deps, now), now)
    except RamDelegateError as exc:
        logger.error("%s failed: %s %s", name, exc.code, exc.message)
        raise
    except Exception as exc:
        logger.error("%s failed: unexpected %s", name, type(exc).__name__)
        raise
    logger.info("%s done at %s", name, now.isoformat())
    return report
