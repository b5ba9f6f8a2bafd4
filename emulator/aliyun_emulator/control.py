"""A client for the ``/_emulator`` control interface, for emulators running in another process.

``EmulatorControl(url)`` mirrors ``Emulator``: ``.clock``, ``.faults``, ``.requests``, ``.state()``, ``.reset()``.
Standard library only (urllib, proxies bypassed) so any test or script can drive an emulator started by the CLI.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 10.0


class ControlError(Exception):
    """The control interface refused a request (its status and Alibaba-style error code)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class EmulatorControl:
    """Drive an emulator at ``url`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the emulator URL must be http(s): {url}")
        self.url = url.rstrip("/")
        self._timeout = timeout
        # An explicit empty ProxyHandler: a proxy variable in the environment must not capture loopback calls.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.clock = RemoteClock(self)
        self.faults = RemoteFaults(self)
        self.requests = RemoteRequestLog(self)

    def call(self, method: str, route: str, document: dict[str, Any] | None = None) -> dict[str, Any]:
        """One JSON request to ``/_emulator<route>``; raises ``ControlError`` on an error answer."""
        data = None if document is None else json.dumps(document).encode("utf-8")
        request = urllib.request.Request(f"{self.url}/_emulator{route}", data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self._timeout) as answer:
                result: dict[str, Any] = json.loads(answer.read())
                return result
        except urllib.error.HTTPError as error:
            try:
                body = json.loads(error.read())
            except ValueError:
                body = {}
            raise ControlError(error.code, str(body.get("Code", "")), str(body.get("Message", ""))) from None

    def health(self) -> bool:
        try:
            return self.call("GET", "/health").get("status") == "ok"
        except (OSError, ControlError):
            return False

    def reset(self) -> None:
        self.call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        return self.call("GET", "/state")


class RemoteClock:
    def __init__(self, control: EmulatorControl) -> None:
        self._control = control

    def now(self) -> datetime:
        return _parse_time(self._control.call("GET", "/clock")["now"])

    def advance(self, seconds: float) -> datetime:
        return _parse_time(self._control.call("POST", "/clock", {"advance_seconds": seconds})["now"])

    def set(self, when: datetime) -> datetime:
        return _parse_time(self._control.call("POST", "/clock", {"now": when.isoformat()})["now"])


class RemoteFaults:
    def __init__(self, control: EmulatorControl) -> None:
        self._control = control

    def add_error(
        self,
        action: str,
        code: str,
        status: int,
        count: int = 1,
        account_id: str | None = None,
        message: str | None = None,
    ) -> None:
        document: dict[str, Any] = {"kind": "error", "action": action, "code": code, "status": status, "count": count}
        if account_id is not None:
            document["account_id"] = account_id
        if message is not None:
            document["message"] = message
        self._control.call("POST", "/faults", document)

    def add_latency(self, action: str, milliseconds: float, account_id: str | None = None) -> None:
        self._control.call(
            "POST",
            "/faults",
            {"kind": "latency", "action": action, "milliseconds": milliseconds, "account_id": account_id},
        )

    def set_rate_limit(self, action: str, per_second: float, account_id: str | None = None) -> None:
        self._control.call(
            "POST",
            "/faults",
            {"kind": "rate_limit", "action": action, "per_second": per_second, "account_id": account_id},
        )

    def clear(self) -> None:
        self._control.call("DELETE", "/faults")

    def snapshot(self) -> dict[str, Any]:
        return self._control.call("GET", "/faults")


class RemoteRequestLog:
    def __init__(self, control: EmulatorControl) -> None:
        self._control = control

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        return self._control.call("GET", "/requests" if limit is None else f"/requests?limit={int(limit)}")

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.snapshot(limit=0)["counts"]
        return counts

    def counts_by_product(self) -> dict[str, int]:
        counts: dict[str, int] = self.snapshot(limit=0)["counts_by_product"]
        return counts

    @property
    def total(self) -> int:
        return int(self.snapshot(limit=0)["total"])

    def clear(self) -> None:
        self._control.call("DELETE", "/requests")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
