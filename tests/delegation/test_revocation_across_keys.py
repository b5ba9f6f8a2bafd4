"""A revocation by an instance that does not hold the key a racing approval sealed with (a seal key rotation it has
not seen yet) never answers 2xx while that grant stays: it either finds nothing left, or answers 503 (the sender
retries) because what it found is not verifiably its own to delete. Interleavings forced at the SDK seam."""

from __future__ import annotations

from typing import Any

import pytest
from race_support import Gate, access_open, run_in_thread

from ram_delegate import owner
from ram_delegate.cloud import Credentials
from ram_delegate.errors import RetryableCloudError

NEW_SEAL = "seal-rotated-secret-fedcba9876543210"


@pytest.mark.parametrize("after", range(1, 9))
def test_a_revocation_that_cannot_verify_a_racing_grant_never_answers_2xx_while_it_stays(
    gate: Gate,
    owner_deps: Any,
    partner_deps: Any,
    make_owner_deps: Any,
    approved: Any,
    revoked: Any,
    now: Any,
    owner_root: Any,
    alice: Credentials,
    after: int,
) -> None:
    approver = make_owner_deps(seal_secret=NEW_SEAL, seal_previous_secrets=(owner_deps.settings.seal_secret,))
    approver.notifier.forward_to = owner_deps.notifier.forward_to = partner_deps
    gate.arm("revocation", after)  # the revoker holds only the old key
    thread, revocation = run_in_thread("revocation", lambda: owner.handle_revoked(revoked(at=60), owner_deps, now=now))
    gate.paused.wait(10)
    approval = owner.handle_approved(approved(), approver, now=now)
    gate.release.set()
    thread.join(30)

    answer = revocation["value"]
    if isinstance(answer, RetryableCloudError):
        assert "may remain" in str(answer) or "kept changing" in str(answer)
    else:
        assert getattr(answer, "status", None) == "applied", revocation
        assert not access_open(partner_deps, owner_root, alice), f"2xx with access left ({approval.status})"
