"""Plan, then execute: a plan is a list of Steps computed purely from (event, settings, now, observed cloud state).

The handlers compute the whole plan before the first write, so a dry run prints exactly what would happen, and an
empty plan is proof that the cloud already is in the intended state (a duplicate delivery writes nothing).
``execute`` runs the steps in order and writes one audit line per change. Every step is convergent on its own:
"already gone" on a delete or detach and "already there" on an attach count as done, so a run that crashed after any
single call can simply be run again. A create that finds its resource already there stops the run with
``CreateConflict``: the handler re-observes and re-plans, adopting the resource only if it carries our tags and
matches the plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ram_delegate.errors import AlreadyExistsError, NotFoundError, RamDelegateError, RetryableCloudError
from ram_delegate.grants import TAG_EXTERNAL_ID

if TYPE_CHECKING:
    from ram_delegate.audit import AuditLog
    from ram_delegate.cloud import CloudClients, WriteResult

# Steps whose "not found" answer means the intended end state (absent / detached) already holds.
_ABSENT_IS_DONE = frozenset(
    {"DetachPolicyFromRole", "DetachPolicy", "DetachPolicyFromUser", "DeletePolicy", "DeleteRole", "DeleteUser"}
)
# Steps whose "already exists" answer means the attachment is already in place.
_PRESENT_IS_DONE = frozenset({"AttachPolicyToRole", "AttachPolicy", "AttachPolicyToUser"})


@dataclass(frozen=True)
class Step:
    """One API call of a plan: the action, the resource it changes, its parameters and why it is needed.

    Deletes and detaches always take "not found" as done; ``absent_is_done`` extends that to a step whose target
    vanishing also fulfils it (refusing new sessions on a role that another run has already deleted).
    """

    action: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    absent_is_done: bool = False  # a "not found" answer means the step's purpose already holds

    def to_dict(self) -> dict[str, Any]:
        """The step as answers, reports and dry runs show it: the grant's ExternalId is masked."""
        return {"action": self.action, "target": self.target, "params": _masked(self.params), "reason": self.reason}


class CreateConflict(Exception):
    """A create step found its resource already there: the caller must re-observe and re-plan."""

    def __init__(self, step: Step, error: AlreadyExistsError) -> None:
        super().__init__(f"{step.action} {step.target}: already exists")
        self.step = step
        self.error = error


EXTERNAL_ID_MASK = "[external-id]"
_EXTERNAL_ID_IN_DOCUMENT = re.compile(r'("sts:ExternalId"\s*:\s*)(?:"[^"]*"|\[[^\]]*\])')


def _masked(value: Any) -> Any:
    """``value`` without the ExternalId (in a trust policy document or a tag): it is shared with the partner only."""
    if isinstance(value, str):
        return _EXTERNAL_ID_IN_DOCUMENT.sub(rf'\1"{EXTERNAL_ID_MASK}"', value)
    if isinstance(value, Mapping):
        return {key: EXTERNAL_ID_MASK if key == TAG_EXTERNAL_ID else _masked(item) for key, item in value.items()}
    return value


def render_plan(steps: Sequence[Step]) -> str:
    """The plan as a dry run prints it: one numbered line per call, documents abbreviated."""
    if not steps:
        return "nothing to do: the cloud already is in the intended state"
    lines = []
    for number, step in enumerate(steps, 1):
        shown = {key: _abbreviate(value) for key, value in _masked(step.params).items()}
        params = json.dumps(shown, sort_keys=True, separators=(",", ":"), default=str)
        lines.append(f"{number:>3}. {step.action} {step.target} {params}  # {step.reason}")
    return "\n".join(lines)


def _abbreviate(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 160:
        return value[:157] + "..."
    return value


Runner = Callable[["CloudClients", Step], "WriteResult"]
_RUNNERS: dict[str, Runner] = {}
"""Steps of another API than RAM, added by the side that plans them: the owner's Resource Manager steps
(``owner.scoped``). The partner's functions never import those, so their packages carry no Resource Manager client."""


_RAM_STEPS = frozenset(
    {
        "CreateRole",
        "UpdateRole",
        "DeleteRole",
        "CreatePolicy",
        "CreatePolicyVersion",
        "DeletePolicy",
        "TagResources",
        "AttachPolicyToRole",
        "DetachPolicyFromRole",
        "CreateUser",
        "DeleteUser",
        "AttachPolicyToUser",
        "DetachPolicyFromUser",
    }
)
"""The steps ``_dispatch`` runs itself."""


def add_runners(runners: Mapping[str, Runner]) -> None:
    """Let ``execute`` run these steps too (``action -> runner``); RAM's own steps cannot be replaced."""
    taken = sorted(set(runners) & _RAM_STEPS)
    if taken:
        raise ValueError(f"RAM's own plan steps cannot be given another runner: {', '.join(taken)}")
    _RUNNERS.update(runners)


def _dispatch(cloud: CloudClients, step: Step) -> WriteResult:
    """The one place a RAM Step becomes an API call (other APIs' steps: ``add_runners``)."""
    p = step.params
    ram = cloud.ram
    action = step.action
    if action == "CreateRole":
        return ram.create_role(
            p["role"],
            p["trust_policy"],
            description=p["description"],
            max_session_duration=p["max_session_duration"],
            tags=p["tags"],
        )
    if action == "UpdateRole":
        return ram.update_role_trust(p["role"], p["trust_policy"])
    if action == "DeleteRole":
        return ram.delete_role(p["role"])
    if action == "CreatePolicy":
        return ram.create_policy(p["policy"], p["document"], description=p["description"], tags=p["tags"])
    if action == "CreatePolicyVersion":
        return ram.set_policy_document(p["policy"], p["document"])
    if action == "DeletePolicy":
        return ram.delete_policy(p["policy"])
    if action == "TagResources":
        return ram.tag_resource(p["resource_type"], p["name"], p["tags"])
    if action == "AttachPolicyToRole":
        return ram.attach_policy_to_role(p["policy"], p["role"], p.get("policy_type", "Custom"))
    if action == "DetachPolicyFromRole":
        return ram.detach_policy_from_role(p["policy"], p["role"], p.get("policy_type", "Custom"))
    if action == "CreateUser":
        return ram.create_user(p["user"], display_name=p["display_name"], comments=p["comments"])
    if action == "DeleteUser":
        return ram.delete_user(p["user"])
    if action == "AttachPolicyToUser":
        return ram.attach_policy_to_user(p["policy"], p["user"], p.get("policy_type", "Custom"))
    if action == "DetachPolicyFromUser":
        return ram.detach_policy_from_user(p["policy"], p["user"], p.get("policy_type", "Custom"))
    runner = _RUNNERS.get(action)
    if runner is None:
        raise ValueError(f"unknown plan step {action!r}")
    return runner(cloud, step)


# What takes back a step this run made, for a change refused half-way by a quota (no partial grant is left).
_UNDO = {
    "CreateRole": ("DeleteRole", ("role",)),
    "CreatePolicy": ("DeletePolicy", ("policy",)),
    "CreateUser": ("DeleteUser", ("user",)),
    "AttachPolicyToRole": ("DetachPolicyFromRole", ("policy", "role", "policy_type")),
    "AttachPolicyToUser": ("DetachPolicyFromUser", ("policy", "user", "policy_type")),
    "AttachPolicy": ("DetachPolicy", ("policy", "principal_name", "resource_group_id")),
}


def undo_steps(completed: Sequence[Step]) -> list[Step]:
    """The steps that take back ``completed`` creates and attaches, newest first (updates and deletes stay)."""
    undo: list[Step] = []
    for step in reversed(completed):
        if step.action in _UNDO:
            action, keys = _UNDO[step.action]
            params = {key: step.params[key] for key in keys if key in step.params}
            undo.append(Step(action, step.target, params, f"undo {step.action}: the change was refused"))
    return undo


def execute(
    steps: Sequence[Step],
    cloud: CloudClients,
    audit: AuditLog,
    *,
    ticket: str,
    event_id: str | None,
    completed: list[Step] | None = None,
) -> list[dict[str, Any]]:
    """Run the steps in order, one audit line per change; returns what each step did (for the outcome's detail).

    ``completed`` (if given) receives every step that made a change, so a caller can undo them after a refusal.
    """
    done: list[dict[str, Any]] = []
    for step in steps:
        try:
            result = _dispatch(cloud, step)
            outcome, request_id = "ok", result.request_id
        except NotFoundError as exc:
            if step.action not in _ABSENT_IS_DONE and not step.absent_is_done:
                raise
            outcome, request_id = "already-absent", exc.request_id
        except AlreadyExistsError as exc:
            if step.action not in _PRESENT_IS_DONE:
                audit.change(
                    event_id=event_id,
                    ticket=ticket,
                    action=step.action,
                    resource=step.target,
                    result="conflict",
                    request_id=exc.request_id or None,
                )
                raise CreateConflict(step, exc) from None
            outcome, request_id = "already-present", exc.request_id
        audit.change(
            event_id=event_id,
            ticket=ticket,
            action=step.action,
            resource=step.target,
            result=outcome,
            request_id=request_id or None,
        )
        done.append({"action": step.action, "target": step.target, "result": outcome})
        if completed is not None and outcome == "ok":
            completed.append(step)
    return done


def execute_or_undo(
    steps: Sequence[Step],
    cloud: CloudClients,
    audit: AuditLog,
    *,
    ticket: str,
    event_id: str | None,
    completed: list[Step] | None = None,
) -> list[dict[str, Any]]:
    """``execute``; when a step fails for good (a quota, a refusal, a missing resource), take back what this run
    created, then re-raise. A retryable failure leaves the run's writes for the retry to finish."""
    made: list[Step] = [] if completed is None else completed
    try:
        return execute(steps, cloud, audit, ticket=ticket, event_id=event_id, completed=made)
    except RetryableCloudError:
        raise
    except RamDelegateError:
        execute(undo_steps(made), cloud, audit, ticket=ticket, event_id=event_id)
        raise
