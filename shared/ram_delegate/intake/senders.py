"""Deliveries as the vendors make them: a native payload signed or encrypted by the vendor's algorithm.

Used by ``ram-delegate send --source`` (an operator testing a deployment by hand), the tests and the bench.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as random_source
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ram_delegate.intake.crypto import dingtalk_encrypt, dingtalk_signature, feishu_encrypt, feishu_signature


@dataclass(frozen=True)
class Delivery:
    """What to POST: query parameters, headers and the raw body."""

    body: bytes
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


def _hub(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def jira(body: bytes, secret: str, *, delivery_id: str | None = None) -> Delivery:
    headers = {
        "content-type": "application/json",
        "x-hub-signature": _hub(secret, body),
        "x-atlassian-webhook-identifier": delivery_id or str(uuid.uuid4().int)[:19],
    }
    return Delivery(body, headers)


def github(body: bytes, secret: str, *, delivery_id: str | None = None, event: str = "issues") -> Delivery:
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery_id or str(uuid.uuid4()),
        "x-github-hook-id": "1",
        "x-hub-signature-256": _hub(secret, body),
    }
    return Delivery(body, headers)


def dingtalk(message: bytes, *, token: str, aes_key: str, receiver_id: str, now: datetime) -> Delivery:
    timestamp = str(int(now.timestamp() * 1000))
    nonce = random_source.token_hex(4)
    encrypt = dingtalk_encrypt(aes_key, receiver_id, message)
    query = {
        "msg_signature": dingtalk_signature(token, timestamp, nonce, encrypt),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    return Delivery(json.dumps({"encrypt": encrypt}).encode(), {"content-type": "application/json"}, query)


def feishu(document: Mapping[str, Any], *, verification_token: str, encrypt_key: str | None, now: datetime) -> Delivery:
    """The event with its token set; encrypted and signed when an Encrypt Key is given."""
    filled = dict(document)
    if isinstance(filled.get("header"), Mapping):
        filled["header"] = {**filled["header"], "token": verification_token}
    else:
        filled["token"] = verification_token
    plain = json.dumps(filled).encode()
    if not encrypt_key:
        return Delivery(plain, {"content-type": "application/json"})
    body = json.dumps({"encrypt": feishu_encrypt(encrypt_key, plain)}).encode()
    timestamp, nonce = str(int(now.timestamp())), random_source.token_hex(8)
    headers = {
        "content-type": "application/json",
        "x-lark-request-timestamp": timestamp,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": feishu_signature(timestamp, nonce, encrypt_key, body),
    }
    return Delivery(body, headers)


def token(body: bytes, bearer: str) -> Delivery:
    return Delivery(body, {"content-type": "application/json", "authorization": f"Bearer {bearer}"})


# -- ram-delegate send --source ---------------------------------------------------------------------------------

_DEFAULT_NAMES: dict[str, dict[str, str]] = {
    "jira": {"secret": "RAM_DELEGATE_JIRA_SECRET"},
    "github": {"secret": "RAM_DELEGATE_GITHUB_SECRET"},
    "dingtalk": {"secret": "RAM_DELEGATE_DINGTALK_TOKEN", "aes_key": "RAM_DELEGATE_DINGTALK_AES_KEY"},
    "feishu": {"secret": "RAM_DELEGATE_FEISHU_VERIFICATION_TOKEN", "encrypt_key": "RAM_DELEGATE_FEISHU_ENCRYPT_KEY"},
    "token": {"secret": "RAM_DELEGATE_INTAKE_TOKEN"},
}
_FILE_KEYS = {
    "jira": {"secret": "secret_env"},
    "github": {"secret": "secret_env"},
    "dingtalk": {"secret": "token_env", "aes_key": "aes_key_env"},
    "feishu": {"secret": "verification_token_env", "encrypt_key": "encrypt_key_env"},
    "token": {"secret": "token_env"},
}


def _source_section(source: str, env: Mapping[str, str]) -> Mapping[str, Any]:
    """The source's section of the intake file, read leniently (the sender only needs variable names)."""
    from pathlib import Path

    import yaml

    from ram_delegate.intake.config import ENV_INTAKE_FILE

    path = env.get(ENV_INTAKE_FILE, "").strip()
    if not path:
        return {}
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    sources = document.get("sources") if isinstance(document, Mapping) else None
    section = sources.get(source) if isinstance(sources, Mapping) else None
    return section if isinstance(section, Mapping) else {}


def native_delivery(
    source: str,
    payload: bytes,
    env: Mapping[str, str],
    *,
    now: datetime,
    secret: str | None = None,
    delivery_id: str | None = None,
) -> Delivery:
    """Sign or encrypt a native payload for ``source`` with the secrets the intake file (or the defaults) name.

    ``secret`` overrides the main one (the webhook secret, the bearer or verification token); rotation lists sign
    with their first entry. ValueError when something needed is missing.
    """
    section = _source_section(source, env)
    names = {
        role: str(section.get(_FILE_KEYS[source][role]) or default) for role, default in _DEFAULT_NAMES[source].items()
    }

    def value(role: str) -> str:
        raw = secret if role == "secret" and secret else env.get(names[role], "")
        first = raw.replace(",", " ").split()
        if not first:
            raise ValueError(
                f"no {role.replace('_', ' ')}: set {names[role]}" + (" or pass --secret" if role == "secret" else "")
            )
        return first[0]

    if source == "jira":
        return jira(payload, value("secret"), delivery_id=delivery_id)
    if source == "github":
        return github(payload, value("secret"), delivery_id=delivery_id)
    if source == "token":
        return token(payload, value("secret"))
    if source == "dingtalk":
        receiver = str(section.get("receiver_id") or "")
        return dingtalk(payload, token=value("secret"), aes_key=value("aes_key"), receiver_id=receiver, now=now)
    if source == "feishu":
        try:
            document = json.loads(payload)
        except ValueError:
            raise ValueError("a Feishu payload must be JSON") from None
        if not isinstance(document, Mapping):
            raise ValueError("a Feishu payload must be a JSON object")
        key = env.get(names["encrypt_key"], "").replace(",", " ").split()
        return feishu(document, verification_token=value("secret"), encrypt_key=key[0] if key else None, now=now)
    raise ValueError(f"unknown source {source}")
