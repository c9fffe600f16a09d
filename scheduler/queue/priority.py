"""The priority formula of DESIGN.md §Queue and priority, with the seed policy's defaults.

    priority = w_timeout·timeout_factor + w_role·role_factor
             + w_age·age_factor + w_fair·fair_share_factor

Only the age term depends on the clock, and until a job has waited
`max_wait_s` it grows at the same rate for every job. So the order of jobs
that have not yet waited that long never changes while they wait: it is the
order of `static_key` (the priority minus that shared rate times now). The
queue sorts by that key once, at push, and pops in true priority order at
heap cost. Jobs past `max_wait_s` (the starvation rule) go first, oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from scheduler.domain.jobs import Role


class Prioritised(Protocol):
    """What the formula reads of a job; QueueEntry provides it."""

    @property
    def role(self) -> Role: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def queued_at(self) -> float: ...
    @property
    def burst(self) -> float: ...


@dataclass(frozen=True)
class PriorityBreakdown:
    """One job's factors (each 0..1) and the weighted sum, as `sprio` shows them."""

    timeout_factor: float
    role_factor: float
    age_factor: float
    fair_share_factor: float
    priority: float
    starved: bool


def _default_role_max_timeout() -> Mapping[Role, float]:
    return {Role.ADMIN: 3600.0, Role.DEVELOPER: 600.0, Role.GUEST: 300.0}


def _default_role_factor() -> Mapping[Role, float]:
    return {Role.ADMIN: 1.0, Role.DEVELOPER: 0.5, Role.GUEST: 0.0}


@dataclass(frozen=True)
class PriorityPolicy:
    timeout_weight: float = 1000.0
    role_weight: float = 0.0
    age_weight: float = 2000.0
    fair_share_weight: float = 1000.0
    max_wait_s: float = 1800.0
    fair_share_half_life_s: float = 60.0
    role_max_timeout_s: Mapping[Role, float] = field(default_factory=_default_role_max_timeout)
    role_factors: Mapping[Role, float] = field(default_factory=_default_role_factor)

    def __post_init__(self) -> None:
        if not self.max_wait_s > 0:
            raise ValueError("max_wait_s must be positive")
        if not self.fair_share_half_life_s > 0:
            raise ValueError("fair_share_half_life_s must be positive")

    def timeout_factor(self, role: Role, timeout_s: float) -> float:
        """Short jobs first: 1 for an instant job, 0 at (and above) the role's maximum."""
        role_max = self.role_max_timeout_s.get(role, 0.0)
        if role_max <= 0 or timeout_s >= role_max:
            return 0.0
        return 1.0 - timeout_s / role_max

    def role_factor(self, role: Role) -> float:
        return self.role_factors.get(role, 0.0)

    @staticmethod
    def fair_share_factor(burst: float) -> float:
        """1 for a token's first recent job, halving with every two more in a burst."""
        return float(2.0 ** (-(max(burst, 1.0) - 1.0) / 2.0))

    def age_factor(self, wait_s: float) -> float:
        return min(max(wait_s, 0.0) / self.max_wait_s, 1.0)

    def is_starved(self, job: Prioritised, now: float) -> bool:
        return self.starved_at(job.queued_at, now)

    def starved_at(self, queued_at: float, now: float) -> bool:
        """The starvation rule on queued_at alone (the queue keeps it apart from the job)."""
        return now - queued_at >= self.max_wait_s

    def breakdown(self, job: Prioritised, now: float) -> PriorityBreakdown:
        """The formula as written, term by term (the reference the queue is tested against)."""
        timeout = self.timeout_factor(job.role, job.timeout_s)
        role = self.role_factor(job.role)
        age = self.age_factor(now - job.queued_at)
        fair = self.fair_share_factor(job.burst)
        total = (
            self.timeout_weight * timeout
            + self.role_weight * role
            + self.age_weight * age
            + self.fair_share_weight * fair
        )
        return PriorityBreakdown(timeout, role, age, fair, total, self.is_starved(job, now))

    def static_key(self, job: Prioritised) -> float:
        """priority(now) - age_weight·now/max_wait_s, the same for any now before starvation."""
        return (
            self.timeout_weight * self.timeout_factor(job.role, job.timeout_s)
            + self.role_weight * self.role_factor(job.role)
            + self.fair_share_weight * self.fair_share_factor(job.burst)
            - self.age_weight * job.queued_at / self.max_wait_s
        )
