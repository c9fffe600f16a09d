"""All queues of one replica, and the byte budget they share.

Bytes are reserved before a job is written (so nothing is acknowledged past
SCHEDULER_MAX_QUEUE_BYTES) and released when the job leaves the queue by pop
or remove. With unify_backends every backend shares one queue: any agent may
take any job, and reports the device that ran it as actual_backend.

A job is found by asking each queue in turn rather than through a job -> queue
index: there is one queue per backend (a handful), and an index would cost
some 60 bytes for every queued job.
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

    def pop(self, backend: str, now: float, exclude: Exclude | None = None) -> QueueEntry | None:
        key = self.key_for(backend)
        queue = self._queues.get(key)
        if queue is None:
            return None
        held = queue.size_bytes
        try:
            # Returned as it comes: naming the entry here would write to its
            # reference count, a cache miss per pop in a large queue.
            return queue.pop(now, exclude)
        finally:
            self._forget(held - queue.size_bytes, key, queue)

    def remove(self, job_id: str) -> QueueEntry | None:
        for key, queue in self._queues.items():
            held = queue.size_bytes
            entry = queue.remove(job_id)
            if entry is not None:
                self._forget(held - queue.size_bytes, key, queue)
                return entry
        return None

    def _forget(self, size_bytes: int, key: str, queue: JobQueue) -> None:
        # The size comes from the queue's own count: reading it off the entry
        # would be one more cache miss per pop in a large queue.
        self.release(size_bytes)
        if not queue:
            del self._queues[key]  # queues of backends no longer in use cost nothing

    def position(self, job_id: str, now: float) -> int | None:
        for queue in self._queues.values():
            position = queue.position(job_id, now)
            if position is not None:
                return position
        return None

    def length(self, backend: str) -> int:
        queue = self._queues.get(self.key_for(backend))
        return 0 if queue is None else len(queue)

    def queued_bytes(self, backend: str) -> int:
        queue = self._queues.get(self.key_for(backend))
        return 0 if queue is None else queue.size_bytes

    def ordered(self, backend: str, now: float) -> list[QueueEntry]:
        queue = self._queues.get(self.key_for(backend))
        return [] if queue is None else queue.ordered(now)

    def job_ids(self) -> list[str]:
        """Every queued job id, in no particular order (for the replica sync)."""
        return [job_id for queue in self._queues.values() for job_id in queue.job_ids()]

    def backends(self) -> Iterator[str]:
        """Names of the non-empty queues (UNIFIED when backends are unified)."""
        return iter(list(self._queues))

    def __contains__(self, job_id: object) -> bool:
        return any(job_id in queue for queue in self._queues.values())

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())
