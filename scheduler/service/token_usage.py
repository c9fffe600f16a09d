"""Per-token count of queued + waiting + running jobs (SCHEDULER_MAX_CONCURRENT_JOBS_<ROLE>).

Counted by job id, not by a number: with several replicas one job is learned
more than once (its own submission, then the replica sync; a report through
another replica), and it must count once; releasing a job this replica never
counted must change nothing. The replica sync adds every QUEUED, WAITING and RUNNING
job in the table, so the limit holds across replicas up to one sync interval.
"""

from __future__ import annotations

from collections.abc import Iterator


class TokenUsage:
    def __init__(self) -> None:
        # owner -> job id -> when this replica started counting it
        self._jobs: dict[str, dict[str, float]] = {}

    def try_acquire(self, owner: str, job_id: str, limit: int, now: float) -> bool:
        """Count job_id unless the owner is at its limit; a job already counted passes."""
        jobs = self._jobs.get(owner, {})
        if job_id in jobs:
            return True
        if len(jobs) >= limit:
            return False
        self._jobs.setdefault(owner, {})[job_id] = now
        return True

    def force_acquire(self, owner: str, job_id: str, now: float) -> None:
        """Count a job that already exists (restart, another replica's job), whatever the limit."""
        self._jobs.setdefault(owner, {}).setdefault(job_id, now)

    def release(self, owner: str, job_id: str) -> None:
        jobs = self._jobs.get(owner)
        if jobs is None:
            return
        jobs.pop(job_id, None)
        if not jobs:
            del self._jobs[owner]

    def counts(self, owner: str, job_id: str) -> bool:
        return job_id in self._jobs.get(owner, ())

    def active(self, owner: str) -> int:
        return len(self._jobs.get(owner, ()))

    def counted(self) -> Iterator[tuple[str, str, float]]:
        """(owner, job id, counted since) of every counted job, for the replica sync."""
        for owner, jobs in list(self._jobs.items()):
            for job_id, since in list(jobs.items()):
                yield owner, job_id, since
