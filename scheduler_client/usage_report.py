"""Usage figures as the client presents them: `Client.usage` and `berth usage`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from berth.scheduler.v1 import submission_pb2

from berth_common.times import seconds_of


class UsageGrouping(enum.StrEnum):
    TOTAL = "total"
    BACKEND = "backend"
    DAY = "day"
    USER = "user"  # everyone's usage (admin): with all_users

    def to_pb(self) -> submission_pb2.UsageGrouping.ValueType:
        return _TO_PB[self]


_TO_PB = {
    UsageGrouping.TOTAL: submission_pb2.USAGE_GROUPING_UNSPECIFIED,
    UsageGrouping.BACKEND: submission_pb2.USAGE_GROUPING_BACKEND,
    UsageGrouping.DAY: submission_pb2.USAGE_GROUPING_DAY,
    UsageGrouping.USER: submission_pb2.USAGE_GROUPING_USER,
}


@dataclass(frozen=True)
class UsageFigures:
    """One group's figures; run times over `runs` jobs, queue times over `dequeued` jobs."""

    key: str  # the backend, UTC day (YYYY-MM-DD) or user; "" for the total
    jobs: int
    jobs_by_status: dict[str, int]
    runs: int
    run_time_total_s: float
    run_time_p50_s: float
    run_time_p95_s: float
    dequeued: int
    queue_time_p50_s: float
    queue_time_p95_s: float
    bytes_in: int
    bytes_out: int

    @classmethod
    def from_pb(cls, f: submission_pb2.UsageFigures) -> UsageFigures:
        return cls(
            key=f.key,
            jobs=f.jobs,
            jobs_by_status=dict(f.jobs_by_status),
            runs=f.runs,
            run_time_total_s=seconds_of(f.run_time_total),
            run_time_p50_s=seconds_of(f.run_time_p50),
            run_time_p95_s=seconds_of(f.run_time_p95),
            dequeued=f.dequeued,
            queue_time_p50_s=seconds_of(f.queue_time_p50),
            queue_time_p95_s=seconds_of(f.queue_time_p95),
            bytes_in=f.bytes_in,
            bytes_out=f.bytes_out,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "jobs": self.jobs,
            "jobs_by_status": dict(sorted(self.jobs_by_status.items())),
            "runs": self.runs,
            "run_time_total_s": self.run_time_total_s,
            "run_time_p50_s": self.run_time_p50_s,
            "run_time_p95_s": self.run_time_p95_s,
            "dequeued": self.dequeued,
            "queue_time_p50_s": self.queue_time_p50_s,
            "queue_time_p95_s": self.queue_time_p95_s,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }


@dataclass(frozen=True)
class UsageReport:
    since: datetime
    until: datetime
    grouping: UsageGrouping
    all_users: bool
    total: UsageFigures
    groups: list[UsageFigures]  # sorted by key; empty for UsageGrouping.TOTAL
    storage_queries: int  # what the report cost the scheduler's job table

    @classmethod
    def from_pb(
        cls, response: submission_pb2.GetUsageResponse, grouping: UsageGrouping, all_users: bool
    ) -> UsageReport:
        return cls(
            since=response.since.ToDatetime(tzinfo=UTC),
            until=response.until.ToDatetime(tzinfo=UTC),
            grouping=grouping,
            all_users=all_users,
            total=UsageFigures.from_pb(response.total),
            groups=[UsageFigures.from_pb(group) for group in response.groups],
            storage_queries=response.storage_queries,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "by": self.grouping.value,
            "all_users": self.all_users,
            "total": self.total.to_json(),
            "groups": [group.to_json() for group in self.groups],
            "storage_queries": self.storage_queries,
        }
