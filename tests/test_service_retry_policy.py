"""Retry policy per job: fewer attempts after a lost agent, failed runs retried, every
attempt shown in the job's status."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.domain.attempts import attempts_of
from scheduler.domain.errors import InvalidArgument
from scheduler.domain.jobs import JobStatus
from tests.service_harness import ServiceWorld, principal, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")


async def test_max_attempts_one_fails_the_job_after_its_first_lost_agent(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=3)
    layer = await world.start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request(max_attempts=1))
    assert await layer.executions.assign("qpu", "agent-1", 0) is not None
    world.clock.advance(31)  # the lease (30 s) lapses: agent-1 is lost
    await layer.monitor.check_once()
    job = (await layer.submissions.view(ALICE, job_id)).job
    assert job.status is JobStatus.FAILED
    assert "lost its agent 1 times" in job.detail
    assert [(a.number, a.agent_id, a.outcome) for a in attempts_of(job)] == [
        (1, "agent-1", "FAILED")
    ]
    assert await layer.executions.assign("qpu", "agent-2", 0) is None


async def test_without_a_policy_a_lost_agent_requeues_up_to_the_schedulers_maximum(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=2)
    layer = await world.start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    assert await layer.executions.assign("qpu", "agent-1", 0) is not None
    world.clock.advance(31)
    await layer.monitor.check_once()
    again = await layer.executions.assign("qpu", "agent-2", 0)
    assert again is not None and again.job.attempt == 2
    job = (await layer.submissions.view(ALICE, job_id)).job
    assert [(a.number, a.agent_id, a.outcome) for a in attempts_of(job)] == [
        (1, "agent-1", "LOST_AGENT"),
        (2, "agent-2", "RUNNING"),
    ]


async def test_more_attempts_than_the_scheduler_allows_are_refused_naming_the_limit(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world(max_attempts=2).start_layer()
    with pytest.raises(InvalidArgument, match=r"maximum, 2 \(SCHEDULER_MAX_ATTEMPTS\)"):
        await layer.submissions.submit(ALICE, submit_request(max_attempts=3))
    with pytest.raises(InvalidArgument, match="max_attempts is -1"):
        await layer.submissions.submit(ALICE, submit_request(max_attempts=-1))


async def test_a_failed_run_is_retried_and_the_next_agent_completes_it(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=3)
    layer = await world.start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request(retry_on_failure=True))
    assert await layer.executions.assign("qpu", "agent-1", 0) is not None
    world.clock.advance(5)
    requeued = await layer.executions.report(
        job_id, "agent-1", world.completion(JobStatus.FAILED, "device glitch")
    )
    assert requeued.status is JobStatus.QUEUED
    assert "attempt 1 of 3 failed, retrying: device glitch" in requeued.detail
    second = await layer.executions.assign("qpu", "agent-2", 0)
    assert second is not None and (second.job.job_id, second.job.attempt) == (job_id, 2)
    world.clock.advance(5)
    world.upload_result(second)
    done = await layer.executions.report(job_id, "agent-2", world.completion())
    assert done.status is JobStatus.COMPLETED
    job = (await layer.submissions.view(ALICE, job_id)).job
    shown = [(a.number, a.agent_id, a.outcome) for a in attempts_of(job)]
    assert shown == [(1, "agent-1", "FAILED_RETRIED"), (2, "agent-2", "COMPLETED")]
    first, last = attempts_of(job)
    assert first.ended_at <= last.started_at
    assert last.ended_at == world.clock()


async def test_a_failed_run_ends_the_job_once_its_attempts_are_spent(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=3)
    layer = await world.start_layer()
    job_id = await layer.submissions.submit(
        ALICE, submit_request(retry_on_failure=True, max_attempts=2)
    )
    for agent in ("agent-1", "agent-2"):
        assert await layer.executions.assign("qpu", agent, 0) is not None
        ended = await layer.executions.report(
            job_id, agent, world.completion(JobStatus.FAILED, "bad")
        )
    assert (ended.status, ended.detail) == (JobStatus.FAILED, "bad")
    outcomes = [a.outcome for a in attempts_of(ended)]
    assert outcomes == ["FAILED_RETRIED", "FAILED"]


async def test_without_retry_on_failure_a_failed_run_ends_the_job(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(max_attempts=3)
    layer = await world.start_layer()
    job_id = await layer.submissions.submit(ALICE, submit_request())
    assert await layer.executions.assign("qpu", "agent-1", 0) is not None
    ended = await layer.executions.report(job_id, "agent-1", world.completion(JobStatus.FAILED))
    assert ended.status is JobStatus.FAILED
    assert [a.outcome for a in attempts_of(ended)] == ["FAILED"]
