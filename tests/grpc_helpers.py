"""Small conveniences for talking to a test system the way users and agents do."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
import requests
from berth.scheduler.v1 import (
    execution_pb2,
    execution_pb2_grpc,
    job_pb2,
    submission_pb2,
    submission_pb2_grpc,
)
from google.protobuf import duration_pb2

from tests.berth_system import BerthSystem


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


class Submitter:
    """A client holding one token: every call carries it."""

    def __init__(self, channel: grpc.Channel, token: str) -> None:
        self.stub = submission_pb2_grpc.SubmissionServiceStub(channel)
        self.metadata = bearer(token)

    def submit(
        self,
        payload: bytes = b"OPENQASM 3; qubit q;",
        *,
        backend: str = "emulator",
        timeout_s: int = 60,
        shots: int = 100,
        idempotency_key: str = "",
        fmt: str = "qasm3",
        save_job: bool = False,
        parameters: dict[str, str] | None = None,
    ) -> str:
        request = submission_pb2.SubmitJobRequest(
            job=job_pb2.Job(
                program=job_pb2.Program(format=fmt, payload=payload),
                settings=job_pb2.JobSettings(
                    backend=backend,
                    n_shots=shots,
                    timeout=duration_pb2.Duration(seconds=timeout_s),
                    parameters=parameters or {},
                ),
            ),
            options=submission_pb2.SubmitOptions(
                idempotency_key=idempotency_key, save_job=save_job
            ),
        )
        return self.stub.SubmitJob(request, metadata=self.metadata, timeout=10).job_id

    def status(self, job_id: str) -> submission_pb2.JobInfo:
        return self.stub.GetJobStatus(
            submission_pb2.GetJobStatusRequest(job_id=job_id), metadata=self.metadata, timeout=10
        )

    def cancel(self, job_id: str) -> submission_pb2.CancelJobResponse:
        return self.stub.CancelJob(
            submission_pb2.CancelJobRequest(job_id=job_id), metadata=self.metadata, timeout=10
        )

    def result(self, job_id: str) -> submission_pb2.GetJobResultResponse:
        return self.stub.GetJobResult(
            submission_pb2.GetJobResultRequest(job_id=job_id), metadata=self.metadata, timeout=10
        )


class Agent:
    """An executor agent speaking the execution protocol by hand."""

    def __init__(self, channel: grpc.Channel, token: str, agent_id: str = "agent-1") -> None:
        self.stub = execution_pb2_grpc.ExecutionServiceStub(channel)
        self.metadata = bearer(token)
        self.agent_id = agent_id

    def assign(
        self, backend: str = "emulator", wait_s: float = 5.0
    ) -> execution_pb2.AssignedJob | None:
        response = self.stub.AssignNextJob(
            execution_pb2.AssignNextJobRequest(
                backend=backend,
                agent_id=self.agent_id,
                wait=duration_pb2.Duration(seconds=int(wait_s), nanos=int(wait_s % 1 * 1e9)),
            ),
            metadata=self.metadata,
            timeout=wait_s + 10,
        )
        return response.assigned if response.HasField("assigned") else None

    def heartbeat(self, job_id: str) -> execution_pb2.HeartbeatResponse:
        return self.stub.Heartbeat(
            execution_pb2.HeartbeatRequest(job_id=job_id, agent_id=self.agent_id),
            metadata=self.metadata,
            timeout=10,
        )

    def upload(self, target: job_pb2.UploadTarget, data: bytes) -> bytes:
        """gzip and PUT with exactly the signed headers; returns the uploaded bytes."""
        encoded = gzip.compress(data)
        response = requests.put(target.url, data=encoded, headers=dict(target.headers), timeout=10)
        response.raise_for_status()
        return encoded

    def report(
        self,
        job_id: str,
        outcome: execution_pb2.ExecutionOutcome.ValueType = execution_pb2.EXECUTION_OUTCOME_SUCCESS,
        *,
        error: str = "",
        raw: int = 0,
        encoded: int = 0,
        log_bytes: int = 0,
    ) -> execution_pb2.ReportExecutionResultResponse:
        return self.stub.ReportExecutionResult(
            execution_pb2.ReportExecutionResultRequest(
                job_id=job_id,
                agent_id=self.agent_id,
                outcome=outcome,
                error=error,
                result_raw_bytes=raw,
                result_encoded_bytes=encoded,
                log_bytes=log_bytes,
                actual_backend="emulator",
                agent_version="test-agent",
                runner_version="test",
            ),
            metadata=self.metadata,
            timeout=10,
        )

    def run(self, result: bytes, backend: str = "emulator") -> str:
        """Take the next job, upload `result`, report SUCCESS; returns the job id."""
        assigned = self.assign(backend)
        assert assigned is not None, "no job was assignable"
        encoded = self.upload(assigned.result_upload, result)
        self.report(assigned.job_id, raw=len(result), encoded=len(encoded))
        return assigned.job_id


@contextmanager
def clients(system: BerthSystem) -> Iterator[tuple[grpc.Channel, grpc.Channel]]:
    """Channels to the submission and execution ports."""
    submission = grpc.insecure_channel(system.submission_address)
    execution = grpc.insecure_channel(system.execution_address)
    try:
        yield submission, execution
    finally:
        submission.close()
        execution.close()


def download(url: str) -> bytes:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.content


def eventually(
    condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition"
) -> None:
    """Poll an observable condition (e.g. a background refresh) until it holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass(frozen=True)
class RpcFailure:
    """A failed call's status code and message, as the caller sees them."""

    status: grpc.StatusCode
    message: str

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return self.message


def rpc_error(call: Callable[[], object]) -> RpcFailure:
    """Run a call that must fail; return its status for code and message checks."""
    try:
        call()
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return RpcFailure(error.code(), error.details() or "")
    raise AssertionError("the call succeeded but was expected to fail")


def set_backend_status(system: BerthSystem, toml_text: str) -> None:
    ssm = system.aws_client("ssm")
    ssm.put_parameter(
        Name=system.stack.config.backend_status_parameter_name,
        Value=toml_text,
        Type="String",
        Overwrite=True,
    )
