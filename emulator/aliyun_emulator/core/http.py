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
import io
import logging
import socket
import socketserver
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from types import MappingProxyType
from typing import Any, NamedTuple

logger = logging.getLogger("aliyun_emulator.http")

SOCKET_TIMEOUT_SECONDS = 30.0


class HttpRequest(NamedTuple):
    """One request as received; header values are the bytes the client sent, decoded as UTF-8 (surrogateescape: the
    SDKs sign the UTF-8 text, and undecodable bytes survive to fail the signature rather than the parser).

    Immutable and cheap to build: a ``NamedTuple``, not a frozen dataclass (built for every request).
    """

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_ip: str
    grouped: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    """The same headers by lower-cased name, values in wire order (built once while reading)."""


class HttpAnswer(NamedTuple):
    """What goes back: the server adds ``Content-Length`` and ``Connection`` (a ``NamedTuple``: built per request)."""

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


_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n" for status in HTTPStatus}


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


MAX_LINE_BYTES = 65536
"""The request line and each header line (http.server's own limit)."""
MAX_HEADERS = 100
_KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
_VERSIONS = frozenset({"HTTP/1.1", "HTTP/1.0"})
_BLANK = (b"\r\n", b"\n", b"")


class _Handler(socketserver.StreamRequestHandler):
    """A lean HTTP/1.1 reader and writer: request line, headers and body read with plain ``readline``/``read``.

    ``http.server`` parses every header block with the ``email`` package and writes a response in pieces; on a
    loopback API server that was half of the CPU of a call. This reads exactly what the shell needs, refuses the
    rest with a 4xx, and writes each answer in one ``send``.
    """

    disable_nagle_algorithm = True
    timeout = SOCKET_TIMEOUT_SECONDS
    server: LoopbackHTTPServer

    def setup(self) -> None:
        # A slow or silent client may hold a thread only this long (reading headers, body, or idling between calls).
        super().setup()
        self.connection.settimeout(self.server.socket_timeout)
        self.client_ip = str(self.client_address[0])

    def handle(self) -> None:
        try:
            while self._handle_one():
                pass
        except OSError:  # timeout or reset: nothing sensible to answer
            return

    def _handle_one(self) -> bool:
        """Serve one request; False when the connection must end."""
        try:
            head = self._read_head()
        except _Refused as refused:
            return self._refuse(refused.status, refused.reason)
        if head is None:
            return False
        line, header_lines = head
        parts = line.decode("latin-1").split(" ")
        if len(parts) != 3 or parts[2] not in _VERSIONS:
            return self._refuse(400, "the request line is not 'METHOD TARGET HTTP/1.1'")
        method, target, version = parts
        headers: list[tuple[str, str]] = []
        grouped: dict[str, tuple[str, ...]] = {}
        known_lines = _HEADER_LINES
        for header in header_lines:
            known = known_lines.get(header) or _header_line(header)
            if known is None:
                return self._refuse(400, "a header line is malformed")
            key, pair, alone = known
            headers.append(pair)
            grouped[key] = (*grouped[key], pair[1]) if key in grouped else alone
        if method not in _KNOWN_METHODS or method not in self.server.methods:
            return self._refuse(405, f"the method {method} is not served here")
        connection = grouped.get("connection")
        close = version == "HTTP/1.0" if connection is None else _wants_close(version, ",".join(connection))
        try:
            body = self._read_body(grouped)
        except _Refused as refused:
            return self._refuse(refused.status, refused.reason)
        if body is None:
            return False
        if "expect" in grouped and any(value.lower() == "100-continue" for value in grouped["expect"]):
            close = True  # the body was already read; a client waiting for 100 would stall, so end the exchange
        path, _, query = target.partition("?")
        request = HttpRequest(method, path, query, tuple(headers), body, self.client_ip, grouped)
        answer = self.server.serve(request)
        self._write(answer, close=close, with_body=method != "HEAD")
        return not close

    def _read_head(self) -> tuple[bytes, list[bytes]] | None:
        """The request line and the header lines (line ends removed), or None when the client is gone.

        Usually the whole head is already in the read buffer: it is taken in one read and split, instead of one
        ``readline`` per header. A head that is not (large, or with bare ``\n`` line ends) is read line by line.
        """
        reader = self.rfile
        assert isinstance(reader, io.BufferedReader)  # StreamRequestHandler's default buffering
        buffered = reader.peek(MAX_LINE_BYTES)
        end = buffered.find(b"\r\n\r\n")
        if end >= 0 and buffered.count(b"\n", 0, end) == buffered.count(b"\r\n", 0, end):
            lines = self.rfile.read(end + 4)[:end].split(b"\r\n")
            if len(lines) - 1 > MAX_HEADERS:
                raise _Refused(431, f"more than {MAX_HEADERS} headers")
            return lines[0], lines[1:]
        line = self.rfile.readline(MAX_LINE_BYTES + 1)
        if not line:
            return None
        if len(line) > MAX_LINE_BYTES:
            raise _Refused(414, "the request line is too long")
        header_lines: list[bytes] = []
        while True:
            header = self.rfile.readline(MAX_LINE_BYTES + 1)
            if len(header) > MAX_LINE_BYTES:
                raise _Refused(431, "a header line is too long")
            if header in _BLANK:
                return (line.rstrip(b"\r\n"), header_lines) if header else None
            if len(header_lines) >= MAX_HEADERS:
                raise _Refused(431, f"more than {MAX_HEADERS} headers")
            header_lines.append(header.rstrip(b"\r\n"))

    def _read_body(self, grouped: dict[str, tuple[str, ...]]) -> bytes | None:
        """The body, or None when the client sent less than it announced."""
        if "transfer-encoding" in grouped:
            raise _Refused(411, "chunked or encoded bodies are not supported; send Content-Length")
        lengths = grouped.get("content-length")
        if lengths is None:
            return b""
        text = lengths[0].strip()
        if len(lengths) > 1 or not text.isdigit() or not text.isascii():
            raise _Refused(400, "invalid Content-Length")
        length = int(text)
        if length > self.server.max_body_bytes:
            raise _Refused(413, f"the body exceeds {self.server.max_body_bytes} bytes")
        body = self.rfile.read(length) if length else b""
        return body if len(body) == length else None

    def _refuse(self, status: int, reason: str) -> bool:
        """Answer a request the shell will not read (always 4xx) and end the connection."""
        self._write(self.server.refuse(status, reason), close=True)
        return False

    def _write(self, answer: HttpAnswer, *, close: bool, with_body: bool = True) -> None:
        status, body, headers = answer
        head = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} Error\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers]
        extra = self.server.extra_headers()
        if extra:
            head += [f"{name}: {value}\r\n" for name, value in extra]
        head.append(f"Content-Length: {len(body)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n")
        data = "".join(head).encode("latin-1", "replace")
        self.connection.sendall(data + body if with_body else data)


_HeaderLine = tuple[str, tuple[str, str], tuple[str]]
"""A header line read: its lower-cased name, (name, value) as sent, and (value,) (the value sent once)."""
_HEADER_LINES: dict[bytes, _HeaderLine] = {}
"""Well-formed header lines seen so far (wire bytes -> the line read): an SDK sends most of its
headers unchanged with every call, so each of those lines is split, checked and decoded once. The headers that change
with every call are not kept; lines longer than the bound are read each time, and a full table starts over."""
MAX_KNOWN_HEADER_LINES = 1024
MAX_KNOWN_HEADER_LINE_BYTES = 256
UNIQUE_PER_CALL = frozenset({"x-acs-date", "x-acs-signature-nonce", "authorization"})
_HEADER_NAMES: dict[bytes, tuple[str, str]] = {}
"""Well-formed header names seen so far (wire bytes -> name, lower-cased key), for the lines that vary. Bounded."""
MAX_KNOWN_HEADER_NAMES = 512


def _header_line(line: bytes) -> _HeaderLine | None:
    """A header line read, or None when it is malformed."""
    name_bytes, colon, value_bytes = line.partition(b":")
    known = _HEADER_NAMES.get(name_bytes) if colon else None
    if known is None:
        if not colon or not name_bytes or name_bytes != name_bytes.strip() or line[:1] in b" \t":
            return None
        name = name_bytes.decode("latin-1")
        known = (name, name.lower())
        if len(_HEADER_NAMES) < MAX_KNOWN_HEADER_NAMES:
            _HEADER_NAMES[name_bytes] = known
    name, key = known
    value = value_bytes.strip().decode("utf-8", "surrogateescape")
    parsed = (key, (name, value), (value,))
    if len(line) <= MAX_KNOWN_HEADER_LINE_BYTES and key not in UNIQUE_PER_CALL:
        if len(_HEADER_LINES) >= MAX_KNOWN_HEADER_LINES:
            _HEADER_LINES.clear()
        _HEADER_LINES[line] = parsed
    return parsed


def _wants_close(version: str, connection: str) -> bool:
    tokens = {token.strip().lower() for token in connection.split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" not in tokens
    return "close" in tokens
