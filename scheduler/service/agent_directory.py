"""Who the live agents are: backend, token short id, last seen, running jobs, version.

Last seen and backend come from the agent sightings the metrics already keep
(one owner of "when did we hear from it"); this adds what only the execution
port's calls tell: the caller's token id, the version it reports and the jobs
it was given. Running jobs are checked against the replica's leases when
listed, so a job requeued or ended elsewhere drops out without a hook there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scheduler.domain.jobs import Principal
from scheduler.metrics.agent_sightings import AgentSightings
from scheduler.service.administration import require_admin
from scheduler.service.limits import check_backend_name
from scheduler.service.replica_jobs import ReplicaJobs


@dataclass
class _Identity:
    token_id: str = ""
    version: str = ""
    job_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class AgentView:
    agent_id: str
    backend: str
    token_id: str
    last_seen: float
    running_job_ids: list[str]
    version: str


class AgentDirectory:
    def __init__(
        self, jobs: ReplicaJobs, sightings: AgentSightings, clock: Callable[[], float]
    ) -> None:
        self._jobs = jobs
        self._sightings = sightings
        self._clock = clock
        self._identities: dict[str, _Identity] = {}

    @property
    def window_s(self) -> float:
        return self._sightings.window_s

    def polled(self, agent_id: str, token_id: str, job_id: str | None) -> None:
        identity = self._identities.setdefault(agent_id, _Identity())
        identity.token_id = token_id
        if job_id is not None:
            identity.job_ids.add(job_id)

    def reported(self, agent_id: str, job_id: str, version: str) -> None:
        identity = self._identities.get(agent_id)
        if identity is not None:
            identity.job_ids.discard(job_id)
            identity.version = version or identity.version

    def list_agents(self, principal: Principal, backend: str) -> list[AgentView]:
        require_admin(principal)
        if backend:
            check_backend_name(backend, "backend")
        seen = self._sightings.seen(self._clock())
        self._identities = {a: i for a, i in self._identities.items() if a in seen}
        views = [
            self._view(agent_id, agent_backend, last_seen)
            for agent_id, (agent_backend, last_seen) in seen.items()
            if not backend or agent_backend == backend
        ]
        return sorted(views, key=lambda view: (view.backend, view.agent_id))

    def _view(self, agent_id: str, backend: str, last_seen: float) -> AgentView:
        identity = self._identities.get(agent_id, _Identity())
        identity.job_ids = {j for j in identity.job_ids if self._holds(agent_id, j)}
        return AgentView(
            agent_id=agent_id,
            backend=backend,
            token_id=identity.token_id,
            last_seen=last_seen,
            running_job_ids=sorted(identity.job_ids),
            version=identity.version,
        )

    def _holds(self, agent_id: str, job_id: str) -> bool:
        running = self._jobs.tracked(job_id)
        if running is None:
            return False
        return running.record is None or running.record.lease_holder == agent_id
