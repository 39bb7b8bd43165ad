"""Mutant: asking for more than the capacity returns False (or a wait time) instead of raising ValueError."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allow bursts of up to `capacity` tokens, refilled at `rate` tokens per second.

    The contract (every rule is worth a test):

    1. `capacity` and `rate` must both be > 0, otherwise the constructor raises ValueError.
    2. A new bucket is full: it holds `capacity` tokens.
    3. Time is read from `clock()`, in seconds. Tokens refill continuously: `rate` tokens per
       second of clock time since the last refill, but the bucket never holds more than
       `capacity`. A clock that goes backwards adds nothing.
    4. `tokens` is the number of tokens available now (a float, after refilling).
    5. `try_acquire(n=1)` takes `n` tokens and returns True if at least `n` are available;
       otherwise it takes nothing and returns False.
    6. `wait_time(n=1)` is the number of seconds until `n` tokens will be available, 0.0 if
       they are available now. It takes nothing.
    7. `try_acquire` and `wait_time` raise ValueError when `n <= 0` or `n > capacity` (such a
       request could never succeed).

    >>> now = [0.0]
    >>> bucket = TokenBucket(capacity=2, rate=0.5, clock=lambda: now[0])
    >>> bucket.try_acquire(), bucket.try_acquire(), bucket.try_acquire()
    (True, True, False)
    >>> bucket.wait_time()
    2.0
    >>> now[0] = 2.0
    >>> bucket.try_acquire()
    True
    """

    def __init__(
        self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0, got {capacity}")
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._last = now

    def _check(self, n: float) -> None:
        if n <= 0:
            raise ValueError(f"n must be > 0, got {n}")

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        self._refill()
        return self._tokens

    def try_acquire(self, n: float = 1) -> bool:
        """Take `n` tokens if they are available; return whether they were taken."""
        self._check(n)
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def wait_time(self, n: float = 1) -> float:
        """Seconds until `n` tokens are available (0.0 when they already are)."""
        self._check(n)
        self._refill()
        missing = n - self._tokens
        return max(0.0, missing / self.rate)
