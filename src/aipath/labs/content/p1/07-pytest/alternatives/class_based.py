"""Alternative: tests grouped in a class, a yield fixture, stacked parametrize and pytest.param."""

from __future__ import annotations

import itertools

import pytest
import ratelimiter


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self._times = [start]

    def __call__(self) -> float:
        return self._times[-1]

    def advance(self, seconds: float) -> None:
        self._times.append(self._times[-1] + seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


@pytest.fixture
def bucket(clock: FakeClock):
    bucket = ratelimiter.TokenBucket(capacity=10, rate=4, clock=clock)
    yield bucket
    assert bucket.tokens <= bucket.capacity  # a bucket never overflows, whatever the test did


def take_all(bucket: ratelimiter.TokenBucket) -> int:
    granted = 0
    while bucket.try_acquire():
        granted += 1
    return granted


class TestStart:
    def test_starts_full(self, bucket):
        assert take_all(bucket) == 10

    def test_tokens_after_taking(self, bucket):
        assert bucket.try_acquire(7)
        assert bucket.tokens == pytest.approx(3)


class TestRefill:
    @pytest.mark.parametrize("elapsed", [0.25, 1.0, pytest.param(2.0, id="two-seconds")])
    @pytest.mark.parametrize("rate", [0.5, 3.0])
    def test_refill(self, clock, rate, elapsed):
        bucket = ratelimiter.TokenBucket(capacity=100, rate=rate, clock=clock)
        assert bucket.try_acquire(100)
        clock.advance(elapsed)
        assert bucket.tokens == pytest.approx(rate * elapsed)

    def test_capped(self, bucket, clock):
        take_all(bucket)
        clock.advance(1e6)
        assert bucket.tokens == pytest.approx(10)

    def test_steps_add_up(self, bucket, clock):
        take_all(bucket)
        for _ in range(4):
            clock.advance(0.25)
            assert bucket.tokens == pytest.approx(bucket.tokens)
        assert bucket.tokens == pytest.approx(4)


class TestEdges:
    def test_last_token(self, bucket):
        assert bucket.try_acquire(9)
        assert bucket.try_acquire(1)
        assert not bucket.try_acquire(1)

    def test_refusal_is_free(self, bucket):
        assert bucket.try_acquire(8)
        assert bucket.try_acquire(5) is False
        assert bucket.tokens == pytest.approx(2)

    @pytest.mark.parametrize(("missing", "rate"), list(itertools.product([1, 6], [0.5, 4])))
    def test_wait_time(self, clock, missing, rate):
        bucket = ratelimiter.TokenBucket(capacity=10, rate=rate, clock=clock)
        assert bucket.try_acquire(10)
        assert bucket.wait_time(missing) == pytest.approx(missing / rate)
        assert bucket.wait_time(missing) == pytest.approx(missing / rate)

    def test_no_wait_when_full(self, bucket):
        assert bucket.wait_time(10) == 0

    @pytest.mark.parametrize("settings", [(0, 1), (1, 0), (-3, 2), (2, -0.5)])
    def test_bad_settings(self, clock, settings):
        with pytest.raises(ValueError):
            ratelimiter.TokenBucket(*settings, clock=clock)

    @pytest.mark.parametrize("n", [0, -2, 10.5, 11])
    @pytest.mark.parametrize("method", ["try_acquire", "wait_time"])
    def test_bad_requests(self, bucket, method, n):
        with pytest.raises(ValueError, match="n"):
            getattr(bucket, method)(n)
