"""scheduler_client as a researcher uses it, against a real scheduler over moto."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import pytest

from scheduler_client import (
    AuthenticationError,
    Availability,
    Client,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    Job,
    JobInfo,
    JobStatus,
    NotFoundError,
    NoTokenError,
    PermissionDeniedError,
    RetryPolicy,
    UnavailableError,
    WaitTimeoutError,
    resolve_token,
)
from tests.agent_helpers import (
    CANCELLED,
    FAILURE,
    SUCCESS,
    TIMEOUT,
    ManualAgent,
    Outcome,
    run_one_job,
)
from tests.berth_system import BerthSystem

PROGRAM = b"OPENQASM 3; qubit[2] q; h q[0];"
RESULT = json.dumps({"counts": {"00": 510, "11": 490}}).encode()
SUBMIT_METHOD = "/berth.scheduler.v1.SubmissionService/SubmitJob"
WATCH_METHOD = "/berth.scheduler.v1.SubmissionService/WatchJob"

# Retries without waiting: the tests below decide when the server comes back.
QUICK_RETRY = RetryPolicy(max_attempts=5, initial_backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture
def client(berth_system: BerthSystem) -> Iterator[Client]:
    with Client(berth_system.submission_address, berth_system.tokens["developer"]) as c:
        yield c


def submit(client: Client, **overrides: Any) -> Job:
    settings: dict[str, Any] = {"format": "qasm3", "backend": "emulator", "timeout": 60}
    settings.update(overrides)
    return client.submit(PROGRAM, **settings)


# --- submit, status, result -------------------------------------------------------------


def test_submit_returns_a_queued_job_with_its_settings(client: Client) -> None:
    job = client.submit(
        PROGRAM,
        format="qasm3",
        backend="qpu",
        shots=256,
        timeout=90,
        parameters={"optimisation": "2"},
    )
    info = job.status()
    assert info.job_id == job.id
    assert info.status is JobStatus.QUEUED and info.queue_position == 1
    assert (info.backend, info.format, info.n_shots, info.timeout_s) == ("qpu", "qasm3", 256, 90)
    assert info.parameters == {"optimisation": "2"}
    assert info.input_bytes == len(PROGRAM)
    assert info.times.submitted_at is not None and info.times.finished_at is None


def test_result_is_downloaded_and_ungzipped(berth_system: BerthSystem, client: Client) -> None:
    job = submit(client)
    run_one_job(berth_system.execution_address, berth_system.tokens["executor"], "emulator", RESULT)
    assert job.wait(timeout=10).status is JobStatus.COMPLETED
    assert job.result() == RESULT
    # A handle made from the id alone works the same way.
    assert client.job(job.id).result() == RESULT


def test_result_of_a_failed_job_is_refused(berth_system: BerthSystem, client: Client) -> None:
    job = submit(client)
    run_one_job(
        berth_system.execution_address,
        berth_system.tokens["executor"],
        "emulator",
        outcome=FAILURE,
        error="qubit 3 is not calibrated",
    )
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


def end_by_agent(outcome: Outcome) -> Callable[[BerthSystem, Job], None]:
    def end(system: BerthSystem, job: Job) -> None:
        run_one_job(
            system.execution_address,
            system.tokens["executor"],
            "emulator",
            RESULT,
            outcome,
            error="" if outcome == SUCCESS else "ended by the test agent",
        )

    return end


def cancel_queued(system: BerthSystem, job: Job) -> None:
    assert job.cancel().status is JobStatus.CANCELLED


def cancel_running(system: BerthSystem, job: Job) -> None:
    with ManualAgent(system.execution_address, system.tokens["executor"]) as agent:
        assigned = agent.assign("emulator")
        outcome = job.cancel()
        assert outcome.status is JobStatus.RUNNING and outcome.cancel_requested
        assert agent.heartbeat(assigned.job_id).cancel_requested
        agent.finish(assigned, outcome=CANCELLED, error="stopped on request")


@pytest.mark.parametrize(
    ("end", "final"),
    [
        (end_by_agent(SUCCESS), JobStatus.COMPLETED),
        (end_by_agent(FAILURE), JobStatus.FAILED),
        (end_by_agent(TIMEOUT), JobStatus.TIMEOUT),
        (cancel_queued, JobStatus.CANCELLED),
        (cancel_running, JobStatus.CANCELLED),
    ],
    ids=["completed", "failed", "timeout", "cancelled-queued", "cancelled-running"],
)
def test_wait_ends_on_every_terminal_status(
    berth_system: BerthSystem,
    client: Client,
    end: Callable[[BerthSystem, Job], None],
    final: JobStatus,
) -> None:
    job = submit(client)
    with ThreadPoolExecutor(1) as pool:
        watching = start_waiting(pool, job)
        assert watching.updates[0].status is JobStatus.QUEUED
        end(berth_system, job)
        info = watching.result.result(timeout=30)
    assert info.status is final
    assert watching.updates[-1] == info
    assert info.times.finished_at is not None


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
        run_one_job(
            berth_system.execution_address, berth_system.tokens["executor"], "emulator", RESULT
        )
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
        run_one_job(
            berth_system.execution_address, berth_system.tokens["executor"], "emulator", RESULT
        )
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


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_scheduler_is_unavailable_after_retries() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, sleep=sleeps.append)
    with (
        Client(f"127.0.0.1:{_closed_port()}", "token", retry=policy) as client,
        pytest.raises(UnavailableError) as caught,
    ):
        client.service_status("emulator")
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    assert len(sleeps) == 2  # three attempts, two backoffs


def test_every_call_has_a_deadline() -> None:
    """A peer that accepts connections but never answers cannot hang the client."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        with (
            Client(address, "token", call_timeout_s=0.5) as client,
            pytest.raises(DeadlineExceededError),
        ):
            client.job("any").status()


# --- retries and idempotency --------------------------------------------------------------


def test_backoff_is_exponential_capped_and_fully_jittered() -> None:
    top = RetryPolicy(initial_backoff_s=0.2, max_backoff_s=1.0, random=lambda: 0.999999)
    assert [round(top.backoff_s(n), 3) for n in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    bottom = RetryPolicy(random=lambda: 0.0)
    assert bottom.backoff_s(3) == 0.0  # full jitter: anywhere from zero to the cap


def test_submit_retries_until_a_restarted_scheduler_is_back(berth_system: BerthSystem) -> None:
    """The scheduler is down at the first attempt and is started during the first backoff."""
    backoffs: list[float] = []

    def back_off(seconds: float) -> None:
        if not backoffs:
            berth_system.start_scheduler()
        backoffs.append(seconds)
        time.sleep(seconds)  # the client's own backoff, as in production

    policy = RetryPolicy(max_attempts=30, initial_backoff_s=0.05, max_backoff_s=0.2, sleep=back_off)
    token = berth_system.tokens["developer"]
    with Client(berth_system.submission_address, token, retry=policy) as client:
        berth_system.stop_scheduler()
        job = submit(client)
        assert backoffs, "the first attempt should have failed while the scheduler was down"
        assert [info.job_id for info in client.list_jobs()] == [job.id]


class _LoseFirstSubmitAnswer(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """The first SubmitJob reaches the scheduler, then its answer is lost (UNAVAILABLE)."""

    def __init__(self) -> None:
        self.submit_keys: list[str] = []

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        outcome = continuation(details, request)
        if details.method == SUBMIT_METHOD:
            self.submit_keys.append(request.options.idempotency_key)
            if len(self.submit_keys) == 1:
                outcome.result()  # the job really was created
                raise _LostAnswer()
        return outcome


class _LostAnswer(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection reset before the answer arrived"


def test_retried_submit_never_makes_a_second_job(berth_system: BerthSystem) -> None:
    lose = _LoseFirstSubmitAnswer()
    channel = grpc.intercept_channel(grpc.insecure_channel(berth_system.submission_address), lose)
    token = berth_system.tokens["developer"]
    with Client(
        berth_system.submission_address, token, retry=QUICK_RETRY, channel=channel
    ) as client:
        job = submit(client)
        assert len(lose.submit_keys) == 2 and lose.submit_keys[0] == lose.submit_keys[1]
        assert job.idempotency_key == lose.submit_keys[0]
        assert [info.job_id for info in client.list_jobs()] == [job.id]
        # Separate submit calls get separate keys, hence separate jobs.
        second = submit(client)
        assert second.id != job.id and second.idempotency_key != job.idempotency_key


def test_idempotency_key_holds_across_a_restart(berth_system: BerthSystem, client: Client) -> None:
    first = submit(client, idempotency_key="experiment-42")
    berth_system.restart()
    again = submit(client, idempotency_key="experiment-42")
    assert again.id == first.id
    assert [info.job_id for info in client.list_jobs()] == [first.id]
    assert again.status().status is JobStatus.QUEUED


# --- token resolution ---------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("BERTH_TOKEN", raising=False)
    return tmp_path


def _write_config_token(home: Path, text: str) -> None:
    path = home / ".config" / "berth" / "token"
    path.parent.mkdir(parents=True)
    path.write_text(text)


def test_token_order_argument_then_environment_then_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_config_token(home, "from-file\n")
    assert resolve_token() == "from-file"
    monkeypatch.setenv("BERTH_TOKEN", "from-env")
    assert resolve_token() == "from-env"
    assert resolve_token("from-argument") == "from-argument"


def test_token_file_may_be_the_dev_tokens_json(home: Path) -> None:
    _write_config_token(home, json.dumps({"developer": "dev-token", "admin": "admin-token"}))
    assert resolve_token() == "dev-token"
    assert resolve_token(role="admin") == "admin-token"
    with pytest.raises(NoTokenError, match="no entry for role 'guest'"):
        resolve_token(role="guest")


def test_missing_token_says_where_it_looked(home: Path) -> None:
    with pytest.raises(NoTokenError, match="BERTH_TOKEN"):
        Client("localhost:1")


def test_client_takes_the_token_from_the_environment(
    berth_system: BerthSystem, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_TOKEN", berth_system.tokens["guest"])
    with Client(berth_system.submission_address) as client:
        job = submit(client)
        assert job.status().owner_name == "dev-guest"
