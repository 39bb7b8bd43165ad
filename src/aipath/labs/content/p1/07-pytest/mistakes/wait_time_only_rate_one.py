# expect: no test of yours divides wait_time by the rate
"""Mistake: wait_time is tested only at rate 1, where dividing by the rate changes nothing."""

from __future__ import annotations

import pytest
from ratelimiter import TokenBucket


class FakeClock:
    """A clock the tests move by hand: calling it returns the current time in seconds."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def drained(clock: FakeClock, capacity: float = 4, rate: float = 1) -> TokenBucket:
    """A bucket with every token taken."""
    bucket = TokenBucket(capacity=capacity, rate=rate, clock=clock)
    assert bucket.try_acquire(capacity)
    return bucket


# ----- task 1 --------------------------------------------------------------------------------------


def test_new_bucket_is_full(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert bucket.tokens == pytest.approx(3)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert bucket.tokens == pytest.approx(0)


def test_acquire_takes_n_tokens(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=5, rate=1, clock=clock)
    assert bucket.try_acquire(2)
    assert bucket.tokens == pytest.approx(3)


# ----- task 2 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "elapsed", "expected"),
    [
        (1.0, 2.0, 2.0),
        (2.0, 0.5, 1.0),
        (0.5, 3.0, 1.5),
        (10.0, 0.25, 2.5),
    ],
)
def test_refill(clock: FakeClock, rate: float, elapsed: float, expected: float) -> None:
    bucket = drained(clock, capacity=4, rate=rate)
    clock.advance(elapsed)
    assert bucket.tokens == pytest.approx(expected)


def test_refill_stops_at_capacity(clock: FakeClock) -> None:
    bucket = drained(clock, capacity=4, rate=2)
    clock.advance(3600)
    assert bucket.tokens == pytest.approx(4)
    assert bucket.try_acquire(4)
    assert not bucket.try_acquire()


def test_time_is_counted_from_the_last_refill(clock: FakeClock) -> None:
    bucket = drained(clock, capacity=4, rate=1)
    clock.advance(1)
    assert bucket.tokens == pytest.approx(1)
    assert bucket.tokens == pytest.approx(1)  # reading again at the same moment adds nothing
    clock.advance(1)
    assert bucket.tokens == pytest.approx(2)


def test_clock_going_backwards_adds_nothing(clock: FakeClock) -> None:
    bucket = drained(clock, capacity=4, rate=1)
    clock.advance(-5)
    assert bucket.tokens == pytest.approx(0)


# ----- task 3 --------------------------------------------------------------------------------------


def test_exact_balance_is_granted(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert bucket.try_acquire(2)
    assert bucket.try_acquire(1)
    assert bucket.tokens == pytest.approx(0)


def test_refused_request_takes_nothing(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert bucket.try_acquire(2)
    assert not bucket.try_acquire(2)
    assert bucket.tokens == pytest.approx(1)
    assert bucket.try_acquire(1)


@pytest.mark.parametrize(("rate", "expected"), [(1.0, 3.0)])
def test_wait_time(clock: FakeClock, rate: float, expected: float) -> None:
    bucket = drained(clock, capacity=4, rate=rate)
    assert bucket.wait_time(3) == pytest.approx(expected)
    clock.advance(expected)
    assert bucket.wait_time(3) == pytest.approx(0.0)
    assert bucket.try_acquire(3)


def test_wait_time_is_zero_when_tokens_are_there(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=4, rate=1, clock=clock)
    assert bucket.wait_time(2) == 0.0
    assert bucket.tokens == pytest.approx(4)  # asking takes nothing


@pytest.mark.parametrize(("capacity", "rate"), [(0, 1), (-1, 1), (1, 0), (1, -2)])
def test_invalid_settings_raise(clock: FakeClock, capacity: float, rate: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(capacity=capacity, rate=rate, clock=clock)


@pytest.mark.parametrize("n", [0, -1, 5])
def test_invalid_requests_raise(clock: FakeClock, n: float) -> None:
    bucket = TokenBucket(capacity=4, rate=1, clock=clock)
    with pytest.raises(ValueError):
        bucket.try_acquire(n)
    with pytest.raises(ValueError):
        bucket.wait_time(n)
