"""`python -m scheduler admin` against a real in-process scheduler.

queue (pop order, priority terms), who may call, requeue, fail, set-backend.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import pytest
from berth.scheduler.v1 import admin_pb2, admin_pb2_grpc, job_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scheduler.admin.admin_client import AdminClient
from scheduler.admin.cli import main
from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.queue.priority import PriorityPolicy
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, bearer, clients, rpc_error
from tests.job_records import new_job
from tests.token_database_helpers import ManualClock

ROOT = Path(__file__).resolve().parent.parent


class Ran(NamedTuple):
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


AdminCli = Callable[..., Ran]


@pytest.fixture
def admin(
    berth_system: BerthSystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> AdminCli:
    """Run the admin CLI in-process with the dev-tokens file (its admin entry)."""
    monkeypatch.delenv("BERTH_ADMIN_TOKEN", raising=False)
    connection = [
        "--address",
        berth_system.submission_address,
        "--token-file",
        str(berth_system.tokens_file),
    ]

    def run(*args: str) -> Ran:
        code = main([*connection, *args])
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def _developer(channel: grpc.Channel, system: BerthSystem) -> Submitter:
    return Submitter(channel, system.tokens["developer"])


# --- queue ---------------------------------------------------------------------


def test_queue_shows_jobs_in_pop_order_with_their_priority_terms(
    berth_system: BerthSystem, admin: AdminCli
) -> None:
    with clients(berth_system) as (submission, execution):
        developer = _developer(submission, berth_system)
        long_job = developer.submit(timeout_s=500)  # timeout factor 1 - 500/600
        short_job = developer.submit(timeout_s=60)  # shorter, but a second job in a burst
        admins_job = Submitter(submission, berth_system.tokens["admin"]).submit(timeout_s=60)

        ran = admin("queue", "--backend", "emulator", "--json")
        assert ran.code == 0, ran.err
        listing = ran.json()
        jobs = listing["queues"]["emulator"]["jobs"]
        assert [job["job_id"] for job in jobs] == [admins_job, short_job, long_job]
        assert [job["position"] for job in jobs] == [1, 2, 3]
        assert listing["queues"]["emulator"]["length"] == 3
        policy = PriorityPolicy()
        assert listing["weights"] == {
            "age": policy.age_weight,
            "timeout": policy.timeout_weight,
            "role": policy.role_weight,
            "fair_share": policy.fair_share_weight,
        }
        long_entry = jobs[2]
        assert long_entry["owner_name"] == "dev-developer"
        assert long_entry["role"] == "developer"
        assert long_entry["timeout_s"] == 500
        assert long_entry["factors"]["timeout"] == pytest.approx(1 - 500 / 600)
        assert long_entry["factors"]["fair_share"] == 1.0  # the owner's first job
        assert jobs[1]["factors"]["fair_share"] < 1.0  # the second, in a burst
        assert jobs[0]["owner_name"] == "dev-admin"
        for job in jobs:
            assert sum(job["weighted"].values()) == pytest.approx(job["priority"])
            assert 0 <= job["factors"]["age"] < 0.01  # seconds of a 30-minute scale
            assert job["starved"] is False

        agent = Agent(execution, berth_system.tokens["executor"])
        popped = [agent.assign() for _ in jobs]
        assert [job.job_id for job in popped if job] == [job["job_id"] for job in jobs]


def test_queue_table_for_people_and_an_empty_queue(
    berth_system: BerthSystem, admin: AdminCli
) -> None:
    assert admin("queue").out.strip() == "no queued jobs"
    with clients(berth_system) as (submission, _):
        job_id = _developer(submission, berth_system).submit(backend="qpu")
    ran = admin("queue")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].startswith("PRIORITY = AGE + TIMEOUT + ROLE + FAIRSHARE, weighted 2000")
    assert "queue qpu: 1 queued" in lines
    header = next(line for line in lines if line.startswith("POS"))
    assert header.split() == [
        "POS", "JOB", "ID", "OWNER", "WAITED", "LIMIT",
        "PRIORITY", "AGE", "TIMEOUT", "ROLE", "FAIRSHARE",
    ]  # fmt: skip
    row = lines[-1].split()
    assert row[:3] == ["1", job_id, "dev-developer"]
    assert row[3] == "(developer)"
    assert admin("queue", "--backend", "emulator").out.strip() == "no queued jobs for emulator"


def test_jobs_waiting_past_max_wait_are_starved_and_go_first_oldest_first(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    clock = ManualClock(start=time.time())  # the queue's notion of "waited" moves on command
    system = make_berth_system(priority_max_wait_seconds=60, clock=clock)
    with (
        clients(system) as (submission, _),
        AdminClient(system.submission_address, system.tokens["admin"]) as client,
    ):
        developer = _developer(submission, system)
        older = developer.submit(timeout_s=500)
        clock.now += 1
        newer = developer.submit(timeout_s=1)
        jobs = client.list_queue("emulator").jobs
        assert [job.job_id for job in jobs] == [newer, older]
        assert not any(job.starved for job in jobs)

        clock.now += 61  # the older job has now waited 62 s, the newer 61 s: both starved
        jobs = client.list_queue("emulator").jobs
        assert all(job.starved for job in jobs)
        assert [job.job_id for job in jobs] == [older, newer]
        assert all(job.factors.age == 1.0 for job in jobs)


# The service-layer test lists 10,000 from memory; here the CLI and gRPC carry the listing.
@pytest.mark.parametrize("queued", [250, pytest.param(1_000, marks=pytest.mark.slow)])
def test_a_long_queue_is_listed_from_memory_within_two_seconds(
    berth_system: BerthSystem, admin: AdminCli, queued: int
) -> None:
    settings = AwsSettings(region=berth_system.stack.config.region, endpoint=berth_system.endpoint)
    dynamodb = make_client("dynamodb", replace(settings, read_timeout_s=60.0))
    store = DynamoDbJobStore(dynamodb, berth_system.names.table)
    now = time.time()
    jobs = [
        replace(new_job(backend="emulator", submitted_at=now - n), idempotency_key="")
        for n in range(queued)
    ]
    assert not store.create_many(jobs)
    berth_system.restart()  # the scheduler restores them from the table
    app = berth_system.stack.app
    assert app is not None and app.layer is not None
    assert berth_system.run(app.layer.lifecycle.until_restored(300), timeout=310)

    started = time.monotonic()
    ran = admin("queue", "--backend", "emulator", "--limit", str(queued), "--json")
    elapsed = time.monotonic() - started

    assert ran.code == 0, ran.err
    listed = ran.json()["queues"]["emulator"]
    assert listed["length"] == queued
    assert {job["job_id"] for job in listed["jobs"]} == {job.job_id for job in jobs}
    assert {job["owner_name"] for job in listed["jobs"]} == {"alice"}
    assert elapsed <= 2.0, f"admin queue --limit {queued} took {elapsed:.2f} s"


# --- who may call --------------------------------------------------------------


@pytest.mark.parametrize("role", ["developer", "guest"])
def test_every_admin_method_refuses_client_roles_other_than_admin(
    berth_system: BerthSystem, role: str
) -> None:
    methods = admin_pb2.DESCRIPTOR.services_by_name["AdminService"].methods
    metadata = bearer(berth_system.tokens[role])
    with clients(berth_system) as (submission, _):
        stub = admin_pb2_grpc.AdminServiceStub(submission)
        for method in methods:
            request = getattr(admin_pb2, method.input_type.name)()
            call = getattr(stub, method.name)
            failure = rpc_error(functools.partial(call, request, metadata=metadata, timeout=10))
            assert failure.code() == grpc.StatusCode.PERMISSION_DENIED, method.name
            assert f"admin token; this token has role {role!r}" in failure.details()


def test_executor_and_missing_tokens_are_refused(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        stub = admin_pb2_grpc.AdminServiceStub(submission)
        executor = bearer(berth_system.tokens["executor"])
        denied = rpc_error(lambda: stub.ListQueue(admin_pb2.ListQueueRequest(), metadata=executor))
        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
        anonymous = rpc_error(lambda: stub.ListQueue(admin_pb2.ListQueueRequest()))
        assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_cli_exits_3_for_a_non_admin_token_or_none(
    berth_system: BerthSystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BERTH_ADMIN_TOKEN", raising=False)
    address = ["--address", berth_system.submission_address]
    assert main([*address, "--token", berth_system.tokens["developer"], "queue"]) == 3
    assert "PERMISSION_DENIED: operator actions need an admin token" in capsys.readouterr().err
    assert main([*address, "queue"]) == 3
    assert "no admin token: pass --token or --token-file" in capsys.readouterr().err
    monkeypatch.setenv("BERTH_ADMIN_TOKEN", berth_system.tokens["admin"])
    assert main([*address, "queue", "--json"]) == 0


# --- requeue and fail ----------------------------------------------------------


def test_requeue_takes_a_running_job_from_its_agent_and_another_agent_gets_it(
    berth_system: BerthSystem, admin: AdminCli
) -> None:
    with clients(berth_system) as (submission, execution):
        developer = _developer(submission, berth_system)
        job_id = developer.submit()
        first = Agent(execution, berth_system.tokens["executor"], "agent-1")
        assert (assigned := first.assign()) is not None and assigned.job_id == job_id

        ran = admin("requeue", job_id)
        assert ran.code == 0, ran.err
        assert ran.out.startswith(f"job {job_id} requeued: QUEUED (position 1)")
        status = developer.status(job_id)
        assert status.status == job_pb2.JOB_STATUS_QUEUED
        assert status.detail == "requeued by admin dev-admin"

        lost = rpc_error(lambda: first.heartbeat(job_id))
        assert lost.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "lost the lease" in lost.details() and "requeued" in lost.details()

        second = Agent(execution, berth_system.tokens["executor"], "agent-2")
        again = second.assign()
        assert again is not None and (again.job_id, again.attempt) == (job_id, 2)
        late = rpc_error(lambda: first.report(job_id))
        assert late.code() == grpc.StatusCode.FAILED_PRECONDITION
        encoded = second.upload(again.result_upload, b"result")
        second.report(job_id, raw=6, encoded=len(encoded))
        assert developer.status(job_id).status == job_pb2.JOB_STATUS_COMPLETED

        done = admin("requeue", job_id)
        assert done.code == 1
        assert "already ended as COMPLETED" in done.err


def test_requeue_of_a_queued_job_changes_nothing(
    berth_system: BerthSystem, admin: AdminCli
) -> None:
    with clients(berth_system) as (submission, _):
        job_id = _developer(submission, berth_system).submit()
    ran = admin("requeue", job_id, "--json")
    assert ran.code == 0, ran.err
    outcome = ran.json()
    assert outcome["changed"] is False
    assert (outcome["job"]["status"], outcome["job"]["queue_position"]) == ("QUEUED", 1)
    missing = admin("requeue", "00000000-0000-4000-8000-000000000000")
    assert missing.code == 4
    assert "NOT_FOUND" in missing.err


def test_fail_ends_a_queued_job_and_a_running_one_with_the_reason(
    berth_system: BerthSystem, admin: AdminCli
) -> None:
    with clients(berth_system) as (submission, execution):
        developer = _developer(submission, berth_system)
        queued, running = developer.submit(), developer.submit(timeout_s=500)
        agent = Agent(execution, berth_system.tokens["executor"])
        assert (assigned := agent.assign()) is not None and assigned.job_id == queued
        # `queued` is running now; `running` waits: fail both ways round
        ran = admin("fail", running, "--reason", "input references a retired device")
        assert ran.code == 0, ran.err
        assert ran.out.strip() == (
            f"job {running} is now FAILED: failed by admin dev-admin: "
            "input references a retired device"
        )
        assert admin("queue", "--json").json()["queues"] == {}

        ran = admin("fail", queued, "--reason", "device fault", "--json")
        assert ran.code == 0, ran.err
        assert ran.json()["job"]["detail"] == "failed by admin dev-admin: device fault"
        status = developer.status(queued)
        assert status.status == job_pb2.JOB_STATUS_FAILED
        assert status.detail == "failed by admin dev-admin: device fault"
        gone = rpc_error(lambda: agent.heartbeat(queued))
        assert gone.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "already ended as FAILED" in gone.details()

        retried = admin("fail", queued, "--reason", "device fault")
        assert retried.code == 0 and "nothing changed" in retried.out
        other = admin("fail", queued, "--reason", "another reason")
        assert other.code == 1 and "already ended as FAILED" in other.err
        assert admin("fail", queued, "--reason", "  ").code == 2
        assert admin("fail", queued).code == 2  # --reason is required


# --- backend status --------------------------------------------------------------


def _parameter(system: BerthSystem) -> str:
    ssm = system.aws_client("ssm")
    name = system.stack.config.backend_status_parameter_name
    return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])


def test_set_backend_to_maintenance_refuses_submissions_at_once_and_back(
    berth_system: BerthSystem, admin: AdminCli
) -> None:
    with clients(berth_system) as (submission, _):
        developer = _developer(submission, berth_system)
        ran = admin(
            "set-backend", "qpu", "--status", "maintenance", "--description", "Recalibration"
        )
        assert ran.code == 0, ran.err
        assert ran.out.splitlines()[0] == (
            "backend qpu updated (this scheduler applies it now, others soon):"
        )
        refused = rpc_error(lambda: developer.submit(backend="qpu"))
        assert refused.code() == grpc.StatusCode.UNAVAILABLE
        assert refused.details() == (
            "backend 'qpu' is maintenance for role developer: Recalibration"
        )
        assert 'status = "maintenance"' in _parameter(berth_system)
        developer.submit(backend="emulator")  # other backends are untouched

        again = admin("set-backend", "qpu", "--status", "available", "--json")
        assert again.code == 0, again.err
        document = again.json()
        assert document["changed"] is True
        assert set(document["roles"]) == {"admin", "developer", "guest", "executor"}
        assert {entry["status"] for entry in document["roles"].values()} == {"available"}
        # Without --description the operator's text stays (it is not silently emptied).
        assert {entry["description"] for entry in document["roles"].values()} == {"Recalibration"}
        developer.submit(backend="qpu")
        unchanged = admin("set-backend", "qpu", "--status", "available", "--json")
        assert unchanged.json()["changed"] is False


def test_set_backend_for_one_role_and_adding_a_backend(
    berth_system: BerthSystem, admin: AdminCli
) -> None:
    with clients(berth_system) as (submission, _):
        ran = admin("set-backend", "emulator", "--role", "guest", "--status", "unavailable")
        assert ran.code == 0, ran.err
        guest = Submitter(submission, berth_system.tokens["guest"])
        assert rpc_error(lambda: guest.submit()).code() == grpc.StatusCode.UNAVAILABLE
        _developer(submission, berth_system).submit()

        unknown = admin("set-backend", "gpu-a100", "--status", "available")
        assert unknown.code == 2
        assert "unknown backend 'gpu-a100' (known: emulator, qpu)" in unknown.err
        added = admin("set-backend", "gpu-a100", "--status", "available", "--add", "--json")
        assert added.code == 0, added.err
        assert set(added.json()["roles"]) == {"admin", "developer", "guest"}
        _developer(submission, berth_system).submit(backend="gpu-a100")
        assert admin("set-backend", "qpu", "--status", "broken").code == 2


# --- the real entry point --------------------------------------------------------


def test_python_m_scheduler_admin_runs_the_cli_and_the_port_reports_health(
    berth_system: BerthSystem,
) -> None:
    env = {**os.environ, "BERTH_ADDRESS": berth_system.submission_address}
    env.pop("BERTH_ADMIN_TOKEN", None)
    command = [sys.executable, "-m", "scheduler", "admin", "queue", "--json"]
    token_file = ["--token-file", str(berth_system.tokens_file)]
    done = subprocess.run(
        [*command, *token_file], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queues"] == {}
    with clients(berth_system) as (submission, _):
        health = health_pb2_grpc.HealthStub(submission).Check(
            health_pb2.HealthCheckRequest(service="berth.scheduler.v1.AdminService"), timeout=10
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
