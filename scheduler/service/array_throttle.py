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
    def __init__(self) -> None:
        self._limits: dict[str, _Limit] = {}  # job id -> its array's throttle
        self._active: dict[str, set[str]] = {}  # array id -> job ids claimed or RUNNING

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
        return len(self._active.get(limit.array_id, ())) >= limit.max_running

    def start(self, job_id: str) -> None:
        """The job is being claimed, or runs: it counts until `stop`."""
        limit = self._limits.get(job_id)
        if limit is not None:
            self._active.setdefault(limit.array_id, set()).add(job_id)

    def stop(self, job_id: str) -> None:
        """The job is not running (its claim failed, it was requeued or ended)."""
        limit = self._limits.get(job_id)
        if limit is None:
            return
        active = self._active.get(limit.array_id)
        if active is not None:
            active.discard(job_id)
            if not active:
                del self._active[limit.array_id]

    def forget(self, job_id: str) -> None:
        """The job ended or is gone."""
        self.stop(job_id)
        self._limits.pop(job_id, None)

    def running(self, array_id: str) -> int:
        return len(self._active.get(array_id, ()))

    def violations(self, running: Collection[str]) -> list[str]:
        """Between transitions an array's count is its members in the running set."""
        active = {job_id for jobs in self._active.values() for job_id in jobs}
        found = [
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
