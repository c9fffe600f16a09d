"""Retrying calls that failed with UNAVAILABLE, with exponential backoff and full jitter.

Only UNAVAILABLE is retried: it means the call did not reach a scheduler
(restart, network blip, AWS briefly unreachable) and trying again is safe for
reads. Submissions are made safe by an idempotency key that stays the same
across attempts. UNAUTHENTICATED, PERMISSION_DENIED and every other code are
final: retrying cannot change the answer. Full jitter (sleep a random time
between zero and the current cap) keeps many clients that failed together from
coming back together.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

from berth_common.backoff import full_jitter

T = TypeVar("T")

RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry; `sleep` and `random` are injectable for tests."""

    max_attempts: int = 6
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    multiplier: float = 2.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0 or self.multiplier < 1:
            raise ValueError("backoffs must be >= 0 and multiplier >= 1")

    def backoff_s(self, retry_number: int) -> float:
        """Full jitter, counting retries from 0."""
        return full_jitter(
            retry_number, self.initial_backoff_s, self.max_backoff_s, self.multiplier, self.random
        )


NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable(error: grpc.RpcError) -> bool:
    return callable(getattr(error, "code", None)) and error.code() in RETRYABLE_CODES


def call_with_retry(call: Callable[[], T], policy: RetryPolicy) -> T:
    """Run `call`, retrying on UNAVAILABLE; the last error is re-raised unchanged."""
    for attempt in range(policy.max_attempts):
        try:
            return call()
        except grpc.RpcError as error:
            if not is_retryable(error) or attempt + 1 >= policy.max_attempts:
                raise
            policy.sleep(policy.backoff_s(attempt))
    raise AssertionError("unreachable: the loop returns or raises")
