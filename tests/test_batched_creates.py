"""Submissions written many to a request: each acknowledged only if its record is durable.

DynamoDB may leave part of a BatchWriteItem unprocessed when the table is
throttled. `ThrottledPuts` makes the emulator's table behave so: the items
it picks are taken out of the request before it is sent (the emulator never
sees them) and handed back as UnprocessedItems in the response.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import ensure_table
from scheduler.aws.table_definitions import jobs_table_definition
from scheduler.domain.errors import Unavailable
from scheduler.domain.jobs import JobRecord
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_creates import JobCreates
from tests.job_records import new_job

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class ThrottledPuts:
    """Leaves the puts of the jobs `refuse(job_id, times_refused_so_far)` picks unprocessed."""

    def __init__(self, client: DynamoDBClient, refuse: Callable[[str, int], bool]) -> None:
        self._refuse = refuse
        self._held = threading.local()
        self.refused: Counter[str] = Counter()
        self.request_sizes: list[int] = []
        events = client.meta.events
        events.register("before-parameter-build.dynamodb.BatchWriteItem", self._take_out)
        events.register("after-call.dynamodb.BatchWriteItem", self._hand_back)

    def _take_out(self, params: dict[str, Any], **_: Any) -> None:
        (table, requests), *_ = params["RequestItems"].items()
        self.request_sizes.append(len(requests))
        kept: list[Any] = []
        held: list[Any] = []
        for request in requests:
            job_id = request["PutRequest"]["Item"]["job_id"]["S"]
            refused = self._refuse(job_id, self.refused[job_id])
            (held if refused else kept).append(request)
            if refused:
                self.refused[job_id] += 1
        params["RequestItems"] = {table: kept}
        self._held.value = (table, held)

    def _hand_back(self, parsed: dict[str, Any], **_: Any) -> None:
        table, held = self._held.value
        if held:
            parsed.setdefault("UnprocessedItems", {})[table] = held


@pytest.fixture
def client(aws: None) -> DynamoDBClient:
    return make_client("dynamodb", AwsSettings())


@pytest.fixture
def store(client: DynamoDBClient) -> DynamoDbJobStore:
    table = f"jobs-{uuid.uuid4().hex[:8]}"
    ensure_table(client, jobs_table_definition(table))
    return DynamoDbJobStore(client, table)


@pytest.fixture
def io() -> Iterator[BlockingIo]:
    pool = BlockingIo(4, "test-creates")
    yield pool
    pool.shutdown()


async def create_all(
    creates: JobCreates, jobs: list[JobRecord]
) -> list[tuple[str, BaseException | None]]:
    """Every job's submission at once; (job id, what its create raised or None)."""
    raised = await asyncio.gather(*(creates.create(job) for job in jobs), return_exceptions=True)
    return list(zip([job.job_id for job in jobs], raised, strict=True))


async def test_only_the_submissions_whose_records_were_written_are_acknowledged(
    client: DynamoDBClient, store: DynamoDbJobStore, io: BlockingIo
) -> None:
    jobs = [new_job() for _ in range(40)]
    never = {job.job_id for job in jobs[3::4]}
    throttle = ThrottledPuts(client, lambda job_id, _: job_id in never)
    outcomes = await create_all(JobCreates(store, io), jobs)
    acknowledged = {job_id for job_id, raised in outcomes if raised is None}
    assert acknowledged == {job.job_id for job in jobs} - never
    for job_id, raised in outcomes:
        if job_id in never:
            assert isinstance(raised, Unavailable) and "throttled" in str(raised)
    assert set(store.get_many([job.job_id for job in jobs])) == acknowledged  # exactly those
    assert max(throttle.request_sizes) > 1  # the submissions did share requests
    assert all(throttle.refused[job_id] > 1 for job_id in never)  # each was tried again


async def test_items_left_unprocessed_for_a_while_are_written_and_acknowledged(
    client: DynamoDBClient, store: DynamoDbJobStore, io: BlockingIo
) -> None:
    jobs = [new_job() for _ in range(30)]
    throttle = ThrottledPuts(client, lambda _, times_refused: times_refused < 2)
    assert all(raised is None for _, raised in await create_all(JobCreates(store, io), jobs))
    assert set(store.get_many([job.job_id for job in jobs])) == {job.job_id for job in jobs}
    assert set(throttle.refused.values()) == {2}


async def test_a_submission_given_up_before_its_batch_left_is_not_written(
    client: DynamoDBClient, store: DynamoDbJobStore, io: BlockingIo
) -> None:
    first, given_up = new_job(), new_job()
    sending, release = threading.Event(), threading.Event()

    def hold_the_first_request(**_: Any) -> None:
        if not sending.is_set():
            sending.set()
            release.wait(10)

    client.meta.events.register("before-call.dynamodb.BatchWriteItem", hold_the_first_request)

    creates = JobCreates(store, io)
    out = asyncio.ensure_future(creates.create(first))
    assert await asyncio.to_thread(sending.wait, 10)  # the first batch is on its way
    waiting = asyncio.ensure_future(creates.create(given_up))
    await asyncio.sleep(0)
    waiting.cancel()  # its caller gave up (deadline, disconnect) before it was sent
    release.set()
    await out
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert set(store.get_many([first.job_id, given_up.job_id])) == {first.job_id}
