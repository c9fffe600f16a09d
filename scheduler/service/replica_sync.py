"""Keeps one replica's picture of the job table current while other replicas change it.

Each replica holds its own queue. Jobs accepted, claimed, requeued or ended
through another replica reach this one by re-reading the status index (the
QUEUED and RUNNING partitions) every `--replica-sync-seconds`, and sooner
when an agent finds its queue empty — at most once per `min_gap_s`, however
many agents ask, so a thousand idle agents cost one read a second.

The QUEUED partition is read as ids only (the queue may be long; a record is
read once per replica, when it first appears), the RUNNING one in full (one
job per busy agent). The index is eventually consistent and may be older
than what this replica did while it was being read, so every job this
replica does not know, or knows in another state, is read again with one
consistent batch read before the replica acts on it; only a RUNNING job it
has never heard of is taken from the listing directly (watching a lease
costs nothing if the job has moved on). Claims are conditional writes, so
no mistake here can run a job twice; a local change racing the read only
delays the job by one more sync.

With every QUEUED and RUNNING job known to every replica, per-token usage
(SCHEDULER_MAX_CONCURRENT_JOBS_*) and the queue byte budget hold across
replicas, up to one sync interval; and a survivor watches the leases of
jobs assigned through a replica that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from scheduler.domain.errors import Unavailable
from scheduler.domain.jobs import JobRecord, JobStatus
from scheduler.service.scheduler_state import SchedulerState

log = logging.getLogger(__name__)

# A counted job with no record may be a submission still writing it; one that
# has had no record for this long is not (its two bounded AWS calls are over).
PENDING_SUBMISSION_S = 120.0


@dataclass
class SyncCounts:
    queued_added: int = 0
    running_added: int = 0
    moved: int = 0  # claimed, requeued or ended through another replica
    over_budget: int = 0  # queued past SCHEDULER_MAX_QUEUE_BYTES (they exist: never dropped)


class ReplicaSync:
    def __init__(self, state: SchedulerState, interval_s: float, *, min_gap_s: float = 1.0) -> None:
        self._s = state
        self._interval_s = interval_s
        self._min_gap_s = min(min_gap_s, interval_s)
        self._wake = asyncio.Event()
        self._last_started = float("-inf")
        self._failing = False
        self.completed = 0  # syncs done since start: how often the table was read
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="replica-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def request(self) -> None:
        """Sync soon: an agent found its queue empty. Cheap; calls coalesce."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            gap = self._last_started + self._min_gap_s - time.monotonic()
            if gap > 0:
                await asyncio.sleep(gap)
            self._wake.clear()
            try:
                counts = await self.sync_once()
            except Unavailable as error:
                if not self._failing:
                    log.warning("replica sync: cannot read the job table, retrying: %s", error)
                self._failing = True
                continue
            except Exception:
                log.exception("replica sync: unexpected error")
                continue
            if self._failing:
                log.info("replica sync: job table readable again")
                self._failing = False
            if counts.queued_added or counts.running_added or counts.moved:
                log.info("replica sync: %s", counts)

    async def sync_once(self) -> SyncCounts:
        """One read of the table and the changes it implies. Raises Unavailable."""
        s = self._s
        self._last_started = time.monotonic()
        started = s.clock()
        queued_ids, running = await s.execution_io.run(self._read_active)
        counts = SyncCounts()
        running_ids = {job.job_id for job in running}
        # Unknown here, or known otherwise: read consistently, then follow the record.
        to_read = {
            job_id
            for job_id in queued_ids
            if job_id in running_ids or job_id in s.running or job_id not in s.queues
        }
        for job in running:
            tracked = s.running.get(job.job_id)
            if job.job_id in to_read or job.job_id in s.queues:
                to_read.add(job.job_id)
            elif tracked is None or job.attempt > tracked.attempt:
                self._add_running(job, started)
                counts.running_added += 1
            elif job.attempt == tracked.attempt:
                # Renewed by a heartbeat through another replica.
                tracked.lease_expires_at = max(tracked.lease_expires_at, job.lease_expires_at)
        listed = set(queued_ids) | running_ids
        to_read.update(job_id for job_id in s.queues.job_ids() if job_id not in listed)
        to_read.update(job_id for job_id in s.running if job_id not in listed)
        counted: dict[str, tuple[str, float]] = {}
        for owner, job_id, since in s.usage.counted():
            counted[job_id] = (owner, since)
            if job_id not in listed and since < started:
                to_read.add(job_id)
        if to_read:
            truth = await s.execution_io.run(s.store.get_many, to_read)
            for job_id in sorted(to_read, key=lambda i: truth[i].queued_at if i in truth else 0):
                await self._follow(job_id, truth.get(job_id), counted, started, counts)
        self.completed += 1
        if counts.over_budget:
            log.warning(
                "replica sync: %d jobs queued beyond SCHEDULER_MAX_QUEUE_BYTES "
                "(acknowledged jobs are never dropped; new submissions wait for room)",
                counts.over_budget,
            )
        return counts

    def _read_active(self) -> tuple[list[str], list[JobRecord]]:
        """QUEUED by id only (there may be many), RUNNING in full (one per busy agent)."""
        store = self._s.store
        return (
            list(store.ids_by_status(JobStatus.QUEUED)),
            list(store.iter_by_status(JobStatus.RUNNING)),
        )

    async def _add_queued(self, job: JobRecord, now: float, counts: SyncCounts) -> None:
        s = self._s
        if not s.queues.try_reserve(job.size_bytes):
            s.queues.force_reserve(job.size_bytes)
            counts.over_budget += 1
        s.usage.force_acquire(job.owner, job.job_id, now)
        await s.enqueue(job, None, restored=True)  # the payload is read at claim time
        counts.queued_added += 1

    def _add_running(self, job: JobRecord, now: float) -> None:
        self._s.usage.force_acquire(job.owner, job.job_id, now)
        self._s.track_running(job)

    async def _follow(
        self,
        job_id: str,
        job: JobRecord | None,
        counted: dict[str, tuple[str, float]],
        started: float,
        counts: SyncCounts,
    ) -> None:
        """Make this replica agree with a job's consistently read record."""
        s = self._s
        if job is None:
            self._forget_missing(job_id, counted, started)
            return
        if job.status is JobStatus.QUEUED:
            tracked = s.running.get(job_id)
            if tracked is not None:
                if tracked.attempt > job.attempt:
                    return  # claimed here after the read
                s.running.pop(job_id)
                counts.moved += 1
            if job_id not in s.queues:
                await self._add_queued(job, started, counts)
        elif job.status is JobStatus.RUNNING:
            if s.queues.remove(job_id) is not None:
                counts.moved += 1
            tracked = s.running.get(job_id)
            if tracked is None or job.attempt > tracked.attempt:
                self._add_running(job, started)
            elif job.attempt == tracked.attempt:
                tracked.lease_expires_at = max(tracked.lease_expires_at, job.lease_expires_at)
        else:
            s.queues.remove(job_id)
            s.job_ended(job, ended_here=False)
            counts.moved += 1

    def _forget_missing(
        self, job_id: str, counted: dict[str, tuple[str, float]], started: float
    ) -> None:
        """No record: expired by TTL or deleted by hand; or a submission still writing it."""
        s = self._s
        entry = s.queues.remove(job_id)
        tracked = s.running.pop(job_id, None)
        s.deferrals.pop(job_id, None)
        owner, since = counted.get(job_id, ("", started))
        if entry is None and tracked is None and since > started - PENDING_SUBMISSION_S:
            return
        for known_owner in {owner, entry.owner if entry else "", tracked.owner if tracked else ""}:
            s.usage.release(known_owner, job_id)
