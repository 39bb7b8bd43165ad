# expect: not changing what calling the clock returns
# slip: __call__ returns the start time, not the advanced time

from __future__ import annotations

import pytest
from ratelimiter import TokenBucket


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self.start = start
        self.now = start

    def __call__(self) -> float:
        return self.start

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_new_bucket_is_full(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert bucket.tokens == pytest.approx(3.0)
    assert bucket.try_acquire()
    assert bucket.try_acquire()
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    assert bucket.tokens == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("rate", "elapsed", "expected"),
    [(2.0, 0.5, 1.0), (0.5, 3.0, 1.5), (4.0, 0.25, 1.0)],
)
def test_refill(clock: FakeClock, rate: float, elapsed: float, expected: float) -> None:
    bucket = TokenBucket(capacity=5, rate=rate, clock=clock)
    assert bucket.try_acquire(5)
    clock.advance(elapsed)
    assert bucket.tokens == pytest.approx(expected)


def test_refill_stops_at_capacity(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=2, clock=clock)
    assert bucket.try_acquire(3)
    clock.advance(100)
    assert bucket.tokens == pytest.approx(3.0)


def test_refill_counts_from_last(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=10, rate=2, clock=clock)
    assert bucket.try_acquire(10)
    clock.advance(1)
    first = bucket.tokens
    assert bucket.tokens == pytest.approx(first)
    clock.advance(1)
    assert bucket.tokens == pytest.approx(4.0)


def test_clock_backwards_adds_nothing(clock: FakeClock) -> None:
    clock.advance(10)
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert bucket.try_acquire(3)
    clock.now = 5.0
    assert bucket.tokens == pytest.approx(0.0)


def test_exact_request_succeeds(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert bucket.try_acquire(2)
    assert bucket.try_acquire(1)
    assert bucket.tokens == pytest.approx(0.0)


def test_refused_request_takes_nothing(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert bucket.try_acquire(2)
    assert not bucket.try_acquire(2)
    assert bucket.tokens == pytest.approx(1.0)


def test_wait_time_zero_when_available(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=2, clock=clock)
    assert bucket.wait_time(2) == 0.0
    assert bucket.tokens == pytest.approx(3.0)


def test_wait_time_when_short(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=4, rate=2, clock=clock)
    assert bucket.try_acquire(4)
    assert bucket.wait_time(3) == pytest.approx(1.5)
    assert bucket.tokens == pytest.approx(0.0)


def test_invalid_settings_raise(clock: FakeClock) -> None:
    for capacity, rate in [(0, 1), (-1, 1), (1, 0), (1, -2)]:
        with pytest.raises(ValueError):
            TokenBucket(capacity=capacity, rate=rate, clock=clock)


@pytest.mark.parametrize("n", [0, -1, 4])
def test_invalid_requests_raise(clock: FakeClock, n: float) -> None:
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    with pytest.raises(ValueError):
        bucket.try_acquire(n)
    with pytest.raises(ValueError):
        bucket.wait_time(n)
