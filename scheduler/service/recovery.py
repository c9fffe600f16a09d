"""Rebuild the in-memory state of a replica from the job table on start, while it serves.

The ports open first; this runs behind them. RUNNING jobs come back first
(one per busy agent, a single read), each lease running at least one lease
from the start, so an agent whose heartbeats failed while the scheduler was
down keeps its job; heartbeats and reports are served throughout, since they
are conditional writes that need no memory. QUEUED jobs follow page by page
from the status index, whose items are whole records: no read per job, and
the next page is on its way while this one is queued. They come back with
their original queued_at (and fair-share snapshot), so a restart changes no
job's priority or queue order. Until the last page is in, whatever needs the
whole queue (an assignment, a submission counted against its token's limit)
waits. Acknowledged jobs are never dropped, even past SCHEDULER_MAX_QUEUE_BYTES:
new submissions wait for room instead. WAITING jobs come back last (counted
toward their owners' limits, in no queue) and are judged once the restore is
complete: their dependencies may have ended while no replica was up. The
index may lag the table by a moment; the replica sync that follows corrects
any job that moved meanwhile, and claims are conditional writes, so a stale
entry can delay but never run a job twice.
"""

from __future__ import annotations

import asyncio
import itertools
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

PAGE_JOBS = 1000  # records decoded and queued per step: the event loop stays responsive
RETRY_S = 1.0


async def restore(
    lifecycle: JobLifecycle,
    store: JobStore,
    io: BlockingIo,
    *,
    clock: Callable[[], float] = time.time,
) -> SyncCounts:
    """Restore until complete (retrying while the table is unreachable), then mark it so."""
    started = clock()
    timer = time.monotonic()
    counts = SyncCounts()
    while True:
        try:
            running = await io.run(lambda: list(store.iter_by_status(JobStatus.RUNNING)))
            counts.running_added += lifecycle.restore_running(running, started)
            await _restore_queued(lifecycle, store, io, started, counts)
            waiting = await io.run(lambda: list(store.iter_by_status(JobStatus.WAITING)))
            counts.waiting_added += lifecycle.restore_waiting(waiting, started)
            break
        except Unavailable as error:  # the ports serve meanwhile: keep trying
            log.warning("restore: cannot read the job table, retrying: %s", error)
            await asyncio.sleep(RETRY_S)
    lifecycle.mark_restored()
    log.info(
        "restored %d queued and %d running jobs, %d waiting on dependencies, in %.2f s",
        counts.queued_added,
        counts.running_added,
        counts.waiting_added,
        time.monotonic() - timer,
    )
    await lifecycle.judge_waiting()
    if counts.over_budget:
        log.warning(
            "restore: %d jobs queued beyond SCHEDULER_MAX_QUEUE_BYTES "
            "(acknowledged jobs are never dropped; new submissions wait for room)",
            counts.over_budget,
        )
    return counts


async def _restore_queued(
    lifecycle: JobLifecycle, store: JobStore, io: BlockingIo, started: float, counts: SyncCounts
) -> None:
    records = store.iter_by_status(JobStatus.QUEUED)

    def next_page() -> list[JobRecord]:
        return list(itertools.islice(records, PAGE_JOBS))

    pending = asyncio.ensure_future(io.run(next_page))
    try:
        while page := await pending:
            pending = asyncio.ensure_future(io.run(next_page))  # read while this one is queued
            added = await lifecycle.restore_queued(page, started)
            counts.queued_added += added.queued_added
            counts.over_budget += added.over_budget
    finally:
        if not pending.done():
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
