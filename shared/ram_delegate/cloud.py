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

The boundary is three modules by job: ``cloud_base`` (credentials, retries, error translation, results),
``cloud_services`` (STS, SLB, ALB/NLB, ECS, Resource Manager, FC, KMS) and this one (RAM, and ``CloudClients``, which
hands each out); everything is importable from here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from ram_delegate.cloud_base import (
    ENV_ACCESS_KEY_ID,
    ENV_ACCESS_KEY_SECRET,
    ENV_SECURITY_TOKEN,
    LIST_PAGE_SIZE,
    AssumedRole,
    AttachedPolicyRef,
    Credentials,
    InstanceSummary,
    LoadBalancerDetail,
    LoadBalancerSummary,
    PolicyInfo,
    RetryPolicy,
    RgAttachment,
    RoleInfo,
    TaggedResource,
    UserInfo,
    WriteResult,
    _all_pages,
    _Api,
    _request_id,
    _tag_list,
    _tags_of,
    call_with_retry,
    translate_error,
)
from ram_delegate.cloud_services import (
    EcsApi,
    FcApi,
    KmsApi,
    LoadBalancerApi,
    ResourceManagerApi,
    SlbApi,
    StsApi,
)

if TYPE_CHECKING:
    from ram_delegate.settings import Settings


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
        """Every role carrying all ``tags`` (every role when ``tags`` is empty), 1,000 per call."""
        from alibabacloud_ram20150501 import models

        def page(marker: str | None) -> tuple[list[TaggedResource], Any]:
            request = models.ListRolesRequest(
                marker=marker, max_items=LIST_PAGE_SIZE, tag=_tag_list(models.ListRolesRequestTag, tags) or None
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
        """Every custom policy carrying all ``tags`` (every one when ``tags`` is empty), 1,000 per call."""
        from alibabacloud_ram20150501 import models

        def page(marker: str | None) -> tuple[list[TaggedResource], Any]:
            request = models.ListPoliciesRequest(
                marker=marker,
                max_items=LIST_PAGE_SIZE,
                policy_type="Custom",
                tag=_tag_list(models.ListPoliciesRequestTag, tags) or None,
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

    def list_entities_for_policy(self, policy: str, policy_type: str = "Custom") -> list[tuple[str, str]]:
        """Who holds ``policy`` account-wide: ("User" | "Role" | "Group", name) pairs."""
        from alibabacloud_ram20150501 import models

        request = models.ListEntitiesForPolicyRequest(policy_name=policy, policy_type=policy_type)
        body = self._call("ListEntitiesForPolicy", lambda: self._client.list_entities_for_policy(request)).body
        users = (body.users.user if body.users else None) or []
        roles = (body.roles.role if body.roles else None) or []
        groups = (body.groups.group if body.groups else None) or []
        return (
            [("User", str(u.user_name)) for u in users]
            + [("Role", str(r.role_name)) for r in roles]
            + [("Group", str(x.group_name)) for x in groups]
        )

    def count_access_keys(self, user: str) -> int:
        """How many AccessKeys a user holds (ids only; secrets are never returned by this call)."""
        from alibabacloud_ram20150501 import models

        request = models.ListAccessKeysRequest(user_name=user)
        body = self._call("ListAccessKeys", lambda: self._client.list_access_keys(request)).body
        return len((body.access_keys.access_key if body.access_keys else None) or [])


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


__all__ = [
    "ENV_ACCESS_KEY_ID",
    "ENV_ACCESS_KEY_SECRET",
    "ENV_SECURITY_TOKEN",
    "LIST_PAGE_SIZE",
    "AssumedRole",
    "AttachedPolicyRef",
    "CloudClients",
    "Credentials",
    "EcsApi",
    "FcApi",
    "InstanceSummary",
    "KmsApi",
    "LoadBalancerApi",
    "LoadBalancerDetail",
    "LoadBalancerSummary",
    "PolicyInfo",
    "RamApi",
    "ResourceManagerApi",
    "RetryPolicy",
    "RgAttachment",
    "RoleInfo",
    "SlbApi",
    "StsApi",
    "TaggedResource",
    "UserInfo",
    "WriteResult",
    "call_with_retry",
    "translate_error",
]
