"""A stand-in for FC's python3.12 runtime, run as a script by a clean interpreter with only a package on its path.

``python3.12 -I -S runtime_driver.py <code dir>`` imports ``index`` from the code directory, then reads one JSON
invocation per stdin line and writes one JSON answer per stdout line, so one process is one warm instance::

    {"event": <object or string>, "env": {"ALIBABA_CLOUD_ACCESS_KEY_ID": ...}, "request_id": "..."}
    -> {"result": <handler return>, "error": null | "<type>", "seconds": <handler time>,
        "since_start": <since the interpreter started>, "loaded": [<modules loaded so far>]}

As the python3.12 runtime does, credentials and other variables arrive in the environment (``env`` is applied to
``os.environ`` before the call), the event is bytes, and the context has no ``credentials`` and no ``service``.
The first answer line is ``{"ready": true, "import_seconds": ...}`` (the handler module's import). This script
imports nothing of ours: only the package under test does.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402


@dataclass(frozen=True)
class FunctionMeta:
    name: str
    handler: str = "index.handler"
    memory: int = 256
    timeout: int = 60
    version_id: str = ""
    qualifier: str = "LATEST"


@dataclass(frozen=True)
class Context:
    """The python3.12 context: no ``credentials``, no ``service``."""

    request_id: str
    function: FunctionMeta
    region: str
    account_id: str
    log_project: str = ""
    log_store: str = ""
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("fc"), repr=False)
    tracing: None = None


def _loaded() -> set[str]:
    """The modules really loaded (a stand-in of ``ram_delegate.deferred_imports`` is not)."""
    return {name for name, module in sys.modules.items() if not _is_stand_in(module)}


def _is_stand_in(module: object) -> bool:
    return type(module).__name__ == "DeferredModule"


def main() -> int:
    code_dir = sys.argv[1]
    sys.path.insert(0, code_dir)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    import index  # type: ignore[import-not-found]  # the package's handler module, on the path only now

    out = sys.stdout
    out.write(json.dumps({"ready": True, "import_seconds": time.perf_counter() - STARTED}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        call: dict[str, Any] = json.loads(line)
        os.environ.update(call.get("env") or {})
        event = call.get("event", "")
        payload = event if isinstance(event, str) else json.dumps(event)
        context = Context(
            request_id=str(call.get("request_id", "")),
            function=FunctionMeta(os.environ.get("FC_FUNCTION_NAME", "")),
            region=os.environ.get("FC_REGION", ""),
            account_id=os.environ.get("FC_ACCOUNT_ID", ""),
        )
        started = time.perf_counter()
        answer: dict[str, Any] = {"result": None, "error": None}
        try:
            answer["result"] = index.handler(payload.encode("utf-8"), context)
        except Exception as exc:  # the runtime reports an unhandled error; so does this stand-in
            answer["error"] = type(exc).__name__
        answer["seconds"] = time.perf_counter() - started
        answer["since_start"] = time.perf_counter() - STARTED
        answer["loaded"] = sorted(_loaded())
        out.write(json.dumps(answer, default=str) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
