"""Every parameter of every emulated action's official SDK request model is either implemented or refused.

The parameter names come from the Tea SDK request models themselves (every field set, flattened the way RPC sends
lists: ``Tag.1.Key``), not from our own table; each name the emulator does not implement is sent alone and must be
answered ``InvalidParameter`` naming it (nothing runs: the refusal comes before the action). The last tests make
sure the refusals leave the calls ram-delegate makes, and the parameters implemented beyond them, working.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from alibabacloud_alb20200616 import models as alb_models
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_nlb20220430 import models as nlb_models
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_resourcemanager20200331 import models as rm_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import OpenApiRequest, Params
from alibabacloud_tea_openapi.utils import Utils
from darabonba.runtime import RuntimeOptions

from aliyun_emulator.emulator import Emulator
from aliyun_emulator.implemented import COMMON, IMPLEMENTED
from aliyun_emulator.state import PRODUCTS as SERVED
from aliyun_emulator.testing import (
    ENTERPRISE_A_UID,
    PROD_RESOURCE_GROUP_ID,
    alb_client,
    ecs_client,
    nlb_client,
    sdk_config,
)
from ram_delegate.cloud import CloudClients, Credentials
from ram_delegate.settings import Settings

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
REGION = "cn-hangzhou"
PRODUCTS: dict[str, tuple[ModuleType, str]] = {
    "ram": (ram_models, "2015-05-01"),
    "sts": (sts_models, "2015-04-01"),
    "slb": (slb_models, "2014-05-15"),
    "resourcemanager": (rm_models, "2020-03-31"),
    "alb": (alb_models, "2020-06-16"),
    "nlb": (nlb_models, "2022-04-30"),
    "ecs": (ecs_models, "2014-05-26"),
    "kms": (kms_models, "2016-01-20"),
}
"""Each served product's official SDK request models and API version."""
ACTIONS = [(product, action) for product, (handlers, _read_only) in SERVED.items() for action in handlers]


def populated(model_class: type[Any]) -> Any:
    """An instance of a Tea model with every field set to a value of its declared type."""
    hints = typing.get_type_hints(model_class.__init__)
    hints.pop("return", None)
    return model_class(**{name: sample(hint) for name, hint in hints.items()})


def sample(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (list, typing.List):  # noqa: UP006 - the SDK models declare typing.List
        return [sample(typing.get_args(hint)[0])]
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {"k": "v"}
    if hint is bool:
        return True
    if hint is int:
        return 1
    if hint is str:
        return "x1"
    return populated(hint)


def wire_names(product: str, action: str) -> list[str]:
    models = PRODUCTS[product][0]
    # A "shrink" model is what the client really sends when it exists (lists as one JSON-encoded parameter).
    model_class = getattr(models, f"{action}ShrinkRequest", None) or getattr(models, f"{action}Request", None)
    if model_class is None:  # GetCallerIdentity has no request model: it takes no parameter
        return []
    request = populated(model_class)
    flat = Utils.query(request.to_map())
    return sorted(flat)


def refusable() -> Iterator[tuple[str, str, str]]:
    for product, action in ACTIONS:
        implemented = IMPLEMENTED[f"{product}:{action}"]
        for name in wire_names(product, action):
            normalised = ".".join("N" if part.isdigit() else part for part in name.split("."))
            if name not in implemented and normalised not in implemented and name not in COMMON:
                yield product, action, name


def test_every_served_action_declares_its_parameters() -> None:
    assert set(PRODUCTS) == set(SERVED)
    assert set(IMPLEMENTED) == {f"{product}:{action}" for product, action in ACTIONS}


def test_every_implemented_parameter_is_a_parameter_of_the_sdk_model() -> None:
    for product, action in ACTIONS:
        sent = {".".join("N" if p.isdigit() else p for p in n.split(".")) for n in wire_names(product, action)}
        # Tags travel JSON-encoded (Tea SDKs) or flat (pop-core, legacy SDK): both forms are one model field.
        assert IMPLEMENTED[f"{product}:{action}"] - sent - {"Tag", "Tag.N.Key", "Tag.N.Value"} == set(), action


@pytest.mark.parametrize(("product", "action", "name"), list(refusable()))
def test_an_unimplemented_model_parameter_is_refused(
    aliyun_emulator: Emulator, product: str, action: str, name: str
) -> None:
    version = PRODUCTS[product][1]
    client = OpenApiClient(sdk_config(aliyun_emulator, *ROOT_A))
    params = Params(
        action=action,
        version=version,
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    before = aliyun_emulator.state.dump()
    with pytest.raises(ClientException) as raised:
        client.call_api(params, OpenApiRequest(query={name: "x1"}), RuntimeOptions())

    assert (raised.value.code, raised.value.status_code) == ("InvalidParameter", 400)
    assert name in str(raised.value.message)
    assert aliyun_emulator.state.dump() == before


@pytest.fixture
def cloud(aliyun_emulator: Emulator) -> CloudClients:
    """ram-delegate's own clients as A's root: they send exactly what the verifier probes and profiles send."""
    return CloudClients(Settings(endpoint=aliyun_emulator.endpoint, protocol="http"), Credentials(*ROOT_A))


@pytest.mark.parametrize("product", ["alb", "nlb"])
def test_the_load_balancer_calls_still_work(aliyun_emulator: Emulator, cloud: CloudClients, product: str) -> None:
    api = cloud.alb(REGION) if product == "alb" else cloud.nlb(REGION)
    listed = api.list_load_balancers(resource_group_id=PROD_RESOURCE_GROUP_ID)
    assert [(lb.id, lb.status) for lb in listed] == [(f"{product}-prod0000001", "Active")]
    assert api.dry_run_rename(listed[0].id, "renamed").request_id
    assert api.list_load_balancers(resource_group_id=PROD_RESOURCE_GROUP_ID)[0].name == listed[0].name

    # The filter and the token pages the project does not use are implemented too.
    models, client = (alb_models, alb_client) if product == "alb" else (nlb_models, nlb_client)
    request = models.ListLoadBalancersRequest(load_balancer_ids=[f"{product}-prod0000001", f"{product}-dflt0000001"])
    request.max_results = 1
    if product == "nlb":
        request.region_id = REGION  # every NLB call names its region itself
    first = client(aliyun_emulator, *ROOT_A).list_load_balancers(request).body
    request.next_token = first.next_token
    second = client(aliyun_emulator, *ROOT_A).list_load_balancers(request).body
    pages = [lb.load_balancer_id for body in (first, second) for lb in body.load_balancers]
    assert (sorted(pages), second.next_token) == ([f"{product}-dflt0000001", f"{product}-prod0000001"], "")


def test_the_ecs_calls_still_work(aliyun_emulator: Emulator, cloud: CloudClients) -> None:
    api = cloud.ecs(REGION)
    assert [i.id for i in api.describe_instances(resource_group_id=PROD_RESOURCE_GROUP_ID)] == [
        "i-bp1prod0000001",
        "i-bp1prod0000002",
    ]
    assert len(api.describe_instances(page_size=1)) == 3  # PageNumber pages
    assert api.dry_run_stop("i-bp1prod0000001").request_id
    client = ecs_client(aliyun_emulator, *ROOT_A)
    named = ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids='["i-bp1prod0000002"]')
    assert [i.instance_id for i in client.describe_instances(named).body.instances.instance] == ["i-bp1prod0000002"]
    attribute = ecs_models.DescribeInstanceAttributeRequest(instance_id="i-bp1prod0000001")
    assert client.describe_instance_attribute(attribute).body.status == "Running"


def test_the_kms_call_still_works(aliyun_emulator: Emulator, cloud: CloudClients) -> None:
    secrets = aliyun_emulator.state.accounts[ENTERPRISE_A_UID].kms
    secrets.put("ram-delegate/owner/webhook", "whsec-old")
    secrets.put("ram-delegate/owner/webhook", "whsec-new")
    current = cloud.kms.get_secret_version("ram-delegate/owner/webhook", "ACSCurrent")
    assert current is not None
    assert current.value == "whsec-new"
    request = kms_models.GetSecretValueRequest(secret_name="ram-delegate/owner/webhook", version_stage="ACSPrevious")
    answer = KmsClient(sdk_config(aliyun_emulator, *ROOT_A)).get_secret_value(request).body
    assert answer.secret_data == "whsec-old"
