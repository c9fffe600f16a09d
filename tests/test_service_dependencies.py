"""Dependencies: a job WAITING on others queues when they end as its condition asks, and
ends CANCELLED, naming the dependency, when they cannot any more; across restarts and
replicas, since the wait is in the table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest

from scheduler.domain.dependencies import MAX_DEPENDENCIES
from scheduler.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from scheduler.domain.jobs import JobStatus, Role
from scheduler.service.job_arrays import ArrayRequest
from tests.service_harness import (
    ADMIN,
    ServiceLayer,
    ServiceWorld,
    principal,
    submit_request,
)

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")
BOB = principal("bob")
ROOMY = {Role.ADMIN: 10, Role.DEVELOPER: 10, Role.GUEST: 1}  # jobs queued, waiting or running


async def start(
    service_world: Callable[..., ServiceWorld], **changes: Any
) -> tuple[ServiceWorld, ServiceLayer]:
    """A world on the harness's config with these changes, and one replica started on it."""
    world = service_world(**changes)
    return world, await world.start_layer()


async def plain(layer: ServiceLayer) -> str:
    """One of ALICE's jobs, without dependencies."""
    return await layer.submissions.submit(ALICE, submit_request())


async def after(layer: ServiceLayer, *parents: str, condition: str = "", **request: Any) -> str:
    """Submit one of ALICE's jobs depending on `parents`."""
    return await layer.submissions.submit(
        ALICE, submit_request(depends_on=tuple(parents), dependency=condition, **request)
    )


async def run_to_end(
    world: ServiceWorld,
    layer: ServiceLayer,
    job_id: str,
    status: JobStatus = JobStatus.COMPLETED,
    agent: str = "agent-1",
) -> None:
    """An agent takes `job_id` (the best job in its queue) and reports it ended as `status`."""
    assignment = await layer.executions.assign("qpu", agent, 0)
    assert assignment is not None and assignment.job.job_id == job_id
    if status is JobStatus.COMPLETED:
        world.upload_result(assignment)
    await layer.executions.report(job_id, agent, world.completion(status, "exit code 1"))
    await layer.settle()


async def status_of(layer: ServiceLayer, job_id: str) -> tuple[JobStatus, str]:
    job = (await layer.submissions.view(ALICE, job_id)).job
    return job.status, job.detail


async def test_an_afterok_chain_runs_in_order_each_queued_when_its_parent_completes(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    first = await plain(layer)
    second = await after(layer, first)
    third = await after(layer, second, condition="afterok")
    assert await status_of(layer, second) == (
        JobStatus.WAITING,
        f"waiting for 1 of 1 jobs: {first}",
    )
    view = await layer.submissions.view(ALICE, third)
    assert (view.job.depends_on, view.job.dependency, view.queue_position) == (
        [second],
        "afterok",
        0,
    )
    world.clock.advance(30)
    await run_to_end(world, layer, first)
    promoted = (await layer.submissions.view(ALICE, second)).job
    assert (promoted.status, promoted.detail) == (JobStatus.QUEUED, "")
    assert promoted.queued_at == world.clock()  # its queue age starts when it may run
    assert (await status_of(layer, third))[0] is JobStatus.WAITING
    await run_to_end(world, layer, second)
    await run_to_end(world, layer, third)
    assert (await status_of(layer, third))[0] is JobStatus.COMPLETED


async def test_a_failed_parent_cancels_its_afterok_children_naming_it_while_afterany_runs(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world, max_concurrent_jobs=ROOMY)
    parent = await plain(layer)
    ok_child = await after(layer, parent)
    grandchild = await after(layer, ok_child)  # ends too: its own dependency ended
    any_child = await after(layer, parent, condition="afterany")
    await run_to_end(world, layer, parent, JobStatus.FAILED)
    needs = "afterok needs every dependency COMPLETED"
    assert await status_of(layer, ok_child) == (
        JobStatus.CANCELLED,
        f"dependency job {parent} ended FAILED; {needs}",
    )
    assert await status_of(layer, grandchild) == (
        JobStatus.CANCELLED,
        f"dependency job {ok_child} ended CANCELLED; {needs}",
    )
    await run_to_end(world, layer, any_child)
    assert (await status_of(layer, any_child))[0] is JobStatus.COMPLETED


async def test_afternotok_runs_once_any_dependency_did_not_complete_and_ends_if_none(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world, max_concurrent_jobs=ROOMY)
    first = await plain(layer)
    second = await plain(layer)
    cleanup = await after(layer, first, second, condition="afternotok")
    never = await after(layer, first, condition="afternotok")
    await run_to_end(world, layer, first)
    assert (await status_of(layer, cleanup))[0] is JobStatus.WAITING
    assert await status_of(layer, never) == (
        JobStatus.CANCELLED,
        f"dependency job {first} ended COMPLETED, as did every other; "
        "afternotok needs one that ended other than COMPLETED",
    )
    await layer.submissions.cancel(ALICE, second)
    await layer.settle()
    assert await status_of(layer, cleanup) == (JobStatus.QUEUED, "")


async def test_dependencies_decided_at_submit_queue_the_job_or_refuse_it(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    done = await plain(layer)
    await run_to_end(world, layer, done)
    failed = await plain(layer)
    await run_to_end(world, layer, failed, JobStatus.FAILED)
    queued = await after(layer, done)
    assert (await layer.submissions.view(ALICE, queued)).queue_position == 1
    with pytest.raises(
        FailedPrecondition,
        match=f"job {failed} ended FAILED; afterok needs every dependency COMPLETED",
    ):
        await after(layer, done, failed)
    with pytest.raises(FailedPrecondition, match="afternotok needs one that ended other than"):
        await after(layer, done, condition="afternotok")
    jobs, _ = await layer.submissions.list_jobs(
        ALICE, status=None, backend=None, all_users=False, page_size=100, page_token=""
    )
    assert len(jobs) == 3  # nothing stored for the refused ones


async def test_another_owners_or_an_unknown_job_is_not_found_alike(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    bobs = await layer.submissions.submit(BOB, submit_request())
    unknown = str(uuid.uuid4())
    messages = []
    for job_id in (bobs, unknown):
        with pytest.raises(NotFound) as raised:
            await after(layer, job_id)
        messages.append(str(raised.value).replace(job_id, "X"))
    assert (
        messages[0]
        == messages[1]
        == (
            "options.dependencies: job X not found (a job may depend only on this token's own jobs)"
        )
    )
    with pytest.raises(NotFound, match="job array-1 not found"):
        await after(layer, "array-1")
    with pytest.raises(NotFound):  # an admin too names only its own jobs
        await layer.submissions.submit(ADMIN, submit_request(depends_on=(bobs,)))


@pytest.mark.parametrize(
    ("request_changes", "message"),
    [
        ({"depends_on": ("a", "a")}, "names job a twice"),
        ({"depends_on": ("",)}, "holds an empty id"),
        ({"dependency": "afterany"}, "condition is set but options.dependencies.job_ids is empty"),
        ({"depends_on": ("a",), "dependency": "whenever"}, "unknown condition 'whenever'"),
        (
            {"depends_on": tuple(str(n) for n in range(MAX_DEPENDENCIES + 1))},
            f"names {MAX_DEPENDENCIES + 1} jobs; a job may depend on at most {MAX_DEPENDENCIES}",
        ),
    ],
)
async def test_malformed_dependencies_are_invalid_argument(
    service_world: Callable[..., ServiceWorld], request_changes: dict[str, Any], message: str
) -> None:
    layer = await service_world().start_layer()
    with pytest.raises(InvalidArgument, match=message):
        await layer.submissions.submit(ALICE, submit_request(**request_changes))


async def test_waiting_jobs_count_toward_the_limit_and_take_queue_bytes_only_once_queued(
    service_world: Callable[..., ServiceWorld],
) -> None:
    """Developers may have 3 jobs queued, waiting or running; the queue holds 600 bytes."""
    world, layer = await start(service_world, max_queue_bytes=600)
    jobs = layer.lifecycle.jobs
    parent = await layer.submissions.submit(ALICE, submit_request(payload=b"p" * 100))
    big = b"w" * 400
    child = await after(layer, parent, payload=big)
    assert (jobs.active_jobs(ALICE.owner), jobs.queued_bytes("qpu")) == (2, 200)
    filler = await layer.submissions.submit(ALICE, submit_request(payload=b"f" * 300))
    with pytest.raises(ResourceExhausted, match="limit for role developer is 3"):
        await after(layer, parent)
    assert layer.submissions.limits(ALICE).active_jobs == 3
    await run_to_end(world, layer, parent)  # its bytes freed: the filler's 400 of 600 stay
    # Acknowledged, so queued past the budget (like a requeue) rather than refused.
    assert await status_of(layer, child) == (JobStatus.QUEUED, "")
    assert jobs.queued_bytes("qpu") == 400 + len(big) + 100
    assert jobs.check_invariants() == []
    assert filler


async def test_a_full_queue_refuses_new_queued_jobs_but_not_waiting_ones(
    service_world: Callable[..., ServiceWorld],
) -> None:
    _, layer = await start(service_world, max_queue_bytes=300)
    parent = await layer.submissions.submit(ALICE, submit_request(payload=b"p" * 100))
    await layer.holds.hold(ALICE, parent)
    await layer.submissions.submit(ALICE, submit_request(payload=b"q" * 100))
    await layer.holds.release(ADMIN, parent)  # an admin's release passes the budget
    assert layer.lifecycle.jobs.queued_bytes("qpu") == 400  # of 300
    with pytest.raises(ResourceExhausted, match="the queue is full"):
        await layer.submissions.submit(ALICE, submit_request(payload=b"r" * 100))
    child = await after(layer, parent, payload=b"c" * 100)
    assert (await status_of(layer, child))[0] is JobStatus.WAITING


async def test_a_waiting_job_can_be_cancelled_failed_and_not_requeued(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    parent = await plain(layer)
    child = await after(layer, parent)
    other = await after(layer, parent)
    cancelled = await layer.submissions.cancel(ALICE, child)
    assert (cancelled.status, cancelled.detail) == (JobStatus.CANCELLED, "cancelled by its owner")
    assert layer.lifecycle.jobs.active_jobs(ALICE.owner) == 2
    with pytest.raises(FailedPrecondition, match="is WAITING on its dependencies"):
        await layer.administration.requeue(ADMIN, other)
    failed = await layer.administration.fail(ADMIN, other, "bad input")
    assert failed.job.job.status is JobStatus.FAILED
    await run_to_end(world, layer, parent)
    assert (await status_of(layer, child))[0] is JobStatus.CANCELLED
    assert layer.lifecycle.jobs.check_invariants() == []


async def test_a_held_waiting_job_stays_held_and_is_judged_when_released(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    parent = await plain(layer)
    child = await after(layer, parent)
    undecided = await after(layer, parent)
    held = await layer.holds.hold(ALICE, child)
    assert (held.job.status, held.job.detail) == (JobStatus.HELD, "held by its owner")
    assert layer.lifecycle.jobs.active_jobs(ALICE.owner) == 2  # a held job does not count
    await layer.holds.hold(ALICE, undecided)
    assert (await layer.holds.release(ALICE, undecided)).job.status is JobStatus.WAITING
    await run_to_end(world, layer, parent)
    assert (await status_of(layer, child))[0] is JobStatus.HELD
    assert (await status_of(layer, undecided))[0] is JobStatus.QUEUED
    world.clock.advance(5)
    released = await layer.holds.release(ALICE, child)  # its dependency allows it: queued
    assert (released.job.status, released.job.queued_at) == (JobStatus.QUEUED, world.clock())
    assert (await layer.holds.release(ALICE, child)).job.status is JobStatus.QUEUED
    assert layer.lifecycle.jobs.check_invariants() == []


async def test_a_held_job_whose_dependency_failed_ends_when_released(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    parent = await plain(layer)
    child = await after(layer, parent)
    await layer.holds.hold(ALICE, child)
    await run_to_end(world, layer, parent, JobStatus.TIMEOUT)
    released = await layer.holds.release(ALICE, child)
    assert (released.job.status, released.job.detail) == (
        JobStatus.CANCELLED,
        f"dependency job {parent} ended TIMEOUT; afterok needs every dependency COMPLETED",
    )


async def test_an_admin_holds_and_releases_a_users_waiting_jobs_with_the_queued_ones(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    parent = await plain(layer)
    child = await after(layer, parent)
    held = await layer.holds.hold_all(ADMIN, "alice", "", release=False)
    assert sorted(held.changed) == sorted([parent, child])
    released = await layer.holds.hold_all(ADMIN, "alice", "", release=True)
    assert sorted(released.changed) == sorted([parent, child])
    assert (await status_of(layer, child))[0] is JobStatus.WAITING
    await run_to_end(world, layer, parent)
    assert (await status_of(layer, child))[0] is JobStatus.QUEUED


async def test_every_member_of_an_array_waits_on_the_same_jobs(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world, max_concurrent_jobs=ROOMY)
    parent = await plain(layer)
    array = ArrayRequest(
        job=submit_request(depends_on=(parent,), dependency="afterany"),
        parameter_sets=[{"theta": str(n)} for n in range(3)],
        member_bytes=[150] * 3,
        max_running=0,
    )
    array_id, members = await layer.arrays.submit(ALICE, array)
    view = await layer.arrays.view(ALICE, array_id)
    assert view.counts() == {"WAITING": 3}
    assert layer.lifecycle.jobs.queued_bytes("qpu") == 111  # the parent's only
    await run_to_end(world, layer, parent, JobStatus.FAILED)
    assert (await layer.arrays.view(ALICE, array_id)).counts() == {"QUEUED": 3}
    taken = await layer.executions.assign("qpu", "agent-2", 0)
    assert taken is not None and taken.job.job_id in members


async def test_an_array_whose_dependency_failed_is_refused_whole(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    parent = await plain(layer)
    await run_to_end(world, layer, parent, JobStatus.FAILED)
    array = ArrayRequest(
        job=submit_request(depends_on=(parent,)),
        parameter_sets=[{"theta": "1"}],
        member_bytes=[150],
        max_running=0,
    )
    with pytest.raises(FailedPrecondition, match=f"job {parent} ended FAILED"):
        await layer.arrays.submit(ALICE, array)


async def test_a_watcher_sees_a_waiting_job_queue(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    parent = await plain(layer)
    child = await after(layer, parent)
    views = layer.submissions.watch(ALICE, child)
    assert isinstance(views, AsyncGenerator)
    assert (await anext(views)).job.status is JobStatus.WAITING
    await run_to_end(world, layer, parent)
    queued = await anext(views)
    assert (queued.job.status, queued.queue_position) == (JobStatus.QUEUED, 1)
    await views.aclose()


async def test_a_restart_restores_waiting_jobs_and_judges_them(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world, max_concurrent_jobs=ROOMY)
    running = await plain(layer)
    assignment = await layer.executions.assign("qpu", "agent-1", 0)
    assert assignment is not None
    child = await after(layer, running)
    gone_parent = await plain(layer)
    orphan = await after(layer, gone_parent, condition="afterany")
    # The replica ended this parent in the table, then died before it judged the orphan.
    now = world.clock()
    assert world.store.cancel_queued(gone_parent, "cancelled by its owner", now, 0) is not None
    restarted = await world.start_layer()
    assert restarted.restored.waiting_added == 2
    assert await status_of(restarted, orphan) == (JobStatus.QUEUED, "")  # judged at start
    assert await status_of(restarted, child) == (
        JobStatus.WAITING,
        f"waiting for 1 of 1 jobs: {running}",
    )
    assert restarted.lifecycle.jobs.active_jobs(ALICE.owner) == 3
    world.upload_result(assignment)
    await restarted.executions.report(running, "agent-1", world.completion())
    await restarted.settle()
    assert (await status_of(restarted, child))[0] is JobStatus.QUEUED


async def test_a_dependency_whose_record_expired_ends_afterok_and_allows_afterany(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world, layer = await start(service_world)
    parent = await plain(layer)
    strict = await after(layer, parent)
    lenient = await after(layer, parent, condition="afterany")
    del world.store._jobs[parent]  # DynamoDB's TTL deleted it (the table keeps no tombstone)
    await world.start_layer()  # a start judges them all
    assert await status_of(layer, strict) == (
        JobStatus.CANCELLED,
        f"dependency job {parent} is gone (its record expired), so how it ended is unknown; "
        "afterok needs every dependency COMPLETED",
    )
    assert (await status_of(layer, lenient))[0] is JobStatus.QUEUED


async def test_two_replicas_one_ends_the_parent_the_other_knows_the_child(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    one, two = await world.start_layer(), await world.start_layer()
    parent = await plain(one)
    await two.replica_sync.sync_once()  # two knows the parent, queued
    child = await after(one, parent)  # two does not know the child yet
    assignment = await two.executions.assign("qpu", "agent-2", 0)
    assert assignment is not None and assignment.job.job_id == parent
    world.upload_result(assignment)
    await two.executions.report(parent, "agent-2", world.completion())
    await two.settle()
    assert (await status_of(one, child))[0] is JobStatus.WAITING  # one has not synced yet
    counts = await one.replica_sync.sync_once()  # the parent ended elsewhere: judged here
    assert counts.moved == 1
    assert (await status_of(one, child))[0] is JobStatus.QUEUED
    assert one.lifecycle.jobs.is_queued(child)
    await two.replica_sync.sync_once()
    taken = await two.executions.assign("qpu", "agent-2", 0)
    assert taken is not None and taken.job.job_id == child
    for layer in (one, two):
        await layer.replica_sync.sync_once()
        assert layer.lifecycle.jobs.check_invariants() == []


async def test_a_replica_adopts_another_ones_waiting_jobs_and_both_count_them(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_concurrent_jobs={Role.ADMIN: 10, Role.DEVELOPER: 2, Role.GUEST: 1})
    one, two = await world.start_layer(), await world.start_layer()
    parent = await plain(one)
    child = await after(one, parent)
    counts = await two.replica_sync.sync_once()
    assert (counts.queued_added, counts.waiting_added) == (1, 1)
    assert two.lifecycle.jobs.is_waiting(child)
    with pytest.raises(ResourceExhausted):
        await two.submissions.submit(ALICE, submit_request())
    # Both judge the child when the parent ends through one; the conditional write decides.
    await run_to_end(world, one, parent)
    await two.replica_sync.sync_once()
    assert two.lifecycle.jobs.is_queued(child) and one.lifecycle.jobs.is_queued(child)
    for layer in (one, two):
        assert layer.lifecycle.jobs.check_invariants() == []
