"""The SDK boundary: error translation, credentials, bounded retries."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ram_delegate.cloud import Credentials, RetryPolicy, call_with_retry, translate_error
from ram_delegate.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    CloudError,
    NotFoundError,
    RetryableCloudError,
)
from ram_delegate.settings import Settings


def sdk_error(code: str, status: int) -> Exception:
    from alibabacloud_tea_openapi.exceptions import ClientException, ServerException

    kind = ServerException if status >= 500 else ClientException
    data = {"RequestId": "REQ-1", "Code": code, "Message": "what the cloud said"}
    return kind(status_code=status, code=code, message="m", request_id="REQ-1", data=data)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("EntityNotExist.Role", 404, NotFoundError),
        ("EntityAlreadyExists.Role", 409, AlreadyExistsError),
        ("NoPermission", 403, AccessDeniedError),
        ("NoPermission.Role", 403, AccessDeniedError),
        ("Forbidden.RAM", 403, AccessDeniedError),
        ("Throttling.User", 400, RetryableCloudError),
        ("ServiceUnavailable", 503, RetryableCloudError),
        ("InternalError", 500, RetryableCloudError),
        ("MalformedPolicyDocument", 400, CloudError),
    ],
)
def test_sdk_errors_become_library_errors(code: str, status: int, expected: type[CloudError]) -> None:
    error = translate_error(sdk_error(code, status), "CreateRole")
    assert type(error) is expected
    assert (error.cloud_code, error.http_status, error.request_id, error.action) == (
        code,
        status,
        "REQ-1",
        "CreateRole",
    )


def test_a_transport_failure_is_retryable() -> None:
    assert isinstance(translate_error(ConnectionRefusedError("refused"), "GetRole"), RetryableCloudError)


def test_only_retryable_errors_are_retried() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def refuse() -> None:
        calls.append(1)
        raise sdk_error("NoPermission", 403)

    with pytest.raises(AccessDeniedError):
        call_with_retry("GetRole", refuse, RetryPolicy(sleep=sleeps.append))
    assert (len(calls), sleeps) == (1, [])


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=5.0, random=lambda: 0.5)
    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 2.5, 2.5]


def test_credentials_never_show_their_secrets() -> None:
    credentials = Credentials("STS.id", "the-secret", "the-token")
    assert "the-secret" not in repr(credentials)
    assert "the-token" not in repr(credentials)


def test_credentials_from_env_and_from_fc_context() -> None:
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}
    assert Credentials.from_env(env) == Credentials("id", "s")
    assert Credentials.from_env({}) is None
    context: Any = SimpleNamespace(
        credentials=SimpleNamespace(access_key_id="STS.x", access_key_secret="y", security_token="t")
    )
    assert Credentials.from_fc_context(context) == Credentials("STS.x", "y", "t")
    assert Credentials.from_fc_context(SimpleNamespace()) is None


def test_endpoints_are_the_real_ones_per_product_and_region_unless_overridden() -> None:
    real = Settings(region="cn-shanghai")
    assert real.endpoint_for("ram") == "ram.aliyuncs.com"
    assert real.endpoint_for("sts") == "sts.cn-shanghai.aliyuncs.com"
    assert real.endpoint_for("resourcemanager") == "resourcemanager.aliyuncs.com"
    assert real.endpoint_for("slb") == "slb.cn-shanghai.aliyuncs.com"
    assert real.endpoint_for("slb", "ap-southeast-1") == "slb.ap-southeast-1.aliyuncs.com"
    local = Settings(endpoint="127.0.0.1:8080")
    assert {local.endpoint_for("sts"), local.endpoint_for("slb", "ap-southeast-1")} == {"127.0.0.1:8080"}
