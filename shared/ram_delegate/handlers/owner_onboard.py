"""owner-onboard: approved -> converge the grant and tell the partner; revoked -> shut the door.

It also serves the intake sources on ``/<source>`` and runs their jobs when invoked asynchronously. The intake
modules load only when ``RAM_DELEGATE_INTAKE_FILE`` is set or a sub-path is called, so an owner that takes signed
webhooks only starts without them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ram_delegate.errors import InvalidInputError, Problem
from ram_delegate.events import APPROVED, REVOKED, ApprovedEvent, RevokedEvent, parse_event
from ram_delegate.handlers.common import Event, InstanceSlot, at, serve_webhook
from ram_delegate.intake import ENV_INTAKE_FILE, job_of, source_of

if TYPE_CHECKING:
    from ram_delegate.cloud import CloudClients
    from ram_delegate.deps import Deps
    from ram_delegate.fc import HttpRequest
    from ram_delegate.instance import WarmInstance
    from ram_delegate.intake.service import IntakeRuntime
    from ram_delegate.outcome import Outcome

logger = logging.getLogger("ram_delegate.app")  # the name operators filter on, kept from before the split

ACCEPTED = frozenset({APPROVED, REVOKED})


def intake_runtime(env: Mapping[str, str], cloud: CloudClients, account_id: str | None) -> IntakeRuntime | None:
    """The intake runtime of ``RAM_DELEGATE_INTAKE_FILE`` (None, with nothing imported, when it is not set)."""
    if not env.get(ENV_INTAKE_FILE, "").strip():
        return None
    from ram_delegate.intake.service import build_runtime

    return build_runtime(env, cloud, account_id)


SLOT = InstanceSlot("owner", webhook=True, intake=intake_runtime)


def owner_onboard(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """The handler: an intake job (asynchronous invocation) or an HTTP request (signed webhook or intake source)."""
    job = job_of(event)
    if job is not None:
        return _run_intake_job(job, context, deps, instance)
    return serve_webhook(SLOT, event, context, deps, instance, accepted=ACCEPTED, dispatch=_dispatch, route=_route)


def _route(request: HttpRequest, deps: Deps) -> dict[str, Any] | None:
    """``/<source>``: the intake front door (404 for a source not configured); None for the signed webhook."""
    source = source_of(request.path)
    if source is None:
        return None
    from ram_delegate.intake.service import serve

    return serve(source, request, deps.intake.bound(deps.cloud, deps.settings.seal_keys) if deps.intake else None)


def _dispatch(
    event: Event,
    request: HttpRequest,
    deps: Deps,
    now: datetime,
    signer: str | None,
) -> Outcome:
    return _apply(event, deps, now)


def _apply(event: Event, deps: Deps, now: datetime) -> Outcome:
    from ram_delegate.owner import handle_approved, handle_revoked

    if isinstance(event, ApprovedEvent):
        return handle_approved(event, deps, now=now, dry_run=deps.settings.dry_run)
    if isinstance(event, RevokedEvent):
        return handle_revoked(event, deps, now=now, dry_run=deps.settings.dry_run)
    raise InvalidInputError("the owner does not accept this event", problems=[Problem("type", event.type)])


def _run_intake_job(
    job: Mapping[str, Any], context: object, deps: Deps | None, instance: WarmInstance | None
) -> dict[str, Any]:
    """The intake worker (an asynchronous invocation): errors that deserve a retry propagate, so FC retries.

    Anyone allowed ``fc:InvokeFunction`` on this function can hand it a job, so a job counts only with the seal the
    front door put on it. One exception, in the direction of less access: a revocation without a valid seal is still
    applied (a revocation is never refused; at worst someone with InvokeFunction ends a grant early), but only a
    revocation, and nothing is written back to the ticket it names.
    """
    from ram_delegate.audit import install_redaction
    from ram_delegate.intake.service import run_job
    from ram_delegate.seal import verify_job

    install_redaction()
    current = deps or SLOT.get(instance).deps(context)
    if current.intake is None:
        logger.error("owner-onboard: an intake job arrived but no intake file is configured")
        return {"status": "dropped", "reason": "no intake file"}
    sealed = verify_job(current.settings.seal_keys, job)
    if not sealed and (job.get("decision") != "revoke" or job.get("notice") is not None):
        logger.error(
            "owner-onboard: refused an intake job without a valid seal (source %r, event %r)",
            str(job.get("source"))[:32],
            str(job.get("event_id"))[:128],
        )
        return {"status": "refused", "reason": "the job is not sealed by this function"}

    def apply(document: Mapping[str, Any]) -> Outcome:
        now = current.clock()  # the platform's clock when the job runs: a job's own times are its sender's word
        event = parse_event(document)
        if not sealed and not isinstance(event, RevokedEvent):
            raise InvalidInputError("an unsealed job may only revoke", problems=[Problem("type", event.type)])
        return _apply(event, at(current, now), now)

    return run_job(job, current.intake, apply, write_back=sealed)
