"""Records of new jobs, written many to a request while submissions arrive together.

A submission without an idempotency key gets a random job id (uuid4) that no
record can hold yet, so its record needs no conditional write and can share
one BatchWriteItem (up to 25) with the submissions that arrived while the
previous write was out (see group_commit.py). Each submission is
acknowledged by the response to the request that carried its record, and
only if that record is not among the items DynamoDB left unprocessed
(retried with backoff first; see dynamodb_batch_write.py). Keyed
submissions keep their conditional PutItem: their id may exist already.
"""

from __future__ import annotations

from scheduler.domain.errors import Unavailable
from scheduler.domain.jobs import JobRecord
from scheduler.job_store.job_store import JobStore
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.group_commit import GroupCommit

MAX_BATCH = 25  # DynamoDB's BatchWriteItem limit


class JobCreates:
    def __init__(self, store: JobStore, io: BlockingIo) -> None:
        self._store = store
        self._io = io
        self._batches: GroupCommit[JobRecord, None] = GroupCommit(self._write, MAX_BATCH)

    async def create(self, job: JobRecord) -> None:
        """Return once the record of `job` (a fresh id) is durable; raise Unavailable if not."""
        await self._batches.submit(job.job_id, job)

    async def _write(self, batch: dict[str, JobRecord]) -> dict[str, Exception | None]:
        left = await self._io.run(self._store.create_many, list(batch.values()))
        return {
            job_id: Unavailable("DynamoDB is unavailable (throttled); retry in a few seconds")
            if job_id in left
            else None
            for job_id in batch
        }
