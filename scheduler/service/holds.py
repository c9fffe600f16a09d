"""Hold and release: keep a queued job off every agent until someone lets it go.

A held job is HELD in the job table (a conditional write, so a restart or
another replica never dispatches it) and nowhere in memory: it has no place
in line, no queue bytes and no share of its owner's concurrency limit. A
release admits it again like a submission (the limit and the queue budget
apply, unless an admin releases it) with its queue age starting anew.
"""

from __future__ import annotations

import logging
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
        """QUEUED -> HELD; HELD stays; any other state is FAILED_PRECONDITION."""
        for _ in range(_DECIDE_ATTEMPTS):
            view = await self._submissions.view(principal, job_id)
            job = view.job
            if job.status is JobStatus.HELD:
                return view
            if job.status is not JobStatus.QUEUED:
                raise FailedPrecondition(
                    f"job {job_id} is {job.status.value}; only a QUEUED job can be held"
                )
            held = await self._lifecycle.hold(job_id, f"held by {_who(principal, job)}")
            if held is not None:
                log.info("job %s held by token %s", job_id, principal.token_id)
                return JobView(held, 0)
        raise FailedPrecondition(f"job {job_id} keeps changing state; retry the hold")

    async def release(self, principal: Principal, job_id: str) -> JobView:
        """HELD -> QUEUED; QUEUED stays; any other state is FAILED_PRECONDITION."""
        for _ in range(_DECIDE_ATTEMPTS):
            view = await self._submissions.view(principal, job_id)
            job = view.job
            if job.status is JobStatus.QUEUED:
                return view
            if job.status is not JobStatus.HELD:
                raise FailedPrecondition(
                    f"job {job_id} is {job.status.value}; only a HELD job can be released"
                )
            forced = principal.role is Role.ADMIN
            released = await self._lifecycle.release(job, "", forced=forced)
            if released is not None:
                log.info("job %s released by token %s", job_id, principal.token_id)
                # As released: an agent waiting for work may claim it before a re-read.
                return JobView(released, self._lifecycle.jobs.position(job_id) or 0)
        raise FailedPrecondition(f"job {job_id} keeps changing state; retry the release")

    async def hold_all(
        self, principal: Principal, owner_name: str, backend: str, *, release: bool
    ) -> BulkHoldOutcome:
        """Hold every QUEUED job (or release every HELD one) of a user, a backend, or both."""
        require_admin(principal)
        if not owner_name and not backend:
            raise InvalidArgument("name a user (owner_name), a backend, or both")
        if backend:
            check_backend_name(backend, "backend")
        status = JobStatus.HELD if release else JobStatus.QUEUED
        jobs = await self._io.run(lambda: list(self._store.iter_by_status(status)))
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
