"""All queues of one replica, and the byte budget they share.

Bytes are reserved before a job is written (so nothing is acknowledged past
SCHEDULER_MAX_QUEUE_BYTES) and released when the job leaves the queue by pop
or remove. With unify_backends every backend shares one queue: any agent may
take any job, and reports the device that ran it as actual_backend.
"""

from __future__ import annotations

from collections.abc import Iterator

from scheduler.queue.job_queue import Exclude, JobQueue, QueueEntry
from scheduler.queue.priority import PriorityPolicy

UNIFIED = "*"


class QueueSet:
    def __init__(self, policy: PriorityPolicy, max_bytes: int, unify_backends: bool) -> None:
        self.policy = policy
        self.max_bytes = max_bytes
        self.unify_backends = unify_backends
        self.used_bytes = 0
        self._queues: dict[str, JobQueue] = {}
        self._key_of_job: dict[str, str] = {}

    def key_for(self, backend: str) -> str:
        """The name of the queue a backend's jobs go to (one per backend, or UNIFIED)."""
        return UNIFIED if self.unify_backends else backend

    def try_reserve(self, size_bytes: int) -> bool:
        if self.used_bytes + size_bytes > self.max_bytes:
            return False
        self.used_bytes += size_bytes
        return True

    def force_reserve(self, size_bytes: int) -> None:
        """Count bytes of a job that already exists (restart, requeue), even past the limit."""
        self.used_bytes += size_bytes

    def release(self, size_bytes: int) -> None:
        self.used_bytes = max(self.used_bytes - size_bytes, 0)

    def push(self, entry: QueueEntry) -> None:
        """Queue an entry whose bytes the caller has already reserved."""
        key = self.key_for(entry.backend)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = JobQueue(self.policy)
        queue.push(entry)
        self._key_of_job[entry.job_id] = key

    def pop(self, backend: str, now: float, exclude: Exclude | None = None) -> QueueEntry | None:
        key = self.key_for(backend)
        queue = self._queues.get(key)
        if queue is None:
            return None
        entry = queue.pop(now, exclude)
        if entry is not None:
            self._forget(entry, key, queue)
        return entry

    def remove(self, job_id: str) -> QueueEntry | None:
        key = self._key_of_job.get(job_id)
        if key is None:
            return None
        queue = self._queues[key]
        entry = queue.remove(job_id)
        if entry is not None:
            self._forget(entry, key, queue)
        return entry

    def _forget(self, entry: QueueEntry, key: str, queue: JobQueue) -> None:
        del self._key_of_job[entry.job_id]
        self.release(entry.size_bytes)
        if not queue:
            del self._queues[key]  # queues of backends no longer in use cost nothing

    def position(self, job_id: str, now: float) -> int | None:
        key = self._key_of_job.get(job_id)
        return None if key is None else self._queues[key].position(job_id, now)

    def length(self, backend: str) -> int:
        queue = self._queues.get(self.key_for(backend))
        return 0 if queue is None else len(queue)

    def queued_bytes(self, backend: str) -> int:
        queue = self._queues.get(self.key_for(backend))
        return 0 if queue is None else sum(entry.size_bytes for entry in queue)

    def ordered(self, backend: str, now: float) -> list[QueueEntry]:
        queue = self._queues.get(self.key_for(backend))
        return [] if queue is None else queue.ordered(now)

    def job_ids(self) -> list[str]:
        """Every queued job id, in no particular order (for the replica sync)."""
        return list(self._key_of_job)

    def backends(self) -> Iterator[str]:
        """Names of the non-empty queues (UNIFIED when backends are unified)."""
        return iter(list(self._queues))

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._key_of_job

    def __len__(self) -> int:
        return len(self._key_of_job)
