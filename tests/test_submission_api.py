"""Every SubmissionService RPC's success path against a real server."""

from __future__ import annotations

import threading

from berth.scheduler.v1 import execution_pb2, job_pb2, submission_pb2

from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, download


def test_queue_position_follows_priority(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        user = Submitter(submission, berth_system.tokens["developer"])
        long_job = user.submit(timeout_s=600)
        short_job = user.submit(timeout_s=10)
        # A shorter timeout earns priority (timeout factor), so it is first in line.
        assert user.status(short_job).queue_position == 1
        assert user.status(long_job).queue_position == 2


def test_status_carries_settings_and_timestamps(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        user = Submitter(submission, berth_system.tokens["developer"])
        job_id = user.submit(b"payload", shots=42, timeout_s=30)
        info = user.status(job_id)
        assert info.job_id == job_id
        assert (info.n_shots, info.timeout.seconds, info.backend) == (42, 30, "emulator")
        assert info.input_bytes == len(b"payload")
        assert info.owner_name == "dev-developer"
        assert info.timestamps.submitted_at.seconds > 0
        assert info.timestamps.queued_at == info.timestamps.submitted_at
        assert info.versions.scheduler


def test_cancel_queued_job(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        job_id = user.submit()
        response = user.cancel(job_id)
        assert response.status == job_pb2.JOB_STATUS_CANCELLED
        assert user.status(job_id).status == job_pb2.JOB_STATUS_CANCELLED
        # A cancelled job is never handed to an agent.
        assert Agent(execution, berth_system.tokens["executor"]).assign(wait_s=0.2) is None


def test_cancel_running_job_reaches_agent_through_heartbeat(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        agent = Agent(execution, berth_system.tokens["executor"])
        job_id = user.submit()
        assert agent.assign() is not None
        response = user.cancel(job_id)
        assert response.status == job_pb2.JOB_STATUS_RUNNING and response.cancel_requested
        assert agent.heartbeat(job_id).cancel_requested
        agent.report(job_id, outcome=execution_pb2.EXECUTION_OUTCOME_CANCELLED)
        assert user.status(job_id).status == job_pb2.JOB_STATUS_CANCELLED


def test_result_and_log_links(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        agent = Agent(execution, berth_system.tokens["executor"])
        job_id = user.submit()
        assigned = agent.assign()
        assert assigned is not None
        result = agent.upload(assigned.result_upload, b"result")
        log = agent.upload(assigned.log_upload, b"stdout lines\n")
        agent.report(job_id, raw=6, encoded=len(result), log_bytes=len(log))
        links = user.result(job_id)
        assert download(links.result.url) == result
        assert download(links.log.url) == log
        assert links.result.expires_at.seconds > 0
        log_only = user.stub.GetJobLog(
            submission_pb2.GetJobLogRequest(job_id=job_id), metadata=user.metadata
        )
        assert download(log_only.log.url) == log


def test_list_jobs_newest_first_with_pages(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        user = Submitter(submission, berth_system.tokens["developer"])
        submitted = [user.submit() for _ in range(5)]
        seen: list[str] = []
        token = ""
        while True:
            page = user.stub.ListJobs(
                submission_pb2.ListJobsRequest(page_size=2, page_token=token),
                metadata=user.metadata,
            )
            assert len(page.jobs) <= 2
            seen += [job.job_id for job in page.jobs]
            token = page.next_page_token
            if not token:
                break
        assert seen == list(reversed(submitted))
        user.cancel(submitted[0])
        cancelled = user.stub.ListJobs(
            submission_pb2.ListJobsRequest(status=job_pb2.JOB_STATUS_CANCELLED),
            metadata=user.metadata,
        )
        assert [job.job_id for job in cancelled.jobs] == [submitted[0]]


def test_service_status(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        user = Submitter(submission, berth_system.tokens["developer"])
        user.submit(backend="qpu")
        status = user.stub.GetServiceStatus(
            submission_pb2.GetServiceStatusRequest(backend="qpu"), metadata=user.metadata
        )
        assert status.availability == submission_pb2.AVAILABILITY_AVAILABLE
        assert status.queue_length == 1
        assert status.role_max_timeout.seconds == 600
        assert status.serving


def test_my_limits_show_each_callers_own_role_and_usage(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        developer = Submitter(submission, berth_system.tokens["developer"])
        running = developer.submit(backend="qpu")
        developer.submit(backend="qpu")
        assigned = Agent(execution, berth_system.tokens["executor"]).assign("qpu")
        assert assigned is not None and assigned.job_id == running
        mine = developer.stub.GetMyLimits(
            submission_pb2.GetMyLimitsRequest(), metadata=developer.metadata
        )
        assert (mine.role, mine.active_jobs, mine.running_jobs) == ("developer", 2, 1)
        assert (mine.max_concurrent_jobs, mine.max_job_bytes) == (10, 10 * 1024 * 1024)
        assert mine.max_timeout.seconds == 600 and mine.rate_limit_per_second == 100

        guest = Submitter(submission, berth_system.tokens["guest"])
        guest.submit()
        theirs = guest.stub.GetMyLimits(
            submission_pb2.GetMyLimitsRequest(), metadata=guest.metadata
        )
        assert (theirs.role, theirs.active_jobs, theirs.running_jobs) == ("guest", 1, 0)
        assert (theirs.max_concurrent_jobs, theirs.max_job_bytes) == (5, 1024 * 1024)
        assert theirs.max_timeout.seconds == 300 and theirs.rate_limit_per_second == 20


def test_watch_streams_each_status_change_until_terminal(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        agent = Agent(execution, berth_system.tokens["executor"])
        job_id = user.submit()
        stream = user.stub.WatchJob(
            submission_pb2.WatchJobRequest(job_id=job_id), metadata=user.metadata, timeout=30
        )
        statuses: list[int] = []
        first_seen = threading.Event()

        def consume() -> None:
            for info in stream:
                statuses.append(info.status)
                first_seen.set()

        reader = threading.Thread(target=consume)
        reader.start()
        assert first_seen.wait(10)
        agent.run(b"done")
        reader.join(20)
        assert not reader.is_alive(), "the stream ends once the job is terminal"
        assert statuses == [
            job_pb2.JOB_STATUS_QUEUED,
            job_pb2.JOB_STATUS_RUNNING,
            job_pb2.JOB_STATUS_COMPLETED,
        ]


def test_idempotent_submit_returns_first_job(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        user = Submitter(submission, berth_system.tokens["developer"])
        first = user.submit(idempotency_key="batch-7/run-1")
        again = user.submit(idempotency_key="batch-7/run-1")
        assert first == again
        other = Submitter(submission, berth_system.tokens["admin"]).submit(
            idempotency_key="batch-7/run-1"
        )
        assert other != first, "keys are scoped to the token"
        listed = user.stub.ListJobs(submission_pb2.ListJobsRequest(), metadata=user.metadata)
        assert [job.job_id for job in listed.jobs] == [first]
