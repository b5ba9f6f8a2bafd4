"""How the CLI talks to people and to scripts: tables and headings on stdout, JSON with ``--json``, progress on stderr.

Quiet by default: a command prints its answer and nothing else; ``-v`` turns on the library's logging. During long
runs (sweeps, verifications, listings) a progress line is drawn on stderr — a bar with ``done/total`` for sweeps and
verifications, which report their counts, a spinner otherwise, and the elapsed time — only when stderr is a
terminal and JSON output is off, so pipes and CI logs stay clean.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

from ram_delegate.outcome import Progress

Column = tuple[str, str]
"""(key in the row mapping, header shown to people)."""


def to_jsonable(value: Any) -> Any:
    """Dataclasses, datetimes, tuples and report objects as plain JSON values."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return to_jsonable(to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return format_time(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def mask_secret(secret: str) -> str:
    """Enough of an ExternalId to recognise it, never enough to use it."""
    return f"{secret[:4]}…({len(secret)} chars)" if len(secret) > 8 else "…"


def format_time(value: datetime) -> str:
    """UTC, second precision, ``Z`` suffix: the format RAM tags and policy conditions use."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """A plain-text table with a header rule; columns sized to their widest cell."""
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    headers = [header for _, header in columns]
    widths = [max([len(header)] + [len(line[i]) for line in cells]) for i, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(widths[i]) for i, header in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(value.ljust(widths[i]) for i, value in enumerate(line)).rstrip() for line in cells)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Output:
    """One place that decides what goes to stdout/stderr, in which format."""

    def __init__(self, *, json_mode: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr

    def line(self, text: str = "") -> None:
        """A line for people (suppressed in JSON mode, where only the final document is printed)."""
        if not self.json_mode:
            print(text, file=self.stdout, flush=True)

    def table(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, empty: str) -> None:
        if self.json_mode:
            return
        self.line(render_table(rows, columns) if rows else empty)

    def document(self, value: Any) -> None:
        """The machine-readable answer of a command (JSON mode only)."""
        if self.json_mode:
            print(json.dumps(to_jsonable(value), indent=2, sort_keys=True), file=self.stdout, flush=True)

    def error(self, text: str) -> None:
        """Errors always go to stderr, in both modes (JSON consumers read stdout only)."""
        print(text, file=self.stderr, flush=True)

    @property
    def progress_enabled(self) -> bool:
        return not self.json_mode and _is_tty(self.stderr)

    @contextmanager
    def progress(self, label: str) -> Iterator[Progress]:
        """A progress line on stderr while a long run works: a bar and ``done/total`` once the run reports counts
        (sweeps and verifications call the yielded ``progress(done, total)``), a spinner before that, and the elapsed
        time throughout. Drawn only on a terminal and never with ``--json``."""
        if not self.progress_enabled:
            yield _ignore_progress
            return
        indicator = _ProgressLine(self.stderr, label)
        indicator.start()
        try:
            yield indicator.update
        finally:
            indicator.stop()


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


def _ignore_progress(_done: int, _total: int) -> None:
    """Progress reports when nothing is drawn."""


class _ProgressLine:
    """Redraws one stderr line a few times a second (label, bar or spinner, counts, seconds); erased at the end."""

    _SPINNER = "|/-\\"
    _WIDTH = 24

    def __init__(self, stream: TextIO, label: str, interval: float = 0.1) -> None:
        self._stream = stream
        self._label = label
        self._interval = interval
        self._started = time.monotonic()
        self._counts: tuple[int, int] | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cli-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def update(self, done: int, total: int) -> None:
        self._counts = (done, total)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._stream.write("\r\033[K")
        self._stream.flush()

    def _run(self) -> None:
        tick = 0
        while not self._stopped.wait(self._interval):
            elapsed = time.monotonic() - self._started
            counts = self._counts
            if counts is None or counts[1] <= 0:
                middle = self._SPINNER[tick % len(self._SPINNER)]
            else:
                done, total = counts
                filled = min(self._WIDTH, self._WIDTH * done // total)
                middle = f"[{'#' * filled}{'.' * (self._WIDTH - filled)}] {done}/{total}"
            self._stream.write(f"\r{self._label} {middle} {elapsed:.1f}s")
            self._stream.flush()
            tick += 1
