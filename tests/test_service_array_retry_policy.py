"""The retry policy of an array's options holds for each of its jobs: a failed run is
retried while attempts remain, a lost agent counts against the same limit, and each
job's status lists its own attempts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scheduler.domain.attempts import attempts_of
from scheduler.domain.jobs import JobStatus
from scheduler.service.job_arrays import ArrayRequest
from tests.service_harness import ServiceWorld, principal, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")


def array_request(count: int, *, max_running: int = 0, **options: Any) -> ArrayRequest:
    job = submit_request(**options)
    return ArrayRequest(
        job=job,
        parameter_sets=[{"theta": str(index)} for index in range(count)],
        member_bytes=[job.size_bytes + 12] * count,
        max_running=max_running,
    )


async def test_each_failed_member_is_retried_until_its_attempts_are_spent(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=3)
    layer = await world.start_layer()
    _, job_ids = await layer.arrays.submit(
        ALICE, array_request(2, max_attempts=2, retry_on_failure=True)
    )
    for attempt, agent in ((1, "agent-1"), (2, "agent-2")):
        for job_id in job_ids:  # in array order: a retried job keeps its place in line
            assigned = await layer.executions.assign("qpu", agent, 0)
            assert assigned is not None
            assert (assigned.job.job_id, assigned.job.attempt) == (job_id, attempt)
            world.clock.advance(1)
            after = await layer.executions.report(
                job_id, agent, world.completion(JobStatus.FAILED, "device glitch")
            )
            if attempt == 1:
                assert after.status is JobStatus.QUEUED
                assert "attempt 1 of 2 failed, retrying: device glitch" in after.detail
            else:
                assert (after.status, after.detail) == (JobStatus.FAILED, "device glitch")
    assert await layer.executions.assign("qpu", "agent-3", 0) is None
    for job_id in job_ids:
        job = (await layer.submissions.view(ALICE, job_id)).job
        shown = [(a.number, a.agent_id, a.outcome) for a in attempts_of(job)]
        assert shown == [(1, "agent-1", "FAILED_RETRIED"), (2, "agent-2", "FAILED")]


async def test_a_retried_member_of_a_throttled_array_runs_again_and_then_completes(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=3)
    layer = await world.start_layer()
    array_id, (first, second) = await layer.arrays.submit(
        ALICE, array_request(2, max_running=1, retry_on_failure=True)
    )
    assigned = await layer.executions.assign("qpu", "agent-1", 0)
    assert assigned is not None and assigned.job.job_id == first
    assert await layer.executions.assign("qpu", "agent-2", 0) is None  # the throttle: 1
    requeued = await layer.executions.report(
        first, "agent-1", world.completion(JobStatus.FAILED, "drift")
    )
    assert requeued.status is JobStatus.QUEUED  # no policy limit: the scheduler's 3
    order, ran_by = [], {}
    for agent in ("agent-2", "agent-3"):  # one at a time: its slot is free again
        assigned = await layer.executions.assign("qpu", agent, 0)
        assert assigned is not None
        assert await layer.executions.assign("qpu", "agent-4", 0) is None
        order.append((assigned.job.job_id, assigned.job.attempt))
        ran_by[assigned.job.job_id] = agent
        world.upload_result(assigned)
        done = await layer.executions.report(assigned.job.job_id, agent, world.completion())
        assert done.status is JobStatus.COMPLETED
    assert sorted(order) == sorted([(second, 1), (first, 2)])
    summary = await layer.arrays.view(ALICE, array_id)
    assert summary.counts() == {"COMPLETED": 2}
    retried = (await layer.submissions.view(ALICE, first)).job
    assert [(a.agent_id, a.outcome) for a in attempts_of(retried)] == [
        ("agent-1", "FAILED_RETRIED"),
        (ran_by[first], "COMPLETED"),
    ]
