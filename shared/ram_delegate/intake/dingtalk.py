"""DingTalk OA approval callbacks (``bpms_instance_change``) in the encrypted HTTP push format.

Query ``msg_signature``, ``timestamp`` (ms), ``nonce``; body ``{"encrypt": ...}``. The signature is checked (any token
of the rotation list), the timestamp must be within the tolerance of the platform's clock both ways, the message
must decrypt and name our receiver id. Every accepted delivery, the ``check_url`` handshake included, is answered
with the encrypted ``success`` DingTalk requires. ``finish`` + ``agree`` approves, ``terminate`` (withdrawn)
revokes; anything else is acknowledged and ignored. The callback carries no form values: the worker fetches the
instance from the workflow API with the app's credentials at processing time, so a late redelivery acts on the
instance's current state (an instance since withdrawn grants nothing).
"""

from __future__ import annotations

import json
import secrets as random_source
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ram_delegate.errors import InvalidInputError
from ram_delegate.fc import HttpRequest
from ram_delegate.intake.config import DingTalkSource, split_secrets
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
from ram_delegate.intake.crypto import (
    CryptoError,
    dingtalk_check_signature,
    dingtalk_decrypt,
    dingtalk_encrypt,
    dingtalk_signature,
)
from ram_delegate.intake.vendor_http import CachedToken, VendorHttp, VendorUnavailableError

NAME = "dingtalk"
SKEW_SECONDS = 300


def ticket_of(instance: str) -> str:
    return safe_id(instance).replace(":", "-")[:100]


class DingTalkAdapter:
    name = NAME

    def __init__(self, config: DingTalkSource, env: Mapping[str, str], http: VendorHttp, attempts: int) -> None:
        self.config = config
        self._tokens = split_secrets(env.get(config.token_env, ""))
        self._aes_keys = split_secrets(env.get(config.aes_key_env, ""))
        self._app_key = env.get(config.app_key_env, "").strip()
        self._app_secret = env.get(config.app_secret_env, "").strip()
        self._http = http
        self._attempts = attempts
        self._access = CachedToken(self._fetch_token)

    # -- the front door ------------------------------------------------------------------------------------------

    def receive(self, request: HttpRequest) -> Receipt:
        query = request.query
        # DingTalk's own samples also accept the older spellings "signature" and "timeStamp"
        signature = query.get("msg_signature") or query.get("signature", "")
        timestamp = query.get("timestamp") or query.get("timeStamp", "")
        nonce = query.get("nonce", "")
        try:
            body = json.loads(request.body)
            encrypt = body["encrypt"] if isinstance(body, Mapping) else None
        except (ValueError, UnicodeDecodeError, KeyError):
            encrypt = None
        if not isinstance(encrypt, str) or not signature or not timestamp or not nonce:
            raise refuse(401, "InvalidSignature", "the callback signature could not be verified")
        matching = (t for t in self._tokens if dingtalk_check_signature(t, timestamp, nonce, encrypt, signature))
        token = next(matching, None)
        sent = from_epoch_ms(timestamp)
        if token is None or sent is None or abs((request.now - sent).total_seconds()) > SKEW_SECONDS:
            raise refuse(401, "InvalidSignature", "the callback signature could not be verified")
        message, receiver = self._decrypt(encrypt)
        if self.config.receiver_id and receiver != self.config.receiver_id:
            raise refuse(401, "InvalidSignature", "the callback is addressed to another receiver")
        try:
            event = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            raise refuse(400, "InvalidInput", "the decrypted callback is not JSON") from None
        if not isinstance(event, Mapping):
            raise refuse(400, "InvalidInput", "the decrypted callback is not a JSON object")
        answer = self.success(token, receiver, request)
        kind = event.get("EventType")
        if kind != "bpms_instance_change":
            return Receipt(answer, note=f"acknowledged {kind}")
        codes = self.config.process_codes
        if codes and event.get("processCode") not in codes:
            return Receipt(answer, note="another approval template")
        instance = event.get("processInstanceId")
        if not isinstance(instance, str) or not instance:
            raise refuse(400, "InvalidInput", "processInstanceId is missing")
        change, result = event.get("type"), event.get("result")
        if change == "finish" and result == "agree":
            decision = "approve"
        elif change == "terminate":
            decision = "revoke"
        else:
            return Receipt(answer, note=f"ignored {change}/{result}")
        at = event_time(from_epoch_ms(event.get("finishTime") or event.get("createTime")), request.now)
        event_id = safe_id(NAME, instance, str(change))
        ticket = ticket_of(instance)
        staff = event.get("staffId") if isinstance(event.get("staffId"), str) else ""
        job = Job(
            NAME,
            decision,  # type: ignore[arg-type]
            event_id,
            ticket,
            iso(at),
            iso(request.now),
            instance=instance,
            reference={"requester": str(staff)},
        )
        return Receipt(answer, job)

    def _decrypt(self, encrypt: str) -> tuple[bytes, str]:
        for key in self._aes_keys:
            try:
                return dingtalk_decrypt(key, encrypt)
            except (CryptoError, ValueError):
                continue
        raise refuse(401, "InvalidSignature", "the callback could not be decrypted")

    def success(self, token: str, receiver: str, request: HttpRequest) -> Answer:
        """The encrypted ``success`` reply (the URL check's answer too)."""
        timestamp = str(int(request.now.timestamp() * 1000))
        nonce = random_source.token_hex(8)
        encrypt = dingtalk_encrypt(self._aes_keys[0], receiver or self.config.receiver_id or "", b"success")
        signature = dingtalk_signature(token, timestamp, nonce, encrypt)
        return Answer(200, {"msg_signature": signature, "timeStamp": timestamp, "nonce": nonce, "encrypt": encrypt})

    # -- the worker ----------------------------------------------------------------------------------------------

    def complete(self, job: Job) -> Mapping[str, Any] | None:
        at = parse_time(job.event_time)
        if job.decision == "revoke":
            return revoked_event(
                source=NAME,
                event_id=job.event_id,
                ticket=job.ticket,
                at=at,
                reason="DingTalk approval withdrawn",
                requested_by=job.reference.get("requester") or None,
            )
        instance = self._instance(str(job.instance))
        if instance.get("status") != "COMPLETED" or instance.get("result") != "agree":
            return None  # withdrawn or changed since the callback: the current state decides
        values: dict[str, str | None] = {}
        form = {
            str(c.get("name")): c.get("value")
            for c in instance.get("formComponentValues") or []
            if isinstance(c, Mapping)
        }
        for name, component in self.config.fields.model_dump().items():
            if component:
                value = form.get(component)
                values[name] = value if isinstance(value, str) else None
        approver = ""
        for task in instance.get("tasks") or []:
            if isinstance(task, Mapping) and str(task.get("result", "")).upper() == "AGREE":
                approver = str(task.get("userId") or approver)
        requester = str(instance.get("originatorUserId") or "")
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
        url = f"{self.config.api_url.rstrip('/')}/v1.0/oauth2/accessToken"
        status, payload = self._http.call("POST", url, body={"appKey": self._app_key, "appSecret": self._app_secret})
        if status != 200 or not isinstance(payload, Mapping) or not isinstance(payload.get("accessToken"), str):
            raise VendorUnavailableError(f"DingTalk access token: HTTP {status}")
        return str(payload["accessToken"]), int(payload.get("expireIn") or 7200)

    def _instance(self, instance: str) -> Mapping[str, Any]:
        url = f"{self.config.api_url.rstrip('/')}/v1.0/workflow/processInstances?processInstanceId={quote(instance)}"
        status, payload = self._http.call("GET", url, headers={"x-acs-dingtalk-access-token": self._access.get()})
        result = payload.get("result") if isinstance(payload, Mapping) else None
        if status != 200 or not isinstance(result, Mapping):
            raise VendorUnavailableError(f"DingTalk process instance: HTTP {status}")
        return result

    def reference_for(self, ticket: str) -> Mapping[str, str]:
        """The requester of the instance (the ticket is the instance id)."""
        if self.config.write_back is None:
            return {}
        return {"requester": str(self._instance(ticket).get("originatorUserId") or "")}

    def write_back(self, job: Job, text: str) -> bool:
        config = self.config.write_back
        event = job.event or {}
        data = event.get("data") if isinstance(event, Mapping) else None
        named = data.get("requested_by") if isinstance(data, Mapping) else None
        requester = named if isinstance(named, str) and named != "unknown" else job.reference.get("requester")
        if config is None or not config.enabled or not config.agent_id or not requester:
            return False
        try:
            token = self._access.get()
        except VendorUnavailableError:
            return False
        url = f"{self.config.oapi_url.rstrip('/')}/topapi/message/corpconversation/asyncsend_v2?access_token={token}"
        message = {"msgtype": "text", "text": {"content": text}}
        body = {"agent_id": config.agent_id, "userid_list": requester, "msg": message}
        status, payload = self._http.with_retries(self._attempts, lambda: self._http.call("POST", url, body=body))
        return status == 200 and isinstance(payload, Mapping) and payload.get("errcode") == 0
