"""Parse RAM policy documents into typed objects, collecting every problem, and render them back.

Grammar (Alibaba RAM "Policy structure and syntax"): ``Version`` must be ``"1"``; ``Statement`` is a non-empty list
of objects with ``Effect`` (``Allow``/``Deny``), exactly one of ``Action``/``NotAction``, and — except in trust
policies — exactly one of ``Resource``/``NotResource``; ``Condition`` is optional. Trust policies instead carry a
``Principal`` (``RAM``/``Service``/``Federated``, or ``"*"``), only ``sts:AssumeRole*`` actions and no resource.
Sizes are the length of the JSON text as given (compact ``json.dumps`` for a mapping): 6,144 characters for custom
and trust policies, 2,048 for session policies, no limit for system policies (written by Alibaba, not us).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TypeGuard

from ram_delegate.errors import PolicyValidationError, Problem
from ram_delegate.policy.matching import SUPPORTED_OPERATORS, compile_condition
from ram_delegate.policy.model import (
    POLICY_VERSION,
    Condition,
    ConditionValue,
    PolicyDocument,
    PolicyKind,
    Principals,
    Statement,
)

SIZE_LIMITS: dict[PolicyKind, int | None] = {"custom": 6144, "trust": 6144, "session": 2048, "system": None}

_ACTION = re.compile(r"\*|[A-Za-z0-9*?_-]+:[A-Za-z0-9*?_.-]+")
_ARN_PART = re.compile(r"[A-Za-z0-9*?_.-]*")
_ACCOUNT_PART = re.compile(r"[0-9*?]*")
_RAM_PRINCIPAL = re.compile(r"acs:ram::\d+:(root|user/[A-Za-z0-9._-]{1,64}|role/[A-Za-z0-9.@_-]{1,64})")
_FEDERATED_PRINCIPAL = re.compile(r"acs:ram::\d+:(saml-provider|oidc-provider)/[A-Za-z0-9._-]+")
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9.-]+\.aliyuncs\.com")
_TRUST_ACTIONS = frozenset({"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithoidc"})
_STATEMENT_KEYS = ("Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "Condition")
_PRINCIPAL_KEYS = {"RAM": "ram", "Service": "service", "Federated": "federated"}


def parse_policy(doc: str | bytes | Mapping[str, Any], kind: PolicyKind = "custom") -> PolicyDocument:
    """Validate a policy and return its typed form; raises ``PolicyValidationError`` listing every problem."""
    if isinstance(doc, bytes):
        try:
            doc = doc.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyValidationError("policy is not valid UTF-8", problems=[Problem("", "not UTF-8")]) from None
    if isinstance(doc, str):
        return _parse_text(doc, kind)
    try:
        size = len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PolicyValidationError("policy is not JSON-serialisable", problems=[Problem("", str(exc))]) from None
    return _parse_mapping(doc, kind, size)


@lru_cache(maxsize=1024)
def _parse_text(text: str, kind: PolicyKind) -> PolicyDocument:
    """Documents arrive as JSON text on every emulated call; the result is immutable, so it is cached."""
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except ValueError as exc:
        problem = Problem("", f"not valid JSON: {exc}")
        raise PolicyValidationError("policy is not valid JSON", problems=[problem]) from None
    if not isinstance(data, dict):
        raise PolicyValidationError("policy must be a JSON object", problems=[Problem("", "must be a JSON object")])
    return _parse_mapping(data, kind, len(text))


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Two parsers reading a duplicated key differently is how policy confusion starts: refuse it."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _parse_mapping(data: Mapping[str, Any], kind: PolicyKind, size: int) -> PolicyDocument:
    problems: list[Problem] = []
    limit = SIZE_LIMITS[kind]
    if limit is not None and size > limit:
        problems.append(Problem("", f"{kind} policy is {size} characters, over the {limit}-character limit"))
    problems.extend(Problem(str(key), "unknown key") for key in data if key not in ("Version", "Statement"))
    version = data.get("Version")
    if "Version" not in data:
        problems.append(Problem("Version", "missing"))
    elif version != POLICY_VERSION:
        problems.append(Problem("Version", f'must be the string "1", got {version!r}'))
    statements: list[Statement] = []
    raw_statements = data.get("Statement")
    if "Statement" not in data:
        problems.append(Problem("Statement", "missing"))
    elif not isinstance(raw_statements, list):
        problems.append(Problem("Statement", "must be a list of statements"))
    elif not raw_statements:
        problems.append(Problem("Statement", "must not be empty"))
    else:
        for index, raw in enumerate(raw_statements):
            statement = _parse_statement(raw, f"Statement[{index}]", kind, problems)
            if statement is not None:
                statements.append(statement)
    if problems:
        summary = "; ".join(str(p) for p in problems[:3]) + (" …" if len(problems) > 3 else "")
        raise PolicyValidationError(f"invalid {kind} policy: {summary}", problems=problems)
    return PolicyDocument(version=POLICY_VERSION, statements=tuple(statements))


def _parse_statement(raw: object, path: str, kind: PolicyKind, problems: list[Problem]) -> Statement | None:
    if not isinstance(raw, dict):
        problems.append(Problem(path, "must be an object"))
        return None
    before = len(problems)
    problems.extend(Problem(f"{path}.{key}", "unknown key") for key in raw if key not in _STATEMENT_KEYS)
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        reason = "missing" if "Effect" not in raw else f'must be "Allow" or "Deny", got {effect!r}'
        problems.append(Problem(f"{path}.Effect", reason))
    single: set[str] = set()
    actions = _string_list(raw, "Action", path, problems, single)
    not_actions = _string_list(raw, "NotAction", path, problems, single)
    if ("Action" in raw) == ("NotAction" in raw):
        problems.append(Problem(path, "needs exactly one of Action and NotAction"))
    for key, values in (("Action", actions), ("NotAction", not_actions)):
        for index, action in enumerate(values):
            reason = _action_problem(action, kind)
            if reason:
                problems.append(Problem(_item_path(path, key, index, key in single), reason))
    resources = _string_list(raw, "Resource", path, problems, single)
    not_resources = _string_list(raw, "NotResource", path, problems, single)
    principals = None
    if kind == "trust":
        problems.extend(
            Problem(f"{path}.{key}", "trust policy statements have no resource")
            for key in ("Resource", "NotResource")
            if key in raw
        )
        if "NotAction" in raw:
            problems.append(Problem(f"{path}.NotAction", "trust policy statements must name their actions"))
        if "Principal" not in raw:
            problems.append(Problem(f"{path}.Principal", "missing (trust policy statements name who may assume)"))
        else:
            principals = _parse_principals(raw["Principal"], f"{path}.Principal", problems)
    else:
        if "Principal" in raw:
            problems.append(Problem(f"{path}.Principal", "only allowed in trust policies"))
        if ("Resource" in raw) == ("NotResource" in raw):
            problems.append(Problem(path, "needs exactly one of Resource and NotResource"))
        for key, values in (("Resource", resources), ("NotResource", not_resources)):
            for index, resource in enumerate(values):
                reason = _resource_problem(resource)
                if reason:
                    problems.append(Problem(_item_path(path, key, index, key in single), reason))
    conditions = _parse_conditions(raw["Condition"], f"{path}.Condition", problems) if "Condition" in raw else ()
    if len(problems) > before:
        return None
    return Statement(
        effect="Allow" if effect == "Allow" else "Deny",
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principals=principals,
        conditions=conditions,
        single_valued=frozenset(single),
    )


def _item_path(path: str, key: str, index: int, single: bool) -> str:
    return f"{path}.{key}" if single else f"{path}.{key}[{index}]"


def _string_list(
    raw: Mapping[str, Any], key: str, path: str, problems: list[Problem], single: set[str]
) -> tuple[str, ...]:
    """A field that is one string or a non-empty list of strings; records in ``single`` which form was used."""
    if key not in raw:
        return ()
    value = raw[key]
    if isinstance(value, str):
        single.add(key)
        return (value,)
    if not isinstance(value, list) or not value:
        problems.append(Problem(f"{path}.{key}", "must be a string or a non-empty list of strings"))
        return ()
    bad = [Problem(f"{path}.{key}[{i}]", "must be a string") for i, v in enumerate(value) if not isinstance(v, str)]
    problems.extend(bad)
    return () if bad else tuple(value)


def _action_problem(action: str, kind: PolicyKind) -> str:
    if not _ACTION.fullmatch(action):
        if ":" not in action:
            return f"{action!r} has no service prefix (write it as service:Action, e.g. slb:DescribeLoadBalancers)"
        return f"{action!r} is not a valid action (service:Action with optional * and ? wildcards)"
    if kind == "trust" and action.lower() not in _TRUST_ACTIONS:
        return f"{action!r} is not an assume-role action (trust policies allow sts:AssumeRole)"
    return ""


def _resource_problem(resource: str) -> str:
    if resource == "*":
        return ""
    parts = resource.split(":", 4)
    if len(parts) != 5 or parts[0] != "acs":
        return f"{resource!r} is not an ARN of the form acs:<service>:<region>:<account>:<relative-id> (or *)"
    _, service, region, account, relative = parts
    if not service or not _ARN_PART.fullmatch(service):
        return f"{resource!r} has an invalid service segment"
    if not _ARN_PART.fullmatch(region):
        return f"{resource!r} has an invalid region segment"
    if not _ACCOUNT_PART.fullmatch(account):
        return f"{resource!r} has an invalid account segment (digits or wildcards)"
    if not relative:
        return f"{resource!r} has an empty relative id"
    return ""


def _parse_principals(raw: object, path: str, problems: list[Problem]) -> Principals | None:
    if raw == "*":
        return Principals(anyone=True, single_valued=frozenset({"*"}))
    if not isinstance(raw, dict) or not raw:
        problems.append(Problem(path, 'must be "*" or an object with RAM, Service or Federated'))
        return None
    before = len(problems)
    problems.extend(Problem(f"{path}.{key}", "unknown principal type") for key in raw if key not in _PRINCIPAL_KEYS)
    single: set[str] = set()
    fields: dict[str, tuple[str, ...]] = {}
    for key, attribute in _PRINCIPAL_KEYS.items():
        values = _string_list(raw, key, path, problems, single)
        fields[attribute] = values
        for index, value in enumerate(values):
            reason = _principal_problem(key, value)
            if reason:
                problems.append(Problem(_item_path(path, key, index, key in single), reason))
    if len(problems) > before:
        return None
    return Principals(
        ram=fields["ram"], service=fields["service"], federated=fields["federated"], single_valued=frozenset(single)
    )


def _principal_problem(kind: str, value: str) -> str:
    if value == "*" and kind == "RAM":
        return ""
    if kind == "RAM" and not _RAM_PRINCIPAL.fullmatch(value):
        return f"{value!r} is not acs:ram::<account>:root, :user/<name> or :role/<name>"
    if kind == "Service" and not _SERVICE_PRINCIPAL.fullmatch(value):
        return f"{value!r} is not a service principal like ecs.aliyuncs.com"
    if kind == "Federated" and not _FEDERATED_PRINCIPAL.fullmatch(value):
        return f"{value!r} is not acs:ram::<account>:saml-provider/<name> or :oidc-provider/<name>"
    return ""


def _parse_conditions(raw: object, path: str, problems: list[Problem]) -> tuple[Condition, ...]:
    if not isinstance(raw, dict) or not raw:
        problems.append(Problem(path, "must be a non-empty object of operator -> key -> values"))
        return ()
    conditions: list[Condition] = []
    for operator, block in raw.items():
        operator_path = f"{path}.{operator}"
        if operator not in SUPPORTED_OPERATORS:
            hint = " (IfExists variants are not supported)" if operator.endswith("IfExists") else ""
            problems.append(Problem(operator_path, f"unsupported condition operator {operator!r}{hint}"))
            continue
        if not isinstance(block, dict) or not block:
            problems.append(Problem(operator_path, "must be a non-empty object of key -> values"))
            continue
        for key, value in block.items():
            condition = _parse_condition(operator, key, value, f"{operator_path}.{key}", problems)
            if condition is not None:
                conditions.append(condition)
    return tuple(conditions)


def _parse_condition(operator: str, key: str, value: object, path: str, problems: list[Problem]) -> Condition | None:
    if not key:
        problems.append(Problem(path, "condition key must not be empty"))
        return None
    single = not isinstance(value, list)
    raw_values: list[object] = list(value) if isinstance(value, list) else [value]
    values = [v for v in raw_values if _is_condition_value(v)]
    if not raw_values:
        problems.append(Problem(path, "must be a value or a non-empty list of values"))
        return None
    if len(values) != len(raw_values):
        problems.append(Problem(path, "values must be strings, numbers or booleans"))
        return None
    condition = Condition(operator=operator, key=key, values=tuple(values), single_valued=single)
    try:
        compile_condition(condition)  # validates the values for the operator and keeps the compiled form
    except (ValueError, OverflowError, OSError) as exc:
        problems.append(Problem(path, f"{operator}: {exc}"))
        return None
    return condition


def _is_condition_value(value: object) -> TypeGuard[ConditionValue]:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def same_policy(text: str | None, wanted: PolicyDocument, kind: PolicyKind = "custom") -> bool:
    """Whether a document as RAM returns it (possibly reformatted) means ``wanted``; absent or invalid text does not."""
    if text is None:
        return False
    try:
        return parse_policy(text, kind=kind) == wanted
    except PolicyValidationError:
        return False


def render(doc: PolicyDocument) -> dict[str, Any]:
    """The JSON-ready form; lists keep their order and single strings stay strings, as they were parsed."""
    return {"Version": doc.version, "Statement": [_render_statement(s) for s in doc.statements]}


def to_json(doc: PolicyDocument) -> str:
    """Compact, deterministic JSON text (what is sent to CreatePolicy / CreateRole)."""
    return json.dumps(render(doc), separators=(",", ":"), ensure_ascii=False)


def _render_statement(statement: Statement) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": statement.effect}
    fields = (
        ("Action", statement.actions),
        ("NotAction", statement.not_actions),
        ("Resource", statement.resources),
        ("NotResource", statement.not_resources),
    )
    for key, values in fields:
        if values:
            out[key] = _render_values(values, key in statement.single_valued)
    if statement.principals is not None:
        out["Principal"] = _render_principals(statement.principals)
    if statement.conditions:
        block: dict[str, dict[str, Any]] = {}
        for condition in statement.conditions:
            single = condition.single_valued and len(condition.values) == 1
            rendered = condition.values[0] if single else list(condition.values)
            block.setdefault(condition.operator, {})[condition.key] = rendered
        out["Condition"] = block
    return out


def _render_values(values: tuple[str, ...], single: bool) -> str | list[str]:
    return values[0] if single and len(values) == 1 else list(values)


def _render_principals(principals: Principals) -> str | dict[str, Any]:
    if principals.anyone:
        return "*"
    out: dict[str, Any] = {}
    for key, attribute in _PRINCIPAL_KEYS.items():
        values: tuple[str, ...] = getattr(principals, attribute)
        if values:
            out[key] = _render_values(values, key in principals.single_valued)
    return out
