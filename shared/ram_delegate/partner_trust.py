"""What partner-onboard trusts: named owner accounts, their ``rd-*`` roles, each owner's own forwarding secret.

The holder of a forwarding secret can ask the partner function for an assume policy; so the function accepts a
grant only when all of these hold:

* the owner account is on the allow-list (``RAM_DELEGATE_ALLOWED_OWNERS``, or the owners of
  ``RAM_DELEGATE_OWNER_SECRETS``); there is no default "any owner": an empty list refuses every grant;
* the role is an ``rd-*`` role *in that owner account* (never an administrator role that trusts this account);
* the request was signed with *that owner's* secret: ``RAM_DELEGATE_OWNER_SECRETS`` ties each secret to one owner,
  so one owner's secret cannot ask for another owner's roles. A plain ``RAM_DELEGATE_WEBHOOK_SECRET`` is accepted
  only when exactly one owner is allowed (it is then that owner's secret);
* a user that already exists and that ram-delegate did not create gets the assume policy only when the operator
  allows adopting existing users (``RAM_DELEGATE_ADOPT_EXISTING_USERS``, off by default); it is never deleted.

On the owner side, the forwarding secret (``RAM_DELEGATE_PARTNER_SECRET``) must be its own secret, never one of the
ticketing system's (``settings.py`` refuses the configuration).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from ram_delegate.errors import ConfigurationError, GuardrailError, InvalidInputError, Problem, SignatureError
from ram_delegate.events import GrantedEvent
from ram_delegate.seal import MAX_ENCRYPTED_PLAINTEXT
from ram_delegate.settings import Settings
from ram_delegate.webhook import verify_standard_webhook

_RD_ROLE = re.compile(r"acs:ram::(\d+):role/rd-[A-Za-z0-9.-]{1,61}")


def allowed_owners(settings: Settings) -> frozenset[str]:
    return frozenset(settings.allowed_owners) | {owner for owner, _secret in settings.owner_secrets}


def signing_owner(
    headers: Mapping[str, str], body: bytes, settings: Settings, *, now: datetime
) -> tuple[str, str | None]:
    """Verify a partner-side webhook: (webhook-id, the owner whose secret signed it, None for a shared secret).

    With per-owner secrets each owner's are tried in turn; the first that verifies names the owner. SignatureError
    when none does (401).
    """
    tolerance = settings.webhook_tolerance_seconds
    by_owner: dict[str, list[str]] = {}
    for owner, secret in settings.owner_secrets:
        by_owner.setdefault(owner, []).append(secret)
    for owner, secrets in sorted(by_owner.items()):
        try:
            return verify_standard_webhook(headers, body, secrets, now=now, tolerance=tolerance), owner
        except SignatureError:
            continue
    if settings.webhook_secrets:
        return verify_standard_webhook(headers, body, settings.webhook_secrets, now=now, tolerance=tolerance), None
    raise SignatureError("the webhook signature could not be verified")


def check_signer(event: GrantedEvent, settings: Settings, signer: str | None) -> None:
    """At the edge: the grant was signed by its own owner's secret (a shared secret only with a single owner)."""
    if signer is not None and signer != event.data.owner_account_id:
        raise SignatureError("the grant is not signed with its owner account's secret")
    if signer is None and len(allowed_owners(settings)) > 1:
        raise SignatureError("several owners are allowed: each must sign with its own secret")


def check_granted(event: GrantedEvent, settings: Settings) -> None:
    """Refuse a grant the partner must not trust (module docstring); every problem at once."""
    owners = allowed_owners(settings)
    if not owners:
        raise ConfigurationError(
            "no owner account is allowed: set RAM_DELEGATE_ALLOWED_OWNERS (or RAM_DELEGATE_OWNER_SECRETS)",
            problems=[Problem("allowed_owners", "required; there is no default")],
        )
    data = event.data
    problems: list[Problem] = []
    if data.owner_account_id not in owners:
        problems.append(Problem("data.owner_account_id", "the owner account is not on the allow-list"))
    match = _RD_ROLE.fullmatch(data.role_arn)
    if match is None or match.group(1) != data.owner_account_id:
        problems.append(Problem("data.role_arn", "must be an rd-* role of the owner account"))
    if settings.seal_secret and len(data.external_id) > MAX_ENCRYPTED_PLAINTEXT:
        problems.append(Problem("data.external_id", f"at most {MAX_ENCRYPTED_PLAINTEXT} characters (kept encrypted)"))
    if problems:
        raise InvalidInputError("the grant is not trusted", problems=problems)


def refuse_foreign_user(user: str, created_by_us: bool, settings: Settings) -> None:
    """A pre-existing user ram-delegate did not create is given an assume policy only when adoption is allowed."""
    if created_by_us or settings.adopt_existing_users:
        return
    raise GuardrailError(
        f"user {user} exists and was not created by ram-delegate; adopting existing users is off",
        problems=[Problem("data.partner.user", "an existing user (set RAM_DELEGATE_ADOPT_EXISTING_USERS to allow)")],
    )
