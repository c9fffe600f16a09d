"""The caller's role limits and how much of them its jobs use now (GetMyLimits)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from berth.scheduler.v1 import submission_pb2

from berth_common.times import format_duration, seconds_of


@dataclass(frozen=True)
class RoleLimits:
    role: str
    active_jobs: int  # queued + waiting + running, as the concurrent-jobs limit counts them
    running_jobs: int
    max_concurrent_jobs: int
    max_job_bytes: int
    max_timeout_s: float
    rate_limit_per_second: float  # 0 = no limit

    @classmethod
    def from_pb(cls, response: submission_pb2.GetMyLimitsResponse) -> RoleLimits:
        return cls(
            role=response.role,
            active_jobs=response.active_jobs,
            running_jobs=response.running_jobs,
            max_concurrent_jobs=response.max_concurrent_jobs,
            max_job_bytes=response.max_job_bytes,
            max_timeout_s=seconds_of(response.max_timeout),
            rate_limit_per_second=response.rate_limit_per_second,
        )

    @property
    def queued_jobs(self) -> int:
        """Queued, or WAITING on their dependencies: counted, not yet running."""
        return max(0, self.active_jobs - self.running_jobs)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        rate = f"{self.rate_limit_per_second:g}/s" if self.rate_limit_per_second else "none"
        return [
            f"role: {self.role}",
            f"jobs queued, waiting or running: {self.active_jobs} of {self.max_concurrent_jobs} "
            f"({self.queued_jobs} queued or waiting, {self.running_jobs} running)",
            f"largest job: {self.max_job_bytes} bytes",
            f"longest timeout: {format_duration(self.max_timeout_s)}",
            f"request rate limit: {rate}",
        ]
