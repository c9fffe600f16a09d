"""Dependencies with real processes: schedulers over the moto HTTP server, executor agents.

A WAITING job is WAITING in the job table with its dependencies, so it runs
after them however they end: through the agent of this scheduler, after a
kill -9 of the scheduler that took it, or through another replica.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from scheduler_client.client import Client
from tests.replica_processes import Cluster, SchedulerProcess, berth

# Like the harness's recording job, but a program that starts with "fail" fails its run.
FAILING_ON_REQUEST = (
    'echo "$BERTH_JOB_ID" >> "$0"; p=$(cat); case "$p" in fail*) exit 3;; esac; echo "$p"'
)


@pytest.fixture
def cluster(emulator: str, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(emulator, tmp_path)
    yield running
    running.close()


def submit(
    scheduler: SchedulerProcess, cluster: Cluster, payload: str, *options: str
) -> dict[str, Any]:
    """`berth submit` of a one-line program to the emulator backend; the job as JSON."""
    program = cluster.work / f"{payload}.qasm"
    program.write_text(payload)
    return berth(scheduler, cluster, "submit", str(program), "--backend", "emulator", *options)


def job_info(scheduler: SchedulerProcess, cluster: Cluster, job_id: str) -> dict[str, Any]:
    return berth(scheduler, cluster, "status", job_id)


def ended(scheduler: SchedulerProcess, cluster: Cluster, job_id: str) -> dict[str, Any]:
    """The job once it has ended, as `berth wait --json` prints it (followed, not polled)."""
    with Client(scheduler.submission_address, cluster.tokens["developer"]) as client:
        return client.job(job_id).wait(timeout=90).to_json()


def ran_after(child: dict[str, Any], parent: dict[str, Any]) -> bool:
    """The child was queued (became eligible) only once its parent had ended."""
    queued, finished = child["timestamps"]["queued_at"], parent["timestamps"]["finished_at"]
    return bool(queued and finished) and (
        datetime.fromisoformat(queued) >= datetime.fromisoformat(finished)
    )


def test_an_afterok_chain_of_three_runs_in_order(cluster: Cluster) -> None:
    scheduler = cluster.start_scheduler()
    first = submit(scheduler, cluster, "first")
    second = submit(scheduler, cluster, "second", "--after", first["job_id"])
    third = submit(scheduler, cluster, "third", "--dependency", f"afterok:{second['job_id']}")
    assert (second["status"], second["dependencies"]) == ("WAITING", [first["job_id"]])
    assert (third["status"], third["condition"]) == ("WAITING", "afterok")
    agent = cluster.start_agent(scheduler)

    chain = [ended(scheduler, cluster, job["job_id"]) for job in (first, second, third)]
    assert [job["status"] for job in chain] == ["COMPLETED"] * 3
    assert agent.executed() == [job["job_id"] for job in chain]  # one agent: in run order
    assert ran_after(chain[1], chain[0]) and ran_after(chain[2], chain[1])


def test_a_failed_parent_cancels_its_afterok_child_while_an_afterany_child_runs(
    cluster: Cluster,
) -> None:
    scheduler = cluster.start_scheduler()
    parent = submit(scheduler, cluster, "fail-please")["job_id"]
    needs_ok = submit(scheduler, cluster, "needs-ok", "--after", parent)["job_id"]
    runs_anyway = submit(
        scheduler, cluster, "runs-anyway", "--after", parent, "--condition", "afterany"
    )["job_id"]
    cluster.start_agent(scheduler, job=FAILING_ON_REQUEST)

    assert ended(scheduler, cluster, parent)["status"] == "FAILED"
    cancelled = berth(scheduler, cluster, "wait", needs_ok, exit_code=1)  # not COMPLETED
    assert cancelled["status"] == "CANCELLED"
    assert parent in cancelled["detail"] and "FAILED" in cancelled["detail"]
    assert ended(scheduler, cluster, runs_anyway)["status"] == "COMPLETED"
    assert sorted(cluster.executions()) == sorted([parent, runs_anyway])  # never needs_ok


def test_dependencies_survive_kill_9_of_the_scheduler(cluster: Cluster) -> None:
    """No agent until the restart: the whole chain is WAITING in the table when it dies."""
    scheduler = cluster.start_scheduler()
    parent = submit(scheduler, cluster, "parent")["job_id"]
    child = submit(scheduler, cluster, "child", "--after", parent)["job_id"]
    grandchild = submit(scheduler, cluster, "grandchild", "--after", child)["job_id"]
    scheduler.kill()

    restarted = cluster.start_scheduler(ports=scheduler.ports)
    for job_id in (child, grandchild):
        info = job_info(restarted, cluster, job_id)
        assert info["status"] == "WAITING" and info["dependencies"]
    agent = cluster.start_agent(restarted)
    assert ended(restarted, cluster, grandchild)["status"] == "COMPLETED"
    assert agent.executed() == [parent, child, grandchild]


def test_dependencies_hold_across_two_replicas(cluster: Cluster) -> None:
    """The parent is submitted and ended through replica two (its agent's); the children
    are submitted through replica one, which never sees the parent's end itself."""
    one, two = cluster.start_scheduler(), cluster.start_scheduler()
    parent = submit(two, cluster, "parent")["job_id"]
    child = submit(one, cluster, "child", "--after", parent)
    if_failed = submit(one, cluster, "if-failed", "--after", parent, "--condition", "afternotok")
    assert child["status"] == if_failed["status"] == "WAITING"
    agent = cluster.start_agent(two)

    assert ended(two, cluster, parent)["status"] == "COMPLETED"
    done = ended(one, cluster, child["job_id"])
    assert done["status"] == "COMPLETED"
    assert ran_after(done, job_info(one, cluster, parent))
    not_needed = ended(one, cluster, if_failed["job_id"])
    assert not_needed["status"] == "CANCELLED" and parent in not_needed["detail"]
    assert agent.executed() == [parent, child["job_id"]]
