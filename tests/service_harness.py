"""The scheduler's service layer, wired as scheduler/app.py wires it, on in-memory stores.

No gRPC, no moto, and time that moves only when a test says so: a test
drives the public operations (submit, assign, heartbeat, report, cancel,
requeue, the lease monitor's and the replica sync's single steps) and sees
what a client or an agent would. This is the one place that builds a
service layer; tests use only what `ServiceLayer` holds.

Background loops (lease monitor, replica sync, backend-status refresh) are
not started: a test runs their step itself, after moving the clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from scheduler.app import priority_policy
from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    render_backend_status,
)
from scheduler.backend_status.memory_backend_status import MemoryBackendStatusSource
from scheduler.blob_store.memory_blob_store import MemoryBlobStore
from scheduler.config import SchedulerConfig
from scheduler.domain.jobs import (
    CLIENT_ROLES,
    Assignment,
    Completion,
    JobStatus,
    Principal,
    Role,
    SubmitRequest,
)
from scheduler.job_store.memory_job_store import MemoryJobStore
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.service.administration import AdministrationOperations
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.executions import ExecutionOperations
from scheduler.service.holds import HoldOperations
from scheduler.service.job_arrays import JobArrays
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.lease_monitor import LeaseMonitor
from scheduler.service.recovery import restore
from scheduler.service.replica_sync import ReplicaSync
from scheduler.service.service_layer import build_service_layer
from scheduler.service.submissions import SubmissionOperations
from scheduler.service.tracked_jobs import LifecyclePorts, SyncCounts
from tests.token_database_helpers import ManualClock

BACKENDS = ("qpu", "gpu")
ADMIN_NAME = "root"


def principal(name: str, role: Role = Role.DEVELOPER) -> Principal:
    """A caller as the auth layer hands it over: `owner` is a token hash, one per name."""
    owner = hashlib.sha256(f"token of {name}".encode()).hexdigest()
    return Principal(owner=owner, name=name, role=role, token_id=owner[:8])


ADMIN = principal(ADMIN_NAME, Role.ADMIN)


def submit_request(
    *, backend: str = "qpu", timeout_s: float = 60.0, payload: bytes = b"OPENQASM 3;", **kw: Any
) -> SubmitRequest:
    """A valid submission; `size_bytes` (what limits count) defaults to the payload plus 100."""
    values: dict[str, Any] = {
        "format": "qasm3",
        "payload": payload,
        "backend": backend,
        "n_shots": 100,
        "timeout_s": timeout_s,
        "parameters": {},
        "save_job": False,
        "idempotency_key": "",
        "size_bytes": len(payload) + 100,
    }
    return SubmitRequest(**{**values, **kw})


@dataclass
class ServiceLayer:
    """One scheduler replica's service layer, as its servicers and loops would call it."""

    submissions: SubmissionOperations
    executions: ExecutionOperations
    administration: AdministrationOperations
    monitor: LeaseMonitor
    replica_sync: ReplicaSync
    restored: SyncCounts  # what start-up found in the table
    arrays: JobArrays
    holds: HoldOperations
    lifecycle: JobLifecycle  # for `dependencies_settled`: waiting jobs are judged off the call

    async def settle(self) -> None:
        """Until the waiting jobs whose dependencies ended so far are judged."""
        await self.lifecycle.dependencies_settled()


async def running_job(
    layer: ServiceLayer, owner: Principal, agent: str = "agent-1", **request: Any
) -> Assignment:
    """Submit one job and have `agent` take it (the queue must hold nothing better)."""
    job_id = await layer.submissions.submit(owner, submit_request(**request))
    assignment = await layer.executions.assign(request.get("backend", "qpu"), agent, 0)
    assert assignment is not None and assignment.job.job_id == job_id
    return assignment


def completion_at(
    now: float, status: JobStatus = JobStatus.COMPLETED, detail: str = ""
) -> Completion:
    """An agent's report of a run that ended at `now`."""
    return Completion(
        status=status,
        detail=detail,
        result_raw_bytes=16 if status is JobStatus.COMPLETED else 0,
        result_encoded_bytes=12 if status is JobStatus.COMPLETED else 0,
        log_bytes=0,
        dequeued_at=now,
        execution_started_at=now,
        execution_finished_at=now,
        finished_at=now,
        actual_backend="",
        agent_version="agent test",
        runner_version="runner test",
    )


@dataclass
class ServiceWorld:
    """Stores and a clock that replicas share: what outlives one service layer."""

    config: SchedulerConfig
    clock: ManualClock = field(default_factory=lambda: ManualClock(start=1_800_000_000.0))
    store: MemoryJobStore = field(init=False)
    blobs: MemoryBlobStore = field(init=False)
    backend_status: MemoryBackendStatusSource = field(init=False)
    _ios: list[BlockingIo] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = MemoryJobStore(retention_days=self.config.job_retention_days, clock=self.clock)
        self.blobs = MemoryBlobStore(clock=self.clock)
        available = BackendAvailability(Availability.AVAILABLE, "")
        self.backend_status = MemoryBackendStatusSource(
            render_backend_status(
                {backend: dict.fromkeys(CLIENT_ROLES, available) for backend in BACKENDS}
            )
        )

    async def start_layer(self) -> ServiceLayer:
        """A replica starting over the world's stores: reads the status document and the
        table before it serves, as SchedulerApp.start does."""
        config = self.config
        submission_io = BlockingIo(4, "submission-io")
        execution_io = BlockingIo(4, "execution-io")
        self._ios += [submission_io, execution_io]
        status_cache = BackendStatusCache(
            self.backend_status, execution_io, config.backend_status_refresh_seconds
        )
        assert await status_cache.refresh(), "the backend status document must parse"
        built = build_service_layer(
            config,
            priority_policy(config),
            self.store,
            self.blobs,
            status_cache,
            self.backend_status,
            LifecyclePorts(submission_io, execution_io),
            metrics=SchedulerMetrics(),
            clock=self.clock,
        )
        restored = await restore(built.lifecycle, self.store, execution_io, clock=self.clock)
        return ServiceLayer(
            submissions=built.submissions,
            executions=built.executions,
            administration=built.administration,
            monitor=built.monitor,
            replica_sync=built.replica_sync,
            restored=restored,
            arrays=built.arrays,
            holds=built.holds,
            lifecycle=built.lifecycle,
        )

    def upload_result(self, assignment: Assignment, data: bytes = b"\x1f\x8b result") -> None:
        """What an agent does before it reports success: PUT to the presigned target."""
        target = assignment.result_upload
        self.blobs.upload(target.url, data, target.headers)

    def completion(self, status: JobStatus = JobStatus.COMPLETED, detail: str = "") -> Completion:
        """An agent's report of a run that just ended."""
        return completion_at(self.clock(), status, detail)

    def close(self) -> None:
        for io in self._ios:
            io.shutdown()


TEST_CONFIG = SchedulerConfig(
    lease_seconds=30.0,
    max_attempts=2,
    max_concurrent_jobs={Role.ADMIN: 1000, Role.DEVELOPER: 3, Role.GUEST: 2},
    max_job_bytes={Role.ADMIN: 10_000, Role.DEVELOPER: 2_000, Role.GUEST: 1_000},
    max_queue_bytes=5_000,
    inline_input_bytes=1024,
    metrics_port=-1,
)


@pytest.fixture
def service_world() -> Iterator[Callable[..., ServiceWorld]]:
    """Factory: service_world(max_attempts=3, ...) -> a world on TEST_CONFIG with those changes."""
    worlds: list[ServiceWorld] = []

    def make(**changes: Any) -> ServiceWorld:
        worlds.append(ServiceWorld(replace(TEST_CONFIG, **changes)))
        return worlds[-1]

    yield make
    for world in worlds:
        world.close()
