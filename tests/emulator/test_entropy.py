"""The entropy pool hands out OS randomness in slices: every byte once, whatever the callers' sizes or threads."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliyun_emulator.core.entropy import EntropyPool


@given(st.lists(st.integers(min_value=0, max_value=100), max_size=60))
def test_slices_have_the_asked_length_and_come_from_fresh_blocks_when_short(sizes: list[int]) -> None:
    pool = EntropyPool(block_bytes=64)

    taken = [pool.take(size) for size in sizes]

    assert [len(piece) for piece in taken] == sizes


def test_no_byte_is_handed_out_twice_across_threads() -> None:
    """Slices are cut under the lock: with 8 threads racing, the 8-byte slices (random 64-bit values) never repeat."""
    pool = EntropyPool(block_bytes=256)
    start = threading.Barrier(8)
    seen: list[bytes] = []

    def draw() -> None:
        start.wait()
        mine = [pool.take(8) for _ in range(2000)]
        seen.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == 16000
    assert max(Counter(seen).values()) == 1


def test_below_is_uniform_in_range_and_refuses_an_empty_range() -> None:
    pool = EntropyPool()
    counts = Counter(pool.below(6) for _ in range(6000))

    assert set(counts) == set(range(6))
    assert min(counts.values()) > 800  # 1000 expected each (7 standard deviations of margin)
    with pytest.raises(ValueError, match="positive"):
        pool.below(0)


def test_a_request_larger_than_a_block_is_drawn_directly() -> None:
    pool = EntropyPool(block_bytes=16)

    assert len(pool.take(100)) == 100
