"""Rebuild the in-memory state of a replica from the job table on start.

QUEUED jobs come back in their original order with their original
queued_at (and fair-share snapshot), so a restart changes no job's priority.
RUNNING jobs are watched again: a live lease is kept, an expired one is
handled by the lease monitor as if this replica had never stopped.
"""

from __future__ import annotations

import logging

from scheduler.domain.jobs import JobStatus
from scheduler.service.scheduler_state import SchedulerState

log = logging.getLogger(__name__)


async def restore(state: SchedulerState) -> tuple[int, int]:
    """Returns (queued, running) counts restored."""
    queued = await state.execution_io.run(
        lambda: list(state.store.iter_by_status(JobStatus.QUEUED))
    )
    for job in queued:
        if job.job_id in state.queues:
            continue
        if not state.queues.try_reserve(job.size_bytes):
            # Acknowledged jobs are never dropped; new submissions wait for room instead.
            state.queues.force_reserve(job.size_bytes)
            log.warning("restoring job %s beyond SCHEDULER_MAX_QUEUE_BYTES", job.job_id)
        state.usage.force_acquire(job.owner)
        await state.enqueue(job, None)
    running = await state.execution_io.run(
        lambda: list(state.store.iter_by_status(JobStatus.RUNNING))
    )
    for job in running:
        if job.job_id not in state.running:
            state.usage.force_acquire(job.owner)
            state.track_running(job)
    log.info("restored %d queued and %d running jobs", len(queued), len(running))
    return len(queued), len(running)
