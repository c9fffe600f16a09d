"""The job store in memory: the JobStore contract with a dict and a lock.

For tests of the service layer, which need the contract's answers (conditional
transitions, ordered listings, page tokens) but not DynamoDB's latency or
moto's start-up. One lock makes each transition atomic, as DynamoDB's
conditional write is, so it may be shared by threads and by several service
layers at once (replicas over one table). Unlike DynamoDB's indexes, listings
here are consistent at once: a caller that copes with lag copes without it.

Records are copied in and out: a caller changing a record it holds changes
nothing stored, as with a real database. Nothing expires (DynamoDB's TTL may
also keep an expired record for days); the admin listing walks back
`retention_days`, as the DynamoDB store does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from scheduler.domain.jobs import Completion, JobRecord, JobStatus
from scheduler.job_store.job_store import JobPage
from scheduler.job_store.page_tokens import (
    Position,
    all_page_token,
    check_page_size,
    owner_page_token,
    parse_all_page_token,
    parse_owner_page_token,
)
from scheduler.job_store.record_changes import (
    CLEARED_LEASE,
    RELEASED_ATTEMPT,
    claimed,
    finished,
    holds_lease,
)

_DAY_S = 86_400.0

Guard = Callable[[JobRecord], bool]


def _copy(job: JobRecord) -> JobRecord:
    return replace(
        job,
        parameters=dict(job.parameters),
        tried_agents=list(job.tried_agents),
        attempt_log=list(job.attempt_log),
        depends_on=list(job.depends_on),
    )


def _order(job: JobRecord) -> tuple[float, str]:
    """Listing order (newest submitted first when reversed); the id breaks ties."""
    return job.submitted_at, job.job_id


def _utc_day(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).date().isoformat()


def _position(job: JobRecord) -> Position:
    return Position(job.job_id, repr(job.submitted_at))


class MemoryJobStore:
    def __init__(self, *, retention_days: int = 31, clock: Callable[[], float] = time.time) -> None:
        """`retention_days`: how far back the admin listing reaches (the job TTL)."""
        self._jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()
        self._retention_days = retention_days
        self._clock = clock

    # --- single jobs -------------------------------------------------------

    def create(self, job: JobRecord) -> bool:
        with self._lock:
            if job.job_id in self._jobs:
                return False
            self._jobs[job.job_id] = _copy(job)
            return True

    def create_many(self, jobs: Sequence[JobRecord]) -> set[str]:
        with self._lock:
            self._jobs.update((job.job_id, _copy(job)) for job in jobs)
        return set()

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return _copy(job) if job else None

    def get_many(self, job_ids: Collection[str]) -> dict[str, JobRecord]:
        with self._lock:
            return {i: _copy(self._jobs[i]) for i in job_ids if i in self._jobs}

    def claim(
        self,
        job_id: str,
        agent_id: str,
        lease_expires_at: float,
        now: float,
        *,
        known: JobRecord | None = None,
        credential: str = "",
    ) -> JobRecord | None:
        return self._transition(
            job_id,
            _in(JobStatus.QUEUED),
            lambda job: claimed(job, agent_id, credential, lease_expires_at, now),
        )

    def renew_lease(
        self, job_id: str, agent_id: str, lease_expires_at: float, *, credential: str = ""
    ) -> JobRecord | None:
        return self._transition(
            job_id, _held_by(agent_id, credential), _set(lease_expires_at=lease_expires_at)
        )

    def finish(
        self,
        job_id: str,
        agent_id: str,
        completion: Completion,
        job_expiry: int,
        *,
        known: JobRecord | None = None,
        credential: str = "",
        attempt: int | None = None,
    ) -> JobRecord | None:
        if not completion.status.terminal:
            raise ValueError(f"finish needs a terminal status, not {completion.status}")
        held = _held_by(agent_id, credential)
        return self._transition(
            job_id,
            lambda job: held(job) and attempt in (None, job.attempt),
            lambda job: finished(job, completion, job_expiry),
        )

    def cancel_queued(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        return self._end_queued(job_id, JobStatus.CANCELLED, detail, now, job_expiry)

    def request_cancel(self, job_id: str) -> JobRecord | None:
        return self._transition(job_id, _in(JobStatus.RUNNING), _set(cancel_requested=True))

    def requeue(
        self, job_id: str, attempt: int, now: float, *, logged: str = ""
    ) -> JobRecord | None:
        # Clears a cancel request, so that `claim` need not: a requeued job is claimed anew.
        return self._transition(
            job_id,
            _running_attempt(attempt, expired_before=now),
            _logged(logged, status=JobStatus.QUEUED, cancel_requested=False, **RELEASED_ATTEMPT),
        )

    def requeue_running(
        self, job_id: str, attempt: int, detail: str, *, logged: str = ""
    ) -> JobRecord | None:
        attempt_runs = _running_attempt(attempt)
        return self._transition(
            job_id,
            lambda job: attempt_runs(job) and not job.cancel_requested,
            _logged(logged, status=JobStatus.QUEUED, detail=detail, **RELEASED_ATTEMPT),
        )

    def retry_failed(
        self,
        job_id: str,
        agent_id: str,
        detail: str,
        logged: str,
        *,
        credential: str = "",
        attempt: int | None = None,
    ) -> JobRecord | None:
        held = _held_by(agent_id, credential)
        return self._transition(
            job_id,
            lambda job: held(job) and attempt in (None, job.attempt),
            _logged(
                logged,
                status=JobStatus.QUEUED,
                detail=detail,
                cancel_requested=False,
                **RELEASED_ATTEMPT,
            ),
        )

    def fail_queued(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        return self._end_queued(job_id, JobStatus.FAILED, detail, now, job_expiry)

    def _end_queued(
        self, job_id: str, status: JobStatus, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        return self._transition(
            job_id,
            _in(JobStatus.QUEUED, JobStatus.HELD, JobStatus.WAITING),
            _set(status=status, detail=detail, finished_at=now, job_expiry=job_expiry),
        )

    def hold_queued(self, job_id: str, detail: str) -> JobRecord | None:
        return self._transition(
            job_id,
            _in(JobStatus.QUEUED, JobStatus.WAITING),
            _set(status=JobStatus.HELD, detail=detail),
        )

    def release_held(
        self, job_id: str, detail: str, now: float, *, waiting: bool = False
    ) -> JobRecord | None:
        status = JobStatus.WAITING if waiting else JobStatus.QUEUED
        return self._transition(
            job_id, _in(JobStatus.HELD), _set(status=status, detail=detail, queued_at=now)
        )

    def promote_waiting(self, job_id: str, now: float) -> JobRecord | None:
        return self._transition(
            job_id, _in(JobStatus.WAITING), _set(status=JobStatus.QUEUED, detail="", queued_at=now)
        )

    def cancel_waiting(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        return self._transition(
            job_id,
            _in(JobStatus.WAITING),
            _set(status=JobStatus.CANCELLED, detail=detail, finished_at=now, job_expiry=job_expiry),
        )

    def end_running(
        self,
        job_id: str,
        attempt: int,
        status: JobStatus,
        detail: str,
        now: float,
        job_expiry: int,
        *,
        require_expired_lease: bool,
    ) -> JobRecord | None:
        if status not in (JobStatus.FAILED, JobStatus.TIMEOUT):
            raise ValueError(f"end_running ends a job FAILED or TIMEOUT, not {status}")
        return self._transition(
            job_id,
            _running_attempt(attempt, expired_before=now if require_expired_lease else None),
            _set(
                status=status,
                detail=detail,
                finished_at=now,
                job_expiry=job_expiry,
                **CLEARED_LEASE,
            ),
        )

    def _transition(
        self, job_id: str, applies: Guard, change: Callable[[JobRecord], JobRecord]
    ) -> JobRecord | None:
        """`change` the job if it exists and `applies`; a copy of the record after, else None."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not applies(job):
                return None
            job = self._jobs[job_id] = change(job)
            return _copy(job)

    # --- listings -------------------------------------------------------------

    def iter_by_status(self, status: JobStatus) -> Iterator[JobRecord]:
        with self._lock:
            jobs = [_copy(job) for job in self._jobs.values() if job.status is status]
        # The id breaks ties, so that a restart restores equal times in one order.
        yield from sorted(jobs, key=lambda job: (job.queued_at, job.job_id))

    def ids_by_status(self, status: JobStatus) -> Iterator[str]:
        return (job.job_id for job in self.iter_by_status(status))

    def list_for_owner(
        self,
        owner: str,
        *,
        status: JobStatus | None,
        backend: str | None,
        page_size: int,
        page_token: str,
    ) -> JobPage:
        check_page_size(page_size)
        after = parse_owner_page_token(page_token, owner) if page_token else None
        jobs = self._newest_first(lambda job: job.owner == owner, status, backend, after)
        return _page(jobs, page_size, lambda last: owner_page_token(owner, _position(last)))

    def list_all(
        self,
        *,
        status: JobStatus | None,
        backend: str | None,
        page_size: int,
        page_token: str,
    ) -> JobPage:
        check_page_size(page_size)
        oldest = self._clock() - self._retention_days * _DAY_S
        day, after = parse_all_page_token(page_token) if page_token else (None, None)

        def listed(job: JobRecord) -> bool:
            # A token without a position (the DynamoDB store issues those) starts at `day`.
            return job.submitted_at >= oldest and (day is None or _utc_day(job.submitted_at) <= day)

        jobs = self._newest_first(listed, status, backend, after)
        return _page(
            jobs,
            page_size,
            lambda last: all_page_token(_utc_day(last.submitted_at), _position(last)),
        )

    def pages_submitted_since(
        self, since: float, *, owner: str | None
    ) -> Iterator[list[JobRecord]]:
        """One page: here a read costs nothing."""
        with self._lock:
            yield [
                _copy(job)
                for job in self._jobs.values()
                if job.submitted_at >= since and (owner is None or job.owner == owner)
            ]

    def _newest_first(
        self,
        listed: Guard,
        status: JobStatus | None,
        backend: str | None,
        after: Position | None,
    ) -> list[JobRecord]:
        """The matching jobs after `after` (a page token's position), newest first."""
        with self._lock:
            jobs = [
                _copy(job)
                for job in self._jobs.values()
                if listed(job)
                and (status is None or job.status is status)
                and (backend is None or job.backend == backend)
                and (after is None or _order(job) < (float(after.submitted_at), after.job_id))
            ]
        return sorted(jobs, key=_order, reverse=True)


def _page(
    jobs: list[JobRecord], page_size: int, token_after: Callable[[JobRecord], str]
) -> JobPage:
    """The first `page_size` of `jobs`; a token only when more follow (no empty last page)."""
    if len(jobs) <= page_size:
        return JobPage(jobs, "")
    return JobPage(jobs[:page_size], token_after(jobs[page_size - 1]))


def _set(**changes: object) -> Callable[[JobRecord], JobRecord]:
    return lambda job: replace(job, **changes)  # type: ignore[arg-type]


def _in(*statuses: JobStatus) -> Guard:
    return lambda job: job.status in statuses


def _held_by(agent_id: str, credential: str) -> Guard:
    return lambda job: holds_lease(job, agent_id, credential)


def _running_attempt(attempt: int, *, expired_before: float | None = None) -> Guard:
    def applies(job: JobRecord) -> bool:
        if job.status is not JobStatus.RUNNING or job.attempt != attempt:
            return False
        return expired_before is None or job.lease_expires_at < expired_before

    return applies


def _logged(logged: str, **changes: object) -> Callable[[JobRecord], JobRecord]:
    """`changes`, and `logged` appended to the attempt log when given."""

    def change(job: JobRecord) -> JobRecord:
        log = [*job.attempt_log, logged] if logged else job.attempt_log
        return replace(job, attempt_log=log, **changes)  # type: ignore[arg-type]

    return change
