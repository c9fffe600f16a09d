"""Each documented status code (docs/protocol.md), reached by a real request."""

from __future__ import annotations

import logging
import uuid
from functools import partial

import grpc
import pytest
from berth.scheduler.v1 import job_pb2, submission_pb2
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scheduler.service.submissions import SubmissionOperations
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, eventually, rpc_error, set_backend_status


def test_invalid_arguments_name_the_field(module_berth_system: BerthSystem) -> None:
    with clients(module_berth_system) as (submission, _):
        user = Submitter(submission, module_berth_system.tokens["developer"])
        cases = {
            "settings.n_shots": lambda: user.submit(shots=0),
            "settings.timeout": lambda: user.submit(timeout_s=-5),
            "unknown backend 'nope'": lambda: user.submit(backend="nope"),
            "program.format": lambda: user.submit(fmt=""),
        }
        for expected, call in cases.items():
            error = rpc_error(call)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, expected
            assert expected in error.details()


def test_oversized_job_names_the_limit(make_berth_system: object) -> None:
    system = make_berth_system()  # type: ignore[operator]
    with clients(system) as (submission, _):
        guest = Submitter(submission, system.tokens["guest"])
        error = rpc_error(lambda: guest.submit(b"x" * (1024 * 1024 + 1)))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "SCHEDULER_MAX_JOB_BYTES_GUEST" in error.details()
        assert "1048576" in error.details()


def test_unauthenticated(module_berth_system: BerthSystem) -> None:
    with clients(module_berth_system) as (submission, _):
        for token in ("", "berth_not-a-real-token", "x" * 1_000_000):
            user = Submitter(submission, token)
            error = rpc_error(lambda u=user: u.submit())  # type: ignore[misc]
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        stub = Submitter(submission, "unused").stub
        error = rpc_error(lambda: stub.GetJobStatus(submission_pb2.GetJobStatusRequest(job_id="x")))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "Bearer" in error.details()


def test_wrong_port_for_role(module_berth_system: BerthSystem) -> None:
    with clients(module_berth_system) as (submission, execution):
        error = rpc_error(
            lambda: Submitter(submission, module_berth_system.tokens["executor"]).submit()
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        error = rpc_error(
            lambda: Agent(execution, module_berth_system.tokens["developer"]).assign(wait_s=0)
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_not_found_for_unknown_ids_of_any_shape(module_berth_system: BerthSystem) -> None:
    with clients(module_berth_system) as (submission, _):
        user = Submitter(submission, module_berth_system.tokens["developer"])
        for job_id in ("", "nope", "00000000-0000-0000-0000-000000000000", "x" * 5000, "é/../\0"):
            error = rpc_error(lambda j=job_id: user.status(j))  # type: ignore[misc]
            assert error.code() == grpc.StatusCode.NOT_FOUND


def test_failed_precondition(module_berth_system: BerthSystem) -> None:
    with clients(module_berth_system) as (submission, _):
        user = Submitter(submission, module_berth_system.tokens["developer"])
        job_id = user.submit()
        error = rpc_error(lambda: user.result(job_id))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "QUEUED" in error.details()
        user.cancel(job_id)
        error = rpc_error(lambda: user.cancel(job_id))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "already ended as CANCELLED" in error.details()


def test_dependencies_answer_each_status_code_and_show_as_waiting(
    module_berth_system: BerthSystem,
) -> None:
    system = module_berth_system
    with clients(system) as (submission, _):
        user = Submitter(submission, system.tokens["developer"])
        admin = Submitter(submission, system.tokens["admin"])

        def submit_after(who: Submitter, job_ids: list[str], condition: int = 0) -> str:
            dependencies = submission_pb2.Dependencies(job_ids=job_ids, condition=condition)  # type: ignore[arg-type]
            request = submission_pb2.SubmitJobRequest(
                job=job_pb2.Job(
                    program=job_pb2.Program(format="qasm3", payload=b"OPENQASM 3;"),
                    settings=job_pb2.JobSettings(
                        backend="emulator", n_shots=10, timeout=duration_pb2.Duration(seconds=60)
                    ),
                ),
                options=submission_pb2.SubmitOptions(dependencies=dependencies),
            )
            return who.stub.SubmitJob(request, metadata=who.metadata, timeout=10).job_id

        parent = user.submit()
        child = submit_after(user, [parent])
        info = user.status(child)
        assert info.status == job_pb2.JOB_STATUS_WAITING
        assert list(info.dependencies.job_ids) == [parent]
        assert info.dependencies.condition == submission_pb2.DEPENDENCY_CONDITION_AFTER_OK
        waiting = user.stub.ListJobs(
            submission_pb2.ListJobsRequest(status=job_pb2.JOB_STATUS_WAITING),
            metadata=user.metadata,
        )
        assert [job.job_id for job in waiting.jobs] == [child]
        for who, job_ids in ((admin, [parent]), (user, [str(uuid.uuid4())])):
            error = rpc_error(partial(submit_after, who, job_ids))
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert f"job {job_ids[0]} not found" in error.details()
        for job_ids, condition, expected in (
            ([parent, parent], 0, "twice"),
            ([], submission_pb2.DEPENDENCY_CONDITION_AFTER_ANY, "job_ids is empty"),
            ([parent], 42, "unknown condition 42"),
        ):
            error = rpc_error(partial(submit_after, user, job_ids, condition))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, expected
            assert expected in error.details()
        watch = user.stub.WatchJob(
            submission_pb2.WatchJobRequest(job_id=child), metadata=user.metadata, timeout=30
        )
        user.cancel(parent)
        last = [event for event in watch][-1]  # the stream ends when the job ends
        assert last.status == job_pb2.JOB_STATUS_CANCELLED
        assert last.detail == (
            f"dependency job {parent} ended CANCELLED; afterok needs every dependency COMPLETED"
        )
        error = rpc_error(lambda: submit_after(user, [parent]))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert f"job {parent} ended CANCELLED" in error.details()


def test_backend_in_maintenance_is_unavailable_with_its_description(
    berth_system: BerthSystem,
) -> None:
    set_backend_status(
        berth_system,
        """
[backends.qpu.developer]
status = "maintenance"
description = "Recalibration until 14:00 UTC"
[backends.emulator.developer]
status = "available"
[backends.sim2.developer]
status = "available"
""",
    )
    with clients(berth_system) as (submission, _):
        user = Submitter(submission, berth_system.tokens["developer"])

        def in_maintenance() -> bool:
            status = user.stub.GetServiceStatus(
                submission_pb2.GetServiceStatusRequest(backend="qpu"), metadata=user.metadata
            )
            return status.availability == submission_pb2.AVAILABILITY_MAINTENANCE

        eventually(in_maintenance, what="the new backend status to be read")
        error = rpc_error(lambda: user.submit(backend="qpu"))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "Recalibration until 14:00 UTC" in error.details()
        # A backend added to the parameter gets a queue without a restart.
        assert user.status(user.submit(backend="sim2")).status == job_pb2.JOB_STATUS_QUEUED


def test_token_database_down_is_unavailable(make_berth_system: object) -> None:
    system = make_berth_system(token_cache_seconds=0.01)  # type: ignore[operator]
    assert system.stack.token_server is not None
    system.run(system.stack.token_server.stop(0))
    with clients(system) as (submission, _):
        error = rpc_error(lambda: Submitter(submission, system.tokens["developer"]).submit())
        assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_internal_error_carries_a_correlation_id(
    berth_system: BerthSystem, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(SubmissionOperations, "view", broken)
    caplog.set_level(logging.ERROR)
    with clients(berth_system) as (submission, _):
        error = rpc_error(
            lambda: Submitter(submission, berth_system.tokens["developer"]).status("x")
        )
        assert error.code() == grpc.StatusCode.INTERNAL
        correlation_id = error.details().split("correlation id ")[1].split(")")[0]
        assert "simulated bug" not in error.details()
        assert any(correlation_id in record.getMessage() for record in caplog.records)


def test_health_on_both_ports(module_berth_system: BerthSystem) -> None:
    with clients(module_berth_system) as (submission, execution):
        for channel, service in (
            (submission, "berth.scheduler.v1.SubmissionService"),
            (execution, "berth.scheduler.v1.ExecutionService"),
        ):
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", service):
                response = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
                assert response.status == health_pb2.HealthCheckResponse.SERVING
