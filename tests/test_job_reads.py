"""Status reads: finished jobs from memory, every other job fresh from the table.

A QUEUED or RUNNING job may be moved by another replica at any moment, so a
read of one always goes to the table, and a read asked after a write sees
it, even while other reads are in flight. Only terminal records, which never
change, are answered from memory.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Collection, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from berth.scheduler.v1 import job_pb2

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import ensure_table
from scheduler.aws.table_definitions import jobs_table_definition
from scheduler.domain.jobs import JobRecord, JobStatus
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_reads import FinishedJobs, JobReads
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Submitter, clients
from tests.job_records import NOW, completion, new_job

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class CountingStore(DynamoDbJobStore):
    """The real store, counting its reads; `hold` parks the next read until released."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        super().__init__(client, table)
        self.reads: list[list[str]] = []
        self.hold: threading.Event | None = None
        self.held = threading.Event()

    def _wait(self) -> None:
        if self.hold is not None:
            hold, self.hold = self.hold, None
            self.held.set()
            hold.wait(10)

    def get(self, job_id: str) -> JobRecord | None:
        self.reads.append([job_id])
        self._wait()
        return super().get(job_id)

    def get_many(self, job_ids: Collection[str]) -> dict[str, JobRecord]:
        self.reads.append(list(job_ids))
        self._wait()
        return super().get_many(job_ids)


@pytest.fixture
def stores(aws: None) -> tuple[CountingStore, DynamoDbJobStore]:
    """This replica's store, counted, and another replica's on the same table."""
    client = make_client("dynamodb", AwsSettings())
    table = f"jobs-{uuid.uuid4().hex[:8]}"
    ensure_table(client, jobs_table_definition(table))
    return CountingStore(client, table), DynamoDbJobStore(client, table)


@pytest.fixture
def queued(stores: tuple[CountingStore, DynamoDbJobStore]) -> JobRecord:
    job = new_job()
    assert stores[1].create(job)
    return job


@pytest.fixture
def io() -> Iterator[BlockingIo]:
    pool = BlockingIo(8, "test-reads")
    yield pool
    pool.shutdown()


def reads_of(store: CountingStore, io: BlockingIo, capacity: int = 100) -> JobReads:
    return JobReads(store, io, FinishedJobs(capacity, clock=lambda: NOW))


async def test_only_terminal_records_are_answered_from_memory(
    stores: tuple[CountingStore, DynamoDbJobStore], queued: JobRecord, io: BlockingIo
) -> None:
    mine, other = stores
    job = queued

    reads = reads_of(mine, io)
    for _ in range(2):
        still_queued = await reads.get(job.job_id)
        assert still_queued is not None and still_queued.status is JobStatus.QUEUED
    assert len(mine.reads) == 2
    other.claim(job.job_id, "agent-1", NOW + 60, NOW)  # through another replica
    running = await reads.get(job.job_id)
    assert running is not None and running.status is JobStatus.RUNNING
    other.finish(job.job_id, "agent-1", completion(), int(NOW) + 3600)
    finished = await reads.get(job.job_id)
    assert finished is not None and finished.status is JobStatus.COMPLETED
    assert len(mine.reads) == 4
    assert await reads.get(job.job_id) == finished
    assert len(mine.reads) == 4  # the finished job came from memory


async def test_a_read_asked_during_another_read_is_sent_after_it_and_sees_a_write_between(
    stores: tuple[CountingStore, DynamoDbJobStore], queued: JobRecord, io: BlockingIo
) -> None:
    mine, other = stores
    job = queued
    release = mine.hold = threading.Event()

    reads = reads_of(mine, io)
    first = asyncio.ensure_future(reads.get(job.job_id))
    assert await asyncio.to_thread(mine.held.wait, 10)  # the first read is on its way
    claimed = other.claim(job.job_id, "agent-1", NOW + 60, NOW)
    assert claimed is not None
    second = asyncio.ensure_future(reads.get(job.job_id))
    await asyncio.sleep(0)  # the second read is asked for while the first is out
    release.set()
    # The first read may answer from before the write or after: both are right for
    # it. The second was asked after the write, so it goes out on its own, after.
    assert await asyncio.wait_for(first, 10) is not None
    assert await asyncio.wait_for(second, 10) == claimed
    assert mine.reads == [[job.job_id], [job.job_id]]


async def test_concurrent_reads_of_different_jobs_share_batch_reads_and_each_gets_its_own(
    stores: tuple[CountingStore, DynamoDbJobStore], io: BlockingIo
) -> None:
    mine, other = stores
    jobs = [new_job() for _ in range(30)]
    for job in jobs:
        assert other.create(job)

    reads = reads_of(mine, io)
    found = await asyncio.gather(*(reads.get(job.job_id) for job in jobs))
    assert found == jobs
    assert len(mine.reads) < len(jobs)
    assert sorted(i for batch in mine.reads for i in batch) == sorted(j.job_id for j in jobs)


def test_finished_jobs_are_bounded_and_forgotten_once_expired() -> None:
    now = [NOW]
    finished = FinishedJobs(2, clock=lambda: now[0])
    done = [
        replace(new_job(), status=JobStatus.COMPLETED, job_expiry=int(NOW) + 10) for _ in range(3)
    ]
    finished.remember(replace(new_job(), status=JobStatus.RUNNING))
    assert len(finished) == 0
    for job in done:
        finished.remember(job)
    assert finished.get(done[0].job_id) is None  # the least recently used went first
    assert finished.get(done[2].job_id) == done[2]
    now[0] = NOW + 10
    assert finished.get(done[2].job_id) is None


def test_status_through_the_api_follows_a_job_moved_by_another_replica(
    berth_system: BerthSystem,
) -> None:
    settings = AwsSettings(region="us-east-1", endpoint=berth_system.endpoint)
    other = DynamoDbJobStore(make_client("dynamodb", settings), berth_system.names.table)
    with clients(berth_system) as (submission, _):
        user = Submitter(submission, berth_system.tokens["developer"])
        job_id = user.submit()
        assert user.status(job_id).status == job_pb2.JOB_STATUS_QUEUED
        assert other.claim(job_id, "agent-elsewhere", NOW * 2, NOW) is not None
        assert user.status(job_id).status == job_pb2.JOB_STATUS_RUNNING
        assert other.finish(job_id, "agent-elsewhere", completion(), int(NOW * 2)) is not None
        assert user.status(job_id).status == job_pb2.JOB_STATUS_COMPLETED
        assert user.status(job_id).status == job_pb2.JOB_STATUS_COMPLETED
