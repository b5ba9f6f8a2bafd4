"""Precompiled matchers for actions, resources and conditions.

Policies are evaluated on every emulated API call, so each pattern is translated to a regular expression once
(``lru_cache`` shares them between documents) and each statement keeps its compiled form. Wildcards: ``*`` is any
run of characters, ``?`` exactly one. Actions match case-insensitively. Resources match case-sensitively and segment
by segment: a wildcard in the service, region or account segment never crosses a ``:``, so ``acs:ecs:*:123:*`` cannot
match a resource of another account; in the relative id (the fifth segment) wildcards match anything.

Condition semantics (see ``ram_delegate.policy.evaluation`` for the order of evaluation):

* values of one key are OR-ed; keys and operators are AND-ed by the caller;
* a key absent from the request context fails closed, whichever way closed is: in an Allow statement the condition
  does not hold (positive and negated operators alike), in a Deny statement a negated operator holds (so
  ``Deny ... StringNotEquals sts:ExternalId`` refuses a request without an ExternalId) and a positive one does not.
  Alibaba does not document absent keys; AWS treats a negated operator on an absent key as true in both effects,
  which would let an Allow guarded by ``StringNotEquals`` pass a request that never sent the key;
* a context value of the wrong type (``"abc"`` for a Numeric operator, a naive datetime) never matches either;
* a list context value matches a positive operator when any element matches, a negated one when no element matches.
"""

from __future__ import annotations

import ipaddress
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ram_delegate.policy.model import Condition, ConditionValue, ContextValue, Statement

_ARN_SEGMENTS = 5
_IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _translate(pattern: str, star: str, question: str) -> str:
    """Regex body for one wildcard pattern; everything but ``*`` and ``?`` is literal."""
    return "".join(star if ch == "*" else question if ch == "?" else re.escape(ch) for ch in pattern)


@lru_cache(maxsize=4096)
def action_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive regex matching any of the action patterns."""
    body = "|".join(f"(?:{_translate(p, '.*', '.')})" for p in patterns)
    return re.compile(body or "(?!)", re.IGNORECASE | re.DOTALL)


def _resource_body(pattern: str) -> str:
    if pattern == "*":
        return ".*"
    segments = pattern.split(":", _ARN_SEGMENTS - 1)
    head = [_translate(s, "[^:]*", "[^:]") for s in segments[:-1]]
    return ":".join([*head, _translate(segments[-1], ".*", ".")])


@lru_cache(maxsize=4096)
def resource_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One case-sensitive regex matching any of the resource patterns, segment by segment."""
    return re.compile("|".join(f"(?:{_resource_body(p)})" for p in patterns) or "(?!)", re.DOTALL)


@lru_cache(maxsize=4096)
def string_like_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """``StringLike`` patterns: plain wildcards, case-sensitive."""
    return re.compile("|".join(f"(?:{_translate(p, '.*', '.')})" for p in patterns) or "(?!)", re.DOTALL)


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(_translate(pattern, ".*", "."), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_matches(pattern: str, text: str, *, ignore_case: bool = True) -> bool:
    """Whether one wildcard pattern matches a text (used by the linter on action names; the pattern is compiled
    once, as the linter tries each one against every escalation action)."""
    return _wildcard_regex(pattern, ignore_case).fullmatch(text) is not None


# --- condition values ------------------------------------------------------------------------------------------------


def parse_policy_date(value: ConditionValue) -> datetime:
    """A policy date: ISO-8601 with a time zone (``2026-01-01T00:00:00Z``) or epoch seconds (number or digits)."""
    if isinstance(value, bool):
        raise ValueError("a date must be an ISO-8601 string or epoch seconds")
    if isinstance(value, int | float):
        return _from_epoch(value)
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 date") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (write it as 2026-01-01T00:00:00Z)")
    return parsed


def _from_epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError("epoch seconds must be finite")
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def parse_policy_number(value: ConditionValue) -> float:
    """A policy number: a JSON number or a numeric string."""
    if isinstance(value, bool):
        raise ValueError("a number must be a JSON number or a numeric string")
    number = float(value)  # raises ValueError for non-numeric strings
    if not math.isfinite(number):
        raise ValueError("a number must be finite")
    return number


def parse_policy_bool(value: ConditionValue) -> bool:
    """A policy boolean: JSON ``true``/``false`` or the strings ``"true"``/``"false"`` in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{value!r} is not a boolean")


def parse_policy_network(value: ConditionValue) -> _IpNetwork:
    """A policy address: an IPv4/IPv6 address or CIDR block."""
    if not isinstance(value, str):
        raise ValueError("an address must be a string")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR block") from None


def policy_string(value: ConditionValue) -> str:
    """How a non-string policy value compares as a string (``true`` -> ``"true"``, ``3`` -> ``"3"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _context_items(value: ContextValue) -> Sequence[object]:
    """A context value as a list of scalars: lists are multi-valued keys, anything else one value."""
    if isinstance(value, str | bool | int | float | datetime):
        return (value,)
    return tuple(value)


def _context_string(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _context_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _context_date(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            return parse_policy_date(value)
        except (ValueError, OverflowError, OSError):
            return None
    return None


def _context_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _context_address(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


# --- operators -------------------------------------------------------------------------------------------------------

# A compiled condition converts each context element (None = not comparable, which never matches) and tests it
# against the policy values; a negated operator matches when every element is comparable and none passes the test.
_Convert = Callable[[object], Any]
_Predicate = Callable[[Any], bool]
_Factory = Callable[[tuple["ConditionValue", ...]], tuple[_Convert, _Predicate]]


def _strings(values: tuple[ConditionValue, ...], *, fold: bool) -> tuple[_Convert, _Predicate]:
    if fold:
        folded = frozenset(policy_string(v).casefold() for v in values)
        return _context_string, lambda text: text.casefold() in folded
    exact = frozenset(policy_string(v) for v in values)
    return _context_string, lambda text: text in exact


def _like(values: tuple[ConditionValue, ...]) -> tuple[_Convert, _Predicate]:
    regex = string_like_regex(tuple(policy_string(v) for v in values))
    return _context_string, lambda text: regex.fullmatch(text) is not None


def _bools(values: tuple[ConditionValue, ...]) -> tuple[_Convert, _Predicate]:
    wanted = frozenset(parse_policy_bool(v) for v in values)
    return _context_bool, lambda flag: flag in wanted


def _addresses(values: tuple[ConditionValue, ...]) -> tuple[_Convert, _Predicate]:
    networks = tuple(parse_policy_network(v) for v in values)
    return _context_address, lambda address: any(address in network for network in networks)


def _ordered(convert: _Convert, parse: Callable[[ConditionValue], Any], compare: Callable[[Any, Any], Any]) -> _Factory:
    def factory(values: tuple[ConditionValue, ...]) -> tuple[_Convert, _Predicate]:
        bounds = tuple(parse(v) for v in values)
        return convert, lambda item: any(compare(item, bound) for bound in bounds)

    return factory


def _build_operators() -> dict[str, tuple[_Factory, bool]]:
    """Operator name -> (factory of converter and predicate, negated)."""
    operators: dict[str, tuple[_Factory, bool]] = {
        "StringEquals": (lambda vs: _strings(vs, fold=False), False),
        "StringNotEquals": (lambda vs: _strings(vs, fold=False), True),
        "StringEqualsIgnoreCase": (lambda vs: _strings(vs, fold=True), False),
        "StringNotEqualsIgnoreCase": (lambda vs: _strings(vs, fold=True), True),
        "StringLike": (_like, False),
        "StringNotLike": (_like, True),
        "Bool": (_bools, False),
        "IpAddress": (_addresses, False),
        "NotIpAddress": (_addresses, True),
    }
    comparisons = {
        "Equals": operator.eq,
        "LessThan": operator.lt,
        "LessThanEquals": operator.le,
        "GreaterThan": operator.gt,
        "GreaterThanEquals": operator.ge,
    }
    for suffix, compare in comparisons.items():
        operators[f"Numeric{suffix}"] = (_ordered(_context_number, parse_policy_number, compare), False)
        operators[f"Date{suffix}"] = (_ordered(_context_date, parse_policy_date, compare), False)
    operators["NumericNotEquals"] = (operators["NumericEquals"][0], True)
    operators["DateNotEquals"] = (operators["DateEquals"][0], True)
    return operators


OPERATORS = _build_operators()
SUPPORTED_OPERATORS = frozenset(OPERATORS)


@dataclass(frozen=True)
class CompiledCondition:
    """A condition ready to test against a context whose keys are lower-cased."""

    key: str
    convert: _Convert
    predicate: _Predicate
    negated: bool

    def holds(self, context: Mapping[str, ContextValue], *, deny: bool = False) -> bool:
        """Whether the condition holds; ``deny`` says it guards a Deny, where a negated test of an absent key holds."""
        value = context.get(self.key)
        if value is None:
            return deny and self.negated
        converted = [self.convert(item) for item in _context_items(value)]
        if not converted:  # an empty list is no value at all
            return deny and self.negated
        if any(item is None for item in converted):
            return False
        passed = any(self.predicate(item) for item in converted)
        return not passed if self.negated else passed


def compile_condition(condition: Condition) -> CompiledCondition:
    """Compile one condition, once: the compiled form is kept on the (frozen) condition, as ``cached_property``
    would; raises ``ValueError`` on values the operator cannot use."""
    cached: CompiledCondition | None = condition.__dict__.get(_COMPILED)
    if cached is None:
        factory, negated = OPERATORS[condition.operator]
        convert, predicate = factory(condition.values)
        cached = CompiledCondition(key=condition.key.lower(), convert=convert, predicate=predicate, negated=negated)
        condition.__dict__[_COMPILED] = cached
    return cached


def matcher_of(statement: Statement) -> StatementMatcher:
    """A statement's compiled matchers, built on first evaluation and kept with the (frozen) statement."""
    cached: StatementMatcher | None = statement.__dict__.get(_COMPILED)
    if cached is None:
        cached = statement.__dict__[_COMPILED] = StatementMatcher.build(statement)
    return cached


# Where the compiled forms are kept on the model's objects: the model stays free of matching (no import circle).
_COMPILED = "_ram_delegate_compiled"


@dataclass(frozen=True)
class StatementMatcher:
    """A statement's compiled action, resource and condition tests."""

    action: re.Pattern[str]
    action_negated: bool
    resource: re.Pattern[str]
    resource_negated: bool
    has_resource: bool
    conditions: tuple[CompiledCondition, ...]
    deny: bool = False

    @classmethod
    def build(cls, statement: Statement) -> StatementMatcher:
        return cls(
            action=action_regex(statement.actions or statement.not_actions),
            action_negated=not statement.actions,
            resource=resource_regex(statement.resources or statement.not_resources),
            resource_negated=not statement.resources,
            has_resource=bool(statement.resources or statement.not_resources),
            conditions=tuple(compile_condition(c) for c in statement.conditions),
            deny=statement.effect == "Deny",
        )

    def matches_action(self, action: str) -> bool:
        return (self.action.fullmatch(action) is not None) != self.action_negated

    def matches_resource(self, resource: str) -> bool:
        return self.has_resource and (self.resource.fullmatch(resource) is not None) != self.resource_negated

    def conditions_hold(self, context: Mapping[str, ContextValue]) -> bool:
        return all(c.holds(context, deny=self.deny) for c in self.conditions)
