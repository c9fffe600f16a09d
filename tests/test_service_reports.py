"""What an agent's reports, heartbeats and upload refreshes are answered, as docs/protocol.md
tabulates it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from scheduler.domain.errors import FailedPrecondition, NotFound
from scheduler.domain.jobs import JobStatus, Role
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


async def test_another_executor_token_naming_the_lease_holder_is_refused(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    executor, impostor = principal("rack-a", Role.EXECUTOR), principal("rack-b", Role.EXECUTOR)
    job_id = await layer.submissions.submit(ALICE, submit_request())
    assignment = await layer.executions.assign("qpu", "agent-x", 0, executor)
    assert assignment is not None and assignment.job.job_id == job_id
    world.upload_result(assignment)
    ops = layer.executions
    refused = "was taken by agent agent-x with another executor token; token "
    with pytest.raises(FailedPrecondition, match=refused + impostor.token_id):
        await ops.heartbeat(job_id, "agent-x", impostor)
    with pytest.raises(FailedPrecondition, match=refused):
        await ops.refresh_upload(job_id, "agent-x", impostor)
    for outcome in (JobStatus.COMPLETED, JobStatus.FAILED):
        with pytest.raises(FailedPrecondition, match=refused):
            await ops.report(job_id, "agent-x", world.completion(outcome), impostor)
    await ops.heartbeat(job_id, "agent-x", executor)
    done = await ops.report(job_id, "agent-x", world.completion(), executor)
    assert done.status is JobStatus.COMPLETED
