"""Operator actions: inspect the queue, requeue or fail a job, set a backend's status.

Only admin tokens may call these (checked here, so every entry point shares
the rule). Job changes are conditional writes on the status (and attempt)
just read, as everywhere else: an action decided on a state that changed
meanwhile is re-decided on the new state, never forced through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.backend_status.backend_status import (
    BackendAvailability,
    BackendStatusEditor,
    BackendStatusFormatError,
    parse_backend_status,
)
from scheduler.backend_status.status_change import StatusChange
from scheduler.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from scheduler.domain.jobs import JobRecord, JobStatus, JobView, Principal, Role
from scheduler.job_store.job_store import JobStore
from scheduler.queue.job_queue import QueueEntry
from scheduler.queue.priority import PriorityBreakdown, PriorityPolicy
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_lifecycle import RESTORE_WAIT_S, JobLifecycle
from scheduler.service.limits import check_backend_name, check_job_id

log = logging.getLogger(__name__)

DEFAULT_QUEUE_LIMIT = 1000
MAX_QUEUE_LIMIT = 10_000
MAX_REASON = 1024
MAX_DESCRIPTION = 1024
# A job that keeps changing under an action (claimed, requeued, claimed...) is left alone.
_DECIDE_ATTEMPTS = 3


@dataclass(frozen=True)
class QueuedJobView:
    queue: str
    position: int
    entry: QueueEntry
    owner_name: str
    waited_s: float
    breakdown: PriorityBreakdown


@dataclass(frozen=True)
class QueueListing:
    jobs: list[QueuedJobView]
    queue_lengths: dict[str, int]
    policy: PriorityPolicy
    as_of: float


@dataclass(frozen=True)
class AdminOutcome:
    job: JobView
    changed: bool  # False when the job already was as asked


@dataclass(frozen=True)
class BackendStatusUpdate:
    backend: str
    roles: dict[Role, BackendAvailability]
    changed: bool


def require_admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise PermissionDenied(
            f"operator actions need an admin token; this token has role {principal.role.value!r}"
        )


class AdministrationOperations:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        *,
        store: JobStore,
        backend_status: BackendStatusCache,
        status_editor: BackendStatusEditor,
        io: BlockingIo,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lifecycle = lifecycle
        self._jobs = lifecycle.jobs
        self._store = store
        self._backend_status = backend_status
        self._status_editor = status_editor
        self._io = io
        self._clock = clock

    # --- the queue, like sprio ----------------------------------------------

    async def list_queue(self, principal: Principal, backend: str, limit: int) -> QueueListing:
        require_admin(principal)
        if backend:
            check_backend_name(backend, "backend")
        if limit == 0:
            limit = DEFAULT_QUEUE_LIMIT
        if not 1 <= limit <= MAX_QUEUE_LIMIT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_QUEUE_LIMIT} (0 = 1000)")
        if not await self._lifecycle.until_restored(RESTORE_WAIT_S):
            raise Unavailable("the queue is still being restored after a start; retry soon")
        now = self._clock()
        queued = self._jobs
        keys = [queued.queue_key(backend)] if backend else sorted(queued.queue_keys())
        policy = queued.policy
        shown: list[tuple[str, int, QueueEntry]] = []
        lengths: dict[str, int] = {}
        for key in keys:
            ordered = queued.ordered(key, now)
            lengths[key] = len(ordered)
            shown.extend((key, rank, e) for rank, e in enumerate(ordered[:limit], start=1))
        jobs = [
            QueuedJobView(
                queue=key,
                position=rank,
                entry=entry,
                owner_name=queued.owner_name(entry.owner),
                waited_s=max(now - entry.queued_at, 0.0),
                breakdown=policy.breakdown(entry, now),
            )
            for key, rank, entry in shown
        ]
        return QueueListing(jobs, lengths, policy, now)

    # --- job actions -----------------------------------------------------------

    async def requeue(self, principal: Principal, job_id: str) -> AdminOutcome:
        """RUNNING -> QUEUED now; QUEUED stays (changed=False); otherwise FAILED_PRECONDITION."""
        require_admin(principal)
        for _ in range(_DECIDE_ATTEMPTS):
            job = await self._load(job_id)
            if job.status is JobStatus.QUEUED:
                return self._outcome(job, changed=False)
            if job.status.terminal:
                raise FailedPrecondition(
                    f"job {job_id} already ended as {job.status.value}; "
                    "only QUEUED or RUNNING jobs can be requeued"
                )
            if job.status is JobStatus.HELD:
                raise FailedPrecondition(f"job {job_id} is HELD: release it to queue it again")
            if job.status is JobStatus.WAITING:
                raise FailedPrecondition(
                    f"job {job_id} is WAITING on its dependencies; it queues when they allow"
                )
            if job.cancel_requested:
                raise FailedPrecondition(
                    f"the owner of job {job_id} asked to cancel it; it ends when its agent "
                    "stops (or end it now with fail)"
                )
            requeued = await self._lifecycle.requeue(job, f"requeued by admin {principal.name}")
            if requeued is not None:
                log.info(
                    "job %s requeued by admin token %s (was held by %s, attempt %d)",
                    job_id,
                    principal.token_id,
                    job.lease_holder,
                    job.attempt,
                )
                return self._outcome(requeued, changed=True)
        raise FailedPrecondition(f"job {job_id} keeps changing state; run the command again")

    async def fail(self, principal: Principal, job_id: str, reason: str) -> AdminOutcome:
        """QUEUED, HELD, WAITING or RUNNING -> FAILED with the reason; a finished job is
        FAILED_PRECONDITION."""
        require_admin(principal)
        reason = reason.strip()
        if not reason:
            raise InvalidArgument("reason is required: the job's owner sees it as the job's detail")
        if len(reason) > MAX_REASON:
            raise InvalidArgument(f"reason must be at most {MAX_REASON} characters")
        detail = f"failed by admin {principal.name}: {reason}"
        for _ in range(_DECIDE_ATTEMPTS):
            job = await self._load(job_id)
            if job.status.terminal:
                if job.status is JobStatus.FAILED and job.detail == detail:
                    return self._outcome(job, changed=False)  # this very call, retried
                raise FailedPrecondition(f"job {job_id} already ended as {job.status.value}")
            failed = await self._lifecycle.fail(job, detail)
            if failed is not None:
                log.info(
                    "job %s failed by admin token %s while %s",
                    job_id,
                    principal.token_id,
                    job.status.value,
                )
                return self._outcome(failed, changed=True)
        raise FailedPrecondition(f"job {job_id} keeps changing state; run the command again")

    async def _load(self, job_id: str) -> JobRecord:
        check_job_id(job_id)
        job = await self._io.run(self._store.get, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job

    def _outcome(self, job: JobRecord, *, changed: bool) -> AdminOutcome:
        position = 0
        if job.status is JobStatus.QUEUED:
            position = self._jobs.position(job.job_id) or 0
        return AdminOutcome(JobView(job, position), changed)

    # --- backend availability ----------------------------------------------------

    async def set_backend_status(
        self, principal: Principal, change: StatusChange
    ) -> BackendStatusUpdate:
        """Edit the status document, then apply it on this replica before answering."""
        require_admin(principal)
        check_backend_name(change.backend, "backend")
        if change.description is not None and len(change.description) > MAX_DESCRIPTION:
            raise InvalidArgument(f"description must be at most {MAX_DESCRIPTION} characters")
        changed = False

        def apply(text: str) -> str | None:
            nonlocal changed
            try:
                new_text = change.apply(text)
            except BackendStatusFormatError as error:
                raise FailedPrecondition(
                    f"the backend status document is malformed ({error}); fix it by hand first"
                ) from error
            changed = new_text is not None
            return new_text

        text = await self._io.run(self._status_editor.edit, apply)
        await self._backend_status.refresh()
        roles = parse_backend_status(text).get(change.backend, {})
        log.info(
            "backend %s set %s for %s by admin token %s",
            change.backend,
            change.availability.value,
            change.role.value if change.role else "every listed role",
            principal.token_id,
        )
        return BackendStatusUpdate(change.backend, roles, changed)
