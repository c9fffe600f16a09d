"""Limits a submission meets: jobs per token and role, bytes per job, bytes in the queue."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.domain.errors import InvalidArgument, ResourceExhausted
from scheduler.domain.jobs import JobStatus, Role
from tests.service_harness import ADMIN, ServiceWorld, principal, running_job, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")
BOB = principal("bob")
GUEST = principal("gus", Role.GUEST)


async def test_a_token_may_hold_its_roles_number_of_jobs_queued_or_running(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    submit = layer.submissions.submit
    submitted = {await submit(ALICE, submit_request()) for _ in range(2)}
    running = await layer.executions.assign("qpu", "agent-1", 0)
    assert running is not None  # a running job counts too
    await submit(ALICE, submit_request())
    with pytest.raises(ResourceExhausted, match="limit for role developer is 3"):
        await submit(ALICE, submit_request())
    await submit(BOB, submit_request())  # another token of the same role has its own count
    for _ in range(2):
        await submit(GUEST, submit_request())
    with pytest.raises(
        ResourceExhausted,
        match=r"limit for role guest is 2 \(SCHEDULER_MAX_CONCURRENT_JOBS_GUEST\)",
    ):
        await submit(GUEST, submit_request())
    with pytest.raises(ResourceExhausted):
        await submit(ALICE, submit_request())
    (queued,) = submitted - {running.job.job_id}
    await layer.submissions.cancel(ALICE, queued)
    await submit(ALICE, submit_request())  # an ended job frees its place


async def test_a_finished_job_frees_its_place(service_world: Callable[..., ServiceWorld]) -> None:
    world = service_world()
    layer = await world.start_layer()
    assignment = await running_job(layer, ALICE)
    for _ in range(2):
        await layer.submissions.submit(ALICE, submit_request())
    world.upload_result(assignment)
    done = await layer.executions.report(assignment.job.job_id, "agent-1", world.completion())
    assert done.status is JobStatus.COMPLETED
    await layer.submissions.submit(ALICE, submit_request())


async def test_a_job_over_its_roles_byte_limit_is_refused_with_the_limit(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    with pytest.raises(InvalidArgument, match="2001 bytes; the limit for role developer is 2000"):
        await layer.submissions.submit(ALICE, submit_request(size_bytes=2001))
    await layer.submissions.submit(ALICE, submit_request(size_bytes=2000))
    with pytest.raises(InvalidArgument, match="limit for role guest is 1000 bytes"):
        await layer.submissions.submit(GUEST, submit_request(size_bytes=1001))


async def test_the_queue_takes_jobs_up_to_its_byte_budget_and_frees_it_on_assignment(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    for _ in range(2):
        await layer.submissions.submit(ADMIN, submit_request(size_bytes=2000))
    with pytest.raises(ResourceExhausted, match=r"queue is full \(4000 of 5000 bytes"):
        await layer.submissions.submit(ADMIN, submit_request(size_bytes=2000))
    await layer.submissions.submit(ALICE, submit_request(size_bytes=1000))  # what still fits
    assert await layer.executions.assign("qpu", "agent-1", 0) is not None
    await layer.submissions.submit(ADMIN, submit_request(size_bytes=2000))


async def test_a_refused_submission_leaves_nothing_behind(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_queue_bytes=1000)
    layer = await world.start_layer()
    with pytest.raises(ResourceExhausted):
        await layer.submissions.submit(ALICE, submit_request(size_bytes=1001))
    views, _ = await layer.submissions.list_jobs(
        ALICE, status=None, backend=None, all_users=False, page_size=0, page_token=""
    )
    assert views == []
    for _ in range(3):  # the refused one took no place of the three
        await layer.submissions.submit(ALICE, submit_request(size_bytes=300))
