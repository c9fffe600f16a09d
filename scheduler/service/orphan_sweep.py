"""Deletes stored inputs that no job record claims, and the objects of attempts that lost.

A submission writes its input, then its record, and is acknowledged only
after both. A crash or an AWS failure between the two writes leaves an input
that nothing will ever read — a job runs only from a record — and the client
was told the submission failed. Such inputs are deleted once they are
`--orphan-input-age-seconds` old, far longer than a submission can take
between its two writes.

Each sweep lists the bucket's inputs and reads the records of the old ones
in batches. After the first sweep of a process, only inputs written since
the previous cutoff are checked, so record reads follow the submission rate,
not the bucket's size. Inputs older than the job retention are left alone:
their records may have expired by TTL while the input is kept on purpose
(save_job), and the bucket's lifecycle rules govern those.

The same pass deletes the result and log objects of attempts that can never
be served: an attempt's agent that lost its lease may still upload to its own
attempt's presigned URLs (they stay valid for hours), after the requeue
deleted what was there. An attempt's objects stay while it runs and, once
the job has ended, if it is the attempt the job serves.

One race is left open, and documented: an idempotent retry of a submission
whose first attempt failed more than the orphan age ago, landing between a
sweep's record read and its delete, would lose its input; the job would then
fail at claim time saying so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from scheduler.blob_store.blob_store import BlobStore
from scheduler.domain.jobs import JobRecord, served_attempt
from scheduler.job_store.job_store import JobStore
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.periodic_task import PeriodicTask

log = logging.getLogger(__name__)

BATCH = 100
_DAY_S = 86_400.0
_SLACK_S = 60.0  # store timestamps are coarse and clocks drift: windows overlap by this


class OrphanSweep:
    def __init__(
        self,
        store: JobStore,
        blobs: BlobStore,
        io: BlockingIo,
        *,
        interval_s: float,
        min_age_s: float,
        retention_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._io = io
        self._min_age_s = min_age_s
        self._retention_s = retention_days * _DAY_S
        self._clock = clock
        self._checked_until: float | None = None
        self._loop = PeriodicTask("orphan sweep", lambda: interval_s, self.sweep_once)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def sweep_once(self) -> list[str]:
        """Delete the orphaned inputs old enough; returns their job ids."""
        now = self._clock()
        cutoff = now - self._min_age_s
        oldest = now - self._retention_s + _DAY_S
        if self._checked_until is not None:
            oldest = max(oldest, self._checked_until - _SLACK_S)
        deleted = await self._io.run(self._sweep, oldest, cutoff)
        lost = await self._io.run(self._sweep_attempts, oldest, cutoff)
        self._checked_until = cutoff
        if deleted:
            log.info(
                "orphan sweep: deleted %d inputs of submissions that never got a job record",
                len(deleted),
            )
        if lost:
            log.info("orphan sweep: deleted the objects of %d attempts that lost", lost)
        return deleted

    def _sweep(self, oldest: float, cutoff: float) -> list[str]:
        candidates = [
            stored.job_id
            for stored in self._blobs.list_inputs(cutoff)
            if stored.written_at >= oldest
        ]
        deleted: list[str] = []
        for start in range(0, len(candidates), BATCH):
            batch = candidates[start : start + BATCH]
            records = self._store.get_many(batch)
            for job_id in batch:
                if job_id not in records:
                    self._blobs.delete_input(job_id)
                    log.info("orphan sweep: deleted the input of %s (no job record)", job_id)
                    deleted.append(job_id)
        return deleted

    def _sweep_attempts(self, oldest: float, cutoff: float) -> int:
        """Delete the objects of attempts that lost; returns how many attempts."""
        candidates = sorted(
            {
                (stored.job_id, stored.attempt)
                for stored in self._blobs.list_attempts(cutoff)
                if stored.written_at >= oldest
            }
        )
        deleted = 0
        for start in range(0, len(candidates), BATCH):
            batch = candidates[start : start + BATCH]
            records = self._store.get_many({job_id for job_id, _ in batch})
            for job_id, attempt in batch:
                record = records.get(job_id)
                if record is not None and _lost(record, attempt):
                    self._blobs.delete_attempt(job_id, attempt)
                    log.info("orphan sweep: deleted the objects of %s attempt %d", job_id, attempt)
                    deleted += 1
        return deleted


def _lost(job: JobRecord, attempt: int) -> bool:
    """Whether `attempt` can never be the one `job` serves. Attempts only move forward,
    so the record, read after the object was listed, decides for it."""
    return attempt != served_attempt(job)
