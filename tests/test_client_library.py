"""scheduler_client as a researcher uses it, against a real scheduler over moto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any, NamedTuple

import grpc
import pytest

from scheduler_client import (
    AuthenticationError,
    Availability,
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    Job,
    JobInfo,
    JobStatus,
    NotFoundError,
    PermissionDeniedError,
    WaitTimeoutError,
)
from tests.agent_helpers import FAILURE
from tests.berth_system import BerthSystem
from tests.client_harness import RESULT, TERMINAL_ENDINGS, Ending, agent_runs_next_job

PROGRAM = b"OPENQASM 3; qubit[2] q; h q[0];"
WATCH_METHOD = "/berth.scheduler.v1.SubmissionService/WatchJob"


@pytest.fixture
def client(berth_system: BerthSystem) -> Iterator[Client]:
    with Client(berth_system.submission_address, berth_system.tokens["developer"]) as c:
        yield c


def submit(client: Client, **overrides: Any) -> Job:
    settings: dict[str, Any] = {"format": "qasm3", "backend": "emulator", "timeout": 60}
    settings.update(overrides)
    return client.submit(PROGRAM, **settings)


# --- submit, status, result -------------------------------------------------------------


def test_submit_returns_a_queued_job_with_its_settings(
    berth_system: BerthSystem, client: Client
) -> None:
    job = client.submit(
        PROGRAM,
        format="qasm3",
        backend="qpu",
        shots=256,
        timeout=timedelta(minutes=1, seconds=30),
        parameters={"optimisation": "2"},
        save_job=True,
    )
    info = job.status()
    assert info.job_id == job.id
    assert info.status is JobStatus.QUEUED and info.queue_position == 1
    assert (info.backend, info.format, info.n_shots, info.timeout_s) == ("qpu", "qasm3", 256, 90)
    assert info.parameters == {"optimisation": "2"}
    assert info.input_bytes == len(PROGRAM)
    assert info.times.submitted_at is not None and info.times.finished_at is None
    # save_job marks the stored input for the bucket's lifecycle rules to keep.
    s3 = berth_system.aws_client("s3")
    tagging = s3.get_object_tagging(Bucket=berth_system.names.bucket, Key=f"jobs/{job.id}/input")
    assert {"Key": "save_job", "Value": "true"} in tagging["TagSet"]


def test_result_is_downloaded_and_ungzipped(berth_system: BerthSystem, client: Client) -> None:
    job = submit(client)
    agent_runs_next_job(berth_system)
    assert job.wait(timeout=10).status is JobStatus.COMPLETED
    assert job.result() == RESULT
    # A handle made from the id alone works the same way.
    assert client.job(job.id).result() == RESULT


def test_result_of_a_failed_job_is_refused(berth_system: BerthSystem, client: Client) -> None:
    job = submit(client)
    agent_runs_next_job(berth_system, FAILURE, "qubit 3 is not calibrated")
    info = job.wait(timeout=10)
    assert info.status is JobStatus.FAILED and "qubit 3" in info.detail
    with pytest.raises(FailedPreconditionError) as caught:
        job.result()
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.message


# --- wait ---------------------------------------------------------------------------------


class Watching(NamedTuple):
    result: Future[JobInfo]
    updates: list[JobInfo]


def start_waiting(pool: ThreadPoolExecutor, job: Job) -> Watching:
    """`job.wait()` in the background, returned once it has seen the job's first state."""
    updates: list[JobInfo] = []
    first = threading.Event()

    def on_update(info: JobInfo) -> None:
        updates.append(info)
        first.set()

    result = pool.submit(job.wait, 30, on_update)
    assert first.wait(10), "wait() reported no state"
    return Watching(result, updates)


@pytest.mark.parametrize(("end", "final"), TERMINAL_ENDINGS)
def test_wait_ends_on_every_terminal_status(
    berth_system: BerthSystem, client: Client, end: Ending, final: str
) -> None:
    job = submit(client)
    with ThreadPoolExecutor(1) as pool:
        watching = start_waiting(pool, job)
        assert watching.updates[0].status is JobStatus.QUEUED
        end(berth_system, job.cancel)
        info = watching.result.result(timeout=30)
    assert info.status == final
    assert watching.updates[-1] == info
    assert info.times.finished_at is not None
    if final == "COMPLETED":
        assert job.result() == RESULT
    else:
        assert info.detail  # why it ended: the agent's error, or the cancel


def test_wait_times_out_and_leaves_the_job_alone(client: Client) -> None:
    job = submit(client)
    with pytest.raises(WaitTimeoutError) as caught:
        job.wait(timeout=0.3)
    assert caught.value.last_status == "QUEUED"
    assert isinstance(caught.value, TimeoutError)
    assert job.status().status is JobStatus.QUEUED


def test_wait_survives_a_scheduler_restart(berth_system: BerthSystem, client: Client) -> None:
    """The watch stream breaks with the restart; wait polls, reconnects and still sees the end."""
    job = submit(client)
    with ThreadPoolExecutor(1) as pool:
        watching = start_waiting(pool, job)
        berth_system.restart()
        agent_runs_next_job(berth_system)
        assert watching.result.result(timeout=30).status is JobStatus.COMPLETED


class _RenameWatch(grpc.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    """Calls a WatchJob the server does not have, as against a scheduler that predates it."""

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.method == WATCH_METHOD:  # gRPC's details are a NamedTuple
            details = details._replace(method=WATCH_METHOD + "V0")
        return continuation(details, request)


def test_wait_polls_when_the_server_offers_no_watch(
    berth_system: BerthSystem, client: Client
) -> None:
    job = submit(client)
    channel = grpc.intercept_channel(
        grpc.insecure_channel(berth_system.submission_address), _RenameWatch()
    )
    with (
        Client(
            berth_system.submission_address, berth_system.tokens["developer"], channel=channel
        ) as polling_client,
        ThreadPoolExecutor(1) as pool,
    ):
        watching = start_waiting(pool, polling_client.job(job.id))
        agent_runs_next_job(berth_system)
        assert watching.result.result(timeout=30).status is JobStatus.COMPLETED


# --- list_jobs and service_status ---------------------------------------------------------


def test_list_jobs_iterates_over_pages_newest_first(client: Client) -> None:
    submitted = [submit(client).id for _ in range(5)]
    listed = [info.job_id for info in client.list_jobs(page_size=2)]
    assert listed == list(reversed(submitted))
    assert [info.job_id for info in client.list_jobs(limit=3, page_size=2)] == listed[:3]


def test_list_jobs_filters_by_status(berth_system: BerthSystem, client: Client) -> None:
    cancelled = submit(client)
    queued = submit(client)
    cancelled.cancel()
    assert [i.job_id for i in client.list_jobs(JobStatus.CANCELLED)] == [cancelled.id]
    assert [i.job_id for i in client.list_jobs(JobStatus.QUEUED)] == [queued.id]


def test_list_jobs_shows_only_the_callers_jobs(berth_system: BerthSystem, client: Client) -> None:
    submit(client)
    with Client(berth_system.submission_address, berth_system.tokens["guest"]) as guest:
        assert list(guest.list_jobs()) == []


def test_service_status_reports_availability_and_queue(client: Client) -> None:
    submit(client, backend="qpu")
    status = client.service_status("qpu")
    assert status.backend == "qpu"
    assert status.availability is Availability.AVAILABLE
    assert status.queue_length == 1
    assert status.role_max_timeout_s == 600  # developer


# --- errors carry the gRPC code and the server's message ----------------------------------


def test_unknown_job_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.job("no-such-job").status()
    assert caught.value.code is grpc.StatusCode.NOT_FOUND
    assert caught.value.message and caught.value.method == "GetJobStatus"


def test_another_users_job_is_not_found(berth_system: BerthSystem, client: Client) -> None:
    job = submit(client)
    with (
        Client(berth_system.submission_address, berth_system.tokens["guest"]) as guest,
        pytest.raises(NotFoundError),
    ):
        guest.job(job.id).status()


def test_unknown_backend_is_an_invalid_argument(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        submit(client, backend="no-such-backend")
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "backend" in caught.value.message


def test_bad_token_is_unauthenticated_and_never_echoed(berth_system: BerthSystem) -> None:
    token = "not-a-real-token-0123456789"
    with (
        Client(berth_system.submission_address, token) as stranger,
        pytest.raises(AuthenticationError) as caught,
    ):
        stranger.service_status("emulator")
    assert caught.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert token not in str(caught.value)


def test_executor_token_is_refused_on_the_submission_port(berth_system: BerthSystem) -> None:
    with (
        Client(berth_system.submission_address, berth_system.tokens["executor"]) as agent,
        pytest.raises(PermissionDeniedError) as caught,
    ):
        agent.service_status("emulator")
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
