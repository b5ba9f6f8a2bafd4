"""The owner's Resource Manager steps, for a grant scoped to a resource group: attaching its access policy there and
detaching it (or another policy) from a group. Importing this module lets ``plan.execute`` run them; the owner package
does, so everything that plans these steps has them (the partner never does, and carries no Resource Manager client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ram_delegate.plan import Step, add_runners

if TYPE_CHECKING:
    from ram_delegate.cloud import CloudClients, WriteResult


def _attach(cloud: CloudClients, step: Step) -> WriteResult:
    p = step.params
    return cloud.resource_manager.attach_policy(p["policy"], p["principal_name"], p["resource_group_id"])


def _detach(cloud: CloudClients, step: Step) -> WriteResult:
    p = step.params
    return cloud.resource_manager.detach_policy(
        p["policy"], p["principal_name"], p["resource_group_id"], p.get("policy_type", "Custom")
    )


add_runners({"AttachPolicy": _attach, "DetachPolicy": _detach})
