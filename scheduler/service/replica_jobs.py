"""The jobs one replica holds in memory, for reading: queues, running and waiting jobs, usage.

Only `JobLifecycle` (job_lifecycle.py) changes them, each change a whole
transition; everyone else reads them through this view.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from scheduler.queue.job_queue import QueueEntry
from scheduler.queue.priority import PriorityPolicy
from scheduler.queue.queue_set import QueueSet
from scheduler.service import invariants
from scheduler.service.array_throttle import ArrayThrottle
from scheduler.service.job_reads import FinishedJobs
from scheduler.service.token_usage import TokenUsage
from scheduler.service.tracked_jobs import Deferral, RunningJob
from scheduler.service.waiting_jobs import WaitingJobs


class ReplicaJobs:
    """A read-only view: it holds references to what the lifecycle changes, and no setter."""

    def __init__(
        self,
        queues: QueueSet,
        running: Mapping[str, RunningJob],
        deferrals: Mapping[str, Deferral],
        usage: TokenUsage,
        finished: FinishedJobs,
        clock: Callable[[], float],
        throttle: ArrayThrottle,
        *,
        owner_names: Mapping[str, str],
        waiting: WaitingJobs,
    ) -> None:
        self._queues = queues
        self._owner_names = owner_names
        self._running = running
        self._deferrals = deferrals
        self._usage = usage
        self._finished = finished
        self._clock = clock
        self._throttle = throttle
        self._waiting = waiting

    @property
    def policy(self) -> PriorityPolicy:
        return self._queues.policy

    @property
    def max_queue_bytes(self) -> int:
        return self._queues.max_bytes

    @property
    def unify_backends(self) -> bool:
        return self._queues.unify_backends

    def queue_key(self, backend: str) -> str:
        return self._queues.key_for(backend)

    def queue_keys(self) -> list[str]:
        """The non-empty queues' names."""
        return list(self._queues.backends())

    def queue_length(self, backend: str) -> int:
        return self._queues.length(backend)

    def queued_bytes(self, backend: str) -> int:
        return self._queues.queued_bytes(backend)

    def ordered(self, backend: str, now: float) -> list[QueueEntry]:
        return self._queues.ordered(backend, now)

    def owner_name(self, owner: str) -> str:
        """The name of a token that has queued a job here ("" if none has)."""
        return self._owner_names.get(owner, "")

    def position(self, job_id: str) -> int | None:
        return self._queues.position(job_id, self._clock())

    def is_queued(self, job_id: str) -> bool:
        return job_id in self._queues

    def queued_ids(self) -> list[str]:
        return self._queues.job_ids()

    def is_waiting(self, job_id: str) -> bool:
        """WAITING on its dependencies, as this replica knows it."""
        return job_id in self._waiting

    def waiting_ids(self) -> list[str]:
        return [job.job_id for job in self._waiting]

    def running_jobs(self) -> list[RunningJob]:
        return list(self._running.values())

    def tracked(self, job_id: str) -> RunningJob | None:
        return self._running.get(job_id)

    def has_deferrals(self) -> bool:
        return bool(self._deferrals)

    def has_throttled_arrays(self) -> bool:
        """Members of throttled arrays are known here (a slot may free elsewhere)."""
        return bool(self._throttle)

    def array_running(self, array_id: str) -> int:
        """The array's jobs being claimed or RUNNING, as this replica knows them."""
        return self._throttle.running(array_id)

    def usage_counted(self) -> list[tuple[str, str, float]]:
        """(owner, job id, counted since) of every counted job."""
        return list(self._usage.counted())

    def check_invariants(self, moved_elsewhere: Collection[str] = ()) -> list[str]:
        """Every broken invariant (see invariants.py); empty between transitions."""
        waiting = {job.job_id: job.owner for job in self._waiting}
        found = invariants.violations(
            self._queues,
            self._running,
            self._usage,
            self._finished,
            self._clock(),
            moved_elsewhere,
            waiting=waiting,
        )
        return found + self._throttle.violations(self._running) + self._waiting.violations()

    def active_jobs(self, owner: str) -> int:
        return self._usage.active(owner)
