"""Test-wide guards: no network, no proxies, no ECS metadata probing, no SDK debug logging."""

from __future__ import annotations

import os

os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "DEBUG"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
