"""Agent-side operations: long-poll assignment, heartbeats, reports, upload URLs.

Every transition is a conditional write, so two agents racing for one job,
a duplicate report, or a report from an agent that lost its lease can never
move a job twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from scheduler.blob_store.blob_store import BlobStore, lifecycle_tags
from scheduler.config import SchedulerConfig
from scheduler.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from scheduler.domain.jobs import Assignment, Completion, JobRecord, JobStatus, UploadTarget
from scheduler.job_store.job_store import JobStore
from scheduler.metrics.agent_sightings import AgentSightings
from scheduler.queue.job_queue import QueueEntry
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_events import QueueSignals
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.limits import check_agent_id, check_backend_name, check_job_id

log = logging.getLogger(__name__)

MAX_REPORTED_ERROR = 4096


class ExecutionOperations:
    def __init__(
        self,
        config: SchedulerConfig,
        lifecycle: JobLifecycle,
        *,
        store: JobStore,
        blobs: BlobStore,
        signals: QueueSignals,
        agents: AgentSightings,
        io: BlockingIo,
        clock: Callable[[], float] = time.time,
        on_empty_poll: Callable[[], None] | None = None,
    ) -> None:
        """`on_empty_poll`: called when a long-poll finds nothing queued here (replica sync)."""
        self._config = config
        self._lifecycle = lifecycle
        self._store = store
        self._blobs = blobs
        self._signals = signals
        self._agents = agents
        self._io = io
        self._clock = clock
        self._on_empty_poll = on_empty_poll or (lambda: None)

    @property
    def heartbeat_interval_s(self) -> float:
        return self._config.heartbeat_interval_seconds

    async def assign(self, backend: str, agent_id: str, wait_s: float) -> Assignment | None:
        """Return a claimed job as soon as one is assignable, or None after wait_s."""
        check_backend_name(backend, "backend")
        check_agent_id(agent_id)
        if wait_s < 0:
            raise InvalidArgument("wait must not be negative")
        wait_s = min(wait_s, self._config.max_assign_wait_seconds)
        self._agents.polled(agent_id, backend, self._clock())
        deadline = self._clock() + wait_s
        key = self._lifecycle.jobs.queue_key(backend)
        empty_reported = False
        signals = self._signals
        while not signals.closed:
            entry = self._lifecycle.next_queued(backend, agent_id)
            if entry is not None:
                assignment = await self._claim(entry, agent_id)
                if assignment is not None:
                    return assignment
                continue
            if not empty_reported:
                self._on_empty_poll()  # jobs accepted through another replica may be waiting
                empty_reported = True
            remaining = deadline - self._clock()
            if remaining <= 0 or signals.closed:
                return None
            # Wake on a push; re-check at least every second for expiring deferrals.
            deferred = self._lifecycle.jobs.has_deferrals()
            await signals.wait(key, min(remaining, 1.0) if deferred else remaining)
        return None

    async def _claim(self, entry: QueueEntry, agent_id: str) -> Assignment | None:
        # Presigning needs only the job id and makes no request: it runs while the
        # claim's round trip is out, instead of after it (dispatch latency).
        tags = lifecycle_tags(entry.role, entry.save_job)
        targets = asyncio.ensure_future(self._upload_targets(entry.job_id, tags))
        try:
            claimed = await self._lifecycle.claim(entry, agent_id)
        except BaseException:
            _discard(targets)
            raise
        if claimed is None:
            _discard(targets)
            return None
        job = claimed.job
        result_upload, log_upload = await targets
        log.info(
            "job %s assigned: backend=%s agent=%s attempt=%d waited=%.3fs",
            job.job_id,
            job.backend,
            agent_id,
            job.attempt,
            claimed.waited_s,
        )
        return Assignment(
            job,
            claimed.payload,
            result_upload,
            log_upload,
            claimed.lease_expires_at,
            self._config.heartbeat_interval_seconds,
        )

    async def _upload_targets(
        self, job_id: str, tags: dict[str, str]
    ) -> tuple[UploadTarget, UploadTarget]:
        blobs, expires = self._blobs, self._config.upload_url_seconds

        def presign() -> tuple[UploadTarget, UploadTarget]:
            return (
                blobs.result_upload_target(job_id, expires, tags),
                blobs.log_upload_target(job_id, expires, tags),
            )

        return await self._io.run(presign)

    async def heartbeat(self, job_id: str, agent_id: str) -> tuple[float, bool]:
        """Renew the lease; returns (new expiry, cancel_requested)."""
        check_job_id(job_id)
        check_agent_id(agent_id)
        renewed = await self._lifecycle.renew(job_id, agent_id)
        if renewed is None:
            raise await self._not_holder(job_id, agent_id)
        job, lease_expires_at = renewed
        self._agents.active(agent_id, job.backend, self._clock())
        return lease_expires_at, job.cancel_requested

    async def refresh_upload(self, job_id: str, agent_id: str) -> tuple[UploadTarget, UploadTarget]:
        check_job_id(job_id)
        check_agent_id(agent_id)
        job = await self._io.run(self._store.get, job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.lease_holder != agent_id:
            raise await self._not_holder(job_id, agent_id, job)
        return await self._upload_targets(job_id, lifecycle_tags(job.role, job.save_job))

    async def report(self, job_id: str, agent_id: str, completion: Completion) -> JobRecord:
        check_job_id(job_id)
        check_agent_id(agent_id)
        if completion.status is JobStatus.COMPLETED and not await self._io.run(
            self._blobs.result_exists, job_id
        ):
            if await self._io.run(self._store.get, job_id) is None:
                raise NotFound(f"no job {job_id!r}")
            raise FailedPrecondition(
                f"no result object for job {job_id}: upload it to the presigned URL "
                "before reporting SUCCESS"
            )
        completion = _truncate_detail(completion)
        job = await self._lifecycle.finish(job_id, agent_id, completion)
        if job is not None:
            self._agents.active(agent_id, job.backend, self._clock())
            log.info(
                "job %s %s: agent=%s run=%.3fs",
                job_id,
                job.status.value,
                agent_id,
                job.execution_finished_at - job.execution_started_at,
            )
            return job
        current = await self._io.run(self._store.get, job_id)
        if (
            current is not None
            and current.status is completion.status
            and current.tried_agents[-1:] == [agent_id]
        ):
            return current  # the same report again: acknowledged, nothing changes
        raise await self._not_holder(job_id, agent_id, current)

    async def _not_holder(
        self, job_id: str, agent_id: str, job: JobRecord | None = None
    ) -> Exception:
        if job is None:
            job = await self._io.run(self._store.get, job_id)
        if job is None:
            return NotFound(f"no job {job_id!r}")
        if job.status.terminal:
            return FailedPrecondition(
                f"job {job_id} already ended as {job.status.value}; a different report is refused"
            )
        if job.status is JobStatus.QUEUED and agent_id not in job.tried_agents:
            return FailedPrecondition(
                f"job {job_id} was never assigned to agent {agent_id}; "
                "report and heartbeat only the jobs AssignNextJob gave this agent"
            )
        if job.status is JobStatus.QUEUED:
            return FailedPrecondition(
                f"agent {agent_id} lost the lease of job {job_id}; it was requeued, stop running it"
            )
        return FailedPrecondition(f"agent {agent_id} does not hold the lease of job {job_id}")


def _discard(task: asyncio.Future[Any]) -> None:
    """Drop a task whose result is not wanted, without an unretrieved-exception warning."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


def _truncate_detail(completion: Completion) -> Completion:
    if len(completion.detail) <= MAX_REPORTED_ERROR:
        return completion
    return replace(
        completion, detail=completion.detail[: MAX_REPORTED_ERROR - 15] + " …(truncated)"
    )
