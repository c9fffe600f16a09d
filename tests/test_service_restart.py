"""A restart: a new service layer over the same table restores the queue and the leases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.domain.errors import ResourceExhausted
from scheduler.domain.jobs import JobStatus, Role
from tests.service_harness import (
    ADMIN,
    ServiceLayer,
    ServiceWorld,
    principal,
    running_job,
    submit_request,
)

pytestmark = pytest.mark.asyncio


async def queue_order(layer: ServiceLayer) -> list[str]:
    listing = await layer.administration.list_queue(ADMIN, "qpu", 0)
    return [job.entry.job_id for job in listing.jobs]


async def test_a_restart_restores_queued_jobs_in_their_original_order(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    before = await world.start_layer()
    busy = principal("busy", Role.ADMIN)  # room for a burst of five
    for n, timeout in enumerate([300.0, 30.0, 450.0, 30.0, 120.0]):
        await before.submissions.submit(principal(f"user-{n}"), submit_request(timeout_s=timeout))
        await before.submissions.submit(busy, submit_request(timeout_s=timeout))  # a burst
        world.clock.advance(7)
    order = await queue_order(before)
    assert len(order) == 10
    world.clock.advance(60)  # the replica was down a minute

    after = await world.start_layer()
    assert (after.restored.queued_added, after.restored.running_added) == (10, 0)
    assert await queue_order(after) == order
    assigned = []
    while (assignment := await after.executions.assign("qpu", "agent-1", 0)) is not None:
        assigned.append(assignment.job.job_id)
    assert assigned == order


async def test_a_restart_keeps_live_leases_and_watches_them(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    before = await world.start_layer()
    alice = principal("alice")
    kept = await running_job(before, alice, "agent-1")
    kept_id = kept.job.job_id
    lost_id = (await running_job(before, alice, "agent-2")).job.job_id
    world.clock.advance(20)

    after = await world.start_layer()
    assert (after.restored.queued_added, after.restored.running_added) == (0, 2)
    await after.executions.heartbeat(kept_id, "agent-1")  # agent-2 fell silent
    world.clock.advance(11)  # the original leases have expired
    await after.monitor.check_once()
    # A restored lease runs one lease from the restart: agent-2 may have been cut off by it.
    assert (await after.submissions.view(alice, lost_id)).job.status is JobStatus.RUNNING
    await after.executions.heartbeat(kept_id, "agent-1")
    world.clock.advance(20)  # one lease after the restart
    await after.monitor.check_once()
    assert (await after.submissions.view(alice, kept_id)).job.status is JobStatus.RUNNING
    assert (await after.submissions.view(alice, lost_id)).job.status is JobStatus.QUEUED
    world.upload_result(kept)
    done = await after.executions.report(kept_id, "agent-1", world.completion())
    assert done.status is JobStatus.COMPLETED


async def test_a_restart_keeps_counting_jobs_against_their_tokens_limit(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    before = await world.start_layer()
    alice = principal("alice")
    for _ in range(3):
        await before.submissions.submit(alice, submit_request())
    after = await world.start_layer()
    with pytest.raises(ResourceExhausted, match="limit for role developer is 3"):
        await after.submissions.submit(alice, submit_request())
