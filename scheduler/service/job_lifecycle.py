"""Every change of a job's state, each made whole in one call.

A transition is a conditional write to the job table (the truth), then every
consequence in this replica's memory, which is a cache of that table: the
queues and their byte budget, per-owner usage, the running jobs whose leases
this replica watches, the jobs waiting on dependencies (and their resolver),
deferrals of requeued jobs, watchers' events, metrics and the finished-job
cache. This object is the only writer of those; others read them through
`jobs` (replica_jobs.py). `invariants.py` says what must hold between two
transitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence

from scheduler.blob_store.blob_store import BlobStore
from scheduler.config import SchedulerConfig
from scheduler.domain.attempts import FAILED_RETRIED, LOST_AGENT, REQUEUED, log_entry
from scheduler.domain.dependencies import Outcome, Verdict
from scheduler.domain.errors import NotFound, ResourceExhausted, Unavailable
from scheduler.domain.jobs import Completion, JobRecord, JobStatus, Role
from scheduler.job_store.job_store import JobStore
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.queue.job_queue import QueueEntry
from scheduler.queue.queue_set import QueueSet
from scheduler.service.array_throttle import ArrayThrottle
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.dependency_resolver import DependencyResolver
from scheduler.service.job_creates import MAX_BATCH, JobCreates
from scheduler.service.job_events import JobEvents, QueueSignals
from scheduler.service.job_reads import FinishedJobs
from scheduler.service.record_lru import RecordLru, without_input
from scheduler.service.replica_jobs import ReplicaJobs
from scheduler.service.token_usage import TokenUsage
from scheduler.service.tracked_jobs import (
    PENDING_SUBMISSION_S,
    QUEUED_RECORDS,
    Claimed,
    Deferral,
    LifecyclePorts,
    RunningJob,
    SyncCounts,
    queue_entry,
)
from scheduler.service.waiting_jobs import WaitingJobs

log = logging.getLogger(__name__)

# How long a change that needs the whole queue (a submission, a cancel, an operator's
# action) waits for the start-up restore before it is answered UNAVAILABLE.
RESTORE_WAIT_S = 30.0


class JobLifecycle:
    def __init__(
        self,
        config: SchedulerConfig,
        store: JobStore,
        blobs: BlobStore,
        queues: QueueSet,
        io: LifecyclePorts,
        *,
        events: JobEvents,
        signals: QueueSignals,
        finished: FinishedJobs,
        metrics: SchedulerMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._blobs = blobs
        self._queues = queues
        self._io = io
        self._events = events
        self._signals = signals
        self._finished = finished
        self._metrics = metrics
        self._clock = clock
        self._usage = TokenUsage()
        self._running: dict[str, RunningJob] = {}
        self._deferrals: dict[str, Deferral] = {}
        self._throttle = ArrayThrottle()
        self._waiting = WaitingJobs()
        self._resolver = DependencyResolver(self._waiting, self._read_many, self._decide)
        # Each owner's name as its latest queued job carried it: the queue listing shows
        # names without reading a record per row (one entry per token, not per job).
        self._owner_names: dict[str, str] = {}
        self.jobs = ReplicaJobs(
            queues,
            self._running,
            self._deferrals,
            self._usage,
            finished,
            clock,
            self._throttle,
            owner_names=self._owner_names,
            waiting=self._waiting,
        )
        self._creates = JobCreates(store, io.submission)
        # The record of each job as it was queued here, for a claim that need not read
        # it back (see JobStore.claim): true when queued; the store checks it is still.
        self._queued_records = RecordLru(QUEUED_RECORDS)
        # Set once the table's QUEUED jobs are all here (see recovery.py): until then
        # counts and queue order are incomplete, so what depends on them waits.
        self._restored = asyncio.Event()

    def job_expiry(self, now: float) -> int:
        return int(now + self._config.job_retention_days * 86400)

    # --- a client's transitions -------------------------------------------------

    async def create(
        self,
        owner: str,
        role: Role,
        job_id: str,
        size_bytes: int,
        prepare: Callable[[], Awaitable[tuple[JobRecord, bytes]]],
        *,
        waiting_on: Collection[str] | None = None,
    ) -> bool:
        """Admit a new QUEUED job: count it, reserve its bytes, write it, queue it.

        `prepare` builds the record (and stores its input) once both are
        granted; False when a concurrent retry with the same key created it.
        `waiting_on`: the record is WAITING for these of its dependencies; it
        counts, but takes no queue bytes until it queues.
        """
        await self._until_restored()
        size_bytes = 0 if waiting_on is not None else size_bytes
        self._admit(owner, role, job_id, size_bytes)
        try:
            job, payload = await prepare()
            if job.idempotency_key:
                created = await self._io.submission.run(self._store.create, job)
            else:
                await self._creates.create(job)
                created = True
        except BaseException:
            self._queues.release(size_bytes)
            self._usage.release(owner, job_id)
            raise
        if not created:
            self._queues.release(size_bytes)  # its job stays counted: it exists
            return False
        if waiting_on is not None:
            self._wait(job, waiting_on)
        else:
            await self._queue(job, payload)
        return True

    async def create_array(
        self,
        owner: str,
        role: Role,
        members: Sequence[tuple[str, int]],
        prepare: Callable[[], Awaitable[tuple[list[JobRecord], bytes | None]]],
        *,
        keyed: bool,
        waiting_on: Collection[str] | None = None,
    ) -> bool:
        """Admit an array's QUEUED jobs (job id, bytes) whole, or none of them.

        All are counted and their bytes reserved before `prepare` builds the
        records (and stores the shared input, None when it is inline). The first
        record is written first, conditionally when `keyed`: False when a retry
        with the same key created the array. The rest share a few batch writes.
        `waiting_on`: as for `create`, for every member.
        """
        await self._until_restored()
        limit = self._config.max_concurrent_jobs[role]
        now = self._clock()
        acquired: list[str] = []
        for job_id, _ in members:
            if not self._usage.try_acquire(owner, job_id, limit, now):
                for counted in acquired:
                    self._usage.release(owner, counted)
                raise ResourceExhausted(
                    f"the array has {len(members)} jobs and this token has "
                    f"{self._usage.active(owner)} queued, waiting or running; the limit for role "
                    f"{role.value} is {limit} (SCHEDULER_MAX_CONCURRENT_JOBS_"
                    f"{role.value.upper()}); submit a smaller array or wait for jobs to finish"
                )
            acquired.append(job_id)
        total = 0 if waiting_on is not None else sum(size for _, size in members)
        if total and not self._queues.try_reserve(total):  # waiting jobs take none
            for job_id in acquired:
                self._usage.release(owner, job_id)
            raise ResourceExhausted(
                f"the array's {total} bytes do not fit the queue ({self._queues.used_bytes} of "
                f"{self._queues.max_bytes} bytes used, SCHEDULER_MAX_QUEUE_BYTES); "
                "retry later or submit a smaller array"
            )
        try:
            jobs, payload = await prepare()
            first, rest = jobs[0], jobs[1:]
            if keyed:
                created = await self._io.submission.run(self._store.create, first)
            else:
                rest = jobs
                created = True
            if created:
                # Batches of the store's size, all out at once (their order does not matter).
                chunks = [rest[i : i + MAX_BATCH] for i in range(0, len(rest), MAX_BATCH)]
                writes = [self._io.submission.run(self._store.create_many, c) for c in chunks]
                left: set[str] = set().union(*await asyncio.gather(*writes))
                if left:
                    await self._fail_partial_array(jobs, left)
        except BaseException:
            self._queues.release(total)
            for job_id in acquired:
                self._usage.release(owner, job_id)
            raise
        if not created:
            self._queues.release(total)  # its jobs stay counted: they exist
            return False
        for job in jobs:
            if waiting_on is not None:
                self._wait(job, waiting_on)
            else:
                await self._queue(job, payload)
        return True

    async def _fail_partial_array(self, jobs: list[JobRecord], left: set[str]) -> None:
        """Some records were not stored: fail those that were, so none of them runs."""
        detail = "its array could not be stored whole; submit the array again"
        now = self._clock()
        for job in jobs:
            if job.job_id not in left:
                await self._io.submission.run(
                    self._store.fail_queued, job.job_id, detail, now, self.job_expiry(now)
                )
        raise Unavailable(
            f"DynamoDB stored only {len(jobs) - len(left)} of the array's {len(jobs)} jobs "
            "(throttled); those were failed. Retry in a few seconds with a new idempotency key"
        )

    async def cancel_queued(self, job_id: str, detail: str) -> JobRecord | None:
        """QUEUED, HELD or WAITING -> CANCELLED; None when the job was none of them any more."""
        await self._until_restored()
        now = self._clock()
        cancelled = await self._io.submission.run(
            self._store.cancel_queued, job_id, detail, now, self.job_expiry(now)
        )
        if cancelled is not None:
            self._ended(cancelled)
        return cancelled

    async def request_cancel(self, job_id: str) -> JobRecord | None:
        """Ask the RUNNING job's agent to stop; None when the job was not RUNNING."""
        requested = await self._io.submission.run(self._store.request_cancel, job_id)
        if requested is not None:
            tracked = self._running.get(job_id)
            if tracked is not None and tracked.attempt == requested.attempt:
                tracked.record = without_input(requested)  # for the finish to come
            self._events.notify(requested)
        return requested

    async def hold(self, job_id: str, detail: str) -> JobRecord | None:
        """QUEUED or WAITING -> HELD; None when the job was neither any more.

        A held job leaves the queue, its bytes and its owner's usage: it takes
        no place in line and no share of a limit until it is released.
        """
        await self._until_restored()
        held = await self._io.submission.run(self._store.hold_queued, job_id, detail)
        if held is not None:
            self._set_aside(held)
            self._metrics.job_reached(held)
        return held

    async def release(self, job: JobRecord, detail: str, *, forced: bool) -> JobRecord | None:
        """HELD -> QUEUED, admitted again like a submission; None when it was not HELD.

        `forced` (an operator's word) passes the owner's limit and the queue
        budget, as a requeue does; otherwise either refuses with RESOURCE_EXHAUSTED.
        A job with dependencies goes back to WAITING and is judged at once: it
        may queue or end straight away (the record returned is its latest).
        """
        await self._until_restored()
        waits = bool(job.depends_on)
        size = 0 if waits else job.size_bytes
        # Counted already: this replica missed the hold (made elsewhere) or the job is
        # not HELD at all; the store's condition decides, the count stays as it was.
        admit = not forced and not self._usage.counts(job.owner, job.job_id)
        if admit:
            self._admit(job.owner, job.role, job.job_id, size)
        release = self._store.release_held
        try:
            released = await self._io.submission.run(
                lambda: release(job.job_id, detail, self._clock(), waiting=waits)
            )
        finally:
            if admit:  # counted again below if it was released
                self._queues.release(size)
                self._usage.release(job.owner, job.job_id)
        if released is None:
            return None
        if released.status is not JobStatus.WAITING:
            await self._requeue(released)
            self._metrics.job_reached(released)
            return released
        self._wait(released, released.depends_on, judge=False)  # judged right here
        try:
            decided = await self._resolver.resolve([released.job_id])
        except Unavailable as error:  # it stays WAITING; the replica sync judges it
            log.warning("job %s released to WAITING, judged later: %s", job.job_id, error)
            return released
        return decided.get(released.job_id, released)

    def _admit(self, owner: str, role: Role, job_id: str, size_bytes: int) -> None:
        """Count a job toward its owner's limit and reserve its bytes, or refuse."""
        limit = self._config.max_concurrent_jobs[role]
        if not self._usage.try_acquire(owner, job_id, limit, self._clock()):
            raise ResourceExhausted(
                f"this token has {self._usage.active(owner)} jobs queued, waiting or running; the "
                f"limit for role {role.value} is {limit} "
                f"(SCHEDULER_MAX_CONCURRENT_JOBS_{role.value.upper()}); "
                "wait for one to finish or cancel one (waiting jobs count too)"
            )
        if size_bytes and not self._queues.try_reserve(size_bytes):  # a waiting job takes none
            self._usage.release(owner, job_id)
            raise ResourceExhausted(
                f"the queue is full ({self._queues.used_bytes} of {self._queues.max_bytes} bytes, "
                "SCHEDULER_MAX_QUEUE_BYTES); retry in a minute"
            )

    # --- an agent's transitions -------------------------------------------------

    def next_queued(self, backend: str, agent_id: str) -> QueueEntry | None:
        """Take the best job `agent_id` may run off its queue; `claim` must follow."""
        now = self._clock()
        deferrals = self._deferrals

        def deferred(entry: QueueEntry) -> bool:
            deferral = deferrals.get(entry.job_id)
            return (
                deferral is not None and now < deferral.until and agent_id in deferral.tried_agents
            )

        throttle = self._throttle

        def held(entry: QueueEntry) -> bool:
            return deferred(entry) or throttle.held(entry.job_id)

        exclude = held if throttle else deferred if deferrals else None
        entry = self._queues.pop(backend, now, exclude=exclude)
        if entry is not None:
            throttle.claiming(entry.job_id)  # counts while its claim is out
        return entry

    async def claim(
        self, entry: QueueEntry, agent_id: str, *, credential: str = ""
    ) -> Claimed | None:
        """QUEUED -> RUNNING for `entry` (from `next_queued`); None if it moved meanwhile.

        The lease is `agent_id`'s under the executor token hashed `credential`.

        The input is read first: a claim whose input cannot be read would hold
        the job RUNNING with no agent until its lease lapsed.
        """
        try:
            return await self._claim(entry, agent_id, credential)
        finally:
            self._throttle.claimed(entry.job_id)  # counted as running now, if it runs

    async def _claim(self, entry: QueueEntry, agent_id: str, credential: str) -> Claimed | None:
        try:
            payload = entry.payload
            if payload is None:
                payload = await self._io.execution.run(self._blobs.get_input, entry.job_id)
            now = self._clock()
            lease_expires_at = now + self._config.lease_seconds
            known = self._queued_records.pop(entry.job_id)
            job = await self._io.execution.run(
                lambda: self._store.claim(
                    entry.job_id,
                    agent_id,
                    lease_expires_at,
                    now,
                    known=known,
                    credential=credential,
                )
            )
        except Unavailable:
            self._queues.force_reserve(entry.size_bytes)  # it held these bytes a moment ago
            self._queues.push(entry)
            await self._signals.notify(self._queues.key_for(entry.backend))
            raise
        except NotFound:
            await self._fail_without_input(entry)
            return None
        if job is None:  # cancelled meanwhile, or claimed through another replica
            return None
        self._deferrals.pop(job.job_id, None)
        self._track(job)
        self._events.notify(job)
        self._metrics.job_assigned(job, now - job.queued_at)
        return Claimed(job, payload, lease_expires_at, now - job.queued_at)

    async def _fail_without_input(self, entry: QueueEntry) -> None:
        """A queued job whose input is gone (deleted by hand or a bucket rule) can never run."""
        now = self._clock()
        failed = await self._io.execution.run(
            self._store.fail_queued,
            entry.job_id,
            "its input is missing from the job bucket; submit the job again",
            now,
            self.job_expiry(now),
        )
        if failed is not None:
            self._ended(failed)
            log.error("job %s FAILED: its input is missing from the bucket", entry.job_id)

    async def renew(
        self, job_id: str, agent_id: str, *, credential: str = ""
    ) -> tuple[JobRecord, float] | None:
        """Extend the lease of the agent's RUNNING job: (its record, the new expiry).

        None if the agent does not hold the lease under `credential`.
        """
        lease_expires_at = self._clock() + self._config.lease_seconds
        job = await self._io.execution.run(
            lambda: self._store.renew_lease(
                job_id, agent_id, lease_expires_at, credential=credential
            )
        )
        if job is None:
            return None
        tracked = self._running.get(job_id)
        if tracked is not None and tracked.attempt == job.attempt:
            tracked.lease_expires_at = lease_expires_at
            tracked.record = without_input(job)
        else:
            self._track(job)
        return job, lease_expires_at

    async def finish(
        self,
        job_id: str,
        agent_id: str,
        completion: Completion,
        *,
        credential: str = "",
        attempt: int | None = None,
    ) -> JobRecord | None:
        """RUNNING -> the reported end; None unless `agent_id` holds the lease under
        `credential` (at `attempt`, if given).

        A FAILED report of a job that retries failures, with attempts left,
        queues it again instead (RUNNING -> QUEUED).
        """
        tracked = self._running.get(job_id)
        known = tracked.record if tracked is not None else None
        if completion.status is JobStatus.FAILED:
            record = known or await self._io.execution.run(self._store.get, job_id)
            if self._retries(record):
                assert record is not None
                return await self._retry_failed(
                    record, agent_id, completion, credential=credential, attempt=attempt
                )
        expiry = self.job_expiry(completion.finished_at)
        job = await self._io.execution.run(
            lambda: self._store.finish(
                job_id,
                agent_id,
                completion,
                expiry,
                known=known,
                credential=credential,
                attempt=attempt,
            )
        )
        if job is not None:
            self._ended(job)
            if job.array_max_running:  # a slot of its array is free
                await self._signals.notify(self._queues.key_for(job.backend))
        return job

    def expected_attempt(self, job_id: str) -> int | None:
        """The attempt a claim of this queued job would start, if its record is kept here."""
        known = self._queued_records.get(job_id)
        return known.attempt + 1 if known is not None else None

    def running_record(self, job_id: str) -> JobRecord | None:
        """The record of a job RUNNING here as last seen (without its input), if tracked."""
        tracked = self._running.get(job_id)
        return tracked.record if tracked is not None else None

    def _retries(self, record: JobRecord | None) -> bool:
        """A failed run of this job is retried: asked for, attempts left, no cancel asked."""
        return (
            record is not None
            and record.retry_on_failure
            and not record.cancel_requested
            and record.attempt < self.attempts_allowed(record.max_attempts)
        )

    def attempts_allowed(self, max_attempts: int) -> int:
        """A job's limit on attempts: its own, else SCHEDULER_MAX_ATTEMPTS."""
        return max_attempts or self._config.max_attempts

    async def _retry_failed(
        self,
        record: JobRecord,
        agent_id: str,
        completion: Completion,
        *,
        credential: str,
        attempt: int | None,
    ) -> JobRecord | None:
        allowed = self.attempts_allowed(record.max_attempts)
        detail = f"attempt {record.attempt} of {allowed} failed, retrying: {completion.detail}"
        logged = log_entry(record, completion.finished_at, FAILED_RETRIED)
        retry = self._store.retry_failed
        job = await self._io.execution.run(
            lambda: retry(
                record.job_id,
                agent_id,
                detail[:4096],
                logged,
                credential=credential,
                attempt=attempt,
            )
        )
        if job is not None:
            await self._requeue_after_attempt(self._io.execution, job, record.attempt)
            log.info("job %s requeued: %s", job.job_id, detail[:200])
        return job

    # --- the scheduler's and operators' transitions -------------------------------

    async def requeue(self, job: JobRecord, detail: str) -> JobRecord | None:
        """RUNNING -> QUEUED on an operator's word, whatever the lease."""
        await self._until_restored()
        requeue, logged = self._store.requeue_running, log_entry(job, self._clock(), REQUEUED)
        requeued = await self._io.submission.run(
            lambda: requeue(job.job_id, job.attempt, detail, logged=logged)
        )
        if requeued is not None:
            await self._requeue_after_attempt(self._io.submission, requeued, job.attempt)
        return requeued

    async def fail(self, job: JobRecord, detail: str) -> JobRecord | None:
        """QUEUED, HELD, WAITING or RUNNING (as `job` was read) -> FAILED on an operator's word."""
        await self._until_restored()
        now = self._clock()
        if job.status in (JobStatus.QUEUED, JobStatus.HELD, JobStatus.WAITING):
            failed = await self._io.submission.run(
                self._store.fail_queued, job.job_id, detail, now, self.job_expiry(now)
            )
        else:
            failed = await self._end_running(
                self._io.submission, job, JobStatus.FAILED, detail, now, expired_lease=False
            )
        if failed is not None:
            self._ended(failed)
        return failed

    async def time_out(self, running: RunningJob, now: float) -> None:
        """End a job running past its timeout (plus one lease)."""
        job = await self._io.execution.run(self._store.get, running.job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.attempt != running.attempt:
            await self._resync(running)
            return
        detail = f"exceeded its timeout of {job.timeout_s:g} s; ended by the scheduler"
        ended = await self._end_running(
            self._io.execution, job, JobStatus.TIMEOUT, detail, now, expired_lease=False
        )
        if ended is None:
            await self._resync(running)
            return
        self._ended(ended)
        log.info("job %s TIMEOUT: enforced by the scheduler", running.job_id)

    async def expire(self, running: RunningJob, now: float) -> None:
        """A lease lapsed: requeue the job, or fail it after its last attempt."""
        attempts = self.attempts_allowed(running.max_attempts)
        if running.attempt < attempts:
            requeue, record = self._store.requeue, running.record
            logged = log_entry(record, now, LOST_AGENT) if record is not None else ""
            job = await self._io.execution.run(
                lambda: requeue(running.job_id, running.attempt, now, logged=logged)
            )
            if job is not None:
                if await self._requeue_after_attempt(self._io.execution, job, running.attempt):
                    log.warning("job %s requeued beyond SCHEDULER_MAX_QUEUE_BYTES", job.job_id)
                self._metrics.lease_expired(job.backend, "requeued")
                log.info(
                    "job %s requeued: lease lost by %s (attempt %d of %d)",
                    job.job_id,
                    job.tried_agents[-1:] or "?",
                    running.attempt,
                    attempts,
                )
                return
        else:
            detail = (
                f"lost its agent {running.attempt} times (no heartbeat within the lease); "
                "giving up after its maximum number of attempts"
            )
            ended = await self._end_running(
                self._io.execution, running, JobStatus.FAILED, detail, now, expired_lease=True
            )
            if ended is not None:
                self._ended(ended)
                self._metrics.lease_expired(ended.backend, "failed")
                log.info("job %s FAILED: lease lost on its last attempt", running.job_id)
                return
        await self._resync(running)

    async def _end_running(
        self,
        io: BlockingIo,
        job: RunningJob | JobRecord,
        status: JobStatus,
        detail: str,
        now: float,
        *,
        expired_lease: bool,
    ) -> JobRecord | None:
        end = self._store.end_running
        expiry = self.job_expiry(now)
        args = (job.job_id, job.attempt, status, detail, now, expiry)
        return await io.run(lambda: end(*args, require_expired_lease=expired_lease))

    async def _requeue_after_attempt(self, io: BlockingIo, job: JobRecord, attempt: int) -> bool:
        """Queue a job requeued from RUNNING, then delete what its `attempt` uploaded.

        In that order: a status read while the objects are deleted (an S3 round trip)
        sees the job's place in the queue, not QUEUED with none. True when it went past
        the byte budget (see `_requeue`).
        """
        over = await self._requeue(job)
        await self._discard_attempt(io, job.job_id, attempt)
        return over

    async def _discard_attempt(self, io: BlockingIo, job_id: str, attempt: int) -> None:
        """Delete what a requeued attempt uploaded: it can never be served now. What its
        agent uploads later is left to the orphan sweep, as is this delete if S3 fails."""
        try:
            await io.run(self._blobs.delete_attempt, job_id, attempt)
        except Unavailable as error:
            log.warning("job %s: the objects of lost attempt %d stay: %s", job_id, attempt, error)

    async def _resync(self, running: RunningJob) -> None:
        """A condition failed: someone else moved the job. Follow the record."""
        job = await self._io.execution.run(self._store.get, running.job_id)
        if job is None:
            self._running.pop(running.job_id, None)
            self._throttle.forget(running.job_id)
        elif job.status is JobStatus.RUNNING:
            self._track(job)
        elif job.status.terminal:
            self._ended(job, here=False)  # counted where it ended
        else:  # requeued by another replica: it will be picked up from there
            self._running.pop(running.job_id, None)
            self._throttle.stop(running.job_id)

    # --- dependencies: a WAITING job queues or ends as they decide ------------------

    # Judging runs on the submission port's threads: the execution port's few serve agents.
    async def _read_many(self, job_ids: Collection[str]) -> dict[str, JobRecord]:
        return await self._io.submission.run(self._store.get_many, job_ids)

    async def _decide(self, job_id: str, verdict: Verdict) -> JobRecord | None:
        """WAITING -> QUEUED (eligible) or CANCELLED (impossible); None if it moved meanwhile."""
        now = self._clock()
        if verdict.outcome is Outcome.ELIGIBLE:
            promoted = await self._io.submission.run(self._store.promote_waiting, job_id, now)
            if promoted is not None:
                if await self._requeue(promoted):
                    log.warning("job %s queued beyond SCHEDULER_MAX_QUEUE_BYTES", job_id)
                log.info("job %s queued: its dependencies allow it", job_id)
                return promoted
        else:
            detail = f"dependency {verdict.reason}"
            cancel, expiry = self._store.cancel_waiting, self.job_expiry(now)
            ended = await self._io.submission.run(lambda: cancel(job_id, detail, now, expiry))
            if ended is not None:
                self._ended(ended)
                log.info("job %s CANCELLED: %s", job_id, detail)
                return ended
        # Held, cancelled or decided through another replica: follow the record.
        job = await self._io.submission.run(self._store.get, job_id)
        await self.adopt(job_id, job, {}, now, SyncCounts())
        return None

    def _wait(self, job: JobRecord, pending: Collection[str], *, judge: bool = True) -> None:
        """A job became WAITING through this replica: known and counted here, in no queue.

        `judge`: unless each pending dependency is known here (its end will be seen
        here), judge it soon: one may have ended since they were read.
        """
        self._queues.remove(job.job_id)  # a stale entry, from before it was held elsewhere
        self._waiting.add(job, frozenset(pending))
        self._usage.force_acquire(job.owner, job.job_id, self._clock())  # if not counted yet
        self._events.notify(job)
        self._metrics.job_reached(job)
        if judge and not self._known_active(pending):
            self._resolver.request([job.job_id])

    def _known_active(self, job_ids: Iterable[str]) -> bool:
        """Each job is queued, running or waiting here: its end will be seen here."""
        return all(j in self._queues or j in self._running or j in self._waiting for j in job_ids)

    async def judge_waiting(self) -> None:
        """Judge each waiting job a pending dependency of which this replica does not know
        as queued, running or waiting: it may have ended elsewhere, or while this one was down."""
        self._resolver.request(
            job.job_id for job in self._waiting if not self._known_active(job.pending)
        )
        await self._resolver.settled()

    async def dependencies_settled(self) -> None:
        """Until the waiting jobs whose dependencies ended so far are judged."""
        await self._resolver.settled()

    async def stop(self) -> None:
        await self._resolver.stop()

    # --- start-up: the table's jobs come back while the ports already serve ----------

    def restore_running(self, jobs: Iterable[JobRecord], started: float) -> int:
        """Watch the RUNNING jobs found at start; how many were new here.

        Each lease runs at least one lease from `started`: its agent could not
        heartbeat while this replica was down, and must not lose its job for it.
        """
        added = 0
        floor = started + self._config.lease_seconds
        for job in jobs:
            if self.adopt_running(job, started):
                added += 1
            tracked = self._running.get(job.job_id)
            if tracked is not None and tracked.attempt == job.attempt:
                tracked.lease_expires_at = max(tracked.lease_expires_at, floor)
        return added

    async def restore_queued(self, jobs: Iterable[JobRecord], started: float) -> SyncCounts:
        """Queue one page of the QUEUED jobs found at start, in bulk.

        A job this replica already tracks (a heartbeat or report came first)
        or saw end is newer than the page and stays as it is; the replica
        sync corrects any other record that moved since it was listed.
        """
        counts = SyncCounts()
        keys: set[str] = set()
        for job in jobs:
            job_id = job.job_id
            if job_id in self._queues or job_id in self._running or job_id in self._finished:
                continue
            self._usage.force_acquire(job.owner, job_id, started)
            if not self._queues.try_reserve(job.size_bytes):
                self._queues.force_reserve(job.size_bytes)
                counts.over_budget += 1
            self._queues.push(queue_entry(job, None))
            self._throttle.know(job)
            self._owner_names[job.owner] = job.owner_name
            if job.tried_agents:
                self._deferrals[job_id] = Deferral(
                    frozenset(job.tried_agents), started + self._config.lease_seconds
                )
            self._queued_records.put(without_input(job))
            keys.add(self._queues.key_for(job.backend))
            counts.queued_added += 1
        for key in keys:
            await self._signals.notify(key)
        return counts

    def restore_waiting(self, jobs: Iterable[JobRecord], started: float) -> int:
        """Know the WAITING jobs found at start (judged once restored); how many were new."""
        added = 0
        for job in jobs:
            job_id = job.job_id
            if job_id in self._queues or job_id in self._running or job_id in self._finished:
                continue
            self._usage.force_acquire(job.owner, job_id, started)
            added += self._waiting.add(job, frozenset(job.depends_on))
        return added

    def mark_restored(self) -> None:
        self._restored.set()

    @property
    def restored(self) -> bool:
        return self._restored.is_set()

    async def until_restored(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the start-up restore; True once it is complete."""
        if not self._restored.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._restored.wait(), max(timeout_s, 0.0))
        return self._restored.is_set()

    async def _until_restored(self) -> None:
        if not await self.until_restored(RESTORE_WAIT_S):
            raise Unavailable(
                "the scheduler is still restoring its queue after a start; retry in a few seconds"
            )

    # --- what other replicas did (replica sync; at start, recovery) ------------------

    def adopt_running(self, job: JobRecord, now: float) -> bool:
        """Watch a RUNNING job claimed elsewhere; True if it is new here."""
        tracked = self._running.get(job.job_id)
        if tracked is None or job.attempt > tracked.attempt:
            self._usage.force_acquire(job.owner, job.job_id, now)
            self._track(job)
            return True
        if job.attempt == tracked.attempt:  # renewed by a heartbeat through another replica
            tracked.lease_expires_at = max(tracked.lease_expires_at, job.lease_expires_at)
        return False

    async def adopt(
        self,
        job_id: str,
        job: JobRecord | None,
        counted: dict[str, tuple[str, float]],
        started: float,
        counts: SyncCounts,
    ) -> None:
        """Make this replica agree with a job's record, consistently read at `started`."""
        if job is None:
            self._forget_missing(job_id, counted, started)
        elif job.status is JobStatus.QUEUED:
            tracked = self._running.get(job_id)
            if tracked is not None:
                if tracked.attempt > job.attempt:
                    return  # claimed here after the read
                self._running.pop(job_id)
                self._throttle.stop(job_id)
                counts.moved += 1
            if job_id not in self._queues:
                self._usage.force_acquire(job.owner, job.job_id, started)
                counts.over_budget += await self._requeue(job, restored=True)
                counts.queued_added += 1
        elif job.status is JobStatus.RUNNING:
            if self._queues.remove(job_id) is not None:
                counts.moved += 1
            self.adopt_running(job, started)
        elif job.status is JobStatus.HELD:
            if job_id in self._queues or job_id in self._running or job_id in self._waiting:
                counts.moved += 1
            self._set_aside(job)
        elif job.status is JobStatus.WAITING:
            if job_id in self._queues:  # held and released elsewhere
                counts.moved += 1
            if job_id not in self._waiting:
                self._queues.remove(job_id)
                self._usage.force_acquire(job.owner, job_id, started)
                self._waiting.add(job, frozenset(job.depends_on))
                counts.waiting_added += 1
        else:
            self._ended(job, here=False)
            counts.moved += 1

    def _forget_missing(
        self, job_id: str, counted: dict[str, tuple[str, float]], started: float
    ) -> None:
        """No record: expired by TTL or deleted by hand; or a submission still writing it."""
        entry = self._queues.remove(job_id)
        tracked = self._running.pop(job_id, None)
        waiting = self._waiting.remove(job_id)
        self._deferrals.pop(job_id, None)
        self._throttle.forget(job_id)
        owner, since = counted.get(job_id, ("", started))
        known = entry or tracked or waiting
        if known is None and since > started - PENDING_SUBMISSION_S:
            return
        for known_owner in {owner, known.owner if known else ""}:
            self._usage.release(known_owner, job_id)
        if waiting is not None:
            self._resolver.request(self._waiting.dependents_of(job_id))

    # --- the in-memory consequences, each written once -------------------------------

    async def _requeue(self, job: JobRecord, *, restored: bool = False) -> bool:
        """Queue an existing QUEUED job, past the byte budget if need be (it is never dropped).

        True when it went past the budget.
        """
        self._queues.remove(job.job_id)  # a stale entry, from before it was claimed elsewhere
        self._running.pop(job.job_id, None)  # claimed here, then requeued and held elsewhere
        self._usage.force_acquire(job.owner, job.job_id, self._clock())  # if not counted yet
        over = not self._queues.try_reserve(job.size_bytes)
        if over:
            self._queues.force_reserve(job.size_bytes)
        await self._queue(job, None, restored=restored)  # the payload is read at claim time
        return over

    async def _queue(
        self, job: JobRecord, payload: bytes | None, *, restored: bool = False
    ) -> None:
        """Make a stored QUEUED job assignable; its bytes are reserved.

        `restored`: it became QUEUED through another replica or before this one
        started, so it is no transition to count here.
        """
        self._waiting.remove(job.job_id)  # promoted (here or elsewhere)
        self._queues.push(queue_entry(job, payload))
        self._throttle.know(job)
        self._throttle.stop(job.job_id)  # requeued: it runs no more
        self._owner_names[job.owner] = job.owner_name
        if job.tried_agents:
            self._deferrals[job.job_id] = Deferral(
                frozenset(job.tried_agents), self._clock() + self._config.lease_seconds
            )
        # Without the input: the queue entry holds it while queued, and a record left
        # here after its job was claimed elsewhere must not keep an input alive.
        self._queued_records.put(without_input(job))
        await self._signals.notify(self._queues.key_for(job.backend))
        self._events.notify(job)
        if not restored:
            self._metrics.job_reached(job)

    def _track(self, job: JobRecord) -> None:
        # It may be new here (a heartbeat through this replica), or queued here when claimed
        # elsewhere: count it, and drop the stale entry.
        self._queues.remove(job.job_id)
        self._waiting.remove(job.job_id)  # promoted and claimed elsewhere
        self._usage.force_acquire(job.owner, job.job_id, self._clock())
        self._throttle.know(job)
        self._throttle.start(job.job_id)
        self._running[job.job_id] = RunningJob(
            job_id=job.job_id,
            owner=job.owner,
            backend=job.backend,
            attempt=job.attempt,
            lease_expires_at=job.lease_expires_at,
            deadline=job.dequeued_at + job.timeout_s + self._config.lease_seconds,
            record=without_input(job),
            max_attempts=job.max_attempts,
        )

    def _set_aside(self, job: JobRecord) -> None:
        """A job became HELD (here or elsewhere): nothing of it stays queued or counted."""
        self._queues.remove(job.job_id)
        self._waiting.remove(job.job_id)
        self._running.pop(job.job_id, None)
        self._throttle.forget(job.job_id)  # it counted as running here when held elsewhere
        self._deferrals.pop(job.job_id, None)
        self._queued_records.pop(job.job_id)
        self._usage.release(job.owner, job.job_id)
        self._events.notify(job)

    def _ended(self, job: JobRecord, *, here: bool = True) -> None:
        """A job reached a terminal status (`here`: through this replica, so it counts)."""
        if here:
            self._metrics.job_reached(job)
        self._queues.remove(job.job_id)  # None unless it ended while queued (or elsewhere)
        self._running.pop(job.job_id, None)
        self._waiting.remove(job.job_id)
        self._deferrals.pop(job.job_id, None)
        self._throttle.forget(job.job_id)
        self._usage.release(job.owner, job.job_id)
        self._finished.remember(job)
        self._events.notify(job)
        dependents = self._waiting.dependents_of(job.job_id)
        if dependents:  # jobs waiting here on this one: judged soon, off this call
            self._resolver.request(dependents)
