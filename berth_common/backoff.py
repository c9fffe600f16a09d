"""Waiting before a retry: exponential backoff with full jitter.

Many callers that failed together (agents after a scheduler restart, clients
after a blip, replicas throttled by DynamoDB) must not retry in lockstep, so
each waits a uniformly random time between zero and an exponentially growing cap.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

_MAX_EXPONENT = 64  # beyond this every cap is the maximum anyway; avoids float overflow


def full_jitter(
    retry_number: int,
    initial_s: float,
    maximum_s: float,
    multiplier: float = 2.0,
    random: Callable[[], float] = random.random,
) -> float:
    """Uniform in [0, min(maximum_s, initial_s * multiplier**retry_number)); counts from 0."""
    cap = min(maximum_s, initial_s * multiplier ** min(retry_number, _MAX_EXPONENT))
    return cap * random()


@dataclass
class Backoff:
    """Successive waits of one retry loop; `reset` after a success starts again from `initial_s`."""

    initial_s: float = 0.2
    maximum_s: float = 10.0
    random: Callable[[], float] = field(default=random.random, repr=False)
    failures: int = 0

    def next_delay(self) -> float:
        delay = full_jitter(self.failures, self.initial_s, self.maximum_s, random=self.random)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
