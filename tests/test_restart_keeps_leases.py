"""A scheduler killed while jobs run comes back serving at once: no running job runs twice.

Restoring a long queue takes time; the ports open before it, so agents'
heartbeats and reports are answered while the queue is still being read,
and every lease restored runs at least one lease from the restart. The queue
here is long enough that reading it before serving (as the scheduler once
did) outlasts the lease; the agents' jobs outlast the restart.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from berth.scheduler.v1 import job_pb2

from tests.grpc_helpers import Agent
from tests.job_records import new_job
from tests.replica_processes import RECORDING_JOB, Cluster

# Long enough for a new scheduler process to start on a busy machine (its Python and
# its libraries load in seconds), far shorter than reading this queue before serving.
LEASE_S = 10
QUEUED = 4_000  # ~2.5 ms each or more to restore on the emulator: longer than the lease
ASSIGNED_SAMPLE = 200  # handed out after the restart: the restored queue is assignable
RESTORE_TIMEOUT_S = 600.0  # the emulator hands back records slowly on a busy machine
# Records the run, then outlives the kill and the restart.
SLOW_JOB = RECORDING_JOB.replace("; cat", "; sleep 20; cat")


@pytest.fixture
def cluster(emulator: str, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(emulator, tmp_path, {"--lease-seconds": str(LEASE_S)})
    yield running
    running.close()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_scheduler_killed_while_jobs_run_keeps_their_leases_and_its_queue(
    cluster: Cluster,
) -> None:
    store, _ = cluster.stores()
    now = time.time()
    queued = [
        replace(
            new_job(backend="qpu", submitted_at=now - n * 0.001),
            idempotency_key="",
            inline_input=b"queued",
        )
        for n in range(QUEUED)
    ]
    assert not store.create_many(queued)  # waiting for a backend nobody serves yet
    scheduler = cluster.start_scheduler()
    scheduler.wait_for(rf"restored {QUEUED} queued", RESTORE_TIMEOUT_S)
    for _ in range(2):
        cluster.start_agent(scheduler, job=SLOW_JOB)
    cluster.wait_agents_ready()
    with scheduler.user(cluster.tokens["admin"]) as user:  # whose listing shows them
        running = [user.submit(f"running {n}".encode()) for n in range(2)]
    cluster.wait_executed(2)

    scheduler.kill()
    restarted = cluster.start_scheduler(ports=scheduler.ports)
    restarted.wait_for(rf"restored {QUEUED} queued and 2 running jobs", RESTORE_TIMEOUT_S)
    cluster.wait_completed(restarted, running)

    assert cluster.executions() == Counter(running), "each running job ran once"
    with restarted.user(cluster.tokens["admin"]) as user:
        for job_id in running:
            info = user.status(job_id)
            assert (info.status, info.attempt) == (job_pb2.JOB_STATUS_COMPLETED, 1)
    assert restarted.count(r"requeued: lease lost") == 0

    # The whole queue came back (the line above counts it); a sample of it is handed out
    # (draining all of it would measure the emulator, which the bench's restart phase does).
    wanted = {job.job_id for job in queued}
    assigned: set[str] = set()
    lock = threading.Lock()

    def drain(index: int) -> None:
        channel = grpc.insecure_channel(restarted.execution_address)
        try:
            agent = Agent(channel, cluster.tokens["executor"], f"drain-{index}")
            while (job := agent.assign(backend="qpu", wait_s=0)) is not None:
                with lock:
                    assigned.add(job.job_id)
                    if len(assigned) >= ASSIGNED_SAMPLE:
                        return
        finally:
            channel.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(drain, range(4)))
    assert len(assigned) >= ASSIGNED_SAMPLE and assigned <= wanted, len(assigned)
