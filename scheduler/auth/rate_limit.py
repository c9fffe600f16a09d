"""Per-token request rate limit for the submission port (token buckets).

One client in a tight loop must not starve everyone else's calls or the
thread pool behind them. Each token gets a bucket refilled at its role's rate
and holding at most `burst` requests; a refused call learns exactly how long
to wait. Buckets of idle tokens are dropped, so memory follows the active
tokens, not every token ever seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scheduler.domain.errors import ResourceExhausted
from scheduler.domain.jobs import Principal, Role

_SWEEP_EVERY = 1024


@dataclass(frozen=True)
class RateLimit:
    per_second: float  # refill rate; 0 or less means unlimited
    burst: float  # bucket size: requests allowed at once after a pause


@dataclass
class _Bucket:
    tokens: float
    as_of: float


class RequestRateLimiter:
    def __init__(
        self, limits: Mapping[Role, RateLimit], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._calls = 0

    def check(self, caller: Principal) -> None:
        """Take one request from the caller's bucket, or raise ResourceExhausted."""
        limit = self._limits.get(caller.role)
        if limit is None or limit.per_second <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(caller.owner)
        if bucket is None:
            bucket = self._buckets[caller.owner] = _Bucket(limit.burst, now)
        else:
            elapsed = max(now - bucket.as_of, 0.0)
            bucket.tokens = min(limit.burst, bucket.tokens + elapsed * limit.per_second)
            bucket.as_of = now
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            self._sweep(now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        wait_s = (1.0 - bucket.tokens) / limit.per_second
        raise ResourceExhausted(
            f"rate limit of {limit.per_second:g} requests/s per {caller.role.value} token "
            f"exceeded; retry in {math.ceil(wait_s * 1000) / 1000:.3f} s"
        )

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled completely: they hold no state worth keeping."""
        # A full bucket equals a fresh one, whatever the role's limit was.
        longest_refill = max(
            (lim.burst / lim.per_second for lim in self._limits.values() if lim.per_second > 0),
            default=0.0,
        )
        full = [o for o, bucket in self._buckets.items() if now - bucket.as_of >= longest_refill]
        for owner in full:
            del self._buckets[owner]

    def __len__(self) -> int:
        return len(self._buckets)
