"""A lost lease, a timeout and a restart, end to end over gRPC; their every case runs on the
service layer too (test_service_leases.py, test_service_restart.py)."""

from __future__ import annotations

import contextlib

from berth.scheduler.v1 import job_pb2

from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, eventually


def test_lost_lease_requeues_then_fails_after_max_attempts(make_berth_system: object) -> None:
    system = make_berth_system(lease_seconds=0.6, max_attempts=2)  # type: ignore[operator]
    with clients(system) as (submission, execution):
        user = Submitter(submission, system.tokens["developer"])
        job_id = user.submit(timeout_s=600)
        first = Agent(execution, system.tokens["executor"], "agent-a")
        second = Agent(execution, system.tokens["executor"], "agent-b")

        assigned = first.assign()
        assert assigned is not None and assigned.attempt == 1
        assert assigned.lease.heartbeat_interval.ToNanoseconds() == 200_000_000, "a third"
        # agent-a goes silent: no heartbeat. The job comes back and agent-b gets it.
        again = second.assign(wait_s=10)
        assert again is not None and again.job_id == job_id and again.attempt == 2
        info = user.status(job_id)
        assert info.status == job_pb2.JOB_STATUS_RUNNING
        assert info.timestamps.queued_at == user.status(job_id).timestamps.submitted_at

        # agent-b goes silent too: max_attempts=2 reached, the job fails.
        eventually(
            lambda: user.status(job_id).status == job_pb2.JOB_STATUS_FAILED,
            what="the job to fail after its last lost lease",
        )
        assert "giving up" in user.status(job_id).detail


def test_timeout_is_enforced_without_the_agent(make_berth_system: object) -> None:
    system = make_berth_system(lease_seconds=0.5)  # type: ignore[operator]
    with clients(system) as (submission, execution):
        user = Submitter(submission, system.tokens["developer"])
        agent = Agent(execution, system.tokens["executor"])
        job_id = user.submit(timeout_s=1)
        assert agent.assign() is not None

        def heartbeat_until_ended() -> bool:
            # The agent keeps its lease alive but never finishes the job.
            status = user.status(job_id).status
            if status == job_pb2.JOB_STATUS_RUNNING:
                with contextlib.suppress(Exception):
                    agent.heartbeat(job_id)
            return status == job_pb2.JOB_STATUS_TIMEOUT

        eventually(heartbeat_until_ended, what="the scheduler to end the job")
        assert "timeout" in user.status(job_id).detail


def test_restart_restores_queue_order_and_queued_at(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        user = Submitter(submission, berth_system.tokens["developer"])
        jobs = [user.submit(timeout_s=t) for t in (300, 30, 500, 30, 100)]
        before = {job_id: user.status(job_id) for job_id in jobs}
    berth_system.restart()
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        for job_id in jobs:
            info = user.status(job_id)
            assert info.status == job_pb2.JOB_STATUS_QUEUED
            assert info.timestamps.queued_at == before[job_id].timestamps.queued_at
            assert info.queue_position == before[job_id].queue_position
        agent = Agent(execution, berth_system.tokens["executor"])
        popped = []
        for _ in jobs:
            assigned = agent.assign()
            assert assigned is not None
            popped.append(assigned.job_id)
        assert popped == sorted(jobs, key=lambda j: before[j].queue_position)
