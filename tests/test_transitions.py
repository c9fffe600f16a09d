"""Conditional transitions: duplicates, late agents and races never move a job twice."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

import grpc
from berth.scheduler.v1 import execution_pb2, job_pb2
from google.protobuf.duration_pb2 import Duration

from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, rpc_error


def test_duplicate_report_acknowledged_conflicting_refused(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        agent = Agent(execution, berth_system.tokens["executor"])
        job_id = user.submit()
        assigned = agent.assign()
        assert assigned is not None
        first = agent.report(job_id, execution_pb2.EXECUTION_OUTCOME_FAILURE, error="boom")
        again = agent.report(job_id, execution_pb2.EXECUTION_OUTCOME_FAILURE, error="boom")
        assert first.status == again.status == job_pb2.JOB_STATUS_FAILED
        error = rpc_error(lambda: agent.report(job_id, execution_pb2.EXECUTION_OUTCOME_CANCELLED))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        info = user.status(job_id)
        assert info.status == job_pb2.JOB_STATUS_FAILED and info.detail == "boom"


def test_success_requires_the_uploaded_result(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        agent = Agent(execution, berth_system.tokens["executor"])
        job_id = user.submit()
        assert agent.assign() is not None
        error = rpc_error(lambda: agent.report(job_id))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "upload" in error.details()
        assert user.status(job_id).status == job_pb2.JOB_STATUS_RUNNING


def test_report_from_non_holder_is_refused(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        holder = Agent(execution, berth_system.tokens["executor"], "agent-a")
        intruder = Agent(execution, berth_system.tokens["executor"], "agent-b")
        job_id = user.submit()
        assert holder.assign() is not None
        for call in (
            lambda: intruder.report(job_id, execution_pb2.EXECUTION_OUTCOME_FAILURE),
            lambda: intruder.heartbeat(job_id),
        ):
            error = rpc_error(call)
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "does not hold the lease" in error.details()
        assert user.status(job_id).status == job_pb2.JOB_STATUS_RUNNING


def test_concurrent_assign_never_hands_out_a_job_twice(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["admin"])
        jobs = {user.submit() for _ in range(12)}
        got: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(8)

        def poll(index: int) -> None:
            agent = Agent(execution, berth_system.tokens["executor"], f"agent-{index}")
            start.wait()
            while True:
                assigned = agent.assign(wait_s=0.3)
                if assigned is None:
                    return
                with lock:
                    got.append(assigned.job_id)

        threads = [threading.Thread(target=poll, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(got) == sorted(jobs), "every job assigned exactly once"


def test_long_poll_returns_as_soon_as_a_job_arrives(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        agent = Agent(execution, berth_system.tokens["executor"])
        user = Submitter(submission, berth_system.tokens["developer"])
        result: list[execution_pb2.AssignedJob | None] = []
        waiting = threading.Thread(target=lambda: result.append(agent.assign(wait_s=20)))
        waiting.start()
        job_id = user.submit()
        waiting.join(10)
        assert not waiting.is_alive(), "the long-poll returned before its 20 s wait"
        assert result[0] is not None and result[0].job_id == job_id
        assert agent.assign(wait_s=0.2) is None, "empty after `wait` when nothing is queued"


def test_any_long_wait_is_capped_and_only_a_malformed_one_refused(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    system = make_berth_system(max_assign_wait_seconds=0.3)
    with clients(system) as (submission, execution):
        agent = Agent(execution, system.tokens["executor"])
        year, billion = 365 * 86400, 10**9
        for seconds in (year, billion, 315_576_000_000):
            started = time.monotonic()
            reply = agent.stub.AssignNextJob(
                execution_pb2.AssignNextJobRequest(
                    backend="emulator", agent_id="agent-1", wait=Duration(seconds=seconds)
                ),
                metadata=agent.metadata,
                timeout=10,
            )
            assert not reply.HasField("assigned")
            assert time.monotonic() - started < 5, f"a wait of {seconds} s is capped"
        job_id = Submitter(submission, system.tokens["developer"]).submit()
        reply = agent.stub.AssignNextJob(
            execution_pb2.AssignNextJobRequest(
                backend="emulator", agent_id="agent-1", wait=Duration(seconds=billion)
            ),
            metadata=agent.metadata,
            timeout=10,
        )
        assert reply.assigned.job_id == job_id
        for malformed in (Duration(seconds=315_576_000_001), Duration(seconds=1, nanos=-1)):
            request = execution_pb2.AssignNextJobRequest(
                backend="emulator", agent_id="agent-1", wait=malformed
            )
            error = rpc_error(
                functools.partial(
                    agent.stub.AssignNextJob, request, metadata=agent.metadata, timeout=10
                )
            )
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "wait is not a valid duration" in error.details()
