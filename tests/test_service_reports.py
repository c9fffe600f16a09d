"""What an agent's report is answered, case by case, as docs/protocol.md tabulates it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from scheduler.domain.errors import FailedPrecondition, NotFound
from scheduler.domain.jobs import JobStatus
from tests.service_harness import ServiceWorld, principal, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")


async def test_a_success_report_for_a_job_that_does_not_exist_is_not_found(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    missing = str(uuid.uuid4())
    with pytest.raises(NotFound, match=f"no job '{missing}'"):
        await layer.executions.report(missing, "agent-1", world.completion())


async def test_a_failure_report_for_a_job_never_assigned_says_it_was_never_assigned(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    failure = world.completion(JobStatus.FAILED, "boom")
    with pytest.raises(FailedPrecondition) as refused:
        await layer.executions.report(job_id, "agent-1", failure)
    assert refused.value.message == (
        f"job {job_id} was never assigned to agent agent-1; "
        "report and heartbeat only the jobs AssignNextJob gave this agent"
    )
    assert (await layer.submissions.view(ALICE, job_id)).job.status is JobStatus.QUEUED
