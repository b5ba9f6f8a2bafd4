"""Loopback HTTP/1.1 plumbing shared by the emulator's front door and the local Function Compute host.

Both need the same careful shell around their protocol logic: a threaded keep-alive server that never resolves
host names, refuses what it cannot read safely (chunked bodies, bad or oversized ``Content-Length``) with a 4xx
before reading it, drops a client that stalls past the socket timeout, ends open connections on close, and writes
each answer in one send on a TCP_NODELAY socket (Nagle plus delayed ACK would add ~40 ms per call). What an answer
says, including its error bodies, stays with the caller: ``serve`` maps a request to an answer, ``refuse`` words
the answer to a request the shell would not read.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger("aliyun_emulator.http")

SOCKET_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class HttpRequest:
    """One request as received; header values are the text the client sent (see ``header_text``)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_ip: str


@dataclass(frozen=True)
class HttpAnswer:
    """What goes back: the server adds ``Content-Length`` and ``Connection``."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


Serve = Callable[[HttpRequest], HttpAnswer]
Refuse = Callable[[int, str], HttpAnswer]
"""``refuse(status, reason)``: the answer to a request that was not read (always a 4xx)."""


class LoopbackHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server (daemon threads, keep-alive); tracks connections so ``server_close`` ends them."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        serve: Serve,
        refuse: Refuse,
        *,
        max_body_bytes: int,
        methods: frozenset[str] = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH"}),
        socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
        extra_headers: Callable[[], tuple[tuple[str, str], ...]] = tuple,
    ) -> None:
        self.serve = serve
        self.refuse = refuse
        self.max_body_bytes = max_body_bytes
        self.methods = methods
        self.socket_timeout = socket_timeout
        self.extra_headers = extra_headers
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on a machine without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


def header_text(value: str) -> str:
    """A header value as the client wrote it: http.server decodes latin-1, SDKs sign the UTF-8 text."""
    return value.encode("latin-1", "replace").decode("utf-8", "surrogateescape")


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = SOCKET_TIMEOUT_SECONDS
    server_version = "aliyun-emulator"
    sys_version = ""
    server: LoopbackHTTPServer

    def setup(self) -> None:
        # A slow or silent client may hold a thread only this long (reading headers, body, or idling between calls).
        super().setup()
        self.connection.settimeout(self.server.socket_timeout)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines may carry tokens (legacy SecurityToken); callers keep their own request logs."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Parse errors found by http.server, answered by ``refuse`` and always 4xx (501/505 are client faults)."""
        status = 405 if code == HTTPStatus.NOT_IMPLEMENTED else code
        if status >= 500:
            status = 400
        self.close_connection = True
        self._write(self.server.refuse(status, message or reason_phrase(code)))

    def _serve(self) -> None:
        if self.command not in self.server.methods:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"the method {self.command} is not served here")
            return
        try:
            body = self._read_body()
        except _Refused as refused:
            self.send_error(refused.status, refused.reason)
            return
        except OSError:  # timeout or reset while reading the body: nothing sensible to answer
            self.close_connection = True
            return
        if body is None:
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        headers = tuple((name, header_text(value)) for name, value in self.headers.items())
        request = HttpRequest(self.command, path, query, headers, body, str(self.client_address[0]))
        self._write(self.server.serve(request), with_body=self.command != "HEAD")

    def _read_body(self) -> bytes | None:
        """The body, or None when the client sent less than it announced."""
        if self.headers.get("Transfer-Encoding") is not None:
            raise _Refused(411, "chunked or encoded bodies are not supported; send Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        text = lengths[0].strip()
        if len(lengths) > 1 or not text.isdigit() or not text.isascii():
            raise _Refused(400, "invalid Content-Length")
        length = int(text)
        if length > self.server.max_body_bytes:
            raise _Refused(413, f"the body exceeds {self.server.max_body_bytes} bytes")
        body = self.rfile.read(length) if length else b""
        return body if len(body) == length else None

    def _write(self, answer: HttpAnswer, *, with_body: bool = True) -> None:
        lines = [
            f"HTTP/1.1 {answer.status} {reason_phrase(answer.status)}",
            *(f"{name}: {value}" for name, value in (*answer.headers, *self.server.extra_headers())),
            f"Content-Length: {len(answer.body)}",
            f"Connection: {'close' if self.close_connection else 'keep-alive'}",
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        try:
            self.wfile.write(head + answer.body if with_body else head)
        except OSError:
            self.close_connection = True
