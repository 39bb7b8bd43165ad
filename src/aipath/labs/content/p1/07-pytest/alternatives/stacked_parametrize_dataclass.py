"""Tests for ratelimiter.TokenBucket: a dataclass clock, stacked parametrize for the errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from ratelimiter import TokenBucket


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now = self.now + seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, capacity: float = 3, rate: float = 1) -> TokenBucket:
    return TokenBucket(capacity=capacity, rate=rate, clock=clock)


def test_full_then_refuses(clock: FakeClock) -> None:
    bucket = make(clock)
    assert bucket.tokens == 3
    assert all(bucket.try_acquire() for _ in range(3))
    assert bucket.try_acquire() is False
    assert bucket.tokens == pytest.approx(0)


@pytest.mark.parametrize("rate,elapsed,expected", [(5, 0.2, 1), (0.5, 5, 2.5), (1.5, 2, 3)])
def test_refill(clock: FakeClock, rate, elapsed, expected) -> None:
    bucket = make(clock, capacity=4, rate=rate)
    assert bucket.try_acquire(4)
    clock.advance(elapsed)
    assert bucket.tokens == pytest.approx(expected)


def test_cap(clock: FakeClock) -> None:
    bucket = make(clock, rate=10)
    bucket.try_acquire(1)
    clock.advance(5)
    assert bucket.tokens == pytest.approx(3)


def test_split_refill(clock: FakeClock) -> None:
    bucket = make(clock, capacity=9, rate=2)
    bucket.try_acquire(9)
    for _ in range(4):
        clock.advance(0.5)
        assert bucket.tokens == pytest.approx(bucket.tokens)
    assert bucket.tokens == pytest.approx(4)


def test_clock_goes_back(clock: FakeClock) -> None:
    clock.now = 100.0
    bucket = make(clock)
    bucket.try_acquire(3)
    clock.now = 50.0
    assert bucket.tokens == pytest.approx(0)
    assert not bucket.try_acquire()


def test_exact_amount(clock: FakeClock) -> None:
    bucket = make(clock)
    assert bucket.try_acquire(3)


def test_refusal_is_free(clock: FakeClock) -> None:
    bucket = make(clock)
    bucket.try_acquire(2.5)
    assert not bucket.try_acquire(1)
    assert bucket.tokens == pytest.approx(0.5)


@pytest.mark.parametrize("rate", [0.5, 4])
def test_wait(clock: FakeClock, rate: float) -> None:
    bucket = make(clock, rate=rate)
    assert bucket.wait_time(3) == 0.0
    bucket.try_acquire(3)
    assert bucket.wait_time(2) == pytest.approx(2 / rate)
    assert bucket.tokens == pytest.approx(0)


@pytest.mark.parametrize("capacity,rate", [(0, 1), (-1, 1), (1, 0), (1, -1)])
def test_bad_settings(clock: FakeClock, capacity, rate) -> None:
    with pytest.raises(ValueError):
        make(clock, capacity, rate)


@pytest.mark.parametrize("method", ["try_acquire", "wait_time"])
@pytest.mark.parametrize("n", [0, -2, 3.5])
def test_bad_requests(clock: FakeClock, method: str, n: float) -> None:
    with pytest.raises(ValueError):
        getattr(make(clock), method)(n)
