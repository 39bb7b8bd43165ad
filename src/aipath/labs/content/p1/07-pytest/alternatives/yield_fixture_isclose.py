"""Tests for ratelimiter.TokenBucket: a yield fixture for the bucket, math.isclose for floats."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from ratelimiter import TokenBucket


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self._t = [float(start)]

    def __call__(self) -> float:
        return self._t[0]

    def advance(self, seconds: float) -> None:
        self._t[0] = self._t[0] + seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def drained(clock: FakeClock) -> Iterator[TokenBucket]:
    bucket = TokenBucket(capacity=4, rate=2, clock=clock)
    while bucket.try_acquire():
        pass
    yield bucket
    assert bucket.tokens >= 0.0


def test_new_bucket_is_full(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    results = [bucket.try_acquire() for _ in range(4)]
    assert results == [True, True, True, False]
    assert math.isclose(bucket.tokens, 0.0, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("rate", "elapsed", "expected"),
    [
        pytest.param(3.0, 0.5, 1.5, id="fast"),
        pytest.param(0.25, 4.0, 1.0, id="slow"),
        pytest.param(0.1, 3.0, 0.3, id="float"),
        pytest.param(2.0, 1.25, 2.5, id="two"),
    ],
)
def test_refill(clock: FakeClock, rate: float, elapsed: float, expected: float) -> None:
    bucket = TokenBucket(capacity=3, rate=rate, clock=clock)
    bucket.try_acquire(3)
    clock.advance(elapsed)
    assert math.isclose(bucket.tokens, expected, rel_tol=1e-9)


def test_refill_is_capped(drained: TokenBucket, clock: FakeClock) -> None:
    clock.advance(60)
    assert math.isclose(drained.tokens, 4.0)


def test_two_steps_equal_one(clock: FakeClock) -> None:
    a = TokenBucket(capacity=10, rate=3, clock=clock)
    b = TokenBucket(capacity=10, rate=3, clock=clock)
    a.try_acquire(10)
    b.try_acquire(10)
    clock.advance(1)
    a.tokens  # noqa: B018  (a read refills)
    assert math.isclose(a.tokens, a.tokens)
    clock.advance(1)
    assert math.isclose(a.tokens, b.tokens)
    assert math.isclose(b.tokens, 6.0)


def test_backwards_clock(clock: FakeClock) -> None:
    clock.advance(5)
    bucket = TokenBucket(capacity=2, rate=1, clock=clock)
    bucket.try_acquire(2)
    clock.advance(-3)
    assert math.isclose(bucket.tokens, 0.0, abs_tol=1e-12)


def test_exact_and_refused(drained: TokenBucket, clock: FakeClock) -> None:
    clock.advance(1)  # 2 tokens
    assert not drained.try_acquire(3)
    assert math.isclose(drained.tokens, 2.0)
    assert drained.try_acquire(2)
    assert math.isclose(drained.tokens, 0.0, abs_tol=1e-12)


def test_wait_time(drained: TokenBucket, clock: FakeClock) -> None:
    assert math.isclose(drained.wait_time(3), 1.5)
    clock.advance(0.5)
    assert math.isclose(drained.wait_time(3), 1.0)
    assert math.isclose(drained.wait_time(1), 0.0, abs_tol=1e-12)
    assert math.isclose(drained.tokens, 1.0)


def test_bad_arguments(clock: FakeClock) -> None:
    for kwargs in (
        {"capacity": 0, "rate": 1},
        {"capacity": -2, "rate": 1},
        {"capacity": 2, "rate": 0},
        {"capacity": 2, "rate": -1},
    ):
        with pytest.raises(ValueError):
            TokenBucket(clock=clock, **kwargs)
    bucket = TokenBucket(capacity=2, rate=1, clock=clock)
    for n in (0, -0.5, 2.5):
        with pytest.raises(ValueError):
            bucket.try_acquire(n)
        with pytest.raises(ValueError):
            bucket.wait_time(n)
