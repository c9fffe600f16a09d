"""The WAITING jobs one replica knows, and which of them each dependency may decide.

Plain state, no behaviour: the lifecycle (job_lifecycle.py) is its only
writer. A waiting job is in no queue and takes no queue bytes, but counts
toward its owner's limit (docs/operators/configuration.md says why).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from scheduler.domain.dependencies import Condition
from scheduler.domain.jobs import JobRecord


@dataclass
class WaitingJob:
    job_id: str
    owner: str
    depends_on: tuple[str, ...]
    condition: Condition
    # The dependencies not ended when it was last judged: only those can change it.
    pending: frozenset[str]


class WaitingJobs:
    def __init__(self) -> None:
        self._jobs: dict[str, WaitingJob] = {}
        self._dependents: dict[str, set[str]] = {}  # dependency -> waiting jobs naming it

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[WaitingJob]:
        return iter(list(self._jobs.values()))

    def get(self, job_id: str) -> WaitingJob | None:
        return self._jobs.get(job_id)

    def add(self, job: JobRecord, pending: frozenset[str]) -> bool:
        """Know a WAITING record, `pending` of its dependencies not ended; True if new here."""
        if job.job_id in self._jobs:
            return False
        depends_on = tuple(job.depends_on)
        self._jobs[job.job_id] = WaitingJob(
            job.job_id,
            job.owner,
            depends_on,
            Condition(job.dependency or Condition.AFTER_OK),
            pending,
        )
        for dependency in depends_on:
            self._dependents.setdefault(dependency, set()).add(job.job_id)
        return True

    def remove(self, job_id: str) -> WaitingJob | None:
        job = self._jobs.pop(job_id, None)
        if job is not None:
            for dependency in job.depends_on:
                dependents = self._dependents.get(dependency)
                if dependents is not None:
                    dependents.discard(job_id)
                    if not dependents:
                        del self._dependents[dependency]
        return job

    def dependents_of(self, job_id: str) -> list[str]:
        return list(self._dependents.get(job_id, ()))

    def violations(self) -> list[str]:
        """The dependents index names exactly each waiting job's dependencies."""
        expected: dict[str, set[str]] = {}
        for job in self._jobs.values():
            for dependency in job.depends_on:
                expected.setdefault(dependency, set()).add(job.job_id)
        if expected != self._dependents:
            return ["the waiting jobs' dependents index disagrees with their dependencies"]
        return []
