"""The job store contract.

DynamoDB is the source of truth for every job. Each state transition is a
conditional write on the expected current status (and, for running jobs, the
lease holder), so a duplicate report, a late agent or a second scheduler
replica can never move a job twice. Methods that transition return the record
as it is *after* the write, or None when the condition did not hold: the
caller then re-reads and decides, the store never guesses.

Every method is blocking (call it from a worker thread) and raises
`scheduler.domain.errors.Unavailable` when the backing service cannot be
reached or throttles, never a library-specific exception.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from scheduler.domain.jobs import Completion, JobRecord, JobStatus


@dataclass(frozen=True)
class JobPage:
    jobs: list[JobRecord]
    next_page_token: str  # "" on the last page


class JobStore(Protocol):
    def create(self, job: JobRecord) -> bool:
        """Store a new QUEUED (or WAITING: see dependencies.py) job.

        MUST be conditional on no record with this job_id existing; returns
        False (and writes nothing) when one exists, True when written.
        """

    def create_many(self, jobs: Sequence[JobRecord]) -> set[str]:
        """Store new QUEUED (or WAITING) jobs whose ids were never used (random: uuid4), in bulk.

        Unlike `create` the writes MAY be unconditional, so a caller MUST NOT
        pass an id that may exist (an idempotency key's id goes to `create`).
        MUST accept any number of jobs. Returns the ids of the jobs it could
        NOT store (throttled); every other job is durable when it returns.
        """

    def get(self, job_id: str) -> JobRecord | None:
        """MUST be strongly consistent: a transition just made is visible."""

    def get_many(self, job_ids: Collection[str]) -> dict[str, JobRecord]:
        """The records of those `job_ids` that exist, by id; missing ids are left out.

        MUST be strongly consistent like `get` and MUST accept any number of
        ids (an implementation splits them into its service's batch size).
        """

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
        """QUEUED -> RUNNING held by `agent_id` under the executor token hashed `credential`.

        `known`: the job's record as the caller last saw it QUEUED, if it has
        one. The store may then skip reading the record back; a stale `known`
        MUST change nothing about the outcome (the claim and the returned
        record are as without it), except that the returned record's
        `inline_input` MAY be `known`'s (the caller holds the input).

        MUST only succeed while the job is QUEUED. Sets lease holder and
        expiry, dequeued_at = now, increments `attempt`, appends agent_id to
        `tried_agents`, and sets `result_attempt` to the new attempt (its uploads go
        to that attempt's objects). The claimed job has no cancel request (a QUEUED job
        never has one: see `requeue`).
        """

    def renew_lease(
        self, job_id: str, agent_id: str, lease_expires_at: float, *, credential: str = ""
    ) -> JobRecord | None:
        """Extend the lease. MUST only succeed while RUNNING and held by agent_id under
        `credential` (or a lease recorded without one: see JobRecord.lease_credential)."""

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
        """RUNNING -> completion.status, as reported by the lease holder.

        MUST only succeed while RUNNING and held by `agent_id` under `credential`,
        as for `renew_lease`, and, when `attempt` is given, at that attempt (the
        one whose result the caller checked). Clears the lease and keeps
        `result_attempt`: the finished job serves that attempt's objects.
        `known`: the job's record as the caller last saw it RUNNING, as for
        `claim` (a stale one MUST change nothing about the outcome).
        """

    def cancel_queued(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        """QUEUED, HELD or WAITING -> CANCELLED. MUST only succeed while in one of those."""

    def request_cancel(self, job_id: str) -> JobRecord | None:
        """Set cancel_requested. MUST only succeed while RUNNING."""

    def requeue(
        self, job_id: str, attempt: int, now: float, *, logged: str = ""
    ) -> JobRecord | None:
        """RUNNING -> QUEUED after a lost lease; queued_at is kept.

        `logged`, when given, is appended to `attempt_log` (see domain/attempts.py).

        MUST only succeed while RUNNING with this `attempt` and a lease that
        expired before `now` (a renewal by any replica wins). Clears the lease,
        `result_attempt` and any cancel request: the next claim runs the job anew.
        """

    def requeue_running(
        self, job_id: str, attempt: int, detail: str, *, logged: str = ""
    ) -> JobRecord | None:
        """RUNNING -> QUEUED on an operator's request, whatever the lease; queued_at is kept.

        `logged` as for `requeue`.

        MUST only succeed while RUNNING with this `attempt` and no cancel
        requested (the owner's cancel wins over a requeue). Clears the lease and
        `result_attempt`, sets `detail`; `attempt` and `tried_agents` stay, so the next claim
        counts as a new attempt.
        """

    def fail_queued(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        """QUEUED, HELD or WAITING -> FAILED on an operator's request.

        MUST only succeed while in one of those.
        """

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
        """RUNNING -> QUEUED when the lease holder reports a failure the job retries.

        MUST only succeed while RUNNING and held by `agent_id` under `credential`
        (at `attempt`, if given), as for `finish`. Clears the lease
        and any cancel request, sets `detail`, appends `logged` to `attempt_log`;
        queued_at is kept (the job waited already).
        """

    def hold_queued(self, job_id: str, detail: str) -> JobRecord | None:
        """QUEUED or WAITING -> HELD, with `detail` (who held it).

        MUST only succeed while QUEUED or WAITING.
        """

    def release_held(
        self, job_id: str, detail: str, now: float, *, waiting: bool = False
    ) -> JobRecord | None:
        """HELD -> QUEUED with queued_at = `now`: its queue age starts anew; HELD -> WAITING
        when `waiting` (a job with dependencies: they decide again when it queues).

        MUST only succeed while HELD. Sets `detail` (who released it).
        """

    def promote_waiting(self, job_id: str, now: float) -> JobRecord | None:
        """WAITING -> QUEUED with queued_at = `now` (its queue age starts when it may run)
        and no detail. MUST only succeed while WAITING."""

    def cancel_waiting(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        """WAITING -> CANCELLED: its dependencies can no longer allow it to run.

        MUST only succeed while WAITING (a job held or queued meanwhile stays).
        """

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
        """RUNNING -> FAILED or TIMEOUT, decided by the scheduler, not an agent.

        MUST only succeed while RUNNING with this `attempt` (and, when
        `require_expired_lease`, a lease that expired before `now`).
        """

    def iter_by_status(self, status: JobStatus) -> Iterator[JobRecord]:
        """All jobs in `status`, oldest queued_at first (the status index)."""

    def ids_by_status(self, status: JobStatus) -> Iterator[str]:
        """The ids of `iter_by_status`, in its order: for callers that read records
        only for the ids they do not know yet (the replica sync)."""

    def list_for_owner(
        self,
        owner: str,
        *,
        status: JobStatus | None,
        backend: str | None,
        page_size: int,
        page_token: str,
    ) -> JobPage:
        """The owner's jobs, newest submitted first (the owner index).

        Filters apply before paging: a page holds up to `page_size` matching
        jobs. MUST raise InvalidArgument for a page token it did not issue.
        """

    def list_all(
        self,
        *,
        status: JobStatus | None,
        backend: str | None,
        page_size: int,
        page_token: str,
    ) -> JobPage:
        """Every owner's jobs, newest submitted first (for admins)."""

    def pages_submitted_since(
        self, since: float, *, owner: str | None
    ) -> Iterator[list[JobRecord]]:
        """Every job submitted at or after `since`: the owner's, or everyone's when None.

        One list per storage read, in no promised order (a usage report folds
        them): the number of lists is the report's cost. MUST NOT read jobs
        submitted before `since`; a list MAY be empty.
        """
