"""Rebuild the in-memory state of a replica from the job table on start.

Start-up is the first replica sync, on an empty replica: QUEUED jobs come
back with their original queued_at (and fair-share snapshot), so a restart
changes no job's priority and its queue order; their payloads are read from
the blob store when they are claimed. RUNNING jobs are watched again: a live
lease is kept, an expired one is handled by the lease monitor as if this
replica had never stopped. Acknowledged jobs are never dropped, even past
SCHEDULER_MAX_QUEUE_BYTES: new submissions wait for room instead.
"""

from __future__ import annotations

import logging

from scheduler.service.replica_sync import ReplicaSync
from scheduler.service.tracked_jobs import SyncCounts

log = logging.getLogger(__name__)


async def restore(sync: ReplicaSync) -> SyncCounts:
    counts = await sync.sync_once()
    log.info("restored %d queued and %d running jobs", counts.queued_added, counts.running_added)
    return counts
