"""Drive a packaged function (``make package``) as FC's python3.12 runtime would: one clean interpreter per instance.

``PackagedInstance`` starts ``python3.12 -I -S runtime_driver.py <code dir>`` with only the function's environment
(no inherited variables, no site-packages, nothing on the path but the package), and sends it FC-shaped events; the
process lives across invocations like a warm instance. The events carry the header names as FC's gateway passes them
(``Webhook-Id``, ``Content-Type``: capitalised) and the credentials are handed in the environment at each call.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

DRIVER = Path(__file__).with_name("runtime_driver.py")


class PackagedInstance:
    """One warm instance of a packaged function in its own clean interpreter; a context manager."""

    def __init__(self, python: str, code_dir: Path, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (a fixed argument list: our interpreter and script)
            [python, "-I", "-S", "-B", str(DRIVER), str(code_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=str(code_dir),
            text=True,
        )
        ready = self._read()
        if not ready.get("ready"):
            raise RuntimeError(f"the packaged function did not start: {ready}")
        self.import_seconds = float(ready["import_seconds"])

    def _streams(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def _read(self) -> dict[str, Any]:
        _, stdout = self._streams()
        line = stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            errors = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"the packaged function exited ({self.process.returncode}): {errors[-2000:]}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def invoke(self, event: Mapping[str, Any] | str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One invocation: ``env`` (e.g. renewed credentials) is applied first; returns the driver's answer."""
        stdin, _ = self._streams()
        stdin.write(json.dumps({"event": event, "env": dict(env or {}), "request_id": str(uuid.uuid4())}) + "\n")
        stdin.flush()
        return self._read()

    def close(self) -> str:
        """Stop the instance; returns what it logged (stderr)."""
        stdin, _ = self._streams()
        stdin.close()
        self.process.wait(timeout=30)
        return self.process.stderr.read() if self.process.stderr else ""

    def __enter__(self) -> PackagedInstance:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def http_event(body: bytes, headers: Mapping[str, str], now: datetime, *, account_id: str = "") -> dict[str, Any]:
    """An FC 3.0 HTTP trigger event as the gateway builds it: header names capitalised, times from ``now``."""
    capitalised = {"-".join(part.capitalize() for part in name.split("-")): value for name, value in headers.items()}
    return {
        "version": "v1",
        "rawPath": "/",
        "body": body.decode("utf-8"),
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json", "User-Agent": "tickets/1.0", **capitalised},
        "queryParameters": {},
        "requestContext": {
            "accountId": account_id,
            "domainName": "example.cn-hangzhou.fcapp.run",
            "domainPrefix": "example",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
            "requestId": f"1-{uuid.uuid4().hex[:8]}-packaged",
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timeEpoch": str(int(now.timestamp() * 1000)),
        },
    }


def timer_event(now: datetime, name: str) -> dict[str, str]:
    return {"triggerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "triggerName": name, "payload": name}
