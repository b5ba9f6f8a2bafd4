"""Feishu / Lark approval events (``approval_instance``), with the Encrypt Key and the verification token.

With an Encrypt Key the body is ``{"encrypt": base64(iv + AES-256-CBC)}`` and events carry ``X-Lark-Signature``
(hex SHA-256 of timestamp + nonce + key + raw body), checked on the raw body with the timestamp within the
tolerance of the platform's clock; the decrypted token must equal the verification token (constant time). The
``url_verification`` handshake echoes the challenge. APPROVED approves; REVERTED, CANCELED and DELETED revoke;
other statuses are acknowledged. Feishu wants 200 within 3 s and retries after 15 s, 5 min, 1 h and 6 h: the
answer comes first, the instance (and its form) is fetched by the worker, at processing time.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ram_delegate.errors import InvalidInputError
from ram_delegate.fc import HttpRequest
from ram_delegate.intake.config import FeishuSource, split_secrets
from ram_delegate.intake.contract import (
    Answer,
    Job,
    Receipt,
    approved_event,
    event_time,
    from_epoch_ms,
    iso,
    parse_time,
    refuse,
    revoked_event,
    safe_id,
)
from ram_delegate.intake.crypto import CryptoError, feishu_check_signature, feishu_decrypt
from ram_delegate.intake.vendor_http import CachedToken, VendorHttp, VendorUnavailableError

NAME = "feishu"
SKEW_SECONDS = 300
APPROVE_STATUSES = frozenset({"APPROVED"})
REVOKE_STATUSES = frozenset({"REVERTED", "CANCELED", "DELETED"})


class FeishuAdapter:
    name = NAME

    def __init__(self, config: FeishuSource, env: Mapping[str, str], http: VendorHttp, attempts: int) -> None:
        self.config = config
        self._tokens = [t.encode() for t in split_secrets(env.get(config.verification_token_env, ""))]
        self._keys = split_secrets(env.get(config.encrypt_key_env, "")) if config.encrypt_key_env else ()
        self._app_id = env.get(config.app_id_env, "").strip()
        self._app_secret = env.get(config.app_secret_env, "").strip()
        self._http = http
        self._attempts = attempts
        self._access = CachedToken(self._fetch_token)

    def receive(self, request: HttpRequest) -> Receipt:
        try:
            document = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise refuse(400, "InvalidInput", "the body is not JSON") from None
        if not isinstance(document, Mapping):
            raise refuse(400, "InvalidInput", "the body is not a JSON object")
        if self._keys:
            document = self._decrypted(document, request)
        if not self._token_ok(document):
            raise refuse(401, "InvalidToken", "the verification token does not match")
        if document.get("type") == "url_verification":
            return Receipt(Answer(200, {"challenge": str(document.get("challenge", ""))}), note="url_verification")
        event = document.get("event")
        header = document.get("header") if isinstance(document.get("header"), Mapping) else {}
        assert isinstance(header, Mapping)
        if not isinstance(event, Mapping) or event.get("type", header.get("event_type")) != "approval_instance":
            return Receipt(Answer(200, {}), note="not an approval_instance event")
        codes = self.config.approval_codes
        if codes and event.get("approval_code") not in codes:
            return Receipt(Answer(200, {}), note="another approval definition")
        status, instance = event.get("status"), event.get("instance_code")
        if not isinstance(instance, str) or not instance:
            raise refuse(400, "InvalidInput", "instance_code is missing")
        if status in APPROVE_STATUSES:
            decision = "approve"
        elif status in REVOKE_STATUSES:
            decision = "revoke"
        else:
            return Receipt(Answer(200, {}), note=f"ignored {status}")
        delivery = str(document.get("uuid") or header.get("event_id") or event.get("uuid") or "")
        if not delivery:
            raise refuse(400, "InvalidInput", "the event has no uuid")
        at = event_time(from_epoch_ms(event.get("operate_time") or document.get("ts")), request.now)
        event_id = safe_id(NAME, instance, str(status))
        ticket = safe_id(instance).replace(":", "-")[:100]
        job = Job(NAME, decision, event_id, ticket, iso(at), iso(request.now), instance=instance, reference={})  # type: ignore[arg-type]
        return Receipt(Answer(200, {}), job)

    def _decrypted(self, document: Mapping[str, Any], request: HttpRequest) -> Mapping[str, Any]:
        encrypt = document.get("encrypt")
        if not isinstance(encrypt, str):
            raise refuse(401, "InvalidSignature", "an encrypted body is expected")
        headers = request.headers
        signature = headers.get("x-lark-signature", "")
        timestamp = headers.get("x-lark-request-timestamp", "")
        nonce = headers.get("x-lark-request-nonce", "")
        plain: bytes | None = None
        for key in self._keys:
            try:
                plain = feishu_decrypt(key, encrypt)
            except CryptoError:
                continue
            if signature:
                sent = from_epoch_ms(timestamp)
                fresh = sent is not None and abs((request.now - sent).total_seconds()) <= SKEW_SECONDS
                if not fresh or not feishu_check_signature(timestamp, nonce, key, request.body, signature):
                    plain = None
                    continue
            break
        if plain is None:
            raise refuse(401, "InvalidSignature", "the event signature could not be verified")
        try:
            inner = json.loads(plain)
        except (ValueError, UnicodeDecodeError):
            raise refuse(400, "InvalidInput", "the decrypted event is not JSON") from None
        if not isinstance(inner, Mapping):
            raise refuse(400, "InvalidInput", "the decrypted event is not a JSON object")
        if not signature and inner.get("type") != "url_verification":
            raise refuse(401, "InvalidSignature", "the event is not signed")
        return inner

    def _token_ok(self, document: Mapping[str, Any]) -> bool:
        header = document.get("header")
        token = header.get("token") if isinstance(header, Mapping) else document.get("token")
        candidate = token.encode() if isinstance(token, str) else b""
        matched = False
        for expected in self._tokens:
            matched |= hmac.compare_digest(expected, candidate)
        return bool(candidate) and matched

    # -- the worker ----------------------------------------------------------------------------------------------

    def complete(self, job: Job) -> Mapping[str, Any] | None:
        at = parse_time(job.event_time)
        if job.decision == "revoke":
            return revoked_event(
                source=NAME,
                event_id=job.event_id,
                ticket=job.ticket,
                at=at,
                reason="Feishu approval withdrawn",
                requested_by=None,
            )
        instance = self._instance(str(job.instance))
        if instance.get("status") not in APPROVE_STATUSES:
            return None
        try:
            widgets = json.loads(str(instance.get("form") or "[]"))
        except ValueError:
            raise InvalidInputError("the instance form is not JSON") from None
        form = {str(w.get("name")): w.get("value") for w in widgets if isinstance(w, Mapping)}
        values: dict[str, str | None] = {}
        for name, widget in self.config.fields.model_dump().items():
            if widget:
                value = form.get(widget)
                values[name] = value if isinstance(value, str) else (str(value) if isinstance(value, int) else None)
        approver = ""
        for task in instance.get("task_list") or []:
            if isinstance(task, Mapping) and task.get("status") == "APPROVED":
                approver = str(task.get("user_id") or approver)
        requester = str(instance.get("user_id") or "")
        if not approver:
            raise InvalidInputError("the instance names no approver")
        return approved_event(
            source=NAME,
            event_id=job.event_id,
            ticket=job.ticket,
            at=at,
            values=values,
            fields=self.config.fields,
            defaults=self.config.defaults,
            requested_by=requester or "unknown",
            approved_by=approver,
        )

    def _fetch_token(self) -> tuple[str, int]:
        url = f"{self.config.api_url.rstrip('/')}/open-apis/auth/v3/tenant_access_token/internal"
        status, payload = self._http.call("POST", url, body={"app_id": self._app_id, "app_secret": self._app_secret})
        if status != 200 or not isinstance(payload, Mapping) or payload.get("code") != 0:
            raise VendorUnavailableError(f"Feishu tenant token: HTTP {status}")
        return str(payload.get("tenant_access_token", "")), int(payload.get("expire") or 7200)

    def _instance(self, instance: str) -> Mapping[str, Any]:
        url = f"{self.config.api_url.rstrip('/')}/open-apis/approval/v4/instances/{quote(instance, safe='')}"
        status, payload = self._http.call("GET", url, headers={"authorization": f"Bearer {self._access.get()}"})
        data = payload.get("data") if isinstance(payload, Mapping) and payload.get("code") == 0 else None
        if status != 200 or not isinstance(data, Mapping):
            raise VendorUnavailableError(f"Feishu approval instance: HTTP {status}")
        return data

    def reference_for(self, ticket: str) -> Mapping[str, str]:
        """The requester of the instance (the ticket is the instance code)."""
        if self.config.write_back is None:
            return {}
        return {"requester": str(self._instance(ticket).get("user_id") or "")}

    def write_back(self, job: Job, text: str) -> bool:
        config = self.config.write_back
        event = job.event or {}
        data = event.get("data") if isinstance(event, Mapping) else None
        named = data.get("requested_by") if isinstance(data, Mapping) else None
        requester = named if isinstance(named, str) else job.reference.get("requester")
        if config is None or not config.enabled or not isinstance(requester, str) or requester == "unknown":
            return False
        try:
            token = self._access.get()
        except VendorUnavailableError:
            return False
        url = f"{self.config.api_url.rstrip('/')}/open-apis/im/v1/messages?receive_id_type=user_id"
        body = {"receive_id": requester, "msg_type": "text", "content": json.dumps({"text": text})}
        headers = {"authorization": f"Bearer {token}"}
        status, payload = self._http.with_retries(
            self._attempts, lambda: self._http.call("POST", url, body=body, headers=headers)
        )
        return status == 200 and isinstance(payload, Mapping) and payload.get("code") == 0
