"""Job arrays through the service layer: admitted whole, idempotent, throttled, cancelled as one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from scheduler.domain.errors import InvalidArgument, NotFound, ResourceExhausted, Unavailable
from scheduler.domain.jobs import JobRecord, JobStatus, Role
from scheduler.job_store.job_item_codec import item_to_job, job_to_item
from scheduler.job_store.memory_job_store import MemoryJobStore
from scheduler.service.job_arrays import ArrayRequest
from tests.job_records import new_job
from tests.service_harness import ADMIN, ServiceWorld, principal, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")
BOB = principal("bob")


def array_request(
    count: int, *, max_running: int = 0, key: str = "", sizes: list[int] | None = None, **kw: Any
) -> ArrayRequest:
    job = submit_request(idempotency_key=key, parameters={"shared": "yes"}, **kw)
    return ArrayRequest(
        job=job,
        parameter_sets=[{"theta": str(index)} for index in range(count)],
        member_bytes=sizes or [job.size_bytes + 12] * count,
        max_running=max_running,
    )


def stored(world: ServiceWorld) -> list[JobRecord]:
    return [job for status in JobStatus for job in world.store.iter_by_status(status)]


async def test_an_array_is_n_ordinary_jobs_in_the_order_of_its_parameter_sets(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    array_id, job_ids = await layer.arrays.submit(ALICE, array_request(3))
    assert array_id.startswith("array-") and len(set(job_ids)) == 3
    for index, job_id in enumerate(job_ids):
        view = await layer.submissions.view(ALICE, job_id)  # each is an ordinary job
        assert view.job.status is JobStatus.QUEUED
        assert view.job.parameters == {"shared": "yes", "theta": str(index)}
        assert (view.job.array_id, view.job.array_index) == (array_id, index)
    summary = await layer.arrays.view(ALICE, array_id)
    assert [v.job.job_id for v in summary.jobs] == job_ids
    assert summary.counts() == {"QUEUED": 3}
    assert [v.queue_position for v in summary.jobs] == [1, 2, 3]


@pytest.mark.parametrize(
    ("changes", "count", "sizes", "error", "message"),
    [
        ({}, 3, [150, 150, 2001], InvalidArgument, r"parameter_sets\[2\]: job is 2001 bytes"),
        ({}, 4, None, ResourceExhausted, "the array has 4 jobs .* limit for role developer is 3"),
        ({"max_queue_bytes": 400}, 3, [150, 150, 150], ResourceExhausted, "do not fit the queue"),
        (
            {"max_array_jobs": {Role.ADMIN: 9, Role.DEVELOPER: 2, Role.GUEST: 1}},
            3,
            None,
            InvalidArgument,
            "may submit 1 to 2 .*SCHEDULER_MAX_ARRAY_JOBS_DEVELOPER",
        ),
    ],
    ids=["bytes-of-the-last-job", "concurrent-jobs", "queue-bytes", "array-size"],
)
async def test_an_array_over_any_limit_is_refused_whole_and_nothing_is_stored(
    service_world: Callable[..., ServiceWorld],
    changes: dict[str, object],
    count: int,
    sizes: list[int] | None,
    error: type[Exception],
    message: str,
) -> None:
    world = service_world(**changes)
    layer = await world.start_layer()
    large = b"x" * 1500  # over the inline limit: an input would go to the blob store
    with pytest.raises(error, match=message):
        await layer.arrays.submit(ALICE, array_request(count, sizes=sizes, payload=large))
    assert stored(world) == []
    assert list(world.blobs.list_inputs(written_before=float("inf"))) == []
    # Nothing stays counted or reserved: an array that fits is accepted at once.
    _, job_ids = await layer.arrays.submit(ALICE, array_request(2, sizes=[150, 150]))
    assert len(stored(world)) == 2 == len(job_ids)


async def test_a_retried_keyed_array_is_the_same_array(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    first = await layer.arrays.submit(ALICE, array_request(3, key="sweep-1"))
    again = await layer.arrays.submit(ALICE, array_request(3, key="sweep-1"))
    together = await asyncio.gather(
        *(layer.arrays.submit(BOB, array_request(2, key="sweep-1")) for _ in range(3))
    )
    assert again == first
    assert together[0] == together[1] == together[2] != first  # keys are per token
    assert len(stored(world)) == 5
    restarted = await world.start_layer()  # a retry after a restart finds it too
    assert await restarted.arrays.submit(ALICE, array_request(3, key="sweep-1")) == first


async def test_another_owners_array_is_not_found_but_an_admin_sees_it(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    array_id, _ = await layer.arrays.submit(ALICE, array_request(2))
    with pytest.raises(NotFound, match="no job array"):
        await layer.arrays.view(BOB, array_id)
    with pytest.raises(NotFound, match="no job array"):
        await layer.arrays.cancel(BOB, array_id)
    with pytest.raises(NotFound, match="no job array"):
        await layer.arrays.view(ALICE, "array-not-an-id")
    assert (await layer.arrays.view(ADMIN, array_id)).counts() == {"QUEUED": 2}


async def test_cancelling_an_array_cancels_queued_jobs_and_stops_running_ones(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    array_id, job_ids = await layer.arrays.submit(ALICE, array_request(3))
    running = await layer.executions.assign("qpu", "agent-1", 0)
    assert running is not None and running.job.job_id == job_ids[0]
    cancel = await layer.arrays.cancel(ALICE, array_id)
    assert (cancel.cancelled, cancel.cancel_requested, cancel.already_ended) == (2, 1, 0)
    summary = await layer.arrays.view(ALICE, array_id)
    assert summary.counts() == {"RUNNING": 1, "CANCELLED": 2}
    assert summary.jobs[0].job.cancel_requested
    ended = await layer.executions.report(
        job_ids[0], "agent-1", world.completion(JobStatus.CANCELLED)
    )
    assert ended.status is JobStatus.CANCELLED
    again = await layer.arrays.cancel(ALICE, array_id)
    assert (again.cancelled, again.cancel_requested, again.already_ended) == (0, 0, 3)


async def test_the_throttle_is_never_exceeded_by_four_agents(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    array_id, job_ids = await layer.arrays.submit(ADMIN, array_request(12, max_running=2))
    running: set[str] = set()
    most = 0
    done: list[str] = []

    async def agent(name: str) -> None:
        nonlocal most
        while len(done) < len(job_ids):
            assignment = await layer.executions.assign("qpu", name, 0)
            if assignment is None:
                await asyncio.sleep(0.001)
                continue
            running.add(assignment.job.job_id)
            in_store = [
                j for j in world.store.iter_by_status(JobStatus.RUNNING) if j.array_id == array_id
            ]
            most = max(most, len(running), len(in_store))
            await asyncio.sleep(0.002)  # the run; other agents poll meanwhile
            world.upload_result(assignment)
            running.discard(assignment.job.job_id)
            await layer.executions.report(assignment.job.job_id, name, world.completion())
            done.append(assignment.job.job_id)

    await asyncio.wait_for(asyncio.gather(*(agent(f"agent-{n}") for n in range(4))), 30)
    assert sorted(done) == sorted(job_ids)
    assert most == 2
    assert (await layer.arrays.view(ADMIN, array_id)).counts() == {"COMPLETED": 12}


async def test_the_throttle_holds_after_a_restart_and_other_jobs_pass_it(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    _, job_ids = await layer.arrays.submit(ALICE, array_request(2, max_running=1))
    first = await layer.executions.assign("qpu", "agent-1", 0)
    assert first is not None and first.job.job_id == job_ids[0]
    other = await layer.submissions.submit(BOB, submit_request())
    restarted = await world.start_layer()  # finds one member RUNNING, one QUEUED
    taken = await restarted.executions.assign("qpu", "agent-2", 0)
    assert taken is not None and taken.job.job_id == other  # not the held member
    assert await restarted.executions.assign("qpu", "agent-3", 0) is None
    world.upload_result(first)
    await restarted.executions.report(job_ids[0], "agent-1", world.completion())
    second = await restarted.executions.assign("qpu", "agent-3", 0)
    assert second is not None and second.job.job_id == job_ids[1]


async def test_a_throttled_member_requeued_after_a_lost_agent_frees_its_slot(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    _, job_ids = await layer.arrays.submit(ALICE, array_request(2, max_running=1))
    first = await layer.executions.assign("qpu", "agent-1", 0)
    assert first is not None
    world.clock.advance(31)  # past the lease
    await layer.monitor.check_once()
    again = await layer.executions.assign("qpu", "agent-2", 0)
    assert again is not None and again.job.job_id in job_ids
    assert await layer.executions.assign("qpu", "agent-3", 0) is None


async def test_array_fields_survive_the_item_codec() -> None:
    job = replace(new_job(), array_id="array-x", array_index=3, array_size=9, array_max_running=2)
    assert item_to_job(job_to_item(job)) == job


class ThrottledOnce(MemoryJobStore):
    """A job table that leaves the last record of one batch write unprocessed, as DynamoDB may."""

    throttle = True

    def create_many(self, jobs: Sequence[JobRecord]) -> set[str]:
        if self.throttle and jobs:
            self.throttle = False
            return super().create_many(jobs[:-1]) | {jobs[-1].job_id}
        return super().create_many(jobs)


async def test_an_array_stored_only_in_part_fails_what_was_stored_and_runs_nothing(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    world.store = ThrottledOnce(clock=world.clock)
    layer = await world.start_layer()
    with pytest.raises(Unavailable, match="stored only 2 of the array's 3 jobs"):
        await layer.arrays.submit(ALICE, array_request(3))
    records = stored(world)
    assert [job.status for job in records] == [JobStatus.FAILED] * 2
    assert "could not be stored whole" in records[0].detail
    assert await layer.executions.assign("qpu", "agent-1", 0) is None
    _, job_ids = await layer.arrays.submit(ALICE, array_request(3))  # nothing stayed counted
    assert len(job_ids) == 3


async def test_an_array_over_the_roles_maximum_timeout_is_refused_whole(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    with pytest.raises(InvalidArgument, match="SCHEDULER_MAX_TIMEOUT_SECONDS_DEVELOPER"):
        await layer.arrays.submit(ALICE, array_request(2, timeout_s=601.0))
    assert stored(world) == []


class GatedClaim(MemoryJobStore):
    """A job table whose next claim of `gated` waits until the test opens the gate."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.gated: str | None = None
        self.reached, self.gate = threading.Event(), threading.Event()

    def claim(self, job_id: str, *args: Any, **kw: Any) -> JobRecord | None:
        if job_id == self.gated:
            self.gated = None
            self.reached.set()
            self.gate.wait(10)
        return super().claim(job_id, *args, **kw)


async def test_a_replica_sync_during_a_claim_does_not_free_the_arrays_slot(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    world.store = store = GatedClaim(clock=world.clock)
    layer = await world.start_layer()
    _, job_ids = await layer.arrays.submit(ALICE, array_request(3, max_running=1))
    store.gated = job_ids[0]
    first = asyncio.create_task(layer.executions.assign("qpu", "agent-1", 0))
    assert await asyncio.to_thread(store.reached.wait, 10)
    await layer.replica_sync.sync_once()  # reads the job QUEUED while its claim is out
    assert await layer.executions.assign("qpu", "agent-2", 0) is None
    store.gate.set()
    running = await first
    assert running is not None and running.job.job_id == job_ids[0]
    assert await layer.executions.assign("qpu", "agent-2", 0) is None
    world.upload_result(running)
    await layer.executions.report(job_ids[0], "agent-1", world.completion())
    second = await layer.executions.assign("qpu", "agent-2", 0)
    assert second is not None and second.job.job_id == job_ids[1]
