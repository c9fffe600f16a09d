"""Two replicas over one table: each learns the other's jobs by its replica sync."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.domain.errors import ResourceExhausted
from scheduler.domain.jobs import JobStatus
from tests.service_harness import ServiceWorld, principal, running_job, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")


async def test_a_job_accepted_by_one_replica_is_assigned_by_the_other_once(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    one, two = await world.start_layer(), await world.start_layer()
    job_id = await one.submissions.submit(ALICE, submit_request())
    assert await two.executions.assign("qpu", "agent-2", 0) is None  # not learned yet
    counts = await two.replica_sync.sync_once()
    assert counts.queued_added == 1
    assignment = await two.executions.assign("qpu", "agent-2", 0)
    assert assignment is not None and assignment.job.job_id == job_id
    # The first replica still has it queued; its claim fails and it drops the entry.
    assert await one.executions.assign("qpu", "agent-1", 0) is None
    assert one.submissions.service_status(ALICE, "qpu").queue_length == 0
    assert (await one.submissions.view(ALICE, job_id)).job.status is JobStatus.RUNNING


async def test_a_replica_adopts_the_running_jobs_of_one_that_died(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    dead, survivor = await world.start_layer(), await world.start_layer()
    job_id = (await running_job(dead, ALICE, "agent-1")).job.job_id
    # `dead` is never called again; its agent keeps heartbeating through the survivor.
    assert (await survivor.replica_sync.sync_once()).running_added == 1
    world.clock.advance(25)
    await survivor.executions.heartbeat(job_id, "agent-1")
    world.clock.advance(25)
    await survivor.monitor.check_once()
    assert (await survivor.submissions.view(ALICE, job_id)).job.status is JobStatus.RUNNING
    world.clock.advance(31)  # then the agent dies too
    await survivor.monitor.check_once()
    again = await survivor.executions.assign("qpu", "agent-2", 0)
    assert again is not None and (again.job.job_id, again.job.attempt) == (job_id, 2)


async def test_a_job_ended_through_one_replica_is_forgotten_by_the_other(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    one, two = await world.start_layer(), await world.start_layer()
    job_id = await one.submissions.submit(ALICE, submit_request())
    await two.replica_sync.sync_once()
    await one.submissions.cancel(ALICE, job_id)
    assert (await two.replica_sync.sync_once()).moved == 1
    assert two.submissions.service_status(ALICE, "qpu").queue_length == 0
    for _ in range(3):  # the cancelled job no longer counts on the second replica
        await two.submissions.submit(ALICE, submit_request())


async def test_the_per_token_limit_holds_across_replicas_after_a_sync(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    one, two = await world.start_layer(), await world.start_layer()
    for _ in range(2):
        await one.submissions.submit(ALICE, submit_request())
    await two.replica_sync.sync_once()
    await two.submissions.submit(ALICE, submit_request())
    with pytest.raises(ResourceExhausted, match="this token has 3 jobs queued, waiting or running"):
        await two.submissions.submit(ALICE, submit_request())
