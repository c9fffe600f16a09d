"""Reads of single jobs for the submission port: status polls, result and log links.

Two savings, neither of which may ever serve a stale record:

- A terminal job never changes (every transition is conditional on QUEUED or
  RUNNING), so terminal records are kept in a bounded LRU and served from it
  until the record's own expiry. A QUEUED or RUNNING job is never served from
  memory: another replica may have moved it a moment ago.
- Reads that arrive while one is in flight go out together as the next
  consistent batch read (see group_commit.py): sent after they were asked
  for, so they see every write completed before (as `JobStore.get`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from scheduler.domain.jobs import JobRecord
from scheduler.job_store.job_store import JobStore
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.group_commit import GroupCommit
from scheduler.service.record_lru import RecordLru, without_input

MAX_BATCH = 100  # DynamoDB's BatchGetItem limit


class FinishedJobs:
    """Terminal records, each until its own expiry; the least recently used goes first."""

    def __init__(self, capacity: int, clock: Callable[[], float] = time.time) -> None:
        self._records = RecordLru(capacity)
        self._clock = clock

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._records

    def get(self, job_id: str) -> JobRecord | None:
        job = self._records.get(job_id)
        if job is not None and job.job_expiry <= self._clock():
            self._records.pop(job_id)  # expired: DynamoDB TTL may delete it any time
            return None
        return job

    def remember(self, job: JobRecord) -> None:
        """Keep `job` if it is terminal; anything else is ignored."""
        if job.status.terminal:
            self._records.put(without_input(job))  # a finished job's input is never read again


class JobReads:
    """`get` as the store's, answered from FinishedJobs or a shared batch read."""

    def __init__(self, store: JobStore, io: BlockingIo, finished: FinishedJobs) -> None:
        self._store = store
        self._io = io
        self.finished = finished
        self._batches: GroupCommit[None, JobRecord | None] = GroupCommit(self._read, MAX_BATCH)

    async def get(self, job_id: str) -> JobRecord | None:
        job = self.finished.get(job_id)
        if job is not None:
            return job
        return await self._batches.submit(job_id, None)

    async def _read(self, batch: dict[str, None]) -> dict[str, JobRecord | None]:
        ids = list(batch)
        if len(ids) == 1:  # one GetItem is cheaper than a batch of one
            job = await self._io.run(self._store.get, ids[0])
            found = {} if job is None else {job.job_id: job}
        else:
            found = await self._io.run(self._store.get_many, ids)
        for job in found.values():
            self.finished.remember(job)
        return {job_id: found.get(job_id) for job_id in ids}
