"""The 64 real SDK requests of ``data/sdk-captures.json`` (copied from the wire-protocol reference) as test vectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from aliyun_emulator.core.signing import RawRequest

CAPTURES_FILE = Path(__file__).parent / "data" / "sdk-captures.json"

SECRETS = {"default_ak": "secret-test", "default_sts": "sts-secret", "v2_ak": "secret-test", "v2_sts": "sts-secret"}
"""The throw-away credentials that signed each mode (sdk-captures.md)."""
SECURITY_TOKEN = "CAIS-token-xyz"
CAPTURE_TIME = datetime(2026, 11, 28, 21, 59, 57, tzinfo=timezone.utc)
"""Within seconds of every capture's x-acs-date / Timestamp."""


@dataclass(frozen=True)
class Capture:
    mode: str
    index: int
    name: str
    method: str
    raw_path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def secret(self) -> str:
        return SECRETS[self.mode]

    @property
    def access_key_id(self) -> str:
        return "STS.AKID" if self.mode.endswith("_sts") else "AKID_TEST"

    @property
    def path(self) -> str:
        return self.raw_path.partition("?")[0]

    @property
    def query(self) -> str:
        return self.raw_path.partition("?")[2]

    def raw_request(self) -> RawRequest:
        return RawRequest.from_header_pairs(self.method, self.path, self.query, self.headers, self.body)


@cache
def load_captures() -> tuple[Capture, ...]:
    document: dict[str, list[dict[str, Any]]] = json.loads(CAPTURES_FILE.read_text(encoding="utf-8"))
    captures = []
    for mode, records in document.items():
        for index, record in enumerate(records):
            rec = record["rec"]
            captures.append(
                Capture(
                    mode=mode,
                    index=index,
                    name=record["name"],
                    method=rec["method"],
                    raw_path=rec["raw_path"],
                    headers=tuple((name, value) for name, value in rec["headers"]),
                    body=rec["body"].encode("utf-8"),
                )
            )
    return tuple(captures)
