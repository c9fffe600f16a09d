"""State shared by the submission and execution sides of one scheduler replica.

The job table is the truth; everything here is a cache of it that can be
rebuilt on start (see recovery.py): the queues, per-token usage, and the
running jobs whose leases and timeouts this replica watches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.blob_store.blob_store import BlobStore
from scheduler.config import SchedulerConfig
from scheduler.domain.errors import NotFound
from scheduler.domain.jobs import JobRecord, Principal, Role
from scheduler.job_store.job_store import JobStore
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.queue.job_queue import QueueEntry
from scheduler.queue.queue_set import QueueSet
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_creates import JobCreates
from scheduler.service.job_events import JobEvents, QueueSignals
from scheduler.service.job_reads import FinishedJobs, JobReads
from scheduler.service.limits import check_job_id
from scheduler.service.record_lru import RecordLru, without_input
from scheduler.service.token_usage import TokenUsage

# ~2 KB each: bounds that memory at a few MB, whatever the queue's length. Jobs
# claimed soon after they are queued (a short queue: where dispatch latency shows)
# are the ones found here.
QUEUED_RECORDS = 4096


@dataclass
class RunningJob:
    job_id: str
    owner: str
    backend: str
    attempt: int
    lease_expires_at: float
    deadline: float  # dequeued_at + timeout + one lease: past it the scheduler ends the job
    # The record as this replica last saw it RUNNING (without its input), so that the
    # finish need not read it back (see JobStore.finish); the store checks it is current.
    record: JobRecord | None = None


@dataclass
class Deferral:
    """A requeued job waits this long for an agent that has not tried it yet."""

    tried_agents: frozenset[str]
    until: float


class SchedulerState:
    def __init__(
        self,
        config: SchedulerConfig,
        store: JobStore,
        blobs: BlobStore,
        backend_status: BackendStatusCache,
        queues: QueueSet,
        submission_io: BlockingIo,
        execution_io: BlockingIo,
        clock: Callable[[], float] = time.time,
        metrics: SchedulerMetrics | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.blobs = blobs
        self.backend_status = backend_status
        self.queues = queues
        self.submission_io = submission_io
        self.execution_io = execution_io
        self.clock = clock
        self.metrics = SchedulerMetrics() if metrics is None else metrics
        self.usage = TokenUsage()
        self.events = JobEvents()
        self.signals = QueueSignals()
        self.running: dict[str, RunningJob] = {}
        self.deferrals: dict[str, Deferral] = {}
        self.stopping = False
        self.creates = JobCreates(store, submission_io)
        self.reads = JobReads(
            store, submission_io, FinishedJobs(config.finished_job_cache_entries, clock)
        )
        # The record of each job as it was queued here, for a claim that need not read
        # it back (see JobStore.claim): true when queued; the store checks it is still.
        self.queued_records = RecordLru(QUEUED_RECORDS)

    def job_expiry(self, now: float) -> int:
        return int(now + self.config.job_retention_days * 86400)

    def queue_key(self, backend: str) -> str:
        return self.queues.key_for(backend)

    async def enqueue(
        self, job: JobRecord, payload: bytes | None, *, restored: bool = False
    ) -> None:
        """Make a stored QUEUED job assignable. The caller reserved its bytes.

        `payload`: the input if the caller has it; otherwise the record's inline
        input, if any, else the claim reads it from the blob store.

        `restored`: the job became QUEUED elsewhere (before this replica
        started, or through another replica), so it is no transition to count here.
        """
        self.queues.push(
            QueueEntry(
                job_id=job.job_id,
                owner=job.owner,
                role=job.role,
                backend=job.backend,
                timeout_s=job.timeout_s,
                queued_at=job.queued_at,
                burst=job.burst,
                size_bytes=job.size_bytes,
                save_job=job.save_job,
                payload=payload if payload is not None else job.inline_input,
            )
        )
        if job.tried_agents:
            self.deferrals[job.job_id] = Deferral(
                frozenset(job.tried_agents), self.clock() + self.config.lease_seconds
            )
        # Without the input: the queue entry holds it while queued, and a record left
        # here after its job was claimed elsewhere must not keep an input alive.
        self.queued_records.put(without_input(job))
        await self.signals.notify(self.queue_key(job.backend))
        self.events.notify(job)
        if not restored:
            self.metrics.job_reached(job)

    def track_running(self, job: JobRecord) -> None:
        self.running[job.job_id] = RunningJob(
            job_id=job.job_id,
            owner=job.owner,
            backend=job.backend,
            attempt=job.attempt,
            lease_expires_at=job.lease_expires_at,
            deadline=job.dequeued_at + job.timeout_s + self.config.lease_seconds,
            record=without_input(job),
        )

    def job_ended(self, job: JobRecord, *, ended_here: bool = True) -> None:
        """Bookkeeping once a job reached a terminal status.

        `ended_here`: this replica made the transition (and so counts it);
        False when it only learned that another replica did.
        """
        if ended_here:
            self.metrics.job_reached(job)
        self.running.pop(job.job_id, None)
        self.deferrals.pop(job.job_id, None)
        self.usage.release(job.owner, job.job_id)
        self.reads.finished.remember(job)
        self.events.notify(job)

    async def load_visible(self, job_id: str, principal: Principal) -> JobRecord:
        """The job if the caller may see it; another owner's job is NOT_FOUND."""
        check_job_id(job_id)
        job = await self.reads.get(job_id)
        if job is None or (job.owner != principal.owner and principal.role is not Role.ADMIN):
            raise NotFound(f"no job {job_id!r} for this token")
        return job

    async def begin_shutdown(self) -> None:
        """Long-polls return empty at once, so agents reconnect elsewhere quickly."""
        self.stopping = True
        await self.signals.notify_all()
