"""Typed, immutable RAM policy documents.

A parsed document is a tree of frozen dataclasses, so it can be shared between threads, cached and compared.
Fields that Alibaba accepts either as one string or as a list are stored as tuples; ``single_valued`` remembers which
ones were written as a single string so that ``render`` gives back the document as it was written. It takes no part
in equality: ``"Action": "ecs:*"`` and ``"Action": ["ecs:*"]`` mean the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

PolicyKind = Literal["custom", "session", "trust", "system"]
Effect = Literal["Allow", "Deny"]
ConditionValue = str | int | float | bool
# What a request context may hold: list values are multi-valued keys.
ContextValue = str | bool | int | float | datetime | Sequence[str]

POLICY_VERSION = "1"


@dataclass(frozen=True)
class Condition:
    """One ``operator -> key -> values`` entry; the values are OR-ed."""

    operator: str
    key: str
    values: tuple[ConditionValue, ...]
    single_valued: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True)
class Principals:
    """The ``Principal`` of a trust statement; ``anyone`` is the bare ``"Principal": "*"``."""

    ram: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    anyone: bool = False
    single_valued: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class Statement:
    """One statement. Exactly one of actions/not_actions is set; resources/not_resources are empty in trust policies."""

    effect: Effect
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: Principals | None = None
    conditions: tuple[Condition, ...] = ()
    single_valued: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class PolicyDocument:
    """A whole policy: the version (always ``"1"``) and its statements in document order."""

    version: str
    statements: tuple[Statement, ...]
