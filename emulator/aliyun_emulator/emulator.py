"""The composition root: seed + clock + state + faults + request log + HTTP server, runnable in-process.

``Emulator`` is what the CLI, the pytest plugin and the local stack start. Its attributes are the Python mirror of
the ``/_emulator`` control interface: ``clock`` (move time), ``faults`` (errors, latency, rate limits),
``requests`` (the request log), ``state`` (``dump()``), ``reset()``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from aliyun_emulator.core.clock import EmulatorClock, utc_now
from aliyun_emulator.core.faults import Faults
from aliyun_emulator.core.requestlog import RequestLog
from aliyun_emulator.core.server import EmulatorHTTPServer, WireApp
from aliyun_emulator.core.signing import NonceCache
from aliyun_emulator.seed import Seed, load_seed
from aliyun_emulator.state import CloudState

SERVE_POLL_SECONDS = 0.2


class Emulator:
    """A local Alibaba Cloud on a background thread; a context manager (``with Emulator(seed) as emulator:``)."""

    def __init__(
        self,
        seed: Seed | str | Path | Mapping[str, Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | Path | None = None,
        clock: EmulatorClock | None = None,
        accept_host_clock: bool = False,
    ) -> None:
        self.seed = seed if isinstance(seed, Seed) else load_seed(seed)
        self.clock = clock or EmulatorClock()
        self.faults = Faults()
        self.requests = RequestLog()
        self.nonces = NonceCache()
        self.state = CloudState(self.seed, self.clock, state_file)
        self._accept_host_clock = accept_host_clock
        self.app = WireApp(
            self.state,
            self.clock,
            self.faults,
            self.requests,
            self.nonces,
            reset=self.reset,
            accept_host_clock=accept_host_clock,
        )
        """The protocol logic behind the HTTP server (callable without sockets)."""
        self._host = host
        self._port = port
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        """Bind and serve; once this returns the emulator accepts requests."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = EmulatorHTTPServer((self._host, self._port), self.app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SERVE_POLL_SECONDS},
            name=f"aliyun-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open connections and close the state (flushes the SQLite file)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self.state.close()

    def reset(self) -> None:
        """Back to the seed: state as declared, faults and request log cleared, nonces forgotten, clock at real time,
        the host-clock option as constructed."""
        self.state.reset()
        self.faults.clear()
        self.requests.clear()
        self.nonces.clear()
        self.app.accept_host_clock = self._accept_host_clock
        self.clock.set(utc_now())

    @property
    def accept_host_clock(self) -> bool:
        """Whether timestamps near the host's clock pass too (``reset()`` restores the value given at construction)."""
        return self.app.accept_host_clock

    @accept_host_clock.setter
    def accept_host_clock(self, accept: bool) -> None:
        self.app.accept_host_clock = accept

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server.server_port

    @property
    def host(self) -> str:
        return self._host

    @property
    def endpoint(self) -> str:
        """``host:port`` without a scheme, as the SDK's ``Config(endpoint=...)`` wants it."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
