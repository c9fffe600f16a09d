"""Usage figures over a set of jobs: what `berth usage` reports.

Pure: records are folded in page by page as the store reads them, so a report
over a month of jobs never holds the records, only the times percentiles need.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from scheduler.domain.jobs import JobRecord


class Grouping(StrEnum):
    TOTAL = "total"
    BACKEND = "backend"
    DAY = "day"
    USER = "user"


@dataclass(frozen=True)
class UsageFigures:
    """One group's figures. Times are over the jobs that have them (`runs`, `dequeued`)."""

    key: str  # the backend, UTC day or user; "" for the total
    jobs: int
    jobs_by_status: dict[str, int]
    runs: int  # jobs an agent ran to an end and reported its run time
    run_time_total_s: float
    run_time_p50_s: float
    run_time_p95_s: float
    dequeued: int  # jobs an agent took from the queue
    queue_time_p50_s: float
    queue_time_p95_s: float
    bytes_in: int  # the submit requests, as counted against limits
    bytes_out: int  # stored results (gzip) and logs


@dataclass(frozen=True)
class UsageReport:
    since: float
    until: float
    grouping: Grouping
    total: UsageFigures
    groups: list[UsageFigures]  # sorted by key; empty for Grouping.TOTAL
    storage_queries: int


def run_time_s(job: JobRecord) -> float | None:
    """Execution as the agent reported it; None for a job no agent finished."""
    if job.execution_started_at <= 0 or job.execution_finished_at <= 0:
        return None
    return max(job.execution_finished_at - job.execution_started_at, 0.0)


def queue_time_s(job: JobRecord) -> float | None:
    """From queued to taken by an agent; None for a job never taken."""
    if job.dequeued_at <= 0:
        return None
    return max(job.dequeued_at - job.queued_at, 0.0)


def bytes_out(job: JobRecord) -> int:
    return job.result_encoded_bytes + job.log_bytes


def nearest_rank(sorted_values: list[float], percent: int) -> float:
    """The smallest value with at least `percent` % of values at or below it; 0 for none."""
    if not sorted_values:
        return 0.0
    rank = max(-(-percent * len(sorted_values) // 100), 1)  # ceil, in integers: exact
    return sorted_values[rank - 1]


def _utc_day(job: JobRecord) -> str:
    return datetime.fromtimestamp(job.submitted_at, UTC).date().isoformat()


_KEY_OF: dict[Grouping, Callable[[JobRecord], str]] = {
    Grouping.BACKEND: lambda job: job.backend,
    Grouping.DAY: _utc_day,
    Grouping.USER: lambda job: job.owner_name,
}


@dataclass
class _Group:
    statuses: Counter[str] = field(default_factory=Counter)
    run_times: list[float] = field(default_factory=list)
    queue_times: list[float] = field(default_factory=list)
    bytes_in: int = 0
    bytes_out: int = 0

    def add(self, job: JobRecord) -> None:
        self.statuses[job.status.value] += 1
        run = run_time_s(job)
        if run is not None:
            self.run_times.append(run)
        queued = queue_time_s(job)
        if queued is not None:
            self.queue_times.append(queued)
        self.bytes_in += job.size_bytes
        self.bytes_out += bytes_out(job)

    def figures(self, key: str) -> UsageFigures:
        runs, queues = sorted(self.run_times), sorted(self.queue_times)
        return UsageFigures(
            key=key,
            jobs=sum(self.statuses.values()),
            jobs_by_status=dict(self.statuses),
            runs=len(runs),
            run_time_total_s=math.fsum(runs),
            run_time_p50_s=nearest_rank(runs, 50),
            run_time_p95_s=nearest_rank(runs, 95),
            dequeued=len(queues),
            queue_time_p50_s=nearest_rank(queues, 50),
            queue_time_p95_s=nearest_rank(queues, 95),
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
        )


class UsageTally:
    """Folds pages of job records into a UsageReport over jobs submitted since `since`."""

    def __init__(self, since: float, grouping: Grouping) -> None:
        self._since = since
        self._grouping = grouping
        self._total = _Group()
        self._groups: dict[str, _Group] = {}
        self._pages = 0

    def add_page(self, jobs: Iterable[JobRecord]) -> None:
        """One storage read's records; each page counts as one query of the report's cost."""
        self._pages += 1
        key_of = _KEY_OF.get(self._grouping)
        for job in jobs:
            if job.submitted_at < self._since:
                continue
            self._total.add(job)
            if key_of is not None:
                self._groups.setdefault(key_of(job), _Group()).add(job)

    def report(self, until: float) -> UsageReport:
        return UsageReport(
            since=self._since,
            until=until,
            grouping=self._grouping,
            total=self._total.figures(""),
            groups=[self._groups[key].figures(key) for key in sorted(self._groups)],
            storage_queries=self._pages,
        )
