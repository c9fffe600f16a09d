"""Hold and release with real processes: a scheduler over the moto HTTP server and agents.

A held job is HELD in the job table, so neither a kill -9 of the scheduler nor
a second replica puts it back in line; only a release does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from berth.scheduler.v1 import job_pb2, submission_pb2

from scheduler.admin.admin_client import AdminClient
from scheduler_client.client import Client
from scheduler_client.job_info import JobStatus
from tests.replica_processes import Cluster, berth, status_of, wait_status


@pytest.fixture
def cluster(emulator: str, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(emulator, tmp_path)
    yield running
    running.close()


def test_a_held_job_runs_on_no_agent_until_released(cluster: Cluster) -> None:
    scheduler = cluster.start_scheduler()
    with Client(scheduler.submission_address, cluster.tokens["developer"]) as client:
        held = client.submit(b"held", format="qasm3", backend="emulator")
        assert held.hold().status is JobStatus.HELD
    cluster.start_agent(scheduler)
    cluster.wait_agents_ready()
    with Client(scheduler.submission_address, cluster.tokens["developer"]) as client:
        free = client.submit(b"free", format="qasm3", backend="emulator")
    wait_status(scheduler, cluster, free.id, JobStatus.COMPLETED)
    assert status_of(scheduler, cluster, held.id) is JobStatus.HELD
    assert held.id not in cluster.executions()
    released = berth(scheduler, cluster, "release", held.id)
    assert (released["job_id"], released["status"]) == (held.id, "QUEUED")
    wait_status(scheduler, cluster, held.id, JobStatus.COMPLETED)
    assert cluster.executions()[held.id] == 1


def test_a_hold_survives_kill_9_of_the_scheduler(cluster: Cluster) -> None:
    scheduler = cluster.start_scheduler()
    with Client(scheduler.submission_address, cluster.tokens["developer"]) as client:
        held = client.submit(b"held", format="qasm3", backend="emulator")
    assert berth(scheduler, cluster, "hold", held.id)["status"] == "HELD"
    scheduler.kill()
    restarted = cluster.start_scheduler(ports=scheduler.ports)
    restarted.wait_for(r"restored 0 queued and 0 running jobs")
    cluster.start_agent(restarted)
    cluster.wait_agents_ready()
    with Client(restarted.submission_address, cluster.tokens["developer"]) as client:
        free = client.submit(b"free", format="qasm3", backend="emulator")
        wait_status(restarted, cluster, free.id, JobStatus.COMPLETED)
        assert client.job(held.id).status().status is JobStatus.HELD
        assert held.id not in cluster.executions()
        client.job(held.id).release()
    wait_status(restarted, cluster, held.id, JobStatus.COMPLETED)


def test_a_hold_through_one_replica_holds_on_the_other(cluster: Cluster) -> None:
    """The job is queued on replica one, its agent's; the admin holds it through replica two."""
    one, two = cluster.start_scheduler(), cluster.start_scheduler()
    with Client(one.submission_address, cluster.tokens["developer"]) as client:
        held = client.submit(b"held", format="qasm3", backend="emulator")
    with AdminClient(two.submission_address, cluster.tokens["admin"]) as admin:
        wait_status(two, cluster, held.id, JobStatus.QUEUED)
        outcome = admin.hold_jobs(owner_name="test-developer")
        assert list(outcome.job_ids) == [held.id]
    cluster.start_agent(one)
    cluster.wait_agents_ready()
    with Client(one.submission_address, cluster.tokens["developer"]) as client:
        free = client.submit(b"free", format="qasm3", backend="emulator")
    wait_status(one, cluster, free.id, JobStatus.COMPLETED)
    assert held.id not in cluster.executions()
    with one.user(cluster.tokens["developer"]) as user:
        assert user.status(held.id).status == job_pb2.JOB_STATUS_HELD
        request = submission_pb2.ReleaseJobRequest(job_id=held.id)
        user.stub.ReleaseJob(request, metadata=user.metadata, timeout=10)
    wait_status(one, cluster, held.id, JobStatus.COMPLETED)
    assert cluster.executions()[held.id] == 1
