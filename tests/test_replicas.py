"""Several scheduler replicas on one table and bucket.

The first tests run a second replica in-process beside a BerthSystem (fast,
and each shows one promise); the last ones run real processes: two
`python -m scheduler` replicas, executor agents and the AWS emulator, with
every execution counted on the agents' side.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from berth.scheduler.v1 import job_pb2, submission_pb2

from scheduler.app import SchedulerApp
from scheduler.domain.jobs import Role
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, eventually, rpc_error
from tests.replica_processes import Cluster, submit_all

SYNC_S = 0.3


@dataclass
class Replica:
    """A second scheduler on the same storage and token database."""

    app: SchedulerApp
    submission: grpc.Channel
    execution: grpc.Channel

    def user(self, token: str) -> Submitter:
        return Submitter(self.submission, token)

    def agent(self, token: str, agent_id: str) -> Agent:
        return Agent(self.execution, token, agent_id)


@contextmanager
def second_replica(system: BerthSystem) -> Iterator[Replica]:
    config = replace(
        system.stack.config, port_for_submission=0, port_for_execution=0, metrics_port=-1
    )
    app = SchedulerApp(config)
    system.run(app.start())
    assert app.submission is not None and app.execution is not None
    submission = grpc.insecure_channel(f"127.0.0.1:{app.submission.port}")
    execution = grpc.insecure_channel(f"127.0.0.1:{app.execution.port}")
    try:
        yield Replica(app, submission, execution)
    finally:
        submission.close()
        execution.close()
        system.run(app.stop(0.5))


def queue_length(user: Submitter, backend: str = "emulator") -> int:
    request = submission_pb2.GetServiceStatusRequest(backend=backend)
    return user.stub.GetServiceStatus(request, metadata=user.metadata, timeout=10).queue_length


def two_replicas(
    make_berth_system: Callable[..., BerthSystem], **overrides: Any
) -> tuple[BerthSystem, dict[str, str]]:
    system = make_berth_system(replica_sync_seconds=SYNC_S, metrics_port=-1, **overrides)
    return system, system.tokens


def test_a_job_accepted_by_one_replica_is_assigned_through_another_on_an_empty_poll(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    # Periodic syncs are an hour apart: only the empty long-poll can make B look.
    system = make_berth_system(replica_sync_seconds=3600, metrics_port=-1)
    with second_replica(system) as b, clients(system) as (a_submission, _):
        job_id = Submitter(a_submission, system.tokens["developer"]).submit()
        agent = b.agent(system.tokens["executor"], "agent-on-b")
        assigned = agent.assign(wait_s=10)
        assert assigned is not None and assigned.job_id == job_id
        assert assigned.job.program.payload == b"OPENQASM 3; qubit q;"  # read from S3 by B
        encoded = agent.upload(assigned.result_upload, b"done")
        agent.report(job_id, raw=4, encoded=len(encoded))
        user_at_a = Submitter(a_submission, system.tokens["developer"])
        assert user_at_a.status(job_id).status == job_pb2.JOB_STATUS_COMPLETED


def test_a_crowd_of_idle_agents_makes_a_replica_read_the_table_about_once_a_second(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    system = make_berth_system(replica_sync_seconds=3600, metrics_port=-1)
    app = system.stack.app
    assert app is not None and app.replica_sync is not None
    before = app.replica_sync.completed
    started = time.monotonic()
    with clients(system) as (_, execution):
        agents = [Agent(execution, system.tokens["executor"], f"idle-{n}") for n in range(20)]

        def poll_emptily(agent: Agent) -> None:
            for _ in range(10):  # short polls, so that empty ones keep coming
                assert agent.assign(wait_s=0.2) is None

        with ThreadPoolExecutor(20) as pool:
            list(pool.map(poll_emptily, agents))
    seconds = time.monotonic() - started
    assert 1 <= app.replica_sync.completed - before <= seconds + 2  # not one per poll (200)


def test_a_job_assigned_through_one_replica_ends_cleanly_on_both_when_reported_through_the_other(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    limits = {Role.ADMIN: 1000, Role.DEVELOPER: 1, Role.GUEST: 5}
    system, tokens = two_replicas(make_berth_system, max_concurrent_jobs=limits)
    with second_replica(system) as b, clients(system) as (a_submission, a_execution):
        user_at_a = Submitter(a_submission, tokens["developer"])
        user_at_b = b.user(tokens["developer"])
        job_id = user_at_a.submit()
        assigned = Agent(a_execution, tokens["executor"], "agent-1").assign()
        assert assigned is not None and assigned.job_id == job_id
        # The agent's next calls reach B (a load balancer, or A went away).
        through_b = b.agent(tokens["executor"], "agent-1")
        through_b.heartbeat(job_id)
        encoded = through_b.upload(assigned.result_upload, b"ok")
        through_b.report(job_id, raw=2, encoded=len(encoded))
        assert user_at_a.status(job_id).status == job_pb2.JOB_STATUS_COMPLETED
        # The developer's single slot is free again on both replicas: A learns from its sync.
        eventually(lambda: _accepts(user_at_a), what="A to free the finished job's slot")
        # ...and the new job takes it on both.
        eventually(lambda: queue_length(user_at_b) == 1, what="B to learn A's new job")
        assert rpc_error(user_at_b.submit).code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def _accepts(user: Submitter) -> bool:
    try:
        user.submit()
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
        return False
    return True


def test_the_per_token_limit_holds_across_replicas(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    limits = {Role.ADMIN: 1000, Role.DEVELOPER: 2, Role.GUEST: 5}
    system, tokens = two_replicas(make_berth_system, max_concurrent_jobs=limits)
    with second_replica(system) as b, clients(system) as (a_submission, _):
        user_at_a = Submitter(a_submission, tokens["developer"])
        user_at_b = b.user(tokens["developer"])
        user_at_a.submit()
        user_at_a.submit()
        eventually(lambda: queue_length(user_at_b) == 2, what="B to learn A's jobs")
        error = rpc_error(user_at_b.submit)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "SCHEDULER_MAX_CONCURRENT_JOBS_DEVELOPER" in error.details()


def test_a_job_cancelled_through_one_replica_leaves_the_other_replicas_queue(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    system, tokens = two_replicas(make_berth_system)
    with second_replica(system) as b, clients(system) as (a_submission, a_execution):
        user_at_a = Submitter(a_submission, tokens["developer"])
        job_id = user_at_a.submit()
        user_at_b = b.user(tokens["developer"])
        eventually(lambda: queue_length(user_at_b) == 1, what="B to learn A's job")
        assert user_at_b.status(job_id).queue_position == 1
        user_at_b.cancel(job_id)
        eventually(lambda: queue_length(user_at_a) == 0, what="A to drop the cancelled job")
        assert Agent(a_execution, tokens["executor"]).assign(wait_s=0.5) is None
        assert user_at_a.status(job_id).status == job_pb2.JOB_STATUS_CANCELLED


def test_a_survivor_requeues_a_job_whose_replica_died_with_its_agent(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    system, tokens = two_replicas(make_berth_system, lease_seconds=1.0)
    with second_replica(system) as b, clients(system) as (a_submission, a_execution):
        job_id = Submitter(a_submission, tokens["developer"]).submit()
        lost = Agent(a_execution, tokens["executor"], "agent-lost").assign()
        assert lost is not None and lost.job_id == job_id
        system.stop_scheduler()  # A is gone, and so is the agent it gave the job to
        again = b.agent(tokens["executor"], "agent-2").assign(wait_s=10)
        assert again is not None and again.job_id == job_id and again.attempt == 2
        info = b.user(tokens["developer"]).status(job_id)
        assert info.status == job_pb2.JOB_STATUS_RUNNING


def test_agents_racing_through_both_replicas_never_get_one_job_twice(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    system, tokens = two_replicas(make_berth_system)
    with second_replica(system) as b, clients(system) as (a_submission, a_execution):
        admin = Submitter(a_submission, tokens["admin"])
        jobs = [admin.submit() for _ in range(30)]
        eventually(lambda: queue_length(b.user(tokens["admin"])) == 30, what="B to learn them")
        agents = [Agent(a_execution, tokens["executor"], f"a-{n}") for n in range(2)]
        agents += [b.agent(tokens["executor"], f"b-{n}") for n in range(2)]
        taken: list[str] = []
        lock = threading.Lock()

        def drain(agent: Agent) -> None:
            while (assigned := agent.assign(wait_s=0.5)) is not None:
                with lock:
                    taken.append(assigned.job_id)

        threads = [threading.Thread(target=drain, args=(agent,)) for agent in agents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert Counter(taken) == Counter(jobs)


# --- real processes ---------------------------------------------------------------------


@pytest.fixture
def cluster(emulator: str, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(emulator, tmp_path)
    yield running
    running.close()


# A few dozen jobs show the hand-over between replicas; hundreds only load it harder.
@pytest.mark.parametrize("jobs", [20, pytest.param(500, marks=pytest.mark.slow)])
def test_two_replicas_and_four_agents_complete_every_job_exactly_once(
    cluster: Cluster, jobs: int
) -> None:
    a, b = cluster.start_scheduler(), cluster.start_scheduler()
    agents = [cluster.start_agent(first, second) for first, second in [(a, b), (b, a)] * 2]
    # All through A: B's agents get work only because B reads what A accepted.
    job_ids = submit_all(a, cluster.tokens["admin"], jobs)
    cluster.wait_completed(a, job_ids)
    executions = cluster.executions()
    assert executions == Counter(job_ids)
    assert all(agent.executed() for agent in agents), "every agent, on both replicas, ran jobs"


@pytest.mark.parametrize("jobs", [20, pytest.param(500, marks=pytest.mark.slow)])
def test_a_replica_killed_halfway_loses_nothing_and_runs_nothing_twice(
    cluster: Cluster, jobs: int
) -> None:
    a, b = cluster.start_scheduler(), cluster.start_scheduler()
    for first, second in [(a, b), (b, a)] * 2:
        cluster.start_agent(first, second)
    job_ids = submit_all(a, cluster.tokens["admin"], jobs // 2)
    job_ids += submit_all(b, cluster.tokens["admin"], jobs - jobs // 2)
    cluster.wait_executed(jobs // 2)
    a.kill()  # SIGKILL: no drain, leases held through A stay in the table
    cluster.wait_completed(b, job_ids)
    assert cluster.executions() == Counter(job_ids)
