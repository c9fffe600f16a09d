"""Keeps one replica's picture of the job table current while other replicas change it.

Each replica holds its own queue. Jobs accepted, claimed, requeued or ended
through another replica reach this one by re-reading the status index (the
QUEUED, WAITING and RUNNING partitions) every `--replica-sync-seconds`, and sooner
when an agent finds its queue empty — at most once per `min_gap_s`, however
many agents ask, so a thousand idle agents cost one read a second.

The QUEUED and WAITING partitions are read as ids only (the queue may be long;
a record is read once per replica, when it first appears), the RUNNING one in
full (one job per busy agent). Last, waiting jobs are judged again whose
pending dependencies this replica does not know as queued, running or
waiting: those may have ended elsewhere. The index is eventually consistent and may be older
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
from collections.abc import Callable

from scheduler.domain.errors import Unavailable
from scheduler.domain.jobs import JobRecord, JobStatus
from scheduler.job_store.job_store import JobStore
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.tracked_jobs import SyncCounts

log = logging.getLogger(__name__)


class ReplicaSync:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        store: JobStore,
        io: BlockingIo,
        interval_s: float,
        *,
        min_gap_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lifecycle = lifecycle
        self._store = store
        self._io = io
        self._clock = clock
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
            if counts.queued_added or counts.waiting_added or counts.running_added or counts.moved:
                log.info("replica sync: %s", counts)

    async def sync_once(self) -> SyncCounts:
        """One read of the table and the changes it implies. Raises Unavailable."""
        lifecycle, jobs = self._lifecycle, self._lifecycle.jobs
        self._last_started = time.monotonic()
        started = self._clock()
        queued_ids, waiting_ids, running = await self._io.run(self._read_active)
        counts = SyncCounts()
        running_ids = {job.job_id for job in running}
        # Unknown here, or known otherwise: read consistently, then follow the record.
        to_read = {
            job_id
            for job_id in queued_ids
            if job_id in running_ids
            or jobs.tracked(job_id) is not None
            or not jobs.is_queued(job_id)
        }
        to_read.update(job_id for job_id in waiting_ids if not jobs.is_waiting(job_id))
        for job in running:
            if job.job_id in to_read or jobs.is_queued(job.job_id):
                to_read.add(job.job_id)
            elif lifecycle.adopt_running(job, started):
                counts.running_added += 1
        listed = set(queued_ids) | set(waiting_ids) | running_ids
        to_read.update(job_id for job_id in jobs.queued_ids() if job_id not in listed)
        to_read.update(job_id for job_id in jobs.waiting_ids() if job_id not in listed)
        to_read.update(r.job_id for r in jobs.running_jobs() if r.job_id not in listed)
        counted: dict[str, tuple[str, float]] = {}
        for owner, job_id, since in jobs.usage_counted():
            counted[job_id] = (owner, since)
            if job_id not in listed and since < started:
                to_read.add(job_id)
        if to_read:
            truth = await self._io.run(self._store.get_many, to_read)
            for job_id in sorted(to_read, key=lambda i: truth[i].queued_at if i in truth else 0):
                await lifecycle.adopt(job_id, truth.get(job_id), counted, started, counts)
        await lifecycle.judge_waiting()
        self.completed += 1
        if counts.over_budget:
            log.warning(
                "replica sync: %d jobs queued beyond SCHEDULER_MAX_QUEUE_BYTES "
                "(acknowledged jobs are never dropped; new submissions wait for room)",
                counts.over_budget,
            )
        return counts

    def _read_active(self) -> tuple[list[str], list[str], list[JobRecord]]:
        """QUEUED and WAITING by id only (there may be many), RUNNING in full (one per
        busy agent)."""
        store = self._store
        return (
            list(store.ids_by_status(JobStatus.QUEUED)),
            list(store.ids_by_status(JobStatus.WAITING)),
            list(store.iter_by_status(JobStatus.RUNNING)),
        )
