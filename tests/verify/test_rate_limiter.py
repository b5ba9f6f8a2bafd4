"""The pacing limiter that keeps the verifier under STS's AssumeRole quota, on a fake clock and a real one."""

from __future__ import annotations

import threading
import time

import pytest

from ram_delegate.verify import RateLimiter


class FakeClock:
    """A monotonic clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_paces_one_call_per_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, monotonic=clock.monotonic, sleep=clock.sleep)

    waits = [limiter.acquire() for _ in range(5)]

    assert waits[0] == 0
    assert waits[1:] == pytest.approx([0.01] * 4)
    assert clock.now == pytest.approx(1000.04)


def test_idle_time_is_not_banked_beyond_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, burst=3, monotonic=clock.monotonic, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 60  # a long idle period must not allow 600 calls at once

    waits = [limiter.acquire() for _ in range(5)]

    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(0.1)
    assert waits[4] == pytest.approx(0.1)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (10, 0)])
def test_refuses_nonsense_settings(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter(rate, burst=burst)


def test_threads_share_the_rate() -> None:
    limiter = RateLimiter(200)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 80 calls at 200/s: the first is free, the other 79 need 79 intervals of 5 ms.
    assert len(stamps) == 80
    assert max(stamps) - started >= 79 / 200 * 0.95
    assert sum(1 for stamp in stamps if stamp - started < 0.1) <= 21
