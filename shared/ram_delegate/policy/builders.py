"""Build the three policies ram-delegate creates, each lint-clean and time-bound, or refuse.

* owner trust policy (account A role): the named partner users (and optionally the partner's verifier role) may
  assume the role, with ``StringEquals sts:ExternalId`` and a ``DateLessThan acs:CurrentTime`` expiry;
* owner access policy (account A role): an access profile's actions on its resource template, same expiry;
* partner assume policy (account B user): ``sts:AssumeRole`` on exactly one role ARN, same expiry.

Access profiles (``profiles.py``) say which actions on which resources; the access policy is built from one of them,
in one region, optionally limited to named instances.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ram_delegate.errors import InvalidInputError, Problem
from ram_delegate.policy.lint import lint, raise_for_errors
from ram_delegate.policy.model import PolicyDocument
from ram_delegate.policy.parsing import parse_policy
from ram_delegate.policy.profiles import AccessProfile, access_document, format_expiry, scope_problems

_ACCOUNT_ID = re.compile(r"\d{1,32}")
_USER_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ROLE_ARN = re.compile(r"acs:ram::(\d{1,32}):role/[A-Za-z0-9.-]{1,64}")
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")
_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+)+")


def _expiry_condition(expires_at: datetime) -> dict[str, Any]:
    return {"DateLessThan": {"acs:CurrentTime": format_expiry(expires_at)}}


def _require(pattern: re.Pattern[str], value: str, path: str, what: str) -> list[Problem]:
    return [] if pattern.fullmatch(value) else [Problem(path, f"{value!r} is not a valid {what}")]


def _refuse_invalid(problems: list[Problem], subject: str) -> None:
    if problems:
        raise InvalidInputError(f"cannot build the {subject}: {problems[0]}", problems=problems)


def owner_trust_policy(
    *,
    partner_account_id: str,
    partner_users: Sequence[str],
    external_id: str,
    expires_at: datetime,
    verifier_role: str | None = None,
) -> PolicyDocument:
    """Trust policy of the owner's role: exactly the named partner users (and verifier role), ExternalId, expiry."""
    problems = _require(_ACCOUNT_ID, partner_account_id, "partner_account_id", "account id")
    for index, user in enumerate(partner_users):
        problems += _require(_USER_NAME, user, f"partner_users[{index}]", "RAM user name")
    if not _EXTERNAL_ID.fullmatch(external_id):  # the value is a shared secret of sorts: never echo it
        problems.append(Problem("external_id", "must be 2-1224 characters of letters, digits and +=,.@:/-_"))
    principals = [f"acs:ram::{partner_account_id}:user/{user}" for user in partner_users]
    if verifier_role is not None:
        match = _ROLE_ARN.fullmatch(verifier_role)
        if match is None:
            problems.append(Problem("verifier_role", f"{verifier_role!r} is not acs:ram::<account>:role/<name>"))
        elif match.group(1) != partner_account_id:
            problems.append(Problem("verifier_role", "the verifier role must belong to the partner account"))
        principals.append(verifier_role)
    if not principals:
        problems.append(Problem("partner_users", "name at least one partner user or a verifier role"))
    _refuse_invalid(problems, "owner trust policy")
    document = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"RAM": principals},
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}, **_expiry_condition(expires_at)},
            }
        ],
    }
    policy = parse_policy(document, kind="trust")
    raise_for_errors(lint(policy, kind="trust", time_bound=True), "owner trust policy")
    return policy


def owner_access_policy(
    *,
    profile: AccessProfile,
    owner_account_id: str,
    region: str,
    expires_at: datetime,
    resource_ids: Sequence[str] | None = None,
) -> PolicyDocument:
    """Access policy of the owner's role: the profile's actions in one region (on the named instances when the
    profile scopes to instances), until expiry. Ids the profile refuses, or a missing required list, are refused."""
    problems = _require(_ACCOUNT_ID, owner_account_id, "owner_account_id", "account id")
    problems += _require(_REGION, region, "region", "region id")
    problems += scope_problems(profile, resource_group_id=None, resource_ids=resource_ids)
    _refuse_invalid(problems, "owner access policy")
    document = access_document(
        profile, account_id=owner_account_id, region=region, expires_at=expires_at, resource_ids=resource_ids or ()
    )
    policy = parse_policy(document, kind="custom")
    raise_for_errors(lint(policy, kind="custom", time_bound=True), f"access policy of profile {profile.name!r}")
    return policy


def partner_assume_policy(*, role_arn: str, expires_at: datetime, allow_broad: bool = False) -> PolicyDocument:
    """The partner user's policy: ``sts:AssumeRole`` on exactly ``role_arn`` until expiry.

    ``allow_broad`` exists for call compatibility only: this builder never widens beyond one exact role ARN, so
    ``True`` is refused rather than silently ignored.
    """
    if allow_broad:
        raise InvalidInputError(
            "the partner assume policy always names exactly one role",
            problems=[Problem("allow_broad", "broad assume policies are never built")],
        )
    _refuse_invalid(_require(_ROLE_ARN, role_arn, "role_arn", "role ARN (acs:ram::<account>:role/<name>)"), "assume")
    document = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": role_arn,
                "Condition": _expiry_condition(expires_at),
            }
        ],
    }
    policy = parse_policy(document, kind="custom")
    raise_for_errors(lint(policy, kind="custom", time_bound=True), "partner assume policy")
    return policy


def partner_verifier_policy(*, owner_account_id: str, role_prefix: str = "rd-") -> PolicyDocument:
    """The partner verifier role's standing policy for one owner account: ``sts:AssumeRole`` on its grant roles.

    One such policy per owner account (not one per grant) keeps the verifier role within RAM's limit of 10 custom
    policies per role however many grants it checks. It is deliberately not time-bound: each grant's own trust
    policy names the verifier, requires the grant's ExternalId and carries the expiry, so the cloud still refuses
    an expired or revoked grant. Lint reports the role-name wildcard as a warning.
    """
    problems = _require(_ACCOUNT_ID, owner_account_id, "owner_account_id", "account id")
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,32}", role_prefix):
        problems.append(Problem("role_prefix", "expected a role-name prefix of letters, digits, '.' or '-'"))
    _refuse_invalid(problems, "partner verifier policy")
    document = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"acs:ram::{owner_account_id}:role/{role_prefix}*",
            }
        ],
    }
    policy = parse_policy(document, kind="custom")
    raise_for_errors(lint(policy, kind="custom"), "partner verifier policy")
    return policy
