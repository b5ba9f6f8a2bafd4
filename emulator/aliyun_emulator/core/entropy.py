"""Random bytes for ids, keys and tokens, drawn from the OS in blocks instead of one system call per value.

The bytes are ``os.urandom``'s, each handed out once; only the system call is shared. A ``getrandom`` call costs
about 10 µs here (a virtual machine), and CreateRole and AssumeRole each needed one.
"""

from __future__ import annotations

import os
import threading

BLOCK_BYTES = 4096


class EntropyPool:
    """Thread-safe: a block of OS randomness, sliced front to back and refilled when it runs short."""

    def __init__(self, block_bytes: int = BLOCK_BYTES) -> None:
        self._block_bytes = block_bytes
        self._block = b""
        self._position = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> bytes:
        """``count`` random bytes that no other caller gets."""
        if count > self._block_bytes:
            return os.urandom(count)
        with self._lock:
            end = self._position + count
            if end > len(self._block):
                self._block, self._position, end = os.urandom(self._block_bytes), 0, count
            taken = self._block[self._position : end]
            self._position = end
            return taken

    def below(self, limit: int) -> int:
        """A uniform integer in ``[0, limit)`` (rejection sampling over whole bytes, as ``secrets.randbelow``)."""
        if limit <= 0:
            raise ValueError("limit must be positive")
        bits = limit.bit_length()
        size = (bits + 7) // 8
        surplus = size * 8 - bits
        while True:
            value = int.from_bytes(self.take(size), "big") >> surplus
            if value < limit:
                return value


POOL = EntropyPool()
"""The process's pool (every product draws from it)."""
