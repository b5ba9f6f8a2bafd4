"""One error hierarchy for the whole library.

Every error carries a stable ``code`` (for logs, alerts and API answers) and the HTTP ``status`` a function answers
with when the error reaches the edge. SDK exceptions are translated into these classes at one boundary
(``ram_delegate.cloud``); nothing above that boundary sees an SDK exception. Messages never contain secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One reason an input was refused, with the path of the offending field (``Statement[0].Action``)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class RamDelegateError(Exception):
    """Base class: a stable code and the HTTP status the edge answers with."""

    code: str = "InternalError"
    status: int = 500

    def __init__(self, message: str, *, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: tuple[Problem, ...] = tuple(problems)

    def to_dict(self) -> dict[str, object]:
        """The JSON answer body: code, message and the list of problems."""
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.problems:
            body["problems"] = [{"path": p.path, "reason": p.reason} for p in self.problems]
        return body


class InvalidInputError(RamDelegateError):
    """The input is malformed or fails validation; nothing was changed."""

    code = "InvalidInput"
    status = 400


class PolicyValidationError(InvalidInputError):
    """A policy document does not follow the RAM policy grammar."""

    code = "InvalidPolicy"


class SignatureError(RamDelegateError):
    """Any webhook authentication problem, however mangled the headers are."""

    code = "InvalidSignature"
    status = 401


class PayloadTooLargeError(RamDelegateError):
    """The request body exceeds the configured cap; it was not hashed or parsed."""

    code = "PayloadTooLarge"
    status = 413


class GuardrailError(RamDelegateError):
    """The request is well-formed but a safety rule refuses it (lint error, quota, foreign resource, conflict)."""

    code = "GuardrailRefused"
    status = 422


class PolicyLintError(GuardrailError):
    """A policy the tool would create has findings at error severity."""

    code = "PolicyLintFailed"


class ConfigurationError(RamDelegateError):
    """The deployment is misconfigured (missing secret, bad endpoint, DEBUG=sdk …)."""

    code = "ConfigurationError"
    status = 500


class CloudError(RamDelegateError):
    """A cloud API call failed; ``cloud_code`` is Alibaba's error code, ``request_id`` the cloud's request id."""

    code = "CloudError"
    status = 502

    def __init__(
        self,
        message: str,
        *,
        cloud_code: str = "",
        http_status: int = 0,
        request_id: str = "",
        action: str = "",
    ) -> None:
        super().__init__(message)
        self.cloud_code = cloud_code
        self.http_status = http_status
        self.request_id = request_id
        self.action = action


class NotFoundError(CloudError):
    """The cloud says the entity does not exist (``EntityNotExist.*``)."""

    code = "NotFound"
    status = 404


class AlreadyExistsError(CloudError):
    """The cloud says the entity already exists (``EntityAlreadyExists.*``)."""

    code = "AlreadyExists"
    status = 409


class AccessDeniedError(CloudError):
    """The cloud refused the call for lack of permission (``NoPermission``, ``Forbidden.RAM`` …)."""

    code = "AccessDenied"
    status = 403


class QuotaExceededError(CloudError):
    """A RAM quota is reached (``LimitExceeded.*``): a clean 422, after undoing what the refused change created."""

    code = "QuotaExceeded"
    status = 422


class RetryableCloudError(CloudError):
    """Throttling, ServiceUnavailable or a 5xx: worth retrying with backoff; a 503 with Retry-After at the edge."""

    code = "CloudUnavailable"
    status = 503
