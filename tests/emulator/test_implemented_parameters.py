"""Every parameter of every emulated action's official SDK request model is either implemented or refused.

The parameter names come from the Tea SDK request models themselves (every field set, flattened the way RPC sends
lists: ``Tag.1.Key``), not from our own table; each name the emulator does not implement is sent alone and must be
answered ``InvalidParameter`` naming it (nothing runs: the refusal comes before the action).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
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
from aliyun_emulator.ram.responses import HANDLERS as RAM_HANDLERS
from aliyun_emulator.resourcemanager.responses import HANDLERS as RM_HANDLERS
from aliyun_emulator.slb.responses import HANDLERS as SLB_HANDLERS
from aliyun_emulator.sts.responses import HANDLERS as STS_HANDLERS
from aliyun_emulator.testing import sdk_config

ROOT_A = ("AKIDENTERPRISEA0000001", "secret-a")
PRODUCTS: dict[str, tuple[ModuleType, str, dict[str, Any]]] = {
    "ram": (ram_models, "2015-05-01", RAM_HANDLERS),
    "sts": (sts_models, "2015-04-01", STS_HANDLERS),
    "slb": (slb_models, "2014-05-15", SLB_HANDLERS),
    "resourcemanager": (rm_models, "2020-03-31", RM_HANDLERS),
}


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
    for product, (_models, _version, handlers) in PRODUCTS.items():
        for action in handlers:
            implemented = IMPLEMENTED[f"{product}:{action}"]
            for name in wire_names(product, action):
                normalised = ".".join("N" if part.isdigit() else part for part in name.split("."))
                if name not in implemented and normalised not in implemented and name not in COMMON:
                    yield product, action, name


def test_every_action_of_the_products_declares_its_parameters() -> None:
    declared = {key for key in IMPLEMENTED if key.split(":")[0] in PRODUCTS}
    assert declared == {
        f"{product}:{action}" for product, (_m, _v, handlers) in PRODUCTS.items() for action in handlers
    }


def test_every_implemented_parameter_is_a_parameter_of_the_sdk_model() -> None:
    for product, (_models, _version, handlers) in PRODUCTS.items():
        for action in handlers:
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
