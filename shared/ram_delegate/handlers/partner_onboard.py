"""partner-onboard: granted -> the partner user and its assume policy; a forwarded revocation -> detach it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ram_delegate.errors import InvalidInputError, Problem
from ram_delegate.events import GRANTED, REVOKED, GrantedEvent, RevokedEvent
from ram_delegate.handlers.common import Event, InstanceSlot, serve_webhook

if TYPE_CHECKING:
    from ram_delegate.deps import Deps
    from ram_delegate.fc import HttpRequest
    from ram_delegate.instance import WarmInstance
    from ram_delegate.outcome import Outcome

ACCEPTED = frozenset({GRANTED, REVOKED})
SLOT = InstanceSlot("partner", webhook=True)


def partner_onboard(
    event: bytes, context: object, *, deps: Deps | None = None, instance: WarmInstance | None = None
) -> dict[str, Any]:
    """The handler: the owner's signed deliveries."""
    return serve_webhook(SLOT, event, context, deps, instance, accepted=ACCEPTED, dispatch=_dispatch)


def _dispatch(
    event: Event,
    request: HttpRequest,
    deps: Deps,
    now: datetime,
    signer: str | None,
) -> Outcome:
    """``signer``: the owner account whose own secret signed the delivery (None for a shared secret)."""
    from ram_delegate.partner import handle_granted, handle_revoked_forward

    dry_run = deps.settings.dry_run
    if isinstance(event, RevokedEvent):
        if signer is not None:  # an owner's own secret signed it: it revokes that owner's grants, whatever it names
            event = event.model_copy(update={"data": event.data.model_copy(update={"owner_account_id": signer})})
        return handle_revoked_forward(event, deps, now=now, dry_run=dry_run)
    if not isinstance(event, GrantedEvent):
        raise InvalidInputError("the partner does not accept this event", problems=[Problem("type", event.type)])
    from ram_delegate.partner_trust import check_signer

    check_signer(event, deps.settings, signer)
    return handle_granted(event, deps, now=now, dry_run=dry_run)
