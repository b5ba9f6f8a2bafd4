"""The product APIs beside RAM: STS, SLB, ALB/NLB, ECS, Resource Manager, FC and KMS, each a few typed calls
over its SDK client (errors translated and retried by ``cloud_base``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ram_delegate.cloud_base import (
    AssumedRole,
    Credentials,
    InstanceSummary,
    LoadBalancerDetail,
    LoadBalancerSummary,
    RetryPolicy,
    RgAttachment,
    SecretVersion,
    WriteResult,
    _Api,
    _parse_time,
    _request_id,
)
from ram_delegate.errors import (
    AccessDeniedError,
    CloudError,
)


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

    def detach_policy(
        self, policy: str, principal_name: str, resource_group_id: str, policy_type: str = "Custom"
    ) -> WriteResult:
        from alibabacloud_resourcemanager20200331 import models

        request = models.DetachPolicyRequest(
            policy_name=policy,
            policy_type=policy_type,
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
        return _attachments(self._call("ListPolicyAttachments", lambda: self._client.list_policy_attachments(request)))

    def list_service_role_attachments(self) -> list[RgAttachment]:
        """Every policy attached to a RAM role through Resource Manager, in every resource group and at account scope
        (all pages): what a role holds beyond what ``ListPoliciesForRole`` shows."""
        from alibabacloud_resourcemanager20200331 import models

        def page_of(number: int) -> Any:
            request = models.ListPolicyAttachmentsRequest(
                principal_type="ServiceRole", page_number=number, page_size=100
            )
            return self._call("ListPolicyAttachments", lambda: self._client.list_policy_attachments(request))

        found: list[RgAttachment] = []
        page = 1
        while True:
            response = page_of(page)
            entries = _attachments(response)
            found += entries
            if not entries or len(found) >= (response.body.total_count or 0):
                return found
            page += 1


def _attachments(response: Any) -> list[RgAttachment]:
    body = response.body
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

    def get_secret_version(self, name: str, stage: str) -> SecretVersion | None:
        """One version stage (``ACSCurrent``, ``ACSPrevious``) of a text secret: its value and creation time; None
        when absent."""
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
        if not isinstance(value, str) or not value:
            return None
        created = body.get("CreateTime") if isinstance(body, dict) else None
        try:
            created_at = _parse_time(created) if isinstance(created, str) and created else None
        except ValueError:
            created_at = None
        return SecretVersion(value, created_at)


# ---------------------------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------------------------
