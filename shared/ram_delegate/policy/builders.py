"""Build the three policies ram-delegate creates, each lint-clean and time-bound, or refuse.

* owner trust policy (account A role): the named partner users (and optionally the partner's verifier role) may
  assume the role, with ``StringEquals sts:ExternalId`` and a ``DateLessThan acs:CurrentTime`` expiry;
* owner access policy (account A role): an access profile's actions on its resource template, same expiry;
* partner assume policy (account B user): ``sts:AssumeRole`` on exactly one role ARN, same expiry.

Access profiles live in ``profiles.json`` beside this module; operators add their own with an extra file. Every
profile is linted, as the time-bound access policy it would build, when it is loaded: a profile that fails never
loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from ram_delegate.errors import ConfigurationError, InvalidInputError, PolicyLintError, PolicyValidationError, Problem
from ram_delegate.policy.lint import lint, lint_profile, raise_for_errors
from ram_delegate.policy.model import PolicyDocument
from ram_delegate.policy.parsing import parse_policy

EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ACCOUNT_ID = re.compile(r"\d{1,32}")
_USER_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ROLE_ARN = re.compile(r"acs:ram::(\d{1,32}):role/[A-Za-z0-9.-]{1,64}")
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")
_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+)+")
_PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_TEMPLATE_FIELDS = ("region", "account_id")
# Stand-ins used only to lint a profile as the policy it would build.
_LINT_REGION, _LINT_ACCOUNT = "cn-hangzhou", "1000000000000000"
_LINT_EXPIRY = datetime(2030, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class AccessProfile:
    """A named set of actions on a resource template with ``{region}`` and ``{account_id}`` placeholders."""

    name: str
    description: str
    actions: tuple[str, ...]
    resource_template: str

    def resource(self, *, region: str, account_id: str) -> str:
        """The profile's resource ARN in one region of one account."""
        return self.resource_template.format(region=region, account_id=account_id)


def format_expiry(expires_at: datetime) -> str:
    """The expiry as written into ``acs:CurrentTime`` conditions (UTC, second precision)."""
    if expires_at.tzinfo is None:
        raise InvalidInputError("expires_at must be timezone-aware", problems=[Problem("expires_at", "naive datetime")])
    return expires_at.astimezone(timezone.utc).strftime(EXPIRY_FORMAT)


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
    *, profile: AccessProfile, owner_account_id: str, region: str, expires_at: datetime
) -> PolicyDocument:
    """Access policy of the owner's role: the profile's actions on its resources in one region, until expiry."""
    problems = _require(_ACCOUNT_ID, owner_account_id, "owner_account_id", "account id")
    problems += _require(_REGION, region, "region", "region id")
    _refuse_invalid(problems, "owner access policy")
    document = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": list(profile.actions),
                "Resource": profile.resource(region=region, account_id=owner_account_id),
                "Condition": _expiry_condition(expires_at),
            }
        ],
    }
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


# --- access profiles -------------------------------------------------------------------------------------------------


def load_profiles(extra_file: str | Path | None = None) -> dict[str, AccessProfile]:
    """The built-in profiles plus an operator's file (same format); every profile is linted before it loads.

    Raises ``ConfigurationError`` for an unreadable or malformed file or a name defined twice, and
    ``PolicyLintError`` naming the profile whose policy would fail lint.
    """
    builtin = resources.files("ram_delegate.policy").joinpath("profiles.json").read_text(encoding="utf-8")
    profiles = _profiles_from_text(builtin, "built-in profiles.json")
    if extra_file is not None:
        source = str(extra_file)
        try:
            text = Path(extra_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read access profiles from {source}: {exc.__class__.__name__}") from None
        for name, profile in _profiles_from_text(text, source).items():
            if name in profiles:
                raise ConfigurationError(
                    f"access profile {name!r} in {source} is already defined",
                    problems=[Problem(f"profiles.{name}", "already defined")],
                )
            profiles[name] = profile
    return profiles


def _profiles_from_text(text: str, source: str) -> dict[str, AccessProfile]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{source} is not valid JSON", problems=[Problem("", str(exc))]) from None
    raw_profiles = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(raw_profiles, dict):
        raise ConfigurationError(f"{source} has no 'profiles' object", problems=[Problem("profiles", "missing")])
    problems: list[Problem] = []
    profiles: dict[str, AccessProfile] = {}
    for name, raw in raw_profiles.items():
        profile = _profile_from_mapping(name, raw, problems)
        if profile is not None:
            profiles[name] = profile
    if problems:
        raise ConfigurationError(f"{source} has invalid access profiles: {problems[0]}", problems=problems)
    for profile in profiles.values():
        _lint_profile(profile, source)
    return profiles


def _profile_from_mapping(name: str, raw: object, problems: list[Problem]) -> AccessProfile | None:
    path = f"profiles.{name}"
    before = len(problems)
    if not _PROFILE_NAME.fullmatch(name):
        problems.append(Problem(path, "profile names are lower-case letters, digits and hyphens"))
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be an object"))
        return None
    problems.extend(
        Problem(f"{path}.{key}", "unknown key")
        for key in raw
        if key not in ("description", "actions", "resource_template")
    )
    description, actions, template = raw.get("description"), raw.get("actions"), raw.get("resource_template")
    if not isinstance(description, str) or not description:
        problems.append(Problem(f"{path}.description", "must be a non-empty string"))
        description = ""
    action_names = tuple(a for a in actions if isinstance(a, str)) if isinstance(actions, list) else ()
    if not action_names or len(action_names) != len(actions or ()):
        problems.append(Problem(f"{path}.actions", "must be a non-empty list of strings"))
    if not isinstance(template, str):
        problems.append(Problem(f"{path}.resource_template", "must be a string"))
        template = ""
    elif (reason := _template_problem(template)) is not None:
        problems.append(Problem(f"{path}.resource_template", reason))
    if len(problems) > before:
        return None
    return AccessProfile(name=name, description=description, actions=action_names, resource_template=template)


def _template_problem(template: str) -> str | None:
    try:
        template.format(**dict.fromkeys(_TEMPLATE_FIELDS, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        return f"only {{region}} and {{account_id}} placeholders are allowed ({exc.__class__.__name__}: {exc})"
    return None


def _lint_profile(profile: AccessProfile, source: str) -> None:
    """A profile that breaks a profile rule, or whose access policy would not validate or lint, never loads."""
    refused = [f for f in lint_profile(profile.actions, profile.resource_template) if f.severity == "error"]
    problems = [Problem(f"profiles.{profile.name}.{f.path}", f"{f.rule_id}: {f.message}") for f in refused]
    summary = ", ".join(sorted({f.rule_id for f in refused}))
    try:
        owner_access_policy(
            profile=profile, owner_account_id=_LINT_ACCOUNT, region=_LINT_REGION, expires_at=_LINT_EXPIRY
        )
    except (PolicyLintError, PolicyValidationError) as exc:
        problems.extend(exc.problems)
        summary = f"{summary}; {exc.message}" if summary else exc.message
    if problems:
        message = f"access profile {profile.name!r} in {source} refused: {summary}"
        raise PolicyLintError(message, problems=problems)
