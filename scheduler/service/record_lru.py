"""A bounded map of job records, for the two places the scheduler may trust one it saw.

Whoever keeps records here says why they are still true when read back (see
`FinishedJobs` in job_reads.py, and the lifecycle's queued records, which
the store double-checks with a conditional write); this only bounds memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from scheduler.domain.jobs import JobRecord


def without_input(job: JobRecord) -> JobRecord:
    """`job` for keeping in memory: its inline input is held where it is needed, if anywhere."""
    return replace(job, inline_input=None) if job.inline_input is not None else job


class RecordLru:
    """Job records by id, at most `capacity`; the least recently used goes first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._records: OrderedDict[str, JobRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._records  # unlike `get`, leaves the order alone

    def get(self, job_id: str) -> JobRecord | None:
        job = self._records.get(job_id)
        if job is not None:
            self._records.move_to_end(job_id)
        return job

    def put(self, job: JobRecord) -> None:
        if self._capacity <= 0:
            return
        self._records[job.job_id] = job
        self._records.move_to_end(job.job_id)
        while len(self._records) > self._capacity:
            self._records.popitem(last=False)

    def pop(self, job_id: str) -> JobRecord | None:
        return self._records.pop(job_id, None)
