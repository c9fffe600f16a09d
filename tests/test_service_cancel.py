"""Cancel: a queued job ends at once, a running one when its agent stops."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.domain.errors import FailedPrecondition, NotFound
from scheduler.domain.jobs import JobStatus
from tests.service_harness import ServiceWorld, principal, running_job, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")
BOB = principal("bob")


async def test_a_queued_job_is_cancelled_at_once_and_never_assigned(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    cancelled = await layer.submissions.cancel(ALICE, job_id)
    assert (cancelled.status, cancelled.detail) == (JobStatus.CANCELLED, "cancelled by its owner")
    assert await layer.executions.assign("qpu", "agent-1", 0) is None
    status = layer.submissions.service_status(ALICE, "qpu")
    assert status.queue_length == 0
    with pytest.raises(FailedPrecondition, match="already ended as CANCELLED"):
        await layer.submissions.cancel(ALICE, job_id)


async def test_a_running_job_is_asked_to_stop_and_ends_when_its_agent_reports(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    job_id = (await running_job(layer, ALICE)).job.job_id
    requested = await layer.submissions.cancel(ALICE, job_id)
    assert (requested.status, requested.cancel_requested) == (JobStatus.RUNNING, True)
    _, cancel = await layer.executions.heartbeat(job_id, "agent-1")
    assert cancel is True  # how the agent learns it
    stopped = await layer.executions.report(
        job_id, "agent-1", world.completion(JobStatus.CANCELLED, "stopped on request")
    )
    assert stopped.status is JobStatus.CANCELLED
    view = await layer.submissions.view(ALICE, job_id)
    assert (view.job.status, view.job.detail) == (JobStatus.CANCELLED, "stopped on request")


async def test_a_lost_lease_clears_a_cancel_request_and_the_job_runs_anew(
    service_world: Callable[..., ServiceWorld],
) -> None:
    """The job is queued again: the owner cancels it as a queued job now."""
    world = service_world()
    layer = await world.start_layer()
    job_id = (await running_job(layer, ALICE)).job.job_id
    await layer.submissions.cancel(ALICE, job_id)
    world.clock.advance(31)
    await layer.monitor.check_once()
    requeued = await layer.submissions.view(ALICE, job_id)
    assert (requeued.job.status, requeued.job.cancel_requested) == (JobStatus.QUEUED, False)
    assert (await layer.submissions.cancel(ALICE, job_id)).status is JobStatus.CANCELLED


async def test_only_the_owner_may_cancel(service_world: Callable[..., ServiceWorld]) -> None:
    layer = await service_world().start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    with pytest.raises(NotFound, match="for this token"):
        await layer.submissions.cancel(BOB, job_id)
    assert (await layer.submissions.view(ALICE, job_id)).job.status is JobStatus.QUEUED
