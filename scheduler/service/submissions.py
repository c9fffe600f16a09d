"""Client-side operations: submit, cancel, inspect, list, watch.

A job is acknowledged only after its input and its record are durable, and it
becomes assignable only after that. A small input (`--inline-input-bytes`)
is stored in the record itself, so the record's one write makes both
durable; a larger one, or one the owner asked to keep (save_job, kept by the
bucket's lifecycle rules), is written to the blob store first. Records of
submissions without an idempotency key share writes (see job_creates.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from scheduler import __version__
from scheduler.backend_status.backend_status import BackendAvailability
from scheduler.blob_store.blob_store import BlobStore, lifecycle_tags
from scheduler.config import SchedulerConfig
from scheduler.domain.dependencies import Condition, Outcome, Verdict, judge
from scheduler.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from scheduler.domain.jobs import (
    DownloadLink,
    JobRecord,
    JobStatus,
    JobView,
    Principal,
    Role,
    SubmitRequest,
    served_attempt,
)
from scheduler.job_store.job_store import JobPage, JobStore
from scheduler.queue.fair_share import FairShareTracker
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_events import JobEvents
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.job_reads import JobReads
from scheduler.service.limits import (
    check_backend_name,
    check_job_id,
    check_submission,
    is_job_id,
)
from scheduler.service.role_limits import RoleLimits, limits_of

log = logging.getLogger(__name__)

# Idempotent submissions get a job id derived from (owner, key): a retry, even
# through another replica or after a restart, collides with the first write.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f9d3c1e-8d8a-4f0e-9a51-6a2f0c3b7e10")
WATCH_POLL_S = 1.0
# DynamoDB refuses an item over 400 KB. An inline input shares that room with the
# record's parameters and its other attributes (well under this margin).
_ITEM_LIMIT_BYTES = 400 * 1024
_RECORD_MARGIN_BYTES = 16 * 1024


@dataclass(frozen=True)
class ServiceStatus:
    backend: str
    status: BackendAvailability
    queue_length: int
    role_max_timeout_s: float


@dataclass(frozen=True)
class ResultLinks:
    result: DownloadLink
    log: DownloadLink | None
    result_raw_bytes: int
    result_encoded_bytes: int


def stores_inline(request: SubmitRequest, limit_bytes: int) -> bool:
    """Whether the input goes into the job's record rather than the blob store."""
    if request.save_job or limit_bytes <= 0 or len(request.payload) > limit_bytes:
        return False
    parameters = sum(len(k.encode()) + len(v.encode()) for k, v in request.parameters.items())
    dependencies = sum(len(job_id.encode()) + 3 for job_id in request.depends_on)  # '"id",'
    record = parameters + dependencies + _RECORD_MARGIN_BYTES
    return len(request.payload) + record <= _ITEM_LIMIT_BYTES


POSITION_WAIT_S = 5.0


def waiting_for(verdict: Verdict | None) -> tuple[str, ...] | None:
    """The dependencies a new job waits for; None when it may queue at once."""
    if verdict is None or verdict.outcome is not Outcome.WAITING:
        return None
    return verdict.pending


def as_waiting(job: JobRecord, verdict: Verdict | None) -> JobRecord:
    """The new job's record as its dependencies' verdict has it: WAITING, or as it was."""
    if waiting_for(verdict) is None:
        return job
    assert verdict is not None
    return replace(job, status=JobStatus.WAITING, detail=verdict.waiting_detail())


def _not_found(job_id: str) -> str:
    return (
        f"options.dependencies: job {job_id[:64]} not found "
        "(a job may depend only on this token's own jobs)"
    )


class SubmissionOperations:
    def __init__(
        self,
        config: SchedulerConfig,
        lifecycle: JobLifecycle,
        *,
        store: JobStore,
        blobs: BlobStore,
        reads: JobReads,
        events: JobEvents,
        backend_status: BackendStatusCache,
        io: BlockingIo,
        fair_share: FairShareTracker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._lifecycle = lifecycle
        self._jobs = lifecycle.jobs
        self._store = store
        self._blobs = blobs
        self._reads = reads
        self._events = events
        self._backend_status = backend_status
        self._io = io
        self._fair_share = fair_share
        self._clock = clock

    async def submit(self, principal: Principal, request: SubmitRequest) -> str:
        check_submission(request, principal, self._config)
        self._backend_status.require_available(request.backend, principal.role)
        if request.idempotency_key:
            job_id = str(
                uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{principal.owner}\0{request.idempotency_key}")
            )
            if await self._io.run(self._store.get, job_id) is not None:
                return job_id
        else:
            job_id = str(uuid.uuid4())
        verdict = await self.judge_dependencies(principal, request)
        waiting_on = waiting_for(verdict)

        async def prepare() -> tuple[JobRecord, bytes]:
            job = await self._new_record(principal, request, job_id)
            return as_waiting(job, verdict), request.payload

        owner, role, size = principal.owner, principal.role, request.size_bytes
        created = await self._lifecycle.create(
            owner, role, job_id, size, prepare, waiting_on=waiting_on
        )
        if not created:
            return job_id  # a concurrent retry with the same idempotency key won
        log.info(
            "job %s %s: backend=%s owner=%s bytes=%d",
            job_id,
            "queued" if waiting_on is None else f"waiting on {len(waiting_on)} jobs",
            request.backend,
            principal.token_id,
            request.size_bytes,
        )
        return job_id

    async def judge_dependencies(
        self, principal: Principal, request: SubmitRequest
    ) -> Verdict | None:
        """The verdict on a new job's dependencies from one consistent read; None without any.

        NOT_FOUND for a job that is not the caller's (the same answer as for no
        such job); FAILED_PRECONDITION when they can never let it run.
        """
        if not request.depends_on:
            return None
        for job_id in request.depends_on:
            if not is_job_id(job_id):
                raise NotFound(_not_found(job_id))
        found = await self._io.run(self._store.get_many, request.depends_on)
        for job_id in request.depends_on:
            dependency = found.get(job_id)
            if dependency is None or dependency.owner != principal.owner:
                raise NotFound(_not_found(job_id))
        condition = Condition(request.dependency or Condition.AFTER_OK)
        verdict = judge(condition, {j: found[j].status for j in request.depends_on})
        if verdict.outcome is Outcome.IMPOSSIBLE:
            raise FailedPrecondition(f"{verdict.reason}; this job could never run")
        return verdict

    async def _new_record(
        self, principal: Principal, request: SubmitRequest, job_id: str
    ) -> JobRecord:
        """The QUEUED record, its input stored first unless it goes inline."""
        inline = stores_inline(request, self._config.inline_input_bytes)
        job = self.queued_record(principal, request, job_id, self._clock(), inline=inline)
        if not inline:
            await self.store_input(principal, request, job_id)
        return job

    async def store_input(self, principal: Principal, request: SubmitRequest, job_id: str) -> None:
        tags = lifecycle_tags(principal.role, request.save_job)
        await self._io.run(self._blobs.put_input, job_id, request.payload, tags)

    def queued_record(
        self, principal: Principal, request: SubmitRequest, job_id: str, now: float, *, inline: bool
    ) -> JobRecord:
        """A new job's QUEUED record (counted for fair share); its input inline if `inline`."""
        return JobRecord(
            job_id=job_id,
            owner=principal.owner,
            owner_name=principal.name,
            role=principal.role,
            backend=request.backend,
            status=JobStatus.QUEUED,
            format=request.format,
            n_shots=request.n_shots,
            timeout_s=request.timeout_s,
            parameters=dict(request.parameters),
            size_bytes=request.size_bytes,
            payload_bytes=len(request.payload),
            save_job=request.save_job,
            submitted_at=now,
            queued_at=now,
            burst=self._fair_share.record_submission(principal.owner, now),
            job_expiry=self._lifecycle.job_expiry(now),
            scheduler_version=__version__,
            idempotency_key=request.idempotency_key,
            max_attempts=request.max_attempts,
            retry_on_failure=request.retry_on_failure,
            depends_on=list(request.depends_on),
            dependency=request.dependency or (Condition.AFTER_OK if request.depends_on else ""),
            inline_input=request.payload if inline else None,
        )

    async def cancel(self, principal: Principal, job_id: str) -> JobRecord:
        return await self.cancel_loaded(principal, await self._load_visible(job_id, principal))

    async def cancel_loaded(self, principal: Principal, job: JobRecord) -> JobRecord:
        """Cancel a job the caller may see, as it was just read."""
        job_id = job.job_id
        if job.status in (JobStatus.QUEUED, JobStatus.HELD, JobStatus.WAITING):
            cancelled = await self._lifecycle.cancel_queued(job_id, "cancelled by its owner")
            if cancelled is not None:
                log.info("job %s cancelled while %s", job_id, job.status.value)
                return cancelled
            job = await self._load_visible(job_id, principal)
        if job.status is JobStatus.RUNNING:
            requested = await self._lifecycle.request_cancel(job_id)
            if requested is not None:
                log.info("job %s: cancel requested while running", job_id)
                return requested
            job = await self._load_visible(job_id, principal)
        if job.status.terminal:
            raise FailedPrecondition(f"job {job_id} already ended as {job.status.value}")
        raise FailedPrecondition(f"job {job_id} changed state concurrently; retry the cancel")

    async def _load_visible(self, job_id: str, principal: Principal) -> JobRecord:
        """The job if the caller may see it; another owner's job is NOT_FOUND."""
        check_job_id(job_id)
        job = await self._reads.get(job_id)
        if job is None or (job.owner != principal.owner and principal.role is not Role.ADMIN):
            raise NotFound(f"no job {job_id!r} for this token")
        return job

    async def view(self, principal: Principal, job_id: str) -> JobView:
        job = await self._load_visible(job_id, principal)
        if job.status is JobStatus.QUEUED and not self._lifecycle.restored:
            # Its queue position is known once the queue is restored after a start; a status
            # answer waits a few seconds for that at most, then comes without it.
            await self._lifecycle.until_restored(POSITION_WAIT_S)
        return self._view(job)

    def view_of(self, job: JobRecord) -> JobView:
        return self._view(job)

    def _view(self, job: JobRecord) -> JobView:
        position = 0
        if job.status is JobStatus.QUEUED:
            position = self._jobs.position(job.job_id) or 0
        return JobView(job, position)

    async def result_links(self, principal: Principal, job_id: str) -> ResultLinks:
        job = await self._load_visible(job_id, principal)
        if job.status is not JobStatus.COMPLETED:
            raise FailedPrecondition(
                f"job {job_id} is {job.status.value}; results exist only for COMPLETED jobs"
                + (" (GetJobLog has its log)" if job.status.terminal and job.log_bytes else "")
            )
        expires = self._config.download_url_seconds
        attempt = served_attempt(job)  # the finishing report's: a stale agent's never are
        result = await self._io.run(self._blobs.result_download_link, job_id, attempt, expires)
        log_link = None
        if job.log_bytes:
            log_link = await self._io.run(self._blobs.log_download_link, job_id, attempt, expires)
        return ResultLinks(result, log_link, job.result_raw_bytes, job.result_encoded_bytes)

    async def log_link(self, principal: Principal, job_id: str) -> DownloadLink:
        job = await self._load_visible(job_id, principal)
        if not job.status.terminal:
            raise FailedPrecondition(
                f"job {job_id} is {job.status.value}; its log is uploaded when it ends"
            )
        if not job.log_bytes:
            raise FailedPrecondition(f"job {job_id} has no log: its agent uploaded none")
        return await self._io.run(
            self._blobs.log_download_link,
            job_id,
            served_attempt(job),
            self._config.download_url_seconds,
        )

    async def list_jobs(
        self,
        principal: Principal,
        *,
        status: JobStatus | None,
        backend: str | None,
        all_users: bool,
        page_size: int,
        page_token: str,
    ) -> tuple[list[JobView], str]:
        if page_size == 0:
            page_size = 100
        if not 1 <= page_size <= 1000:
            raise InvalidArgument("page_size must be between 1 and 1000 (0 = 100)")
        if backend:
            check_backend_name(backend, "backend")
        if all_users and principal.role is not Role.ADMIN:
            raise PermissionDenied("only admin tokens may list all users' jobs (all_users)")
        if all_users:
            page: JobPage = await self._io.run(
                lambda: self._store.list_all(
                    status=status,
                    backend=backend or None,
                    page_size=page_size,
                    page_token=page_token,
                )
            )
        else:
            page = await self._io.run(
                lambda: self._store.list_for_owner(
                    principal.owner,
                    status=status,
                    backend=backend or None,
                    page_size=page_size,
                    page_token=page_token,
                )
            )
        return [self._view(job) for job in page.jobs], page.next_page_token

    async def watch(self, principal: Principal, job_id: str) -> AsyncIterator[JobView]:
        """The current state at once, then one view per status change until terminal.

        Changes made through this replica arrive as events; the store is
        re-read every WATCH_POLL_S for changes made through another replica.
        """
        with self._events.subscribe(job_id) as changes:
            job = await self._load_visible(job_id, principal)
            yield self._view(job)
            last = (job.status, job.cancel_requested)
            while not job.status.terminal:
                try:
                    fresh: JobRecord | None = await asyncio.wait_for(changes.get(), WATCH_POLL_S)
                except TimeoutError:
                    fresh = await self._io.run(self._store.get, job_id)
                if fresh is None:
                    return
                job = fresh
                if (job.status, job.cancel_requested) != last:
                    last = (job.status, job.cancel_requested)
                    yield self._view(job)

    def service_status(self, principal: Principal, backend: str) -> ServiceStatus:
        check_backend_name(backend, "backend")
        status = self._backend_status.lookup(backend, principal.role)
        return ServiceStatus(
            backend=backend,
            status=status,
            queue_length=self._jobs.queue_length(backend),
            role_max_timeout_s=self._jobs.policy.role_max_timeout_s[principal.role],
        )

    def limits(self, principal: Principal) -> RoleLimits:
        return limits_of(principal, self._config, self._jobs)
