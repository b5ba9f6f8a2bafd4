"""The plan executor runs RAM's steps itself and other APIs' steps through runners their side adds: the owner package
adds Resource Manager's (so the partner's code, which never imports it, carries no Resource Manager client)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

import ram_delegate.owner  # noqa: F401 (what every owner handler imports first)
from ram_delegate import plan
from ram_delegate.cloud import CloudClients, WriteResult


def test_the_owner_package_adds_the_resource_manager_steps() -> None:
    assert {"AttachPolicy", "DetachPolicy"} <= set(plan._RUNNERS)


def _never(cloud: CloudClients, step: plan.Step) -> WriteResult:
    raise AssertionError("a RAM step must never reach another runner")


def test_rams_own_steps_cannot_be_given_another_runner() -> None:
    with pytest.raises(ValueError, match="DeleteRole"):
        plan.add_runners({"DeleteRole": _never})
    assert "DeleteRole" not in plan._RUNNERS


class _AnyApi:
    """Answers any call with the method's name: enough to see which API a step reaches."""

    def __getattr__(self, name: str) -> Any:
        return lambda *_args, **_kwargs: name


class _Cloud:
    ram = _AnyApi()


def test_every_step_ram_keeps_for_itself_is_one_it_runs() -> None:
    """The refusal in add_runners and the dispatch agree: each of RAM's steps reaches a RAM call."""
    for action in plan._RAM_STEPS:
        step = plan.Step(action, "acs:ram::1:role/rd-x", defaultdict(str))
        assert plan._dispatch(_Cloud(), step), action  # type: ignore[arg-type]
