"""The SDK boundary's shared pieces: credentials, bounded retries, the one translation of SDK errors, the small
frozen results every product API returns, and the base of those APIs (``cloud.py`` assembles them)."""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from ram_delegate.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    CloudError,
    NotFoundError,
    QuotaExceededError,
    RetryableCloudError,
)

if TYPE_CHECKING:
    pass

T = TypeVar("T")

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 (a variable name)
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 (a variable name)
LIST_PAGE_SIZE = 1000  # RAM's maximum MaxItems: ceil(N / 1000) list calls for N managed resources

_RETRYABLE_CODES = frozenset({"ServiceUnavailable", "InternalError", "ServiceBusy", "RequestTimeout"})


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair, optionally with an STS token. The secret and token never appear in ``repr``."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        """The python3.12 runtime's credentials (``ALIBABA_CLOUD_*`` variables), or None when absent."""
        key_id = env.get(ENV_ACCESS_KEY_ID, "").strip()
        secret = env.get(ENV_ACCESS_KEY_SECRET, "").strip()
        if not key_id or not secret:
            return None
        token = env.get(ENV_SECURITY_TOKEN, "").strip() or None
        return cls(key_id, secret, token)

    @classmethod
    def from_fc_context(cls, context: object) -> Credentials | None:
        """The python3.10 runtime's ``context.credentials``, or None when the context carries none."""
        credentials = getattr(context, "credentials", None)
        if credentials is None:
            return None
        key_id = getattr(credentials, "access_key_id", None) or getattr(credentials, "accessKeyId", None)
        secret = getattr(credentials, "access_key_secret", None) or getattr(credentials, "accessKeySecret", None)
        token = getattr(credentials, "security_token", None) or getattr(credentials, "securityToken", None)
        if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
            return None
        return cls(key_id, secret, token if isinstance(token, str) and token else None)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt))."""

    attempts: int = 5
    base_seconds: float = 0.2
    cap_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = _random.random

    def delay(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (0-based)."""
        return self.random() * min(self.cap_seconds, self.base_seconds * 2.0**attempt)

    def retry_after_seconds(self) -> int:
        """What the edge puts in Retry-After once the budget is spent: the longest single backoff, rounded up."""
        return max(1, int(self.cap_seconds + 0.999))


# ---------------------------------------------------------------------------------------------------------------
# Error translation and retries
# ---------------------------------------------------------------------------------------------------------------


def translate_error(exc: BaseException, action: str) -> CloudError:
    """Turn any SDK or transport exception into the library's error for ``action`` (secrets are never copied)."""
    code = getattr(exc, "code", None)
    if not isinstance(code, str) or not code:
        # No cloud answer at all (connection refused, timeout, unparsable body): worth another try.
        return RetryableCloudError(
            f"{action}: the cloud API could not be reached ({type(exc).__name__})", action=action
        )
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None) or 0
    status = status if isinstance(status, int) else 0
    data = getattr(exc, "data", None)
    request_id = getattr(exc, "request_id", None) or (data.get("RequestId") if isinstance(data, dict) else None) or ""
    cloud_message = data.get("Message") if isinstance(data, dict) else None
    message = f"{action}: {code}" + (f" ({cloud_message})" if isinstance(cloud_message, str) and cloud_message else "")
    kwargs: dict[str, Any] = {
        "cloud_code": code,
        "http_status": status,
        "request_id": str(request_id),
        "action": action,
    }
    if code.startswith("EntityNotExist"):
        return NotFoundError(message, **kwargs)
    if code.startswith("EntityAlreadyExists"):
        return AlreadyExistsError(message, **kwargs)
    if code.startswith("LimitExceeded"):
        return QuotaExceededError(message, **kwargs)
    if code.startswith(("NoPermission", "Forbidden")):
        return AccessDeniedError(message, **kwargs)
    if code.startswith("Throttling") or code in _RETRYABLE_CODES or status >= 500:
        return RetryableCloudError(message, **kwargs)
    return CloudError(message, **kwargs)


def call_with_retry(action: str, call: Callable[[], T], retry: RetryPolicy) -> T:
    """Run one SDK call; translate its failure; retry only retryable ones, at most ``retry.attempts`` times."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            error = translate_error(exc, action)
        attempt += 1
        if not isinstance(error, RetryableCloudError) or attempt >= retry.attempts:
            raise error
        retry.sleep(retry.delay(attempt - 1))


# ---------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------


def _tags_of(raw: Any) -> dict[str, str]:
    """The ``Tags.Tag[{TagKey, TagValue}]`` of a list result as a dict (absent -> empty)."""
    entries = getattr(raw, "tag", None) or []
    return {str(t.tag_key): str(t.tag_value or "") for t in entries if getattr(t, "tag_key", None)}


@dataclass(frozen=True)
class RoleInfo:
    name: str
    arn: str
    trust_policy: str
    max_session_duration: int
    description: str
    request_id: str


@dataclass(frozen=True)
class TaggedResource:
    """A role or policy from a tag-filtered list call, with its tags."""

    name: str
    tags: Mapping[str, str]
    arn: str = ""


@dataclass(frozen=True)
class SecretVersion:
    """One version stage of a KMS secret: its value (never shown in a repr) and when the version was created."""

    value: str = field(repr=False)
    created_at: datetime | None = None
    """None when KMS did not say (or said it in a form not understood)."""


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    document: str
    version_id: str
    request_id: str


@dataclass(frozen=True)
class AttachedPolicyRef:
    name: str
    policy_type: str


@dataclass(frozen=True)
class UserInfo:
    name: str
    comments: str
    request_id: str


@dataclass(frozen=True)
class WriteResult:
    """What a write call gives back: only the cloud's request id (for the audit line)."""

    request_id: str


@dataclass(frozen=True)
class AssumedRole:
    credentials: Credentials
    expiration: datetime
    arn: str
    request_id: str


@dataclass(frozen=True)
class LoadBalancerSummary:
    id: str
    name: str
    region: str
    resource_group_id: str | None


@dataclass(frozen=True)
class LoadBalancerDetail:
    """One CLB instance as DescribeLoadBalancerAttribute shows it: its backend servers (id -> weight) included."""

    id: str
    name: str
    region: str
    resource_group_id: str | None
    backend_servers: Mapping[str, int]
    listener_ports: tuple[int, ...]


@dataclass(frozen=True)
class InstanceSummary:
    """One ALB or NLB load balancer, or one ECS instance, as its product's listing shows it."""

    id: str
    name: str
    region: str
    resource_group_id: str | None
    status: str


@dataclass(frozen=True)
class RgAttachment:
    policy_name: str
    policy_type: str
    principal_name: str
    principal_type: str
    resource_group_id: str


def _request_id(response: Any) -> str:
    return str(getattr(getattr(response, "body", None), "request_id", "") or "")


def _tag_list(model: Any, tags: Mapping[str, str]) -> list[Any]:
    return [model(key=k, value=v) for k, v in tags.items()]


def _all_pages(page: Callable[[str | None], tuple[list[T], Any]]) -> list[T]:
    """Follow RAM's ``Marker`` / ``IsTruncated`` paging until the last page."""
    found: list[T] = []
    marker: str | None = None
    while True:
        items, body = page(marker)
        found.extend(items)
        if not body.is_truncated or not body.marker:
            return found
        marker = body.marker


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


# ---------------------------------------------------------------------------------------------------------------
# Product APIs
# ---------------------------------------------------------------------------------------------------------------


class _Api:
    def __init__(self, client: Any, retry: RetryPolicy) -> None:
        self._client = client
        self._retry = retry

    def _call(self, action: str, call: Callable[[], T]) -> T:
        return call_with_retry(action, call, self._retry)
