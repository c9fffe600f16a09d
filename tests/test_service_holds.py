"""Hold and release: a held job is off every agent, out of line and out of its owner's
limit until released; the hold is in the table, so restarts and other replicas keep it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from scheduler.domain.jobs import JobStatus, Role
from scheduler.service.job_arrays import ArrayRequest
from tests.service_harness import ADMIN, ServiceWorld, principal, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")
BOB = principal("bob")


async def test_a_held_job_goes_to_no_agent_until_released_and_then_queues_anew(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    first = await layer.submissions.submit(ALICE, submit_request())
    world.clock.advance(60)
    second = await layer.submissions.submit(ALICE, submit_request())
    held = await layer.holds.hold(ALICE, first)
    assert (held.job.status, held.job.detail, held.queue_position) == (
        JobStatus.HELD,
        "held by its owner",
        0,
    )
    assert layer.submissions.service_status(ALICE, "qpu").queue_length == 1
    taken = await layer.executions.assign("qpu", "agent-1", 0)
    assert taken is not None and taken.job.job_id == second
    assert await layer.executions.assign("qpu", "agent-2", 0) is None
    world.clock.advance(10)
    released = await layer.holds.release(ALICE, first)
    assert (released.job.status, released.job.queued_at) == (JobStatus.QUEUED, world.clock())
    assert released.queue_position == 1
    again = await layer.executions.assign("qpu", "agent-2", 0)
    assert again is not None and (again.job.job_id, again.job.attempt) == (first, 1)


async def test_hold_and_release_are_idempotent_and_refuse_other_states(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    await layer.holds.hold(ALICE, job_id)
    assert (await layer.holds.hold(ALICE, job_id)).job.status is JobStatus.HELD
    await layer.holds.release(ALICE, job_id)
    assert (await layer.holds.release(ALICE, job_id)).job.status is JobStatus.QUEUED
    assert await layer.executions.assign("qpu", "agent-1", 0) is not None
    with pytest.raises(
        FailedPrecondition, match="is RUNNING; only a QUEUED or WAITING job can be held"
    ):
        await layer.holds.hold(ALICE, job_id)
    other = await layer.submissions.submit(ALICE, submit_request())
    await layer.submissions.cancel(ALICE, other)
    with pytest.raises(
        FailedPrecondition, match="is CANCELLED; only a QUEUED or WAITING job can be held"
    ):
        await layer.holds.hold(ALICE, other)
    with pytest.raises(FailedPrecondition, match="only a HELD job can be released"):
        await layer.holds.release(ALICE, other)


async def test_only_the_owner_or_an_admin_may_hold_a_job(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    with pytest.raises(NotFound):
        await layer.holds.hold(BOB, job_id)
    held = await layer.holds.hold(ADMIN, job_id)
    assert held.job.detail == "held by admin root"
    with pytest.raises(NotFound):
        await layer.holds.release(BOB, job_id)
    assert (await layer.holds.release(ALICE, job_id)).job.status is JobStatus.QUEUED


async def test_a_held_job_can_be_cancelled(service_world: Callable[..., ServiceWorld]) -> None:
    layer = await service_world().start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    await layer.holds.hold(ALICE, job_id)
    cancelled = await layer.submissions.cancel(ALICE, job_id)
    assert cancelled.status is JobStatus.CANCELLED


async def test_held_jobs_free_the_limit_and_a_release_at_the_limit_is_refused(
    service_world: Callable[..., ServiceWorld],
) -> None:
    """Developers may have 3 jobs queued or running (TEST_CONFIG); held ones do not count."""
    layer = await service_world().start_layer()
    held = await layer.submissions.submit(ALICE, submit_request())
    await layer.holds.hold(ALICE, held)
    for _ in range(3):
        await layer.submissions.submit(ALICE, submit_request())
    with pytest.raises(ResourceExhausted, match="limit for role developer is 3"):
        await layer.holds.release(ALICE, held)
    assert (await layer.submissions.view(ALICE, held)).job.status is JobStatus.HELD
    # An admin's release is an operator's word: it passes the limit.
    assert (await layer.holds.release(ADMIN, held)).job.status is JobStatus.QUEUED


async def test_an_admin_holds_and_releases_a_users_or_a_backends_queued_jobs(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    alice_qpu = await layer.submissions.submit(ALICE, submit_request())
    alice_gpu = await layer.submissions.submit(ALICE, submit_request(backend="gpu"))
    bob_qpu = await layer.submissions.submit(BOB, submit_request())
    by_user = await layer.holds.hold_all(ADMIN, "alice", "", release=False)
    assert (sorted(by_user.changed), by_user.skipped) == (sorted([alice_qpu, alice_gpu]), 0)
    by_backend = await layer.holds.hold_all(ADMIN, "", "qpu", release=False)
    assert by_backend.changed == [bob_qpu]
    assert await layer.executions.assign("qpu", "agent-1", 0) is None
    assert await layer.executions.assign("gpu", "agent-2", 0) is None
    released = await layer.holds.hold_all(ADMIN, "alice", "gpu", release=True)
    assert released.changed == [alice_gpu]
    taken = await layer.executions.assign("gpu", "agent-2", 0)
    assert taken is not None and taken.job.job_id == alice_gpu
    with pytest.raises(PermissionDenied):
        await layer.holds.hold_all(ALICE, "alice", "", release=False)
    with pytest.raises(InvalidArgument, match="name a user"):
        await layer.holds.hold_all(ADMIN, "", "", release=False)


async def test_a_hold_survives_a_restart(service_world: Callable[..., ServiceWorld]) -> None:
    world = service_world()
    layer = await world.start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    await layer.holds.hold(ALICE, job_id)
    restarted = await world.start_layer()
    assert restarted.restored.queued_added == 0
    assert await restarted.executions.assign("qpu", "agent-1", 0) is None
    await restarted.holds.release(ALICE, job_id)
    taken = await restarted.executions.assign("qpu", "agent-1", 0)
    assert taken is not None and taken.job.job_id == job_id


async def test_a_hold_through_one_replica_keeps_the_job_off_the_other(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    one, two = await world.start_layer(), await world.start_layer()
    job_id = await one.submissions.submit(ALICE, submit_request())
    await two.replica_sync.sync_once()  # two has it queued
    await one.holds.hold(ALICE, job_id)
    # Before its sync, two still has the entry: the conditional claim refuses it.
    assert await two.executions.assign("qpu", "agent-2", 0) is None
    counts = await two.replica_sync.sync_once()
    assert counts.queued_added == 0
    assert two.submissions.service_status(ALICE, "qpu").queue_length == 0
    await one.holds.release(ALICE, job_id)
    assert (await two.replica_sync.sync_once()).queued_added == 1
    taken = await two.executions.assign("qpu", "agent-2", 0)
    assert taken is not None and taken.job.job_id == job_id


async def test_a_hold_through_one_replica_frees_the_owners_limit_on_the_other(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_concurrent_jobs={Role.ADMIN: 10, Role.DEVELOPER: 1, Role.GUEST: 1})
    one, two = await world.start_layer(), await world.start_layer()
    job_id = await one.submissions.submit(ALICE, submit_request())
    await two.replica_sync.sync_once()
    with pytest.raises(ResourceExhausted):
        await two.submissions.submit(ALICE, submit_request())
    await one.holds.hold(ALICE, job_id)
    await two.replica_sync.sync_once()
    assert await two.submissions.submit(ALICE, submit_request())


async def test_an_admin_may_fail_a_held_job_but_not_requeue_it(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    await layer.holds.hold(ALICE, job_id)
    with pytest.raises(FailedPrecondition, match="is HELD: release it to queue it again"):
        await layer.administration.requeue(ADMIN, job_id)
    failed = await layer.administration.fail(ADMIN, job_id, "bad input")
    assert failed.job.job.status is JobStatus.FAILED


async def test_a_release_through_a_replica_that_saw_the_job_run_queues_it_there_once(
    service_world: Callable[..., ServiceWorld],
) -> None:
    """Claimed through one replica, requeued and held through the other: releasing it
    through the first leaves nothing of the old run there."""
    world = service_world()
    one, two = await world.start_layer(), await world.start_layer()
    job_id = await one.submissions.submit(ALICE, submit_request())
    assert await one.executions.assign("qpu", "agent-1", 0) is not None
    await two.replica_sync.sync_once()
    await two.administration.requeue(ADMIN, job_id)
    await two.holds.hold(ALICE, job_id)
    await one.holds.release(ALICE, job_id)
    assert one.lifecycle.jobs.tracked(job_id) is None
    assert one.lifecycle.jobs.is_queued(job_id)
    assert one.lifecycle.jobs.check_invariants() == []


async def test_holding_a_throttled_arrays_job_frees_its_slot_on_a_replica_that_saw_it_run(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    one, two = await world.start_layer(), await world.start_layer()
    array = ArrayRequest(
        job=submit_request(),
        parameter_sets=[{"n": "0"}, {"n": "1"}],
        member_bytes=[150, 150],
        max_running=1,
    )
    _, (first, second) = await one.arrays.submit(ALICE, array)
    taken = await one.executions.assign("qpu", "agent-1", 0)
    assert taken is not None and taken.job.job_id == first
    await two.replica_sync.sync_once()
    await two.administration.requeue(ADMIN, first)
    await one.holds.hold(ALICE, first)  # one still had it running: its slot is free now
    again = await one.executions.assign("qpu", "agent-1", 0)
    assert again is not None and again.job.job_id == second
