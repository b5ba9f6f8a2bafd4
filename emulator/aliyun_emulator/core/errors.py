"""Errors as Alibaba Cloud sends them: ``{RequestId, HostId, Code, Message}`` with a matching HTTP status.

Product models raise ``ApiError``; the server turns it into the wire body. Nothing else may escape a handler: any
other exception is a bug and is answered as ``InternalError`` (500) by the server.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error answer: Alibaba's code, message and HTTP status (plus optional response headers)."""

    def __init__(self, code: str, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.headers = dict(headers or {})


def missing_parameter(name: str) -> ApiError:
    return ApiError(
        "MissingParameter",
        f"The input parameter {name} that is mandatory for processing this request is not supplied.",
        400,
    )


def invalid_parameter(name: str, reason: str, code: str | None = None) -> ApiError:
    return ApiError(code or f"InvalidParameter.{name}", f"The parameter {name} is invalid: {reason}", 400)


def no_permission(action: str, resource: str) -> ApiError:
    return ApiError(
        "NoPermission",
        f"You are not authorized to do this action. Action: {action}, Resource: {resource}. "
        "You should be authorized by RAM.",
        403,
    )
