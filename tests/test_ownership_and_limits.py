"""A user sees only their own jobs; limits refuse what would overload the queue."""

from __future__ import annotations

from functools import partial

import grpc
from berth.scheduler.v1 import submission_pb2

from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, rpc_error


def test_another_tokens_job_is_not_found(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        alice = Submitter(submission, berth_system.tokens["developer"])
        mallory = Submitter(submission, berth_system.tokens["guest"])
        queued = alice.submit()
        Agent(execution, berth_system.tokens["executor"]).run(b"r")  # completes `queued`
        calls = {
            "status": lambda: mallory.status(queued),
            "result": lambda: mallory.result(queued),
            "cancel": lambda: mallory.cancel(queued),
            "watch": lambda: list(
                mallory.stub.WatchJob(
                    submission_pb2.WatchJobRequest(job_id=queued),
                    metadata=mallory.metadata,
                    timeout=5,
                )
            ),
        }
        for name, call in calls.items():
            assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND, name
        listed = mallory.stub.ListJobs(submission_pb2.ListJobsRequest(), metadata=mallory.metadata)
        assert list(listed.jobs) == []


def test_admin_lists_everyones_jobs(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        developer = Submitter(submission, berth_system.tokens["developer"])
        guest = Submitter(submission, berth_system.tokens["guest"])
        admin = Submitter(submission, berth_system.tokens["admin"])
        ids = [developer.submit(), guest.submit()]
        listed = admin.stub.ListJobs(
            submission_pb2.ListJobsRequest(all_users=True), metadata=admin.metadata
        )
        assert [job.job_id for job in listed.jobs] == list(reversed(ids))
        assert {job.owner_name for job in listed.jobs} == {"dev-developer", "dev-guest"}
        error = rpc_error(
            lambda: developer.stub.ListJobs(
                submission_pb2.ListJobsRequest(all_users=True), metadata=developer.metadata
            )
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_queue_bytes_full_is_resource_exhausted(make_berth_system: object) -> None:
    system = make_berth_system(max_queue_bytes=3000)  # type: ignore[operator]
    with clients(system) as (submission, execution):
        admin = Submitter(submission, system.tokens["admin"])
        admin.submit(b"x" * 1400)
        admin.submit(b"x" * 1400)
        error = rpc_error(lambda: admin.submit(b"x" * 1400))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "SCHEDULER_MAX_QUEUE_BYTES" in error.details()
        # Bytes are given back when a job leaves the queue.
        Agent(execution, system.tokens["executor"]).run(b"r")
        admin.submit(b"x" * 1400)


def test_timeout_above_the_roles_maximum_is_refused_naming_the_variable(
    berth_system: BerthSystem,
) -> None:
    with clients(berth_system) as (submission, _):
        developer = Submitter(submission, berth_system.tokens["developer"])  # maximum 10 min
        guest = Submitter(submission, berth_system.tokens["guest"])  # maximum 5 min
        for submitter, timeout_s, variable in (
            (developer, 20 * 60, "SCHEDULER_MAX_TIMEOUT_SECONDS_DEVELOPER"),
            (guest, 9 * 60, "SCHEDULER_MAX_TIMEOUT_SECONDS_GUEST"),
        ):
            error = rpc_error(partial(submitter.submit, timeout_s=timeout_s))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert variable in error.details()
            assert "maximum" in error.details()
        developer.submit(timeout_s=10 * 60)  # at the maximum is fine
        guest.submit(timeout_s=5 * 60)


def test_empty_payload_is_refused(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        developer = Submitter(submission, berth_system.tokens["developer"])
        error = rpc_error(lambda: developer.submit(b""))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "program.payload" in error.details()
