"""The per-token request rate limit: bursts, refill, the wait it names, idle tokens forgotten."""

from __future__ import annotations

import re
from collections.abc import Callable

import grpc
import pytest

from scheduler.auth.rate_limit import RateLimit, RequestRateLimiter
from scheduler.domain.errors import ResourceExhausted
from scheduler.domain.jobs import Principal, Role
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Submitter, clients, rpc_error
from tests.token_database_helpers import ManualClock


def principal(owner: str, role: Role = Role.DEVELOPER) -> Principal:
    return Principal(owner=owner, name=owner, role=role, token_id=owner[:8])


def test_a_burst_is_allowed_then_refused_with_the_wait_until_the_next_request() -> None:
    clock = ManualClock(start=1000.0)
    limiter = RequestRateLimiter({Role.DEVELOPER: RateLimit(per_second=10, burst=5)}, clock)
    alice = principal("alice")
    for _ in range(5):
        limiter.check(alice)
    with pytest.raises(ResourceExhausted) as refused:
        limiter.check(alice)
    match = re.search(r"retry in ([0-9.]+) s", refused.value.message)
    assert match and float(match[1]) == pytest.approx(0.1, abs=0.001)
    assert "10 requests/s per developer token" in refused.value.message
    clock.now += 0.1
    limiter.check(alice)  # one request's worth refilled


def test_tokens_have_separate_buckets_and_roles_their_own_limits() -> None:
    clock = ManualClock(start=1000.0)
    limiter = RequestRateLimiter(
        {
            Role.DEVELOPER: RateLimit(per_second=1, burst=1),
            Role.ADMIN: RateLimit(per_second=0, burst=0),  # unlimited
        },
        clock,
    )
    limiter.check(principal("alice"))
    limiter.check(principal("bob"))  # alice's use does not count against bob
    for _ in range(100):
        limiter.check(principal("root", Role.ADMIN))
    with pytest.raises(ResourceExhausted):
        limiter.check(principal("alice"))


def test_idle_tokens_are_forgotten() -> None:
    clock = ManualClock(start=1000.0)
    limiter = RequestRateLimiter({Role.GUEST: RateLimit(per_second=100, burst=10)}, clock)
    for n in range(2000):
        limiter.check(principal(f"guest-{n}", Role.GUEST))
        clock.now += 0.01
    assert len(limiter) < 1100  # swept: a bucket refills within 0.1 s, so most were idle


def test_the_submission_port_refuses_a_flooding_token_and_serves_others(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    system = make_berth_system(
        rate_limit_per_second={Role.ADMIN: 0.0, Role.DEVELOPER: 2.0, Role.GUEST: 20.0}
    )
    with clients(system) as (submission, _):
        flooding = Submitter(submission, system.tokens["developer"])
        job_id = flooding.submit()
        flooding.status(job_id)  # the burst: two requests
        refused = rpc_error(lambda: flooding.status(job_id))
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert re.search(r"retry in [0-9.]+ s", refused.details())
        other = Submitter(submission, system.tokens["guest"])
        other.submit()  # another token's bucket is untouched
