"""The one boundary between ram-delegate and the Alibaba Cloud SDKs.

Everything above this module sees typed calls and small frozen results, never an SDK object or exception:

* SDK exceptions become ``ram_delegate.errors``: ``EntityNotExist.*`` -> NotFoundError, ``EntityAlreadyExists.*`` ->
  AlreadyExistsError, ``LimitExceeded.*`` -> QuotaExceededError, ``NoPermission``/``Forbidden*`` ->
  AccessDeniedError, ``Throttling*``/``ServiceUnavailable``/5xx and transport failures -> RetryableCloudError,
  anything else -> CloudError. Each keeps the cloud's code, HTTP status,
  request id and the action; messages never carry credentials.
* The SDK retries nothing by itself (tea-openapi 0.4.x), so retryable errors are retried here with bounded exponential
  backoff and full jitter (sleep and randomness injected, so tests run instantly). ``CreateAccessKey`` is not wrapped
  at all: the tool never creates long-lived keys.
* SDK modules are imported lazily: a cold start pays only for the products a handler really calls.
"""

from __future__ import annotations

import json
import random as _random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ram_delegate.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    CloudError,
    NotFoundError,
    QuotaExceededError,
    RetryableCloudError,
)

if TYPE_CHECKING:
    from ram_delegate.settings import Settings

T = TypeVar("T")

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 (a variable name)
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 (a variable name)
LIST_PAGE_SIZE = 1000  # RAM's maximum MaxItems: ceil(N / 1000) list calls for N managed resources

_RETRYABLE_CODES = frozenset({"ServiceUnavailable", "InternalError", "ServiceBusy", "RequestTimeout"})


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair, optionally with an STS token. The secret and token never appear in ``repr``."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        """The python3.12 runtime's credentials (``ALIBABA_CLOUD_*`` variables), or None when absent."""
        key_id = env.get(ENV_ACCESS_KEY_ID, "").strip()
        secret = env.get(ENV_ACCESS_KEY_SECRET, "").strip()
        if not key_id or not secret:
            return None
        token = env.get(ENV_SECURITY_TOKEN, "").strip() or None
        return cls(key_id, secret, token)

    @classmethod
    def from_fc_context(cls, context: object) -> Credentials | None:
        """The python3.10 runtime's ``context.credentials``, or None when the context carries none."""
        credentials = getattr(context, "credentials", None)
        if credentials is None:
            return None
        key_id = getattr(credentials, "access_key_id", None) or getattr(credentials, "accessKeyId", None)
        secret = getattr(credentials, "access_key_secret", None) or getattr(credentials, "accessKeySecret", None)
        token = getattr(credentials, "security_token", None) or getattr(credentials, "securityToken", None)
        if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
            return None
        return cls(key_id, secret, token if isinstance(token, str) and token else None)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt))."""

    attempts: int = 5
    base_seconds: float = 0.2
    cap_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = _random.random

    def delay(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (0-based)."""
        return self.random() * min(self.cap_seconds, self.base_seconds * 2.0**attempt)

    def retry_after_seconds(self) -> int:
        """What the edge puts in Retry-After once the budget is spent: the longest single backoff, rounded up."""
        return max(1, int(self.cap_seconds + 0.999))


# ---------------------------------------------------------------------------------------------------------------
# Error translation and retries
# ---------------------------------------------------------------------------------------------------------------


def translate_error(exc: BaseException, action: str) -> CloudError:
    """Turn any SDK or transport exception into the library's error for ``action`` (secrets are never copied)."""
    code = getattr(exc, "code", None)
    if not isinstance(code, str) or not code:
        # No cloud answer at all (connection refused, timeout, unparsable body): worth another try.
        return RetryableCloudError(
            f"{action}: the cloud API could not be reached ({type(exc).__name__})", action=action
        )
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None) or 0
    status = status if isinstance(status, int) else 0
    data = getattr(exc, "data", None)
    request_id = getattr(exc, "request_id", None) or (data.get("RequestId") if isinstance(data, dict) else None) or ""
    cloud_message = data.get("Message") if isinstance(data, dict) else None
    message = f"{action}: {code}" + (f" ({cloud_message})" if isinstance(cloud_message, str) and cloud_message else "")
    kwargs: dict[str, Any] = {
        "cloud_code": code,
        "http_status": status,
        "request_id": str(request_id),
        "action": action,
    }
    if code.startswith("EntityNotExist"):
        return NotFoundError(message, **kwargs)
    if code.startswith("EntityAlreadyExists"):
        return AlreadyExistsError(message, **kwargs)
    if code.startswith("LimitExceeded"):
        return QuotaExceededError(message, **kwargs)
    if code.startswith(("NoPermission", "Forbidden")):
        return AccessDeniedError(message, **kwargs)
    if code.startswith("Throttling") or code in _RETRYABLE_CODES or status >= 500:
        return RetryableCloudError(message, **kwargs)
    return CloudError(message, **kwargs)


def call_with_retry(action: str, call: Callable[[], T], retry: RetryPolicy) -> T:
    """Run one SDK call; translate its failure; retry only retryable ones, at most ``retry.attempts`` times."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            error = translate_error(exc, action)
        attempt += 1
        if not isinstance(error, RetryableCloudError) or attempt >= retry.attempts:
            raise error
        retry.sleep(retry.delay(attempt - 1))


# ---------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------


def _tags_of(raw: Any) -> dict[str, str]:
    """The ``Tags.Tag[{TagKey, TagValue}]`` of a list result as a dict (absent -> empty)."""
    entries = getattr(raw, "tag", None) or []
    return {str(t.tag_key): str(t.tag_value or "") for t in entries if getattr(t, "tag_key", None)}


@dataclass(frozen=True)
class RoleInfo:
    name: str
    arn: str
    trust_policy: str
    max_session_duration: int
    description: str
    request_id: str


@dataclass(frozen=True)
class TaggedResource:
    """A role or policy from a tag-filtered list call, with its tags."""

    name: str
    tags: Mapping[str, str]
    arn: str = ""


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    document: str
    version_id: str
    request_id: str


@dataclass(frozen=True)
class AttachedPolicyRef:
    name: str
    policy_type: str


@dataclass(frozen=True)
class UserInfo:
    name: str
    comments: str
    request_id: str


@dataclass(frozen=True)
class WriteResult:
    """What a write call gives back: only the cloud's request id (for the audit line)."""

    request_id: str


@dataclass(frozen=True)
class AssumedRole:
    credentials: Credentials
    expiration: datetime
    arn: str
    request_id: str


@dataclass(frozen=True)
class LoadBalancerSummary:
    id: str
    name: str
    region: str
    resource_group_id: str | None


@dataclass(frozen=True)
class LoadBalancerDetail:
    """One CLB instance as DescribeLoadBalancerAttribute shows it: its backend servers (id -> weight) included."""

    id: str
    name: str
    region: str
    resource_group_id: str | None
    backend_servers: Mapping[str, int]
    listener_ports: tuple[int, ...]


@dataclass(frozen=True)
class InstanceSummary:
    """One ALB or NLB load balancer, or one ECS instance, as its product's listing shows it."""

    id: str
    name: str
    region: str
    resource_group_id: str | None
    status: str


@dataclass(frozen=True)
class RgAttachment:
    policy_name: str
    policy_type: str
    principal_name: str
    principal_type: str
    resource_group_id: str


def _request_id(response: Any) -> str:
    return str(getattr(getattr(response, "body", None), "request_id", "") or "")


def _tag_list(model: Any, tags: Mapping[str, str]) -> list[Any]:
    return [model(key=k, value=v) for k, v in tags.items()]


def _all_pages(page: Callable[[str | None], tuple[list[T], Any]]) -> list[T]:
    """Follow RAM's ``Marker`` / ``IsTruncated`` paging until the last page."""
    found: list[T] = []
    marker: str | None = None
    while True:
        items, body = page(marker)
        found.extend(items)
        if not body.is_truncated or not body.marker:
            return found
        marker = body.marker


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


# ---------------------------------------------------------------------------------------------------------------
# Product APIs
# ---------------------------------------------------------------------------------------------------------------


class _Api:
    def __init__(self, client: Any, retry: RetryPolicy) -> None:
        self._client = client
        self._retry = retry

    def _call(self, action: str, call: Callable[[], T]) -> T:
        return call_with_retry(action, call, self._retry)


class RamApi(_Api):
    """The RAM calls ram-delegate makes, and nothing else."""

    def get_role(self, name: str) -> RoleInfo:
        from alibabacloud_ram20150501 import models

        response = self._call("GetRole", lambda: self._client.get_role(models.GetRoleRequest(role_name=name)))
        role = response.body.role
        return RoleInfo(
            name=role.role_name,
            arn=role.arn,
            trust_policy=role.assume_role_policy_document or "",
            max_session_duration=int(role.max_session_duration or 0),
            description=role.description or "",
            request_id=_request_id(response),
        )

    def create_role(
        self, name: str, trust_policy: str, *, description: str, max_session_duration: int, tags: Mapping[str, str]
    ) -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.CreateRoleRequest(
            role_name=name,
            assume_role_policy_document=trust_policy,
            description=description,
            max_session_duration=max_session_duration,
            tag=_tag_list(models.CreateRoleRequestTag, tags),
        )
        return WriteResult(_request_id(self._call("CreateRole", lambda: self._client.create_role(request))))

    def update_role_trust(self, name: str, trust_policy: str) -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.UpdateRoleRequest(role_name=name, new_assume_role_policy_document=trust_policy)
        return WriteResult(_request_id(self._call("UpdateRole", lambda: self._client.update_role(request))))

    def delete_role(self, name: str) -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.DeleteRoleRequest(role_name=name)
        return WriteResult(_request_id(self._call("DeleteRole", lambda: self._client.delete_role(request))))

    def list_roles(self, tags: Mapping[str, str]) -> list[TaggedResource]:
        """Every role carrying all ``tags``, 1,000 per call."""
        from alibabacloud_ram20150501 import models

        def page(marker: str | None) -> tuple[list[TaggedResource], Any]:
            request = models.ListRolesRequest(
                marker=marker, max_items=LIST_PAGE_SIZE, tag=_tag_list(models.ListRolesRequestTag, tags)
            )
            body = self._call("ListRoles", lambda: self._client.list_roles(request)).body
            entries = (body.roles.role if body.roles else None) or []
            return [TaggedResource(r.role_name, _tags_of(r.tags), r.arn or "") for r in entries], body

        return _all_pages(page)

    def list_role_tags(self, name: str) -> dict[str, str]:
        from alibabacloud_ram20150501 import models

        request = models.ListTagResourcesRequest(resource_type="role", resource_names=[name])
        body = self._call("ListTagResources", lambda: self._client.list_tag_resources(request)).body
        entries = body.tag_resources or []
        return {str(t.tag_key): str(t.tag_value or "") for t in entries if t.resource_name == name and t.tag_key}

    def tag_resource(self, resource_type: str, name: str, tags: Mapping[str, str]) -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.TagResourcesRequest(
            resource_type=resource_type, resource_names=[name], tag=_tag_list(models.TagResourcesRequestTag, tags)
        )
        return WriteResult(_request_id(self._call("TagResources", lambda: self._client.tag_resources(request))))

    def create_policy(self, name: str, document: str, *, description: str, tags: Mapping[str, str]) -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.CreatePolicyRequest(
            policy_name=name,
            policy_document=document,
            description=description,
            tag=_tag_list(models.CreatePolicyRequestTag, tags),
        )
        return WriteResult(_request_id(self._call("CreatePolicy", lambda: self._client.create_policy(request))))

    def get_policy(self, name: str) -> PolicyInfo:
        from alibabacloud_ram20150501 import models

        request = models.GetPolicyRequest(policy_name=name, policy_type="Custom")
        response = self._call("GetPolicy", lambda: self._client.get_policy(request))
        version = response.body.default_policy_version
        return PolicyInfo(
            name=name,
            document=(version.policy_document if version else "") or "",
            version_id=(version.version_id if version else "") or "",
            request_id=_request_id(response),
        )

    def set_policy_document(self, name: str, document: str) -> WriteResult:
        """A new default version (the oldest non-default one is dropped at the 5-version limit)."""
        from alibabacloud_ram20150501 import models

        request = models.CreatePolicyVersionRequest(
            policy_name=name,
            policy_document=document,
            set_as_default=True,
            rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",
        )
        response = self._call("CreatePolicyVersion", lambda: self._client.create_policy_version(request))
        return WriteResult(_request_id(response))

    def delete_policy(self, name: str) -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.DeletePolicyRequest(policy_name=name, cascading_delete=True)
        return WriteResult(_request_id(self._call("DeletePolicy", lambda: self._client.delete_policy(request))))

    def list_policies(self, tags: Mapping[str, str]) -> list[TaggedResource]:
        """Every custom policy carrying all ``tags``, 1,000 per call."""
        from alibabacloud_ram20150501 import models

        def page(marker: str | None) -> tuple[list[TaggedResource], Any]:
            request = models.ListPoliciesRequest(
                marker=marker,
                max_items=LIST_PAGE_SIZE,
                policy_type="Custom",
                tag=_tag_list(models.ListPoliciesRequestTag, tags),
            )
            body = self._call("ListPolicies", lambda: self._client.list_policies(request)).body
            entries = (body.policies.policy if body.policies else None) or []
            return [TaggedResource(p.policy_name, _tags_of(p.tags)) for p in entries], body

        return _all_pages(page)

    def attach_policy_to_role(self, policy: str, role: str, policy_type: str = "Custom") -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.AttachPolicyToRoleRequest(policy_name=policy, policy_type=policy_type, role_name=role)
        response = self._call("AttachPolicyToRole", lambda: self._client.attach_policy_to_role(request))
        return WriteResult(_request_id(response))

    def detach_policy_from_role(self, policy: str, role: str, policy_type: str = "Custom") -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.DetachPolicyFromRoleRequest(policy_name=policy, policy_type=policy_type, role_name=role)
        response = self._call("DetachPolicyFromRole", lambda: self._client.detach_policy_from_role(request))
        return WriteResult(_request_id(response))

    def list_policies_for_role(self, role: str) -> list[AttachedPolicyRef]:
        from alibabacloud_ram20150501 import models

        request = models.ListPoliciesForRoleRequest(role_name=role)
        body = self._call("ListPoliciesForRole", lambda: self._client.list_policies_for_role(request)).body
        entries = (body.policies.policy if body.policies else None) or []
        return [AttachedPolicyRef(p.policy_name, p.policy_type or "") for p in entries]

    def get_user(self, name: str) -> UserInfo:
        from alibabacloud_ram20150501 import models

        response = self._call("GetUser", lambda: self._client.get_user(models.GetUserRequest(user_name=name)))
        user = response.body.user
        return UserInfo(name=user.user_name, comments=user.comments or "", request_id=_request_id(response))

    def create_user(self, name: str, *, display_name: str, comments: str) -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.CreateUserRequest(user_name=name, display_name=display_name, comments=comments)
        return WriteResult(_request_id(self._call("CreateUser", lambda: self._client.create_user(request))))

    def delete_user(self, name: str) -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.DeleteUserRequest(user_name=name)
        return WriteResult(_request_id(self._call("DeleteUser", lambda: self._client.delete_user(request))))

    def attach_policy_to_user(self, policy: str, user: str, policy_type: str = "Custom") -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.AttachPolicyToUserRequest(policy_name=policy, policy_type=policy_type, user_name=user)
        response = self._call("AttachPolicyToUser", lambda: self._client.attach_policy_to_user(request))
        return WriteResult(_request_id(response))

    def detach_policy_from_user(self, policy: str, user: str, policy_type: str = "Custom") -> WriteResult:
        from alibabacloud_ram20150501 import models

        request = models.DetachPolicyFromUserRequest(policy_name=policy, policy_type=policy_type, user_name=user)
        response = self._call("DetachPolicyFromUser", lambda: self._client.detach_policy_from_user(request))
        return WriteResult(_request_id(response))

    def list_policies_for_user(self, user: str) -> list[AttachedPolicyRef]:
        from alibabacloud_ram20150501 import models

        request = models.ListPoliciesForUserRequest(user_name=user)
        body = self._call("ListPoliciesForUser", lambda: self._client.list_policies_for_user(request)).body
        entries = (body.policies.policy if body.policies else None) or []
        return [AttachedPolicyRef(p.policy_name, p.policy_type or "") for p in entries]

    def count_access_keys(self, user: str) -> int:
        """How many AccessKeys a user holds (ids only; secrets are never returned by this call)."""
        from alibabacloud_ram20150501 import models

        request = models.ListAccessKeysRequest(user_name=user)
        body = self._call("ListAccessKeys", lambda: self._client.list_access_keys(request)).body
        return len((body.access_keys.access_key if body.access_keys else None) or [])


class StsApi(_Api):
    def assume_role(
        self,
        role_arn: str,
        session_name: str,
        *,
        external_id: str | None = None,
        duration_seconds: int = 900,
        policy: str | None = None,
    ) -> AssumedRole:
        from alibabacloud_sts20150401 import models

        request = models.AssumeRoleRequest(
            role_arn=role_arn,
            role_session_name=session_name,
            external_id=external_id,
            duration_seconds=duration_seconds,
            policy=policy,
        )
        response = self._call("AssumeRole", lambda: self._client.assume_role(request))
        body = response.body
        creds = body.credentials
        return AssumedRole(
            credentials=Credentials(creds.access_key_id, creds.access_key_secret, creds.security_token),
            expiration=_parse_time(creds.expiration),
            arn=body.assumed_role_user.arn if body.assumed_role_user else "",
            request_id=_request_id(response),
        )


class SlbApi(_Api):
    def __init__(self, client: Any, retry: RetryPolicy, region: str) -> None:
        super().__init__(client, retry)
        self._region = region

    def describe_load_balancers(
        self, *, resource_group_id: str | None = None, page_size: int = 50
    ) -> list[LoadBalancerSummary]:
        """Every load balancer of the region (all pages), optionally only those of one resource group."""
        from alibabacloud_slb20140515 import models

        found: list[LoadBalancerSummary] = []
        page = 1
        while True:
            request = models.DescribeLoadBalancersRequest(
                region_id=self._region, resource_group_id=resource_group_id, page_number=page, page_size=page_size
            )
            body = self._call(
                "DescribeLoadBalancers",
                lambda r=request: self._client.describe_load_balancers(r),  # type: ignore[misc]
            ).body
            entries = (body.load_balancers.load_balancer if body.load_balancers else None) or []
            for lb in entries:
                found.append(
                    LoadBalancerSummary(
                        id=lb.load_balancer_id,
                        name=lb.load_balancer_name or "",
                        region=lb.region_id or self._region,
                        resource_group_id=lb.resource_group_id or None,
                    )
                )
            total = int(body.total_count or 0)
            if not entries or len(found) >= total:
                return found
            page += 1

    def describe_load_balancer_attribute(self, load_balancer_id: str) -> LoadBalancerDetail:
        from alibabacloud_slb20140515 import models

        request = models.DescribeLoadBalancerAttributeRequest(region_id=self._region, load_balancer_id=load_balancer_id)
        body = self._call(
            "DescribeLoadBalancerAttribute", lambda: self._client.describe_load_balancer_attribute(request)
        ).body
        servers = (body.backend_servers.backend_server if body.backend_servers else None) or []
        ports = (body.listener_ports.listener_port if body.listener_ports else None) or []
        return LoadBalancerDetail(
            id=body.load_balancer_id,
            name=body.load_balancer_name or "",
            region=body.region_id or self._region,
            resource_group_id=body.resource_group_id or None,
            backend_servers={s.server_id: int(s.weight or 0) for s in servers},
            listener_ports=tuple(int(port) for port in ports),
        )

    def _backend_call(self, action: str, load_balancer_id: str, servers: list[dict[str, str]]) -> WriteResult:
        from alibabacloud_slb20140515 import models

        request_types = {
            "AddBackendServers": (models.AddBackendServersRequest, self._client.add_backend_servers),
            "RemoveBackendServers": (models.RemoveBackendServersRequest, self._client.remove_backend_servers),
            "SetBackendServers": (models.SetBackendServersRequest, self._client.set_backend_servers),
        }
        model, method = request_types[action]
        request = model(region_id=self._region, load_balancer_id=load_balancer_id, backend_servers=json.dumps(servers))
        return WriteResult(_request_id(self._call(action, lambda: method(request))))

    def add_backend_servers(self, load_balancer_id: str, weights: Mapping[str, int]) -> WriteResult:
        """Attach ECS instances (id -> weight 0-100) to a load balancer."""
        servers = [{"ServerId": server, "Weight": str(weight), "Type": "ecs"} for server, weight in weights.items()]
        return self._backend_call("AddBackendServers", load_balancer_id, servers)

    def set_backend_servers(self, load_balancer_id: str, weights: Mapping[str, int]) -> WriteResult:
        """Change the weights of attached ECS instances."""
        servers = [{"ServerId": server, "Weight": str(weight), "Type": "ecs"} for server, weight in weights.items()]
        return self._backend_call("SetBackendServers", load_balancer_id, servers)

    def remove_backend_servers(self, load_balancer_id: str, server_ids: list[str]) -> WriteResult:
        servers = [{"ServerId": server, "Type": "ecs"} for server in server_ids]
        return self._backend_call("RemoveBackendServers", load_balancer_id, servers)

    def set_listener_running(self, load_balancer_id: str, port: int, *, running: bool) -> WriteResult:
        """StartLoadBalancerListener or StopLoadBalancerListener on one port."""
        from alibabacloud_slb20140515 import models

        if running:
            start = models.StartLoadBalancerListenerRequest(
                region_id=self._region, load_balancer_id=load_balancer_id, listener_port=port
            )
            response = self._call("StartLoadBalancerListener", lambda: self._client.start_load_balancer_listener(start))
        else:
            stop = models.StopLoadBalancerListenerRequest(
                region_id=self._region, load_balancer_id=load_balancer_id, listener_port=port
            )
            response = self._call("StopLoadBalancerListener", lambda: self._client.stop_load_balancer_listener(stop))
        return WriteResult(_request_id(response))


class _DryRunApi(_Api):
    def _dry_run(self, action: str, call: Callable[[], Any]) -> WriteResult:
        """A write sent with DryRun=true: the cloud's ``DryRunOperation`` answer means it would have been allowed."""
        try:
            response = self._call(action, call)
        except CloudError as exc:
            if exc.cloud_code == "DryRunOperation":
                return WriteResult(exc.request_id)
            raise
        return WriteResult(_request_id(response))


class LoadBalancerApi(_DryRunApi):
    """ALB (2020-06-16) or NLB (2022-04-30): the same listing and rename calls, in their own SDK modules."""

    def __init__(self, client: Any, retry: RetryPolicy, region: str, models: Any) -> None:
        super().__init__(client, retry)
        self._region = region
        self._models = models

    def list_load_balancers(self, *, resource_group_id: str | None = None) -> list[InstanceSummary]:
        """Every load balancer of the region (all pages), optionally only those of one resource group."""
        found: list[InstanceSummary] = []
        token: str | None = None
        while True:
            request = self._models.ListLoadBalancersRequest(
                resource_group_id=resource_group_id, max_results=100, next_token=token
            )
            if hasattr(request, "region_id"):
                request.region_id = self._region
            body = self._call(
                "ListLoadBalancers",
                lambda r=request: self._client.list_load_balancers(r),  # type: ignore[misc]
            ).body
            for lb in body.load_balancers or []:
                found.append(
                    InstanceSummary(
                        id=lb.load_balancer_id,
                        name=lb.load_balancer_name or "",
                        region=self._region,
                        resource_group_id=lb.resource_group_id or None,
                        status=lb.load_balancer_status or "",
                    )
                )
            token = body.next_token or None
            if token is None:
                return found

    def dry_run_rename(self, load_balancer_id: str, name: str) -> WriteResult:
        """UpdateLoadBalancerAttribute with DryRun=true: proves the right to change a load balancer, changes nothing."""
        request = self._models.UpdateLoadBalancerAttributeRequest(
            load_balancer_id=load_balancer_id, load_balancer_name=name, dry_run=True
        )
        if hasattr(request, "region_id"):
            request.region_id = self._region
        return self._dry_run(
            "UpdateLoadBalancerAttribute", lambda: self._client.update_load_balancer_attribute(request)
        )


class EcsApi(_DryRunApi):
    def __init__(self, client: Any, retry: RetryPolicy, region: str) -> None:
        super().__init__(client, retry)
        self._region = region

    def describe_instances(
        self, *, resource_group_id: str | None = None, page_size: int = 100
    ) -> list[InstanceSummary]:
        """Every instance of the region (all pages), optionally only those of one resource group."""
        from alibabacloud_ecs20140526 import models

        found: list[InstanceSummary] = []
        page = 1
        while True:
            request = models.DescribeInstancesRequest(
                region_id=self._region, resource_group_id=resource_group_id, page_number=page, page_size=page_size
            )
            body = self._call(
                "DescribeInstances",
                lambda r=request: self._client.describe_instances(r),  # type: ignore[misc]
            ).body
            entries = (body.instances.instance if body.instances else None) or []
            found.extend(
                InstanceSummary(
                    id=item.instance_id,
                    name=item.instance_name or "",
                    region=item.region_id or self._region,
                    resource_group_id=item.resource_group_id or None,
                    status=item.status or "",
                )
                for item in entries
            )
            if not entries or len(found) >= int(body.total_count or 0):
                return found
            page += 1

    def dry_run_stop(self, instance_id: str) -> WriteResult:
        """StopInstance with DryRun=true: proves the right to stop the instance, stops nothing."""
        from alibabacloud_ecs20140526 import models

        request = models.StopInstanceRequest(instance_id=instance_id, dry_run=True)
        return self._dry_run("StopInstance", lambda: self._client.stop_instance(request))


class ResourceManagerApi(_Api):
    def attach_policy(self, policy: str, principal_name: str, resource_group_id: str) -> WriteResult:
        from alibabacloud_resourcemanager20200331 import models

        request = models.AttachPolicyRequest(
            policy_name=policy,
            policy_type="Custom",
            principal_name=principal_name,
            principal_type="ServiceRole",
            resource_group_id=resource_group_id,
        )
        return WriteResult(_request_id(self._call("AttachPolicy", lambda: self._client.attach_policy(request))))

    def detach_policy(self, policy: str, principal_name: str, resource_group_id: str) -> WriteResult:
        from alibabacloud_resourcemanager20200331 import models

        request = models.DetachPolicyRequest(
            policy_name=policy,
            policy_type="Custom",
            principal_name=principal_name,
            principal_type="ServiceRole",
            resource_group_id=resource_group_id,
        )
        return WriteResult(_request_id(self._call("DetachPolicy", lambda: self._client.detach_policy(request))))

    def list_policy_attachments(self, *, policy: str, resource_group_id: str) -> list[RgAttachment]:
        from alibabacloud_resourcemanager20200331 import models

        request = models.ListPolicyAttachmentsRequest(
            policy_name=policy, policy_type="Custom", resource_group_id=resource_group_id, page_size=100
        )
        body = self._call("ListPolicyAttachments", lambda: self._client.list_policy_attachments(request)).body
        entries = (body.policy_attachments.policy_attachment if body.policy_attachments else None) or []
        return [
            RgAttachment(
                policy_name=a.policy_name,
                policy_type=a.policy_type or "",
                principal_name=a.principal_name or "",
                principal_type=a.principal_type or "",
                resource_group_id=a.resource_group_id or "",
            )
            for a in entries
        ]


class FcApi(_Api):
    """Function Compute 3.0: only the asynchronous invocation the intake front door hands its work to."""

    def invoke_async(self, function_name: str, body: bytes) -> str:
        """InvokeFunction with ``x-fc-invocation-type: Async``; FC queues it (202) and retries per the async config."""
        import io

        from alibabacloud_fc20230330 import models
        from darabonba.runtime import RuntimeOptions

        def call() -> Any:
            return self._client.invoke_function_with_options(
                function_name,
                models.InvokeFunctionRequest(body=io.BytesIO(body)),
                models.InvokeFunctionHeaders(x_fc_invocation_type="Async"),
                RuntimeOptions(),
            )

        response = self._call("InvokeFunction", call)
        headers = {str(key).lower(): str(value) for key, value in (response.headers or {}).items()}
        return headers.get("x-fc-request-id", "")


class KmsApi(_Api):
    """KMS Secrets Manager's GetSecretValue, through the SDK core's generic call (no product SDK to vendor)."""

    def get_secret_value(self, name: str, stage: str) -> str | None:
        """The value of one version stage (``ACSCurrent``, ``ACSPrevious``) of a text secret; None when absent."""
        from alibabacloud_tea_openapi import utils_models
        from darabonba.runtime import RuntimeOptions

        params = utils_models.Params(
            action="GetSecretValue",
            version="2016-01-20",
            protocol="HTTPS",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        request = utils_models.OpenApiRequest(query={"SecretName": name, "VersionStage": stage})
        try:
            response = self._call("GetSecretValue", lambda: self._client.call_api(params, request, RuntimeOptions()))
        except AccessDeniedError as exc:
            if exc.cloud_code == "Forbidden.ResourceNotFound":  # KMS's answer for a missing secret or stage
                return None
            raise
        body = response.get("body") if isinstance(response, dict) else None
        value = body.get("SecretData") if isinstance(body, dict) else None
        return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------------------------


class CloudClients:
    """The product APIs for one set of credentials, built on first use and cached (clients are thread-safe)."""

    def __init__(self, settings: Settings, credentials: Credentials, *, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self._slb: dict[str, SlbApi] = {}
        self._regional: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _config(self, endpoint: str, region: str | None = None) -> Any:
        from alibabacloud_tea_openapi.models import Config

        config = Config(
            access_key_id=self.credentials.access_key_id,
            access_key_secret=self.credentials.access_key_secret,
            security_token=self.credentials.security_token,
            endpoint=endpoint,
            protocol=self.settings.protocol,
            region_id=region or self.settings.region,
            connect_timeout=5000,
            read_timeout=10000,
        )
        if self.settings.endpoint:
            # A local endpoint (the emulator) is reached directly, whatever proxy the environment names.
            config.no_proxy = self.settings.endpoint.rsplit(":", 1)[0]
        return config

    @cached_property
    def ram(self) -> RamApi:
        from alibabacloud_ram20150501.client import Client

        return RamApi(Client(self._config(self.settings.endpoint_for("ram"))), self.retry)

    @cached_property
    def sts(self) -> StsApi:
        from alibabacloud_sts20150401.client import Client

        return StsApi(Client(self._config(self.settings.endpoint_for("sts"))), self.retry)

    @cached_property
    def resource_manager(self) -> ResourceManagerApi:
        from alibabacloud_resourcemanager20200331.client import Client

        return ResourceManagerApi(Client(self._config(self.settings.endpoint_for("resourcemanager"))), self.retry)

    @cached_property
    def kms(self) -> KmsApi:
        from alibabacloud_tea_openapi.client import Client

        return KmsApi(Client(self._config(self.settings.endpoint_for("kms"))), self.retry)

    def slb(self, region: str) -> SlbApi:
        """The SLB API of one region (SLB endpoints are regional)."""
        with self._lock:
            api = self._slb.get(region)
            if api is None:
                from alibabacloud_slb20140515.client import Client

                config = self._config(self.settings.endpoint_for("slb", region), region)
                api = self._slb[region] = SlbApi(Client(config), self.retry, region)
            return api

    def _regional_config(self, product: Literal["alb", "nlb", "ecs"], region: str) -> Any:
        """A regional product's config. The emulator serves every region on one endpoint, so ALB and ECS calls tell
        it the region in a ``RegionId`` query parameter (the real ALB API, and ECS's instance calls, take it from
        the endpoint; every NLB call names its region itself)."""
        config = self._config(self.settings.endpoint_for(product, region), region)
        if self.settings.endpoint and product != "nlb":
            from alibabacloud_tea_openapi.models import GlobalParameters

            config.global_parameters = GlobalParameters(queries={"RegionId": region})
        return config

    def alb(self, region: str) -> LoadBalancerApi:
        """The ALB API of one region."""
        with self._lock:
            api = self._regional.get(("alb", region))
            if api is None:
                from alibabacloud_alb20200616 import models
                from alibabacloud_alb20200616.client import Client

                client = Client(self._regional_config("alb", region))
                api = self._regional["alb", region] = LoadBalancerApi(client, self.retry, region, models)
            return api

    def nlb(self, region: str) -> LoadBalancerApi:
        """The NLB API of one region."""
        with self._lock:
            api = self._regional.get(("nlb", region))
            if api is None:
                from alibabacloud_nlb20220430 import models
                from alibabacloud_nlb20220430.client import Client

                client = Client(self._regional_config("nlb", region))
                api = self._regional["nlb", region] = LoadBalancerApi(client, self.retry, region, models)
            return api

    def ecs(self, region: str) -> EcsApi:
        """The ECS API of one region."""
        with self._lock:
            api = self._regional.get(("ecs", region))
            if api is None:
                from alibabacloud_ecs20140526.client import Client

                client = Client(self._regional_config("ecs", region))
                api = self._regional["ecs", region] = EcsApi(client, self.retry, region)
            return api

    def fc(self, endpoint: str) -> FcApi:
        """The FC API at ``endpoint`` (``<account>.<region>.fc.aliyuncs.com``, or the local host)."""
        from alibabacloud_fc20230330.client import Client

        return FcApi(Client(self._config(endpoint)), self.retry)

    def with_credentials(self, credentials: Credentials) -> CloudClients:
        """The same deployment seen through other credentials (e.g. an assumed role's session)."""
        return CloudClients(self.settings, credentials, retry=self.retry)
