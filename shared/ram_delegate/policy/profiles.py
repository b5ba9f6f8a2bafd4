"""Access profiles: what a grant lets the partner do, how it may be scoped, and how the verifier proves it.

A profile names actions on a region-wide resource template (``{region}`` and ``{account_id}`` placeholders) and,
optionally, actions on named instances (``instances``: an ARN template with an ``{id}`` placeholder and the id format
of its product). ``scoping`` says whether a grant of the profile accepts, requires or refuses ``resource_ids`` and
whether it accepts a resource group. ``probes`` name one read that must succeed under an active grant and the calls
that must be refused; every probe call is in ``PROBE_CALLS`` (reads, or writes the API can dry-run), so a probe
never changes anything.

The bundled catalog is ``profiles.json`` beside this module; operators add profiles in the same format
(``RAM_DELEGATE_PROFILES_FILE``). Every profile is linted, as each access policy it can build, when it is loaded: a
profile that fails never loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ram_delegate.errors import ConfigurationError, InvalidInputError, PolicyLintError, PolicyValidationError, Problem
from ram_delegate.policy.lint import Finding, lint, lint_profile, raise_for_errors
from ram_delegate.policy.parsing import parse_policy

IdScoping = Literal["accept", "require", "refuse"]
GroupScoping = Literal["accept", "refuse"]
ProbeTarget = Literal["grant", "other_region", "outside_group", "unlisted"]
CallKind = Literal["list", "instance"]

PROBE_CALLS: Mapping[str, CallKind] = {
    "slb:DescribeLoadBalancers": "list",
    "slb:DescribeLoadBalancerAttribute": "instance",
    "alb:ListLoadBalancers": "list",
    "alb:UpdateLoadBalancerAttribute": "instance",
    "nlb:ListLoadBalancers": "list",
    "nlb:UpdateLoadBalancerAttribute": "instance",
    "ecs:DescribeInstances": "list",
    "ecs:StopInstance": "instance",
}
"""The calls a probe may make: reads, and writes sent with ``DryRun=true`` (the runner lives in ``probes.py``)."""
PROBE_TARGETS: tuple[ProbeTarget, ...] = ("grant", "other_region", "outside_group", "unlisted")
EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_TEMPLATE_FIELDS = ("region", "account_id")
_PROFILE_KEYS = ("description", "actions", "resource_template", "instances", "companions", "scoping", "probes")
# Stand-ins used only to lint a profile as the policies it can build.
_LINT_REGION, _LINT_ACCOUNT = "cn-hangzhou", "1000000000000000"
_LINT_EXPIRY = datetime(2030, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class InstanceScope:
    """Actions on named instances: ``arn_template`` has ``{region}``, ``{account_id}`` and ``{id}`` placeholders."""

    arn_template: str
    id_pattern: str
    actions: tuple[str, ...]

    def arn(self, *, region: str, account_id: str, resource_id: str) -> str:
        return self.arn_template.format(region=region, account_id=account_id, id=resource_id)


@dataclass(frozen=True)
class Companion:
    """A second resource an action is checked on (SLB backend changes are checked on the ECS instance too)."""

    actions: tuple[str, ...]
    resource_template: str


@dataclass(frozen=True)
class Probe:
    call: str
    target: ProbeTarget = "grant"


@dataclass(frozen=True)
class AccessProfile:
    """A named set of actions on a resource template with ``{region}`` and ``{account_id}`` placeholders."""

    name: str
    description: str
    actions: tuple[str, ...]
    resource_template: str
    instances: InstanceScope | None = None
    companions: tuple[Companion, ...] = ()
    resource_ids: IdScoping = "refuse"
    resource_group: GroupScoping = "accept"
    positive_probe: Probe | None = None
    negative_probes: tuple[Probe, ...] = ()

    def resource(self, *, region: str, account_id: str) -> str:
        """The profile's resource ARN in one region of one account."""
        return self.resource_template.format(region=region, account_id=account_id)

    @property
    def products(self) -> tuple[str, ...]:
        """The RAM codes of the services the profile's actions belong to."""
        actions = [*self.actions, *(self.instances.actions if self.instances else ())]
        return tuple(sorted({action.split(":", 1)[0] for action in actions}))

    @property
    def all_actions(self) -> tuple[str, ...]:
        seen = [*self.actions, *(self.instances.actions if self.instances else ())]
        seen += [action for companion in self.companions for action in companion.actions]
        return tuple(dict.fromkeys(seen))

    @property
    def scoping(self) -> str:
        """One line for tables: region always, then what the profile says about groups and ids."""
        ids = {"accept": "ids optional", "require": "ids required", "refuse": "no ids"}[self.resource_ids]
        group = "group optional" if self.resource_group == "accept" else "no group"
        return f"region, {group}, {ids}"


def format_expiry(expires_at: datetime) -> str:
    """The expiry as written into ``acs:CurrentTime`` conditions (UTC, second precision)."""
    if expires_at.tzinfo is None:
        raise InvalidInputError("expires_at must be timezone-aware", problems=[Problem("expires_at", "naive datetime")])
    return expires_at.astimezone(timezone.utc).strftime(EXPIRY_FORMAT)


def access_document(
    profile: AccessProfile, *, account_id: str, region: str, expires_at: datetime, resource_ids: Sequence[str] = ()
) -> dict[str, Any]:
    """The access policy of a grant as JSON: region-wide actions, instance actions, companions; all until expiry."""
    condition = {"DateLessThan": {"acs:CurrentTime": format_expiry(expires_at)}}
    statements: list[dict[str, Any]] = []
    if profile.actions:
        statements.append(
            {
                "Effect": "Allow",
                "Action": list(profile.actions),
                "Resource": profile.resource(region=region, account_id=account_id),
                "Condition": condition,
            }
        )
    if profile.instances is not None:
        ids = list(resource_ids) or ["*"]  # "accept" without ids: every instance of the region
        arns = [profile.instances.arn(region=region, account_id=account_id, resource_id=item) for item in ids]
        statements.append(
            {
                "Effect": "Allow",
                "Action": list(profile.instances.actions),
                "Resource": arns if len(arns) > 1 else arns[0],
                "Condition": condition,
            }
        )
    statements.extend(
        {
            "Effect": "Allow",
            "Action": list(companion.actions),
            "Resource": companion.resource_template.format(region=region, account_id=account_id),
            "Condition": condition,
        }
        for companion in profile.companions
    )
    return {"Version": "1", "Statement": statements}


def scope_problems(
    profile: AccessProfile, *, resource_group_id: str | None, resource_ids: Sequence[str] | None
) -> list[Problem]:
    """What a grant's scope breaks of the profile's declarations (paths as in an approved event)."""
    problems: list[Problem] = []
    path = "data.access.resource_ids"
    if resource_group_id and profile.resource_group == "refuse":
        problems.append(Problem("data.access.resource_group_id", f"profile {profile.name} refuses a resource group"))
    if resource_ids:
        if profile.resource_ids == "refuse" or profile.instances is None:
            problems.append(Problem(path, f"profile {profile.name} refuses resource_ids"))
        else:
            pattern = re.compile(profile.instances.id_pattern)
            problems.extend(
                Problem(f"{path}[{index}]", f"not an id of this profile's product ({profile.instances.id_pattern})")
                for index, item in enumerate(resource_ids)
                if not pattern.fullmatch(item)
            )
    elif profile.resource_ids == "require":
        problems.append(Problem(path, f"profile {profile.name} requires resource_ids (the instances it may touch)"))
    return problems


# --- loading -----------------------------------------------------------------------------------------------------


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


def _strings(raw: object, path: str, problems: list[Problem], *, allow_empty: bool = False) -> tuple[str, ...]:
    items = tuple(a for a in raw if isinstance(a, str)) if isinstance(raw, list) else ()
    if not isinstance(raw, list) or len(items) != len(raw) or (not items and not allow_empty):
        problems.append(Problem(path, "must be a non-empty list of strings"))
    return items


def _template(raw: object, path: str, problems: list[Problem], fields: tuple[str, ...] = _TEMPLATE_FIELDS) -> str:
    if not isinstance(raw, str):
        problems.append(Problem(path, "must be a string"))
        return ""
    try:
        raw.format(**dict.fromkeys(fields, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        allowed = " and ".join(f"{{{name}}}" for name in fields)
        problems.append(Problem(path, f"only {allowed} placeholders are allowed ({exc.__class__.__name__}: {exc})"))
    return raw


def _profile_from_mapping(name: str, raw: object, problems: list[Problem]) -> AccessProfile | None:
    path = f"profiles.{name}"
    before = len(problems)
    if not _PROFILE_NAME.fullmatch(name):
        problems.append(Problem(path, "profile names are lower-case letters, digits and hyphens"))
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be an object"))
        return None
    problems.extend(Problem(f"{path}.{key}", "unknown key") for key in raw if key not in _PROFILE_KEYS)
    description = raw.get("description")
    if not isinstance(description, str) or not description:
        problems.append(Problem(f"{path}.description", "must be a non-empty string"))
        description = ""
    instances = _instances(raw.get("instances"), f"{path}.instances", problems)
    actions = _strings(raw.get("actions", []), f"{path}.actions", problems, allow_empty=instances is not None)
    template = _template(raw.get("resource_template", ""), f"{path}.resource_template", problems)
    if actions and not template:
        problems.append(Problem(f"{path}.resource_template", "actions need a resource template"))
    companions = _companions(raw.get("companions", []), f"{path}.companions", problems)
    ids, group = _scoping(raw.get("scoping", {}), f"{path}.scoping", problems)
    if ids != "refuse" and instances is None:
        problems.append(Problem(f"{path}.scoping.resource_ids", "accepting ids needs an 'instances' section"))
    positive, negatives = _probes(raw.get("probes"), f"{path}.probes", problems)
    if len(problems) > before:
        return None
    return AccessProfile(
        name=name,
        description=description,
        actions=actions,
        resource_template=template,
        instances=instances,
        companions=companions,
        resource_ids=ids,
        resource_group=group,
        positive_probe=positive,
        negative_probes=negatives,
    )


def _instances(raw: object, path: str, problems: list[Problem]) -> InstanceScope | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) != {"arn_template", "id_pattern", "actions"}:
        problems.append(Problem(path, "must be an object with arn_template, id_pattern and actions"))
        return None
    template = _template(raw["arn_template"], f"{path}.arn_template", problems, (*_TEMPLATE_FIELDS, "id"))
    if "{id}" not in template:
        problems.append(Problem(f"{path}.arn_template", "must contain the {id} placeholder"))
    pattern = raw["id_pattern"]
    try:
        re.compile(pattern if isinstance(pattern, str) else "(")
    except re.error:
        problems.append(Problem(f"{path}.id_pattern", "must be a regular expression"))
        pattern = ""
    if isinstance(pattern, str) and (pattern.startswith(".") or "*" in pattern or not pattern):
        problems.append(Problem(f"{path}.id_pattern", "must pin the product's id prefix and bound its length"))
    actions = _strings(raw["actions"], f"{path}.actions", problems)
    return InstanceScope(arn_template=template, id_pattern=str(pattern), actions=actions)


def _companions(raw: object, path: str, problems: list[Problem]) -> tuple[Companion, ...]:
    if not isinstance(raw, list):
        problems.append(Problem(path, "must be a list"))
        return ()
    companions: list[Companion] = []
    for index, item in enumerate(raw):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping) or set(item) != {"actions", "resource_template"}:
            problems.append(Problem(where, "must be an object with actions and resource_template"))
            continue
        actions = _strings(item["actions"], f"{where}.actions", problems)
        companions.append(
            Companion(actions, _template(item["resource_template"], f"{where}.resource_template", problems))
        )
    return tuple(companions)


def _scoping(raw: object, path: str, problems: list[Problem]) -> tuple[IdScoping, GroupScoping]:
    if not isinstance(raw, Mapping) or not set(raw) <= {"resource_ids", "resource_group"}:
        problems.append(Problem(path, "must be an object with resource_ids and/or resource_group"))
        return "refuse", "accept"
    ids, group = raw.get("resource_ids", "refuse"), raw.get("resource_group", "accept")
    if ids not in ("accept", "require", "refuse"):
        problems.append(Problem(f"{path}.resource_ids", "must be accept, require or refuse"))
        ids = "refuse"
    if group not in ("accept", "refuse"):
        problems.append(Problem(f"{path}.resource_group", "must be accept or refuse"))
        group = "accept"
    return ids, group


def _probe(raw: object, path: str, problems: list[Problem]) -> Probe | None:
    if not isinstance(raw, Mapping) or not set(raw) <= {"call", "target"} or "call" not in raw:
        problems.append(Problem(path, "must be an object with call (and target)"))
        return None
    call, target = raw["call"], raw.get("target", "grant")
    if call not in PROBE_CALLS:
        problems.append(Problem(f"{path}.call", f"unknown probe call (known: {', '.join(sorted(PROBE_CALLS))})"))
        return None
    if target not in PROBE_TARGETS:
        problems.append(Problem(f"{path}.target", f"must be one of {', '.join(PROBE_TARGETS)}"))
        return None
    if target == "unlisted" and PROBE_CALLS[call] != "instance":
        problems.append(Problem(f"{path}.target", "only an instance call can probe an unlisted instance"))
        return None
    return Probe(call=str(call), target=target)


def _probes(raw: object, path: str, problems: list[Problem]) -> tuple[Probe | None, tuple[Probe, ...]]:
    """Probes are optional for operator profiles (the verifier then reports the grant as unprobed)."""
    if raw is None:
        return None, ()
    if not isinstance(raw, Mapping) or not set(raw) <= {"positive", "negative"} or "positive" not in raw:
        problems.append(Problem(path, "must be an object with positive (and negative)"))
        return None, ()
    positive = _probe(raw["positive"], f"{path}.positive", problems)
    if positive is not None and positive.target != "grant":
        problems.append(Problem(f"{path}.positive.target", "the positive probe runs on the grant's own scope"))
    negatives_raw = raw.get("negative", [])
    if not isinstance(negatives_raw, list):
        problems.append(Problem(f"{path}.negative", "must be a list"))
        return positive, ()
    negatives = [_probe(item, f"{path}.negative[{i}]", problems) for i, item in enumerate(negatives_raw)]
    return positive, tuple(probe for probe in negatives if probe is not None)


def profile_findings(profile: AccessProfile) -> list[Finding]:
    """The profile rules (``lint_profile``) over every (actions, template) pair the profile holds."""
    findings: list[Finding] = []
    if profile.actions:
        findings += lint_profile(profile.actions, profile.resource_template)
    if profile.instances is not None:
        findings += lint_profile(profile.instances.actions, profile.instances.arn_template, path="instances.")
    for index, companion in enumerate(profile.companions):
        findings += lint_profile(companion.actions, companion.resource_template, path=f"companions[{index}].")
    return findings


def _lint_profile(profile: AccessProfile, source: str) -> None:
    """A profile that breaks a profile rule, or whose access policy (account-wide, and on named instances) would not
    validate or lint, never loads; every problem is listed, each naming its rule."""
    refused = [f for f in profile_findings(profile) if f.severity == "error"]
    problems = [Problem(f"profiles.{profile.name}.{f.path}", f"{f.rule_id}: {f.message}") for f in refused]
    summary = ", ".join(sorted({f.rule_id for f in refused}))
    shapes: list[Sequence[str]] = [()]
    if profile.instances is not None:
        shapes.append(["lint-probe-0001", "lint-probe-0002"])
    try:
        for ids in shapes:
            document = access_document(
                profile, account_id=_LINT_ACCOUNT, region=_LINT_REGION, expires_at=_LINT_EXPIRY, resource_ids=ids
            )
            policy = parse_policy(document, kind="custom")
            raise_for_errors(lint(policy, kind="custom", time_bound=True), f"access policy of profile {profile.name!r}")
    except (PolicyLintError, PolicyValidationError) as exc:
        problems.extend(exc.problems)
        summary = f"{summary}; {exc.message}" if summary else exc.message
    if problems:
        message = f"access profile {profile.name!r} in {source} refused: {summary}"
        raise PolicyLintError(message, problems=problems)
