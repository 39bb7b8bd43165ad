"""Your tests for ratelimiter.TokenBucket (lab p1-pytest).

Run them with `python -m pytest test_ratelimiter.py -q` in this folder. The test names are yours
to choose and you may add as many tests as you like; the stubs below are a starting point. A stub
that still raises NotImplementedError counts as "not written yet": replace it or delete it.
"""

from __future__ import annotations

import pytest
from ratelimiter import TokenBucket


class FakeClock:
    """A clock the tests move by hand: calling it returns the current time in seconds.

    >>> clock = FakeClock(5.0)
    >>> clock()
    5.0
    >>> clock.advance(2.5)
    >>> clock()
    7.5
    """

    def __init__(self, start: float = 0.0) -> None:
        # TODO (task 1): remember the current time
        raise NotImplementedError

    def __call__(self) -> float:
        # TODO (task 1): return the current time
        raise NotImplementedError

    def advance(self, seconds: float) -> None:
        # TODO (task 1): move the current time forward by `seconds`
        raise NotImplementedError


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock, at time 0.0, for every test that takes a `clock` parameter."""
    return FakeClock()


# ----- task 1: a clock you control -------------------------------------------------------------


def test_new_bucket_is_full(clock: FakeClock) -> None:
    """TokenBucket(capacity=3, rate=1, clock=clock) grants three try_acquire() calls, then
    refuses the fourth."""
    bucket = TokenBucket(capacity=3, rate=1, clock=clock)
    assert bucket.try_acquire()
    # TODO (task 1): the 2nd and 3rd calls succeed, the 4th is refused; check bucket.tokens too
    raise NotImplementedError


# ----- task 2: time passes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "elapsed", "expected"),
    [
        # TODO (task 2): at least three cases, with rates other than 1, e.g. (2.0, 0.5, 1.0)
    ],
)
def test_refill(clock: FakeClock, rate: float, elapsed: float, expected: float) -> None:
    """Drain a bucket, let `elapsed` seconds pass, and compare `tokens` with `expected`
    (use pytest.approx)."""
    # TODO (task 2)
    raise NotImplementedError


def test_refill_stops_at_capacity(clock: FakeClock) -> None:
    # TODO (task 2)
    raise NotImplementedError


# ----- task 3: edges and errors ----------------------------------------------------------------


def test_refused_request_takes_nothing(clock: FakeClock) -> None:
    # TODO (task 3)
    raise NotImplementedError


def test_invalid_arguments_raise_value_error(clock: FakeClock) -> None:
    # TODO (task 3): pytest.raises(ValueError) for each invalid setting and request
    raise NotImplementedError
