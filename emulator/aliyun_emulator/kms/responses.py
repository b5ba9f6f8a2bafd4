"""KMS actions: GetSecretValue (the one call ram-delegate's functions make)."""

from __future__ import annotations

from typing import Any

from aliyun_emulator.context import Call
from aliyun_emulator.core.authorization import PRODUCT_DENIAL
from aliyun_emulator.core.errors import ApiError
from aliyun_emulator.kms.models import CURRENT

Body = dict[str, Any]


def get_secret_value(call: Call) -> Body:
    """A version of a secret by stage (default ACSCurrent); the caller needs kms:GetSecretValue on the secret."""
    params = call.params
    name = params.required("SecretName")
    stage = params.optional("VersionStage") or CURRENT
    region = params.optional("RegionId") or "cn-hangzhou"
    arn = f"acs:kms:{region}:{call.account.uid}:secret/{name}"
    call.authorize("kms:GetSecretValue", arn, denial_code=PRODUCT_DENIAL)
    version = call.account.kms.version(name, stage)
    if version is None:
        raise ApiError("Forbidden.ResourceNotFound", "The resource not found.", 404)
    return {
        "SecretName": name,
        "SecretType": "Generic",
        "SecretDataType": "text",
        "SecretData": version.data,
        "VersionId": version.version_id,
        "CreateTime": version.created,
        "VersionStages": {"VersionStage": sorted(version.stages)},
    }


HANDLERS = {"GetSecretValue": get_secret_value}
READ_ONLY = frozenset(HANDLERS)
