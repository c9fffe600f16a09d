"""Leases: a heartbeat keeps a job, silence requeues it, and the last attempt fails it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.domain.errors import FailedPrecondition
from scheduler.domain.jobs import JobStatus
from tests.service_harness import ServiceLayer, ServiceWorld, principal, running_job

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")


async def status(layer: ServiceLayer, job_id: str) -> JobStatus:
    return (await layer.submissions.view(ALICE, job_id)).job.status


async def test_a_heartbeat_extends_the_lease_past_its_first_expiry(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    assignment = await running_job(layer, ALICE)
    job_id = assignment.job.job_id
    assert assignment.lease_expires_at == world.clock() + 30
    world.clock.advance(20)
    expires, cancel = await layer.executions.heartbeat(job_id, "agent-1")
    assert (expires, cancel) == (world.clock() + 30, False)
    world.clock.advance(20)  # past the first lease, within the renewed one
    await layer.monitor.check_once()
    assert await status(layer, job_id) is JobStatus.RUNNING
    world.upload_result(assignment)
    done = await layer.executions.report(job_id, "agent-1", world.completion())
    assert done.status is JobStatus.COMPLETED


async def test_a_lost_lease_requeues_the_job_for_another_agent_then_fails_it(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=2)
    layer = await world.start_layer()
    job_id = (await running_job(layer, ALICE, "agent-1")).job.job_id
    world.clock.advance(30)
    await layer.monitor.check_once()
    assert await status(layer, job_id) is JobStatus.RUNNING  # expired *after* its expiry only
    world.clock.advance(1)
    await layer.monitor.check_once()
    assert await status(layer, job_id) is JobStatus.QUEUED
    with pytest.raises(FailedPrecondition, match=r"lost the lease of job .* it was requeued"):
        await layer.executions.heartbeat(job_id, "agent-1")
    # The agent that lost it waits while another may take it.
    assert await layer.executions.assign("qpu", "agent-1", 0) is None
    again = await layer.executions.assign("qpu", "agent-2", 0)
    assert again is not None and again.job.job_id == job_id
    assert (again.job.attempt, again.job.tried_agents) == (2, ["agent-1", "agent-2"])
    world.clock.advance(31)
    await layer.monitor.check_once()
    failed = (await layer.submissions.view(ALICE, job_id)).job
    assert failed.status is JobStatus.FAILED
    assert "lost its agent 2 times" in failed.detail
    world.upload_result(again)  # the late agent finishes after all
    with pytest.raises(FailedPrecondition, match="already ended as FAILED"):
        await layer.executions.report(job_id, "agent-2", world.completion())


async def test_a_deferred_job_goes_to_the_agent_that_lost_it_once_the_deferral_ends(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=3)
    layer = await world.start_layer()
    job_id = (await running_job(layer, ALICE, "agent-1")).job.job_id
    world.clock.advance(31)
    await layer.monitor.check_once()
    assert await layer.executions.assign("qpu", "agent-1", 0) is None
    world.clock.advance(30)  # one lease: no other agent came
    again = await layer.executions.assign("qpu", "agent-1", 0)
    assert again is not None and again.job.job_id == job_id and again.job.attempt == 2


async def test_a_job_running_past_its_timeout_is_ended_despite_heartbeats(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    job_id = (await running_job(layer, ALICE, timeout_s=60.0)).job.job_id
    for _ in range(4):  # 80 s of heartbeats: within the timeout plus one lease
        world.clock.advance(20)
        await layer.executions.heartbeat(job_id, "agent-1")
        await layer.monitor.check_once()
    assert await status(layer, job_id) is JobStatus.RUNNING
    world.clock.advance(11)
    await layer.executions.heartbeat(job_id, "agent-1")
    await layer.monitor.check_once()
    ended = (await layer.submissions.view(ALICE, job_id)).job
    assert ended.status is JobStatus.TIMEOUT
    assert "exceeded its timeout of 60 s" in ended.detail


async def test_only_the_lease_holder_may_heartbeat_or_report(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    job_id = (await running_job(layer, ALICE, "agent-1")).job.job_id
    with pytest.raises(FailedPrecondition, match="agent-2 does not hold the lease"):
        await layer.executions.heartbeat(job_id, "agent-2")
    failure = world.completion(JobStatus.FAILED, "boom")
    with pytest.raises(FailedPrecondition, match="agent-2 does not hold the lease"):
        await layer.executions.report(job_id, "agent-2", failure)
    first = await layer.executions.report(job_id, "agent-1", failure)
    assert (first.status, first.detail) == (JobStatus.FAILED, "boom")
    assert await layer.executions.report(job_id, "agent-1", failure) == first  # a retry


async def test_a_status_read_while_a_lost_attempt_is_cleaned_up_shows_the_queue_position(
    service_world: Callable[..., ServiceWorld], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The requeue's write is durable before the lost attempt's objects are deleted (an S3
    # round trip): an answer given meanwhile must not say QUEUED without a place in the queue.
    world = service_world()
    layer = await world.start_layer()
    job_id = (await running_job(layer, ALICE)).job.job_id
    answers = []
    delete_attempt = world.blobs.delete_attempt

    def delete_and_note(job: str, attempt: int) -> None:
        record = world.store.get(job)
        assert record is not None
        answers.append((job, record.status, layer.submissions.view_of(record).queue_position))
        delete_attempt(job, attempt)

    monkeypatch.setattr(world.blobs, "delete_attempt", delete_and_note)
    world.clock.advance(31)
    await layer.monitor.check_once()
    assert answers == [(job_id, JobStatus.QUEUED, 1)]
