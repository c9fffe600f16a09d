"""Agent-side operations: long-poll assignment, heartbeats, reports, upload URLs.

Every transition is a conditional write, so two agents racing for one job,
a duplicate report, or a report from an agent that lost its lease can never
move a job twice. A lease belongs to the agent id together with the executor
token that claimed it (`caller`): another token naming the same agent is
refused, and every transition is logged with the token's short id.
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
from scheduler.domain.jobs import (
    Assignment,
    Completion,
    JobRecord,
    JobStatus,
    Principal,
    UploadTarget,
    served_attempt,
)
from scheduler.job_store.job_store import JobStore
from scheduler.job_store.record_changes import holds_lease
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

    async def assign(
        self, backend: str, agent_id: str, wait_s: float, caller: Principal | None = None
    ) -> Assignment | None:
        """Return a claimed job as soon as one is assignable, or None after wait_s.

        `caller`: the executor token's principal (None: a caller inside this process).
        """
        check_backend_name(backend, "backend")
        check_agent_id(agent_id)
        if wait_s < 0:
            raise InvalidArgument("wait must not be negative")
        wait_s = min(wait_s, self._config.max_assign_wait_seconds)
        self._agents.polled(agent_id, backend, self._clock())
        deadline = self._clock() + wait_s
        # Until the queue is restored after a start, a better job may be still unread.
        if not await self._lifecycle.until_restored(wait_s):
            return None
        key = self._lifecycle.jobs.queue_key(backend)
        empty_reported = False
        signals = self._signals
        while not signals.closed:
            entry = self._lifecycle.next_queued(backend, agent_id)
            if entry is not None:
                assignment = await self._claim(entry, agent_id, caller)
                if assignment is not None:
                    return assignment
                continue
            if not empty_reported:
                self._on_empty_poll()  # jobs accepted through another replica may be waiting
                empty_reported = True
            remaining = deadline - self._clock()
            if remaining <= 0 or signals.closed:
                return None
            # Wake on a push; re-check at least every second for expiring deferrals and
            # array slots freed through another replica.
            jobs = self._lifecycle.jobs
            deferred = jobs.has_deferrals() or jobs.has_throttled_arrays()
            await signals.wait(key, min(remaining, 1.0) if deferred else remaining)
        return None

    async def _claim(
        self, entry: QueueEntry, agent_id: str, caller: Principal | None
    ) -> Assignment | None:
        # Presigning needs the job id and the attempt the claim will start, and makes no
        # request: it runs while the claim's round trip is out, instead of after it
        # (dispatch latency), when this replica knows the attempt the job is queued at.
        tags = lifecycle_tags(entry.role, entry.save_job)
        expected = self._lifecycle.expected_attempt(entry.job_id)
        early = None
        if expected is not None:
            early = asyncio.ensure_future(self._upload_targets(entry.job_id, expected, tags))
        try:
            claimed = await self._lifecycle.claim(entry, agent_id, credential=_credential(caller))
        except BaseException:
            _discard(early)
            raise
        if claimed is None:
            _discard(early)
            return None
        job = claimed.job
        attempt = served_attempt(job)
        if early is not None and attempt == expected:
            result_upload, log_upload = await early
        else:  # not known here, or the claim started another attempt than presigned for
            _discard(early)
            result_upload, log_upload = await self._upload_targets(job.job_id, attempt, tags)
        log.info(
            "job %s assigned: backend=%s agent=%s token=%s attempt=%d waited=%.3fs",
            job.job_id,
            job.backend,
            agent_id,
            _token_id(caller),
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
        self, job_id: str, attempt: int, tags: dict[str, str]
    ) -> tuple[UploadTarget, UploadTarget]:
        """Targets of `attempt`'s own objects: the agent of another attempt cannot reach them."""
        blobs, expires = self._blobs, self._config.upload_url_seconds

        def presign() -> tuple[UploadTarget, UploadTarget]:
            return (
                blobs.result_upload_target(job_id, attempt, expires, tags),
                blobs.log_upload_target(job_id, attempt, expires, tags),
            )

        return await self._io.run(presign)

    async def heartbeat(
        self, job_id: str, agent_id: str, caller: Principal | None = None
    ) -> tuple[float, bool]:
        """Renew the lease; returns (new expiry, cancel_requested)."""
        check_job_id(job_id)
        check_agent_id(agent_id)
        renewed = await self._lifecycle.renew(job_id, agent_id, credential=_credential(caller))
        if renewed is None:
            raise await self._not_holder("heartbeat", job_id, agent_id, caller)
        job, lease_expires_at = renewed
        self._agents.active(agent_id, job.backend, self._clock())
        log.debug("job %s lease renewed: agent=%s token=%s", job_id, agent_id, _token_id(caller))
        return lease_expires_at, job.cancel_requested

    async def refresh_upload(
        self, job_id: str, agent_id: str, caller: Principal | None = None
    ) -> tuple[UploadTarget, UploadTarget]:
        check_job_id(job_id)
        check_agent_id(agent_id)
        job = await self._io.run(self._store.get, job_id)
        if job is None or not holds_lease(job, agent_id, _credential(caller)):
            raise await self._not_holder("upload refresh", job_id, agent_id, caller, job)
        log.info(
            "job %s upload targets renewed: agent=%s token=%s", job_id, agent_id, _token_id(caller)
        )
        tags = lifecycle_tags(job.role, job.save_job)
        return await self._upload_targets(job_id, served_attempt(job), tags)

    async def report(
        self, job_id: str, agent_id: str, completion: Completion, caller: Principal | None = None
    ) -> JobRecord:
        check_job_id(job_id)
        check_agent_id(agent_id)
        completion = _truncate_detail(completion)
        credential = _credential(caller)
        held = self._lifecycle.running_record(job_id)
        for fresh in (False, True) if held is not None else (True,):
            if fresh:  # the record kept here was stale, or there is none: read the truth
                held = await self._io.run(self._store.get, job_id)
            if held is None or not holds_lease(held, agent_id, credential):
                continue
            job = await self._finish(held, agent_id, credential, completion)
            if job is None and fresh:  # moved on since the read
                held = await self._io.run(self._store.get, job_id)
            if job is not None:
                log.info(
                    "job %s %s: agent=%s token=%s run=%.3fs",
                    job_id,
                    job.status.value,
                    agent_id,
                    _token_id(caller),
                    job.execution_finished_at - job.execution_started_at,
                )
                return job
        if (
            held is not None
            and held.status is completion.status
            and held.tried_agents[-1:] == [agent_id]
        ):
            return held  # the same report again: acknowledged, nothing changes
        raise await self._not_holder("report", job_id, agent_id, caller, held)

    async def _finish(
        self, held: JobRecord, agent_id: str, credential: str, completion: Completion
    ) -> JobRecord | None:
        """End the job the agent holds as `held` says; None if the record moved on.

        The write is conditional on `held`'s attempt, whose result was checked: the job
        then serves that attempt's objects, which no other agent could upload to.
        """
        job_id = held.job_id
        if completion.status is JobStatus.COMPLETED and not await self._io.run(
            self._blobs.result_exists, job_id, served_attempt(held)
        ):
            raise FailedPrecondition(
                f"no result object for job {job_id}: upload it to the presigned URL "
                "before reporting SUCCESS"
            )
        job = await self._lifecycle.finish(
            job_id, agent_id, completion, credential=credential, attempt=held.attempt
        )
        if job is not None:
            self._agents.active(agent_id, job.backend, self._clock())
        return job

    async def _not_holder(
        self,
        call: str,
        job_id: str,
        agent_id: str,
        caller: Principal | None,
        job: JobRecord | None = None,
    ) -> Exception:
        """The refusal of a call from an agent that does not hold the job's lease, logged."""
        if job is None:
            job = await self._io.run(self._store.get, job_id)
        error = _refusal(job_id, agent_id, caller, job)
        log.info(
            "refused the %s of job %s: agent=%s token=%s: %s",
            call,
            job_id,
            agent_id,
            _token_id(caller),
            error.message,
        )
        return error


def _credential(caller: Principal | None) -> str:
    """What a lease is bound to: the token's hash, never the token."""
    return caller.owner if caller is not None else ""


def _token_id(caller: Principal | None) -> str:
    return caller.token_id if caller is not None else "-"


def _refusal(
    job_id: str, agent_id: str, caller: Principal | None, job: JobRecord | None
) -> NotFound | FailedPrecondition:
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
    if job.lease_holder == agent_id:  # RUNNING under another token's credential
        token = f"token {caller.token_id}" if caller is not None else "this caller"
        return FailedPrecondition(
            f"the lease of job {job_id} was taken by agent {agent_id} with another executor "
            f"token; {token} may not renew, refresh or report it. Give each agent its own "
            "agent id"
        )
    return FailedPrecondition(f"agent {agent_id} does not hold the lease of job {job_id}")


def _discard(task: asyncio.Future[Any] | None) -> None:
    """Drop a task whose result is not wanted, without an unretrieved-exception warning."""
    if task is None:
        return
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


def _truncate_detail(completion: Completion) -> Completion:
    if len(completion.detail) <= MAX_REPORTED_ERROR:
        return completion
    return replace(
        completion, detail=completion.detail[: MAX_REPORTED_ERROR - 15] + " …(truncated)"
    )
