"""What each backend is doing now and over the last hour, for operators.

The per-role status, queue depth, running jobs and live agents of every
backend, with the minute samples ThroughputHistory keeps. `sample` is the
periodic step that feeds that history from this replica's state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.backend_status.backend_status import BackendAvailability
from scheduler.domain.jobs import CLIENT_ROLES, Principal, Role
from scheduler.metrics.agent_sightings import AgentSightings
from scheduler.metrics.throughput_history import ActivitySample, ThroughputHistory
from scheduler.service.administration import require_admin
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.replica_jobs import ReplicaJobs


@dataclass(frozen=True)
class BackendActivity:
    backend: str
    roles: dict[Role, BackendAvailability]
    queue_length: int
    running: int
    agents: int
    finished_last_hour: int


@dataclass(frozen=True)
class ActivityReport:
    backends: list[BackendActivity]
    samples: list[ActivitySample]
    as_of: float


class Activity:
    def __init__(
        self,
        jobs: ReplicaJobs,
        backend_status: BackendStatusCache,
        history: ThroughputHistory,
        sightings: AgentSightings,
        clock: Callable[[], float],
    ) -> None:
        self._jobs = jobs
        self._backend_status = backend_status
        self._history = history
        self._sightings = sightings
        self._clock = clock

    def report(self, principal: Principal) -> ActivityReport:
        require_admin(principal)
        now = self._clock()
        queues, running = self._levels()
        agents = self._sightings.per_backend(now)
        finished = self._history.finished_last_hour()
        backends = sorted(set(self._backend_status.backends()) | set(queues) | set(running))
        return ActivityReport(
            backends=[
                BackendActivity(
                    backend=backend,
                    roles=self._roles(backend),
                    queue_length=queues.get(backend, 0),
                    running=running.get(backend, 0),
                    agents=agents.get(backend, 0),
                    finished_last_hour=finished.get(backend, 0),
                )
                for backend in backends
            ],
            samples=self._history.samples(),
            as_of=now,
        )

    async def sample(self) -> None:
        queues, running = self._levels()
        self._history.sample(self._clock(), queues, running)

    def _levels(self) -> tuple[dict[str, int], dict[str, int]]:
        jobs = self._jobs
        keys = set(self._backend_status.backends()) | set(jobs.queue_keys())
        queues = {jobs.queue_key(b): jobs.queue_length(b) for b in keys}
        running = Counter(job.backend for job in jobs.running_jobs())
        return queues, dict(running)

    def _roles(self, backend: str) -> dict[Role, BackendAvailability]:
        status = self._backend_status
        if backend not in status.backends():
            return {}
        return {role: status.lookup(backend, role) for role in CLIENT_ROLES}
