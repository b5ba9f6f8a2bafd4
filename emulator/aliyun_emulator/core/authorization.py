"""Authorization of every call: who is calling, what is attached to them, their session policy, the context keys.

All policy semantics live in ``ram_delegate.policy``; this module only assembles its inputs. Rules on top of it:
root may do anything in its own account; nobody acts on another account's resources (STS AssumeRole is the one
exception and is handled by the STS product: the trust policy of the target role decides there).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from aliyun_emulator.core.errors import ApiError, no_permission
from aliyun_emulator.core.identity import Principal
from aliyun_emulator.core.request import ApiRequest
from ram_delegate.policy import AttachedPolicy, ContextValue, PolicyDocument, allows, parse_policy

RAM_DENIAL = "NoPermission"
"""RAM and STS refuse with ``NoPermission``."""
PRODUCT_DENIAL = "Forbidden.RAM"
"""SLB and Resource Manager refuse with ``Forbidden.RAM``."""


class Grants(NamedTuple):
    """What a non-root caller holds right now: attached policies (account- or group-scoped) and a session policy.

    A ``NamedTuple`` (immutable and cheap): gathered on every call a non-root caller makes.
    """

    policies: tuple[AttachedPolicy, ...]
    session_policy: PolicyDocument | None = None


def request_context(request: ApiRequest) -> dict[str, ContextValue]:
    """The global condition keys every call carries."""
    return {
        "acs:CurrentTime": request.now,
        "acs:SourceIp": request.source_ip,
        "acs:SecureTransport": request.secure_transport,
        "acs:MFAPresent": False,
    }


@lru_cache(maxsize=4096)
def session_policy_document(text: str) -> PolicyDocument:
    """A session policy stored with an STS session (already validated at AssumeRole; parsed once per text)."""
    return parse_policy(text, "session")


def denial(code: str, action: str, resource: str) -> ApiError:
    if code == PRODUCT_DENIAL:
        return ApiError(
            PRODUCT_DENIAL,
            f"User not authorized to operate on the specified resource, or this API doesn't support RAM. "
            f"Action: {action}, Resource: {resource}.",
            403,
        )
    return no_permission(action, resource)


def is_allowed(
    principal: Principal,
    grants: Grants | None,
    action: str,
    resource: str,
    *,
    resource_account: str,
    context: Mapping[str, ContextValue],
    resource_group_id: str | None = None,
    cross_account: bool = False,
) -> bool:
    """The decision for one action on one resource. ``grants`` is None only for root callers."""
    if resource_account != principal.account_id and not cross_account:
        return False
    if principal.kind == "root":
        return True
    if grants is None:
        return False
    return allows(
        action,
        resource,
        grants.policies,
        grants.session_policy,
        resource_group_id=resource_group_id,
        context=context,
    )
