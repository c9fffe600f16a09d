"""Agent-side operations: long-poll assignment, heartbeats, reports, upload URLs.

Every transition is a conditional write, so two agents racing for one job,
a duplicate report, or a report from an agent that lost its lease can never
move a job twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from scheduler.blob_store.blob_store import lifecycle_tags
from scheduler.domain.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from scheduler.domain.jobs import Assignment, Completion, JobRecord, JobStatus, UploadTarget
from scheduler.queue.job_queue import QueueEntry
from scheduler.service.limits import check_agent_id, check_backend_name, check_job_id
from scheduler.service.record_lru import without_input
from scheduler.service.scheduler_state import SchedulerState

log = logging.getLogger(__name__)

MAX_REPORTED_ERROR = 4096


class ExecutionOperations:
    def __init__(
        self, state: SchedulerState, on_empty_poll: Callable[[], None] | None = None
    ) -> None:
        """`on_empty_poll`: called when a long-poll finds nothing queued here (replica sync)."""
        self._s = state
        self._on_empty_poll = on_empty_poll or (lambda: None)

    @property
    def heartbeat_interval_s(self) -> float:
        return self._s.config.heartbeat_interval_seconds

    async def assign(self, backend: str, agent_id: str, wait_s: float) -> Assignment | None:
        """Return a claimed job as soon as one is assignable, or None after wait_s."""
        s = self._s
        check_backend_name(backend, "backend")
        check_agent_id(agent_id)
        if wait_s < 0:
            raise InvalidArgument("wait must not be negative")
        wait_s = min(wait_s, s.config.max_assign_wait_seconds)
        s.metrics.agents.polled(agent_id, backend, s.clock())
        deadline = s.clock() + wait_s
        key = s.queue_key(backend)
        empty_reported = False
        while not s.stopping:
            now = s.clock()
            entry = s.queues.pop(backend, now, exclude=self._deferral_check(agent_id, now))
            if entry is not None:
                assignment = await self._claim(entry, agent_id)
                if assignment is not None:
                    return assignment
                continue
            if not empty_reported:
                self._on_empty_poll()  # jobs accepted through another replica may be waiting
                empty_reported = True
            remaining = deadline - s.clock()
            if remaining <= 0 or s.stopping:
                return None
            # Wake on a push; re-check at least every second for expiring deferrals.
            await s.signals.wait(key, min(remaining, 1.0) if s.deferrals else remaining)
        return None

    def _deferral_check(self, agent_id: str, now: float) -> Callable[[QueueEntry], bool] | None:
        """Keeps a requeued job from the agent that lost it while others may still take it."""
        deferrals = self._s.deferrals
        if not deferrals:
            return None

        def deferred(entry: QueueEntry) -> bool:
            deferral = deferrals.get(entry.job_id)
            if deferral is None or now >= deferral.until:
                return False
            return agent_id in deferral.tried_agents

        return deferred

    async def _claim(self, entry: QueueEntry, agent_id: str) -> Assignment | None:
        s = self._s
        # Presigning needs only the job id and makes no request: it runs while the
        # claim's round trip is out, instead of after it (dispatch latency).
        tags = lifecycle_tags(entry.role, entry.save_job)
        targets = asyncio.ensure_future(self._upload_targets(entry.job_id, tags))
        try:
            # The input is read before the claim: a claim whose input cannot be read
            # would hold the job RUNNING with no agent until its lease lapsed.
            payload = entry.payload
            if payload is None:
                payload = await s.execution_io.run(s.blobs.get_input, entry.job_id)
            now = s.clock()
            lease_expires_at = now + s.config.lease_seconds
            known = s.queued_records.pop(entry.job_id)
            job = await s.execution_io.run(
                lambda: s.store.claim(entry.job_id, agent_id, lease_expires_at, now, known=known)
            )
        except Unavailable:
            _discard(targets)
            await self._return_to_queue(entry)
            raise
        except NotFound:
            _discard(targets)
            await self._fail_without_input(entry)
            return None
        except BaseException:
            _discard(targets)
            raise
        if job is None:  # cancelled meanwhile, or claimed through another replica
            _discard(targets)
            return None
        s.deferrals.pop(job.job_id, None)
        s.track_running(job)
        result_upload, log_upload = await targets
        s.events.notify(job)
        s.metrics.job_assigned(job, now - job.queued_at)
        log.info(
            "job %s assigned: backend=%s agent=%s attempt=%d waited=%.3fs",
            job.job_id,
            job.backend,
            agent_id,
            job.attempt,
            now - job.queued_at,
        )
        return Assignment(
            job,
            payload,
            result_upload,
            log_upload,
            lease_expires_at,
            s.config.heartbeat_interval_seconds,
        )

    async def _fail_without_input(self, entry: QueueEntry) -> None:
        """A queued job whose input is gone (deleted by hand or a bucket rule) can never run."""
        s = self._s
        now = s.clock()
        failed = await s.execution_io.run(
            s.store.fail_queued,
            entry.job_id,
            "its input is missing from the job bucket; submit the job again",
            now,
            s.job_expiry(now),
        )
        if failed is not None:
            s.job_ended(failed)
            log.error("job %s FAILED: its input is missing from the bucket", entry.job_id)

    async def _return_to_queue(self, entry: QueueEntry) -> None:
        s = self._s
        s.queues.force_reserve(entry.size_bytes)  # it held these bytes a moment ago
        s.queues.push(entry)
        await s.signals.notify(s.queue_key(entry.backend))

    async def _upload_targets(
        self, job_id: str, tags: dict[str, str]
    ) -> tuple[UploadTarget, UploadTarget]:
        blobs, expires = self._s.blobs, self._s.config.upload_url_seconds

        def presign() -> tuple[UploadTarget, UploadTarget]:
            return (
                blobs.result_upload_target(job_id, expires, tags),
                blobs.log_upload_target(job_id, expires, tags),
            )

        return await self._s.execution_io.run(presign)

    async def heartbeat(self, job_id: str, agent_id: str) -> tuple[float, bool]:
        """Renew the lease; returns (new expiry, cancel_requested)."""
        s = self._s
        check_job_id(job_id)
        check_agent_id(agent_id)
        lease_expires_at = s.clock() + s.config.lease_seconds
        job = await s.execution_io.run(s.store.renew_lease, job_id, agent_id, lease_expires_at)
        if job is None:
            raise await self._not_holder(job_id, agent_id)
        s.metrics.agents.active(agent_id, job.backend, s.clock())
        tracked = s.running.get(job_id)
        if tracked is not None and tracked.attempt == job.attempt:
            tracked.lease_expires_at = lease_expires_at
            tracked.record = without_input(job)
        else:
            s.track_running(job)
        return lease_expires_at, job.cancel_requested

    async def refresh_upload(self, job_id: str, agent_id: str) -> tuple[UploadTarget, UploadTarget]:
        s = self._s
        check_job_id(job_id)
        check_agent_id(agent_id)
        job = await s.execution_io.run(s.store.get, job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.lease_holder != agent_id:
            raise await self._not_holder(job_id, agent_id, job)
        return await self._upload_targets(job_id, lifecycle_tags(job.role, job.save_job))

    async def report(self, job_id: str, agent_id: str, completion: Completion) -> JobRecord:
        s = self._s
        check_job_id(job_id)
        check_agent_id(agent_id)
        if completion.status is JobStatus.COMPLETED and not await s.execution_io.run(
            s.blobs.result_exists, job_id
        ):
            raise FailedPrecondition(
                f"no result object for job {job_id}: upload it to the presigned URL "
                "before reporting SUCCESS"
            )
        completion = _truncate_detail(completion)
        tracked = s.running.get(job_id)
        known = tracked.record if tracked is not None else None
        expiry = s.job_expiry(completion.finished_at)
        job = await s.execution_io.run(
            lambda: s.store.finish(job_id, agent_id, completion, expiry, known=known)
        )
        if job is not None:
            s.job_ended(job)
            s.metrics.agents.active(agent_id, job.backend, s.clock())
            log.info(
                "job %s %s: agent=%s run=%.3fs",
                job_id,
                job.status.value,
                agent_id,
                job.execution_finished_at - job.execution_started_at,
            )
            return job
        current = await s.execution_io.run(s.store.get, job_id)
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
            job = await self._s.execution_io.run(self._s.store.get, job_id)
        if job is None:
            return NotFound(f"no job {job_id!r}")
        if job.status.terminal:
            return FailedPrecondition(
                f"job {job_id} already ended as {job.status.value}; a different report is refused"
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
