"""The seam between the wire (server, signing, control interface) and the cloud's state (accounts and products).

The server authenticates a request with ``resolve_access_key``, routes it by API version to a product name, and calls
``dispatch``. Everything product-specific (parameters, rules, authorization, response shapes) lives behind it.
"""

from __future__ import annotations

from typing import Any, Protocol

from aliyun_emulator.core.identity import Credential
from aliyun_emulator.core.request import ApiRequest

API_VERSIONS: dict[str, str] = {
    "2015-05-01": "ram",
    "2015-04-01": "sts",
    "2014-05-15": "slb",
    "2020-03-31": "resourcemanager",
    "2020-06-16": "alb",
    "2022-04-30": "nlb",
    "2014-05-26": "ecs",
    "2016-01-20": "kms",
}
"""API version (x-acs-version / Version) -> product name."""

HOST_IDS: dict[str, str] = {
    "ram": "ram.aliyuncs.com",
    "sts": "sts.aliyuncs.com",
    "slb": "slb.aliyuncs.com",
    "resourcemanager": "resourcemanager.aliyuncs.com",
    "alb": "alb.aliyuncs.com",
    "nlb": "nlb.aliyuncs.com",
    "ecs": "ecs.aliyuncs.com",
    "kms": "kms.aliyuncs.com",
}


class CloudBackend(Protocol):
    """What the server needs from the state side."""

    def resolve_access_key(self, access_key_id: str) -> Credential | None:
        """The credential behind an AccessKeyId (root key, RAM user key or STS key), or None if unknown."""

    def dispatch(self, request: ApiRequest) -> dict[str, Any]:
        """Run one action; returns the success body without RequestId; raises ApiError (unknown action included)."""

    def reset(self) -> None:
        """Back to the seed: every account as declared, nothing else."""

    def dump(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of all state (secrets of STS sessions and keys masked)."""
