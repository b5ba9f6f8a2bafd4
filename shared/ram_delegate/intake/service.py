"""The intake front door and worker, served by owner-onboard on ``/<source>`` sub-paths of its HTTP trigger.

Front door: the source's adapter verifies, validates and answers at once; a delivery that asks for a change becomes
a ``Job`` handed to the worker by an asynchronous invocation of owner-onboard itself (FC 3.0 InvokeFunction with
``x-fc-invocation-type: Async``; FC retries it per the function's async-invoke configuration and sends what stays
failed to its destination). An HTTP trigger event always wraps the request in FC's envelope, so a job (a top-level
``ramDelegateIntakeJob``) can only arrive through the authenticated InvokeFunction API, never from the Internet.

Worker: completes the job (fetching the approval form where the vendor sends none), applies the resulting event
through the owner logic it is given, and writes back to the ticket. Permanent refusals (invalid ticket, guardrail)
are reported and written back, not retried; vendor or cloud unavailability raises, so FC retries.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from ram_delegate.errors import GuardrailError, InvalidInputError, QuotaExceededError
from ram_delegate.fc import HttpRequest
from ram_delegate.intake import JOB_KEY
from ram_delegate.intake.config import IntakeFile, load_intake
from ram_delegate.intake.contract import Adapter, Answer, Job, Refusal, refusal_text
from ram_delegate.intake.vendor_http import VendorHttp
from ram_delegate.seal import JOB_SEAL_FIELD, SealKeys, job_seal

if TYPE_CHECKING:
    from ram_delegate.cloud import CloudClients
    from ram_delegate.outcome import Outcome

logger = logging.getLogger(__name__)

ENV_FC_ENDPOINT = "RAM_DELEGATE_FC_ENDPOINT"
ENV_FUNCTION_NAME = "FC_FUNCTION_NAME"
RECENT_IDS = 4096

Apply = Callable[[Mapping[str, Any]], "Outcome"]
"""``apply(event_document) -> Outcome``: the owner logic with the platform's clock, given by the app layer (intake
never imports it; a job's own times are its sender's word, so they decide nothing)."""


class Dispatcher(Protocol):
    def submit(self, job: Job) -> None:
        """Hand a job to the worker; raise when it could not be queued (the vendor then gets a 5xx and retries)."""
        ...


class FcAsyncDispatcher:
    """Queues a job as an asynchronous invocation of this same function, with the invocation's own credentials.

    ``cloud`` is rebound per request (``IntakeRuntime.bound``): a warm instance's first credentials expire, and a
    dispatcher built with them would fail to queue once they had.
    """

    def __init__(
        self, cloud: CloudClients, endpoint: str, function_name: str, seal_keys: SealKeys | None = None
    ) -> None:
        self._cloud = cloud
        self._endpoint = endpoint
        self._function_name = function_name
        self._seal_keys = seal_keys

    def with_cloud(self, cloud: CloudClients, seal_keys: SealKeys | None) -> FcAsyncDispatcher:
        """This dispatcher with the invocation's clients and seal keys (from KMS, they can rotate in a warm
        instance)."""
        if cloud is self._cloud and seal_keys == self._seal_keys:
            return self
        return FcAsyncDispatcher(cloud, self._endpoint, self._function_name, seal_keys)

    def submit(self, job: Job) -> None:
        payload = job_event(job, self._seal_keys)
        self._cloud.fc(self._endpoint).invoke_async(self._function_name, payload)


def job_event(job: Job, seal_keys: SealKeys | None) -> bytes:
    """The asynchronous invocation's payload: the job, sealed with the function's current key (the worker refuses a
    job without a valid seal, except a revocation: see ``handlers.owner_onboard``)."""
    document = job.to_dict()
    if seal_keys is not None:
        document[JOB_SEAL_FIELD] = job_seal(seal_keys.current, document)
    return json.dumps({JOB_KEY: document}, separators=(",", ":")).encode()


class RecentIds:
    """Event ids this instance queued lately: a redelivery within the window is answered without a second job.

    Only a shortcut; correctness comes from the owner's duplicate rule on the event id.
    """

    def __init__(self, size: int = RECENT_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, event_id: str) -> bool:
        """True when the id is new."""
        with self._lock:
            if event_id in self._ids:
                self._ids.move_to_end(event_id)
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True

    def forget(self, event_id: str) -> None:
        with self._lock:
            self._ids.pop(event_id, None)


@dataclass
class IntakeRuntime:
    """The configured adapters and how jobs reach the worker."""

    file: IntakeFile
    adapters: dict[str, Adapter]
    dispatcher: Dispatcher
    recent: RecentIds = field(default_factory=RecentIds)

    def bound(self, cloud: CloudClients, seal_keys: SealKeys | None) -> IntakeRuntime:
        """This runtime dispatching with ``cloud`` (this invocation's clients) and sealing with ``seal_keys`` (this
        invocation's settings); other dispatchers are kept."""
        if not isinstance(self.dispatcher, FcAsyncDispatcher):
            return self
        return replace(self, dispatcher=self.dispatcher.with_cloud(cloud, seal_keys))


def build_adapters(file: IntakeFile, env: Mapping[str, str], http: VendorHttp | None = None) -> dict[str, Adapter]:
    from ram_delegate.intake.dingtalk import DingTalkAdapter
    from ram_delegate.intake.feishu import FeishuAdapter
    from ram_delegate.intake.github import GitHubAdapter
    from ram_delegate.intake.jira import JiraAdapter
    from ram_delegate.intake.token import TokenAdapter

    client = http or VendorHttp()
    attempts = file.write_back_attempts
    sources = file.sources
    adapters: dict[str, Adapter] = {}
    if sources.jira is not None:
        adapters["jira"] = JiraAdapter(sources.jira, env, client, attempts)
    if sources.github is not None:
        adapters["github"] = GitHubAdapter(sources.github, env, client, attempts)
    if sources.dingtalk is not None:
        adapters["dingtalk"] = DingTalkAdapter(sources.dingtalk, env, client, attempts)
    if sources.feishu is not None:
        adapters["feishu"] = FeishuAdapter(sources.feishu, env, client, attempts)
    if sources.token is not None:
        adapters["token"] = TokenAdapter(sources.token, env)
    return adapters


def build_runtime(env: Mapping[str, str], cloud: CloudClients, account_id: str | None) -> IntakeRuntime | None:
    """The runtime from ``RAM_DELEGATE_INTAKE_FILE``, or None without one; ConfigurationError listing every problem."""
    file = load_intake(env)
    if file is None:
        return None
    from ram_delegate.errors import ConfigurationError, Problem
    from ram_delegate.intake.crypto import dingtalk_key
    from ram_delegate.settings import ENV_SEAL_SECRET

    if not (cloud.settings.seal_secret or cloud.settings.kms_seal_secret):
        problem = Problem(ENV_SEAL_SECRET, "required with an intake file: it seals the jobs the front door queues")
        raise ConfigurationError("intake needs a seal secret", problems=[problem])

    dingtalk = file.sources.dingtalk
    if dingtalk is not None:
        from ram_delegate.intake.config import split_secrets

        for key in split_secrets(env.get(dingtalk.aes_key_env, "")):
            try:
                dingtalk_key(key)
            except ValueError as exc:
                problem = Problem(dingtalk.aes_key_env, str(exc))
                raise ConfigurationError("unusable DingTalk aes_key", problems=[problem]) from None
    region = cloud.settings.region
    endpoint = env.get(ENV_FC_ENDPOINT, "").strip() or f"{account_id}.{region}.fc.aliyuncs.com"
    function_name = env.get(ENV_FUNCTION_NAME, "").strip() or "ram-delegate-owner-onboard"
    # No seal keys yet: they may still be in KMS; each invocation binds its own (IntakeRuntime.bound).
    return IntakeRuntime(file, build_adapters(file, env), FcAsyncDispatcher(cloud, endpoint, function_name))


def serve(source: str, request: HttpRequest, runtime: IntakeRuntime | None) -> dict[str, Any]:
    """Answer one vendor delivery; the change, if any, is queued for the worker."""
    adapter = runtime.adapters.get(source) if runtime is not None else None
    if runtime is None or adapter is None:
        body = {"code": "NotFound", "message": f"the {source} source is not configured"}
        return Answer(404, body).to_fc()
    try:
        receipt = adapter.receive(request)
    except Refusal as refusal:
        logger.warning("intake %s %s: refused %s", source, request.request_id, refusal.reason)
        notice = refusal.job
        if notice is not None and runtime.recent.add(notice.event_id):
            try:
                runtime.dispatcher.submit(notice)  # the reason goes back to the ticket; the answer stays the refusal
            except Exception:
                runtime.recent.forget(notice.event_id)
        return refusal.answer.to_fc()
    job = receipt.job
    if job is not None and runtime.recent.add(job.event_id):
        try:
            runtime.dispatcher.submit(job)
        except Exception as exc:
            runtime.recent.forget(job.event_id)
            logger.error(
                "intake %s %s: could not queue %s: %s", source, request.request_id, job.event_id, type(exc).__name__
            )
            return Answer(503, {"code": "Unavailable", "message": "try again later"}, {"retry-after": "15"}).to_fc()
    what = f"queued {job.decision} {job.ticket} {job.event_id}" if job is not None else receipt.note or "nothing to do"
    logger.info("intake %s %s: %s %s", source, request.request_id, receipt.answer.status, what)
    return receipt.answer.to_fc()


def run_job(raw: Mapping[str, Any], runtime: IntakeRuntime, apply: Apply, *, write_back: bool = True) -> dict[str, Any]:
    """The worker: complete, apply, write back (unless ``write_back`` is off: the ticket a job names is only trusted
    when the job is sealed). Raises on what deserves a retry."""
    job = Job.from_dict(raw)
    adapter = runtime.adapters.get(job.source)
    if adapter is None:
        logger.error("intake job %s: the %s source is no longer configured", job.event_id, job.source)
        return {"status": "dropped", "event_id": job.event_id, "reason": "source not configured"}

    def tell(text: str) -> None:
        if write_back:
            _write_back(adapter, job, text)
        else:
            logger.warning("intake job %s %s: not written back (the job is not sealed)", job.source, job.event_id)

    if job.notice is not None:
        tell(job.notice)
        return {"status": "noticed", "event_id": job.event_id, "ticket": job.ticket}
    try:
        document = adapter.complete(job)
    except InvalidInputError as exc:
        problems = [str(p) for p in exc.problems]
        logger.warning("intake job %s %s: refused %s %s", job.source, job.event_id, exc.message, problems)
        tell(refusal_text(job.decision, job.ticket, exc.message, problems))
        return {"status": "refused", "event_id": job.event_id, "ticket": job.ticket, "problems": problems}
    if document is None:
        logger.info("intake job %s %s: nothing to do at processing time", job.source, job.event_id)
        return {"status": "ignored", "event_id": job.event_id, "ticket": job.ticket}
    job = replace(job, event=document)
    try:
        outcome = apply(document)
    except (InvalidInputError, GuardrailError, QuotaExceededError) as exc:
        problems = [str(p) for p in exc.problems]
        logger.warning("intake job %s %s: %s %s", job.source, job.event_id, exc.code, problems)
        tell(refusal_text(job.decision, job.ticket, exc.message, problems))
        return {"status": "refused", "event_id": job.event_id, "ticket": job.ticket, "code": exc.code}
    logger.info("intake job %s %s: %s %s", job.source, job.event_id, outcome.status, outcome.ticket)
    if outcome.status in ("applied", "unchanged"):
        tell(outcome_text(job))
    return {"status": outcome.status, "event_id": job.event_id, "ticket": job.ticket}


def _write_back(adapter: Adapter, job: Job, text: str) -> None:
    """Never blocks the grant and never raises: a lost comment is logged."""
    try:
        delivered = adapter.write_back(job, text)
    except Exception as exc:
        logger.warning("intake write-back %s %s failed: %s", job.source, job.ticket, type(exc).__name__)
        return
    if delivered:
        logger.info("intake write-back %s %s delivered", job.source, job.ticket)


def outcome_text(job: Job) -> str:
    """What the ticket is told after the change (never the ExternalId: the partner learns it on its side)."""
    if job.decision == "revoke":
        return f"ram-delegate: access for ticket {job.ticket} was revoked."
    data = _mapping((job.event or {}).get("data"))
    partner, access = _mapping(data.get("partner")), _mapping(data.get("access"))
    return (
        f"ram-delegate: access granted for ticket {job.ticket}: partner {partner.get('name')} "
        f"(account {partner.get('account_id')}, RAM user {partner.get('user')}), profile {access.get('profile')} "
        f"in {access.get('region')}, until {data.get('expires_at')}. The partner's side receives the role to assume."
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
