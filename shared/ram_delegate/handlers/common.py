"""What every function shares: the warm instance, the signed-webhook front door and the timer runner.

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
anything unexpected. Timer functions return their report and let errors propagate, so FC's asynchronous retry runs
them again.

Nothing here names a side's handlers: each function module passes its own (``dispatch``, ``route``, ``intake``), so
a function's package holds its own code paths and no other function's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

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
from ram_delegate.events import ApprovedEvent, GrantedEvent, RevokedEvent, parse_event
from ram_delegate.fc import HttpRequest, TimerEvent, http_response
from ram_delegate.instance import Side, WarmInstance
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
    from ram_delegate.cloud import CloudClients, Credentials
    from ram_delegate.deps import Deps
    from ram_delegate.intake.service import IntakeRuntime
    from ram_delegate.outcome import Outcome

logger = logging.getLogger("ram_delegate.app")  # the name operators filter on, kept from before the split

GENERIC_SIGNATURE_MESSAGE = "the webhook signature could not be verified"
GENERIC_ERROR_MESSAGE = "internal error; the request was logged"

BuildIntake = Callable[[Mapping[str, str], "CloudClients", "str | None"], "IntakeRuntime | None"]
"""The owner functions' intake runtime from the environment (None without an intake file)."""
Event = ApprovedEvent | RevokedEvent | GrantedEvent
Dispatch = Callable[[Event, HttpRequest, "Deps", datetime, "str | None"], "Outcome"]
"""A webhook function's work on one authenticated, parsed event (the last argument: the signing owner account)."""
Route = Callable[[HttpRequest, "Deps"], "dict[str, Any] | None"]
"""A webhook function's answer to a request it serves before authentication (its own sub-paths), or None."""


def host_clock() -> datetime:
    """The host clock: the platform's clock in Function Compute."""
    return datetime.now(timezone.utc)


def _build_deps(
    side: Side,
    credentials: Credentials,
    source: Mapping[str, str],
    *,
    webhook: bool,
    clock: Callable[[], datetime],
    intake: BuildIntake | None,
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
    runtime = None
    if intake is not None:
        try:
            runtime = intake(source, cloud, settings.account_id)
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
        intake=runtime,
    )


def check_webhook_secrets(settings: Settings) -> None:
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


def new_instance(
    side: Side,
    *,
    webhook: bool,
    env: Mapping[str, str] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    clock: Callable[[], datetime] = host_clock,
    intake: BuildIntake | None = None,
) -> WarmInstance:
    """A new per-instance cache for one function (``env``: its environment, ``os.environ`` when deployed)."""
    check = check_webhook_secrets if webhook else None
    build = partial(_build_deps, webhook=webhook, clock=clock, intake=intake)
    return WarmInstance(side, build, env, check=check, monotonic=monotonic)


class InstanceSlot:
    """The one warm instance of a function in this process, built at its first invocation."""

    def __init__(self, side: Side, *, webhook: bool, intake: BuildIntake | None = None) -> None:
        self.side = side
        self.webhook = webhook
        self.intake = intake
        self._lock = threading.Lock()
        self.instance: WarmInstance | None = None

    def get(self, given: WarmInstance | None = None) -> WarmInstance:
        """``given`` (the local host's) or this process's instance."""
        if given is not None:
            return given
        with self._lock:
            if self.instance is None:
                self.instance = new_instance(self.side, webhook=self.webhook, intake=self.intake)
            return self.instance


def at(deps: Deps, now: datetime) -> Deps:
    """The same dependencies with the clock pinned to this invocation's time."""
    return replace(deps, clock=lambda: now)


def serve_webhook(
    slot: InstanceSlot,
    event: bytes,
    context: object,
    deps: Deps | None,
    instance: WarmInstance | None,
    *,
    accepted: frozenset[str],
    dispatch: Dispatch,
    route: Route | None = None,
) -> dict[str, Any]:
    """The signed-webhook front door: parse, authenticate, dispatch; every error mapped to its HTTP answer."""
    side = slot.side
    install_redaction()
    warm = None if deps is not None else slot.get(instance)
    try:
        deps = deps or slot.get(warm).deps(context)
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
        if route is not None and (routed := route(request, deps)) is not None:
            return routed
        try:
            signer = _authenticate(side, request, deps.settings, now)
        except SignatureError:
            if warm is None or not deps.settings.uses_kms:
                raise
            deps = warm.deps(context, after_signature_failure=True)  # the secret may have been rotated in KMS
            signer = _authenticate(side, request, deps.settings, now)
        parsed = _parse(request, accepted)
        outcome = dispatch(parsed, request, at(deps, now), now, signer)
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


def _parse(request: HttpRequest, accepted: frozenset[str]) -> Event:
    """The authenticated body as an event this endpoint accepts (400 listing the problems otherwise)."""
    try:
        event = parse_event(request.body)
    except RecursionError:
        raise InvalidInputError("the body is nested too deeply", problems=[Problem("", "nesting")]) from None
    if event.type not in accepted:
        raise InvalidInputError(
            f"this endpoint does not accept {event.type}",
            problems=[Problem("type", f"expected one of: {', '.join(sorted(accepted))}")],
        )
    return event


def run_timer(
    slot: InstanceSlot,
    name: str,
    event: bytes,
    context: object,
    deps: Deps | None,
    instance: WarmInstance | None,
    job: Callable[[Deps, datetime], dict[str, Any]],
) -> dict[str, Any]:
    """A timer function: its report, or the error propagated so FC's asynchronous retry runs it again."""
    install_redaction()
    try:
        deps = deps or slot.get(instance).deps(context)
        TimerEvent.parse(event)  # malformed input is refused; its triggerTime is the caller's word, not a clock
        now = deps.clock()
        report = job(at(deps, now), now)
    except RamDelegateError as exc:
        logger.error("%s failed: %s %s", name, exc.code, exc.message)
        raise
    except Exception as exc:
        logger.error("%s failed: unexpected %s", name, type(exc).__name__)
        raise
    logger.info("%s done at %s", name, now.isoformat())
    return report
