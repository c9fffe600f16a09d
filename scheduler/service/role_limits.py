"""A caller's role limits beside its current use of them, so a client can see its headroom.

Answered from this replica's memory (the lifecycle's usage count and running
set): no store read, so a page can ask on every load.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.config import SchedulerConfig
from scheduler.domain.jobs import Principal, Role
from scheduler.service.replica_jobs import ReplicaJobs


@dataclass(frozen=True)
class RoleLimits:
    role: Role
    active_jobs: int  # queued + waiting + running, as the concurrent-jobs limit counts them
    running_jobs: int
    max_concurrent_jobs: int
    max_job_bytes: int
    max_timeout_s: float
    rate_limit_per_second: float  # 0 = no limit


def limits_of(principal: Principal, config: SchedulerConfig, jobs: ReplicaJobs) -> RoleLimits:
    role, owner = principal.role, principal.owner
    return RoleLimits(
        role=role,
        active_jobs=jobs.active_jobs(owner),
        running_jobs=sum(job.owner == owner for job in jobs.running_jobs()),
        max_concurrent_jobs=config.max_concurrent_jobs[role],
        max_job_bytes=config.max_job_bytes[role],
        max_timeout_s=config.max_timeout_seconds[role],
        rate_limit_per_second=config.rate_limit_per_second[role],
    )
