"""The owner side (account A): grant on ``partner.access.approved`` (``grant``), revoke on ``partner.access.revoked``
(``revoke``), and the expiry sweep (``sweep``); ``state`` reads a ticket's grant and retires it.

State lives in RAM tags (``ram_delegate.grants``). Per ticket: role ``rd-<slug>``, access policy
``rd-access-<slug>``, and after a revocation or expiry a never-attached tombstone policy ``rd-tomb-<slug>`` that
records the time approvals must be newer than. Tickets that differ only in case or punctuation map to the same names;
the second one is refused (422), never merged.

Why a revocation always wins, although RAM has no conditional writes:

* The revocation retires in rounds: cut access, delete, record the tombstone (T), then observe again, until an
  observation made after T finds nothing of the grant. It answers 2xx only then; if that observation finds a role or
  access policy with the ticket's names and our tags but no seal it can verify (a forgery, or a seal key it does not
  hold), which it may not touch, it answers 503 with a critical alert instead.
* The approval, after its last write, reads the ticket's tombstone once more (C). If C sees a tombstone the approval
  is not newer than, the approval retires everything of the ticket itself and answers ``stale``. If C does not see
  it, C happened before T, so all the approval's writes happened before T, and the revocation's final observation
  (after T) finds and retires them.
* Either way, once the revocation has answered 2xx no access remains, and no approval older than it creates any
  later: the tombstone refuses it at its first read and, should it slip past that read, at C.
* Approvals stamped more than the webhook tolerance ahead of the clock, or older than the maximum event age, are
  refused; tombstones outlive that age (checked at start-up), so no replay can outlast its ticket's tombstone.
"""

from ram_delegate.owner import scoped  # noqa: F401 (lets plan.execute run the Resource Manager steps)
from ram_delegate.owner.grant import KNOWN_REGIONS, handle_approved, validate_approved
from ram_delegate.owner.revoke import handle_revoked
from ram_delegate.owner.sweep import sweep_owner

__all__ = ["KNOWN_REGIONS", "handle_approved", "handle_revoked", "sweep_owner", "validate_approved"]
