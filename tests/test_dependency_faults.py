"""Dependencies going away: the token database, DynamoDB, S3, SSM.

While one is down, callers get UNAVAILABLE at once with a message that names
it and says to retry; nothing is half-written; when it comes back, service
resumes without a restart and nothing acknowledged is lost.

Unreachable means a closed port here: the in-process emulator is stopped and
started again on the same port with its data intact (moto keeps it in the
process), and the token database is a process that is killed and restarted.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from berth.scheduler.v1 import job_pb2, submission_pb2

from tests.berth_system import BerthSystem
from tests.emulator_process import EmulatorServer
from tests.grpc_helpers import Agent, Submitter, clients, eventually, rpc_error
from tests.replica_processes import Cluster, SchedulerProcess, poll_until

UNAVAILABLE_AWS = r"^(S3|DynamoDB) is unavailable \(unreachable\); retry in a few seconds$"
FAST_S = 10.0  # botocore: 3 attempts, refused connections, standard backoff


@pytest.fixture
def emulators() -> Iterator[tuple[EmulatorServer, EmulatorServer]]:
    """Two ports on one emulator: the first for everything, the second for S3 alone."""
    everything, s3_only = EmulatorServer(), EmulatorServer()
    everything.start()
    s3_only.start()
    yield everything, s3_only
    everything.stop()
    s3_only.stop()


@pytest.fixture
def system(
    emulators: tuple[EmulatorServer, EmulatorServer], tmp_path: Path
) -> Iterator[BerthSystem]:
    everything, s3_only = emulators
    running = BerthSystem(
        everything.endpoint,
        tmp_path,
        s3_endpoint=s3_only.endpoint,
        metrics_port=-1,
        orphan_input_age_seconds=1.0,
        orphan_sweep_seconds=0.3,
        inline_input_bytes=0,  # every input in S3: these tests are about S3 going away
    ).start()
    yield running
    running.stop()


def developer(system: BerthSystem, channel: grpc.Channel) -> Submitter:
    return Submitter(channel, system.tokens["developer"])


def test_s3_unreachable_at_submission_is_unavailable_and_writes_nothing(
    system: BerthSystem, emulators: tuple[EmulatorServer, EmulatorServer]
) -> None:
    _, s3 = emulators
    with clients(system) as (submission, _):
        user = developer(system, submission)
        s3.stop()
        started = time.monotonic()
        error = rpc_error(user.submit)
        assert time.monotonic() - started < FAST_S
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert error.details() == "S3 is unavailable (unreachable); retry in a few seconds"
        listed = user.stub.ListJobs(submission_pb2.ListJobsRequest(), metadata=user.metadata)
        assert list(listed.jobs) == []
        s3.start()
        assert user.status(user.submit()).status == job_pb2.JOB_STATUS_QUEUED


def test_s3_unreachable_at_claim_time_costs_the_job_no_attempt(
    system: BerthSystem, emulators: tuple[EmulatorServer, EmulatorServer]
) -> None:
    _, s3 = emulators
    with clients(system) as (submission, _):
        job_id = developer(system, submission).submit()
    system.restart()  # the payload is now read from S3 when the job is claimed
    with clients(system) as (submission, execution):
        agent = Agent(execution, system.tokens["executor"])
        s3.stop()
        error = rpc_error(agent.assign)
        assert error.code() == grpc.StatusCode.UNAVAILABLE and re.match(
            UNAVAILABLE_AWS, error.details()
        )
        info = developer(system, submission).status(job_id)
        assert info.status == job_pb2.JOB_STATUS_QUEUED and info.attempt == 0
        s3.start()
        assigned = agent.assign()
        assert assigned is not None and assigned.job_id == job_id and assigned.attempt == 1


def test_a_small_input_lives_in_the_record_so_s3_down_stops_neither_submit_nor_claim(
    emulators: tuple[EmulatorServer, EmulatorServer], tmp_path: Path
) -> None:
    everything, s3 = emulators
    system = BerthSystem(everything.endpoint, tmp_path, s3_endpoint=s3.endpoint, metrics_port=-1)
    system.start()
    try:
        payload = b"OPENQASM 3; qubit q; // small enough for the record"
        with clients(system) as (submission, _):
            s3.stop()
            job_id = developer(system, submission).submit(payload)
        system.restart()  # the queue is rebuilt from the table, input included
        with clients(system) as (_, execution):
            assigned = Agent(execution, system.tokens["executor"]).assign()
            assert assigned is not None and assigned.job_id == job_id
            assert assigned.job.program.payload == payload
    finally:
        system.stop()
        s3.start()


def test_dynamodb_unreachable_after_the_input_is_stored_runs_nothing_and_the_input_is_swept(
    system: BerthSystem, emulators: tuple[EmulatorServer, EmulatorServer]
) -> None:
    everything, _ = emulators
    with clients(system) as (submission, execution):
        user = developer(system, submission)
        user.status(user.submit())  # the token is now cached: only storage is in question
        agent = Agent(execution, system.tokens["executor"])
        assert agent.assign() is not None
        everything.stop()  # DynamoDB and SSM; S3 still answers on its own port
        error = rpc_error(user.submit)
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert error.details() == "DynamoDB is unavailable (unreachable); retry in a few seconds"
        everything.start()
        eventually(lambda: not _inputs_without_records(system), what="the orphan sweep")
        assert agent.assign(wait_s=1) is None


def _inputs_without_records(system: BerthSystem) -> set[str]:
    app = system.stack.app
    assert app is not None and app.blobs is not None and app.store is not None
    inputs = [stored.job_id for stored in app.blobs.list_inputs(time.time() + 60)]
    return set(inputs) - set(app.store.get_many(inputs))


def test_ssm_unreachable_keeps_the_last_known_backend_status_and_logs_it_once(
    system: BerthSystem,
    emulators: tuple[EmulatorServer, EmulatorServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    everything, _ = emulators
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="scheduler.aws.aws_errors")
    with clients(system) as (submission, _):
        user = developer(system, submission)
        request = submission_pb2.GetServiceStatusRequest(backend="emulator")
        user.stub.GetServiceStatus(request, metadata=user.metadata)  # caches the token
        everything.stop()

        def failed_reads() -> int:
            return sum("SSM call failed" in r.getMessage() for r in caplog.records)

        eventually(lambda: failed_reads() >= 3, what="three failed refreshes")
        status = user.stub.GetServiceStatus(request, metadata=user.metadata)
        assert status.availability == submission_pb2.AVAILABILITY_AVAILABLE
        everything.start()
        eventually(lambda: "source readable again" in caplog.text, what="the recovery line")
    warnings = [
        r for r in caplog.records if r.levelno >= logging.WARNING and "SSM" in r.getMessage()
    ]
    cache_lines = [r for r in warnings if r.name == "scheduler.service.backend_status_cache"]
    assert len(cache_lines) == 1
    assert len(warnings) <= 2  # and at most the first failed call itself


# --- real processes under load ----------------------------------------------------------
# Heavier variants, run in the slow step: the tests above (and test_auth's and test_health's
# token database outages) show each refusal and each recovery in one process; these show
# that nothing acknowledged is lost or run twice while scheduler, agents and clients are busy.


@dataclass
class Load:
    """Submits `count` jobs one after another, each retried on UNAVAILABLE like a client."""

    scheduler: SchedulerProcess
    token: str
    count: int
    acknowledged: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[grpc.StatusCode, str, float]] = field(default_factory=list)
    first_error: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with self.scheduler.user(self.token) as user:
            for n in range(self.count):
                key = f"load-{n}"
                while key not in self.acknowledged:
                    started = time.monotonic()
                    try:
                        self.acknowledged[key] = user.submit(key.encode(), idempotency_key=key)
                    except grpc.RpcError as error:
                        assert isinstance(error, grpc.Call)
                        self.errors.append(
                            (error.code(), error.details() or "", time.monotonic() - started)
                        )
                        self.first_error.set()
                        time.sleep(0.2)  # the client's backoff between retries

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def restartable_aws() -> Iterator[EmulatorServer]:
    server = EmulatorServer()
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_aws_stopped_and_restarted_under_load_answers_clearly_and_loses_nothing(
    restartable_aws: EmulatorServer, tmp_path: Path
) -> None:
    options = {"--lease-seconds": "15", "--backend-status-refresh-seconds": "0.5"}
    cluster = Cluster(restartable_aws.endpoint, tmp_path, options)
    try:
        scheduler = cluster.start_scheduler()
        for _ in range(2):  # uploads outlast the outage: the agents' documented knob
            cluster.start_agent(scheduler, options=("--upload-attempts", "30"))
        load = Load(scheduler, cluster.tokens["admin"], 60)
        submitter = load.start()
        poll_until(lambda: len(load.acknowledged) >= 20, 60, "the first submissions")
        restartable_aws.stop()
        assert load.first_error.wait(FAST_S), "a submission should fail promptly"
        poll_until(lambda: len(load.errors) >= 3, 3 * FAST_S, "a few more refused retries")
        with scheduler.user(cluster.tokens["admin"]) as admin:
            # A job the scheduler has not seen finish: its status must come from the table.
            # (A finished one may be answered from memory: it never changes.)
            job_id = str(uuid.uuid4())
            error = rpc_error(lambda: admin.status(job_id))
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert error.details().startswith("DynamoDB is unavailable")
        restartable_aws.start()
        submitter.join(120)
        assert len(load.acknowledged) == 60
        assert load.errors and all(
            code == grpc.StatusCode.UNAVAILABLE and re.match(UNAVAILABLE_AWS, message)
            for code, message, _ in load.errors
        ), load.errors
        assert max(elapsed for _, _, elapsed in load.errors) < FAST_S
        job_ids = list(load.acknowledged.values())
        cluster.wait_completed(scheduler, job_ids)
        assert cluster.executions() == Counter(job_ids)
        assert scheduler.count("keeping the last known status") == 1
    finally:
        cluster.close()


@pytest.mark.slow
def test_token_database_stopped_and_restarted_under_load_recovers_without_a_restart(
    restartable_aws: EmulatorServer, tmp_path: Path
) -> None:
    cluster = Cluster(restartable_aws.endpoint, tmp_path)
    try:
        scheduler = cluster.start_scheduler()
        cluster.start_agent(scheduler)
        load = Load(scheduler, cluster.tokens["admin"], 40)
        submitter = load.start()
        poll_until(lambda: len(load.acknowledged) >= 10, 60, "the first submissions")
        assert cluster.token_database is not None
        port = int(cluster.token_database_address.rsplit(":", 1)[1])
        cluster.token_database.kill()
        with scheduler.user(cluster.tokens["developer"]) as newcomer:  # not cached yet
            started = time.monotonic()
            error = rpc_error(newcomer.submit)
            assert time.monotonic() - started < FAST_S
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert "token database" in error.details()
            cluster.start_token_database(port)
            poll_until(lambda: _accepts(newcomer), 30, "the token database to be found again")
        submitter.join(120)
        job_ids = list(load.acknowledged.values())
        assert len(job_ids) == 40
        cluster.wait_completed(scheduler, job_ids)
        assert Counter(job_ids) <= cluster.executions() and max(cluster.executions().values()) == 1
    finally:
        cluster.close()


def _accepts(user: Submitter) -> bool:
    try:
        user.submit()
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        return False
    return True
