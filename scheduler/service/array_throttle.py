"""The throttle of job arrays: at most K of an array's jobs RUNNING at once.

Kept by this replica for the jobs it knows of: an array's member is held back
at dispatch while K of its array are being claimed or RUNNING here, counting
those claimed through other replicas once the replica sync has brought them
(see docs/protocol.md for what that leaves open). Only JobLifecycle writes it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from scheduler.domain.jobs import JobRecord


@dataclass(frozen=True)
class _Limit:
    array_id: str
    max_running: int


class ArrayThrottle:
    """Counts per array the members RUNNING here and those whose claim is out.

    Two sets, so that a transition about one (a stale queue entry's failed
    claim, a requeue found by the replica sync) never uncounts the other.
    """

    def __init__(self) -> None:
        self._limits: dict[str, _Limit] = {}  # job id -> its array's throttle
        self._active: dict[str, set[str]] = {}  # array id -> job ids RUNNING here
        self._claiming: dict[str, set[str]] = {}  # array id -> job ids being claimed

    def __bool__(self) -> bool:
        return bool(self._limits)

    def know(self, job: JobRecord) -> None:
        """Remember a throttled array's member (queued or running)."""
        if job.array_id and job.array_max_running > 0:
            self._limits[job.job_id] = _Limit(job.array_id, job.array_max_running)

    def held(self, job_id: str) -> bool:
        """Whether dispatching this job now would exceed its array's throttle."""
        limit = self._limits.get(job_id)
        if limit is None:
            return False
        return self.running(limit.array_id) >= limit.max_running

    def claiming(self, job_id: str) -> None:
        """Its claim is out: it counts until `claimed`."""
        self._add(self._claiming, job_id)

    def claimed(self, job_id: str) -> None:
        """Its claim is over, whichever way (if it runs, `start` counted it first)."""
        self._discard(self._claiming, job_id)

    def start(self, job_id: str) -> None:
        """The job runs: it counts until `stop`."""
        self._add(self._active, job_id)

    def stop(self, job_id: str) -> None:
        """The job runs no more here (requeued, or moved through another replica)."""
        self._discard(self._active, job_id)

    def forget(self, job_id: str) -> None:
        """The job ended or is gone."""
        self.stop(job_id)
        self.claimed(job_id)
        self._limits.pop(job_id, None)

    def running(self, array_id: str) -> int:
        """The array's members running here or being claimed."""
        return len(self._active.get(array_id, set()) | self._claiming.get(array_id, set()))

    def _add(self, sets: dict[str, set[str]], job_id: str) -> None:
        limit = self._limits.get(job_id)
        if limit is not None:
            sets.setdefault(limit.array_id, set()).add(job_id)

    def _discard(self, sets: dict[str, set[str]], job_id: str) -> None:
        limit = self._limits.get(job_id)
        jobs = sets.get(limit.array_id) if limit is not None else None
        if limit is not None and jobs is not None:
            jobs.discard(job_id)
            if not jobs:
                del sets[limit.array_id]

    def violations(self, running: Collection[str]) -> list[str]:
        """Between transitions an array's count is its members in the running set."""
        active = {job_id for jobs in self._active.values() for job_id in jobs}
        claiming = sorted(job_id for jobs in self._claiming.values() for job_id in jobs)
        found = [f"array job {job_id} is still being claimed" for job_id in claiming]
        found += [
            f"array job {job_id} counts as running, is not"
            for job_id in sorted(active)
            if job_id not in running
        ]
        found.extend(
            f"array job {job_id} runs uncounted"
            for job_id in running
            if job_id in self._limits and job_id not in active
        )
        return found
