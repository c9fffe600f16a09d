"""Hold and release: keep a queued job off every agent until someone lets it go.

A held job is HELD in the job table (a conditional write, so a restart or
another replica never dispatches it) and nowhere in memory: it has no place
in line, no queue bytes and no share of its owner's concurrency limit. A
release admits it again like a submission (the limit and the queue budget
apply, unless an admin releases it) with its queue age starting anew. A job
waiting on dependencies can be held too; released, it waits on them again
(and queues or ends at once if they have decided meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from scheduler.domain.errors import FailedPrecondition, InvalidArgument
from scheduler.domain.jobs import JobRecord, JobStatus, JobView, Principal, Role
from scheduler.job_store.job_store import JobStore
from scheduler.service.administration import require_admin
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.limits import check_backend_name
from scheduler.service.submissions import SubmissionOperations

log = logging.getLogger(__name__)

# A job that keeps changing under a hold (released, held...) is left alone.
_DECIDE_ATTEMPTS = 3
_HOLDABLE = (JobStatus.QUEUED, JobStatus.WAITING)


@dataclass(frozen=True)
class BulkHoldOutcome:
    changed: list[str]  # the ids of the jobs this call held or released
    skipped: int  # matching jobs that moved on meanwhile (claimed, cancelled...)


class HoldOperations:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        *,
        submissions: SubmissionOperations,
        store: JobStore,
        io: BlockingIo,
    ) -> None:
        self._lifecycle = lifecycle
        self._submissions = submissions
        self._store = store
        self._io = io

    async def hold(self, principal: Principal, job_id: str) -> JobView:
        """QUEUED or WAITING -> HELD; HELD stays; any other state is FAILED_PRECONDITION."""

        async def hold(job: JobRecord) -> JobRecord | None:
            return await self._lifecycle.hold(job_id, f"held by {_who(principal, job)}")

        return await self._move(principal, job_id, _HOLDABLE, (JobStatus.HELD,), hold)

    async def release(self, principal: Principal, job_id: str) -> JobView:
        """HELD -> QUEUED (WAITING with dependencies); those stay; any other state is
        FAILED_PRECONDITION."""
        forced = principal.role is Role.ADMIN

        async def release(job: JobRecord) -> JobRecord | None:
            return await self._lifecycle.release(job, "", forced=forced)

        return await self._move(principal, job_id, (JobStatus.HELD,), _HOLDABLE, release)

    async def _move(
        self,
        principal: Principal,
        job_id: str,
        sources: tuple[JobStatus, ...],
        targets: tuple[JobStatus, ...],
        move: Callable[[JobRecord], Awaitable[JobRecord | None]],
    ) -> JobView:
        """`move` the caller's job from one of `sources` to `targets`, re-deciding if it
        changed."""
        verb = "held" if JobStatus.HELD in targets else "released"
        for _ in range(_DECIDE_ATTEMPTS):
            view = await self._submissions.view(principal, job_id)
            job = view.job
            if job.status in targets:
                return view
            if job.status not in sources:
                allowed = " or ".join(status.value for status in sources)
                raise FailedPrecondition(
                    f"job {job_id} is {job.status.value}; only a {allowed} job can be {verb}"
                )
            moved = await move(job)
            if moved is not None:
                log.info("job %s %s by token %s", job_id, verb, principal.token_id)
                # As moved: an agent waiting for work may claim a released job before a re-read.
                return JobView(moved, self._lifecycle.jobs.position(job_id) or 0)
        raise FailedPrecondition(f"job {job_id} keeps changing state; retry")

    async def hold_all(
        self, principal: Principal, owner_name: str, backend: str, *, release: bool
    ) -> BulkHoldOutcome:
        """Hold every QUEUED or WAITING job (or release every HELD one) of a user, a backend,
        or both."""
        require_admin(principal)
        if not owner_name and not backend:
            raise InvalidArgument("name a user (owner_name), a backend, or both")
        if backend:
            check_backend_name(backend, "backend")
        statuses = (JobStatus.HELD,) if release else _HOLDABLE
        store = self._store
        jobs = await self._io.run(
            lambda: [job for status in statuses for job in store.iter_by_status(status)]
        )
        changed: list[str] = []
        skipped = 0
        for job in jobs:
            if (owner_name and job.owner_name != owner_name) or (
                backend and job.backend != backend
            ):
                continue
            if release:
                done = await self._lifecycle.release(job, "", forced=True)
            else:
                done = await self._lifecycle.hold(job.job_id, f"held by admin {principal.name}")
            if done is None:
                skipped += 1
            else:
                changed.append(job.job_id)
        log.info(
            "%s %d jobs (user %r, backend %r; %d moved on meanwhile) by admin token %s",
            "released" if release else "held",
            len(changed),
            owner_name,
            backend,
            skipped,
            principal.token_id,
        )
        return BulkHoldOutcome(changed, skipped)


def _who(principal: Principal, job: JobRecord) -> str:
    return "its owner" if principal.owner == job.owner else f"admin {principal.name}"
