"""What the harness's clients and agents say over gRPC, as a user's would."""

from __future__ import annotations

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

CALL_TIMEOUT_S = 60.0  # generous: a loaded 2-core machine must not fail a phase
RESULT = b"counts: {'0': 51, '1': 49}"


def connect(address: str) -> grpc.Channel:
    """A channel already connected, so no measured call pays for the handshake."""
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=CALL_TIMEOUT_S)
    return channel


def submit_request(payload: bytes, backend: str) -> submission_pb2.SubmitJobRequest:
    return submission_pb2.SubmitJobRequest(
        job=job_pb2.Job(
            program=job_pb2.Program(format="qasm3", payload=payload),
            settings=job_pb2.JobSettings(
                backend=backend, n_shots=100, timeout=duration_pb2.Duration(seconds=60)
            ),
        )
    )


class Client:
    """One user: its own channel (connection) and token."""

    def __init__(self, address: str, token: str) -> None:
        self.channel = connect(address)
        self.stub = submission_pb2_grpc.SubmissionServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),)

    def submit(self, payload: bytes, backend: str) -> str:
        request = submit_request(payload, backend)
        reply = self.stub.SubmitJob(request, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        return str(reply.job_id)

    def status(self, job_id: str) -> submission_pb2.JobInfo:
        return self.stub.GetJobStatus(
            submission_pb2.GetJobStatusRequest(job_id=job_id),
            metadata=self.metadata,
            timeout=CALL_TIMEOUT_S,
        )

    def result_url(self, job_id: str) -> str:
        reply = self.stub.GetJobResult(
            submission_pb2.GetJobResultRequest(job_id=job_id),
            metadata=self.metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return str(reply.result.url)

    def close(self) -> None:
        self.channel.close()


class Agent:
    """One executor slot: assign → PUT the result to the presigned URL → report."""

    def __init__(self, address: str, token: str, agent_id: str) -> None:
        self.channel = connect(address)
        self.stub = execution_pb2_grpc.ExecutionServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.agent_id = agent_id
        self.http = requests.Session()

    def assign(self, backend: str, wait_s: float) -> execution_pb2.AssignedJob | None:
        request = execution_pb2.AssignNextJobRequest(
            backend=backend,
            agent_id=self.agent_id,
            wait=duration_pb2.Duration(seconds=int(wait_s), nanos=int(wait_s % 1 * 1e9)),
        )
        reply = self.stub.AssignNextJob(
            request, metadata=self.metadata, timeout=wait_s + CALL_TIMEOUT_S
        )
        return reply.assigned if reply.HasField("assigned") else None

    def complete(self, assigned: execution_pb2.AssignedJob) -> None:
        target = assigned.result_upload
        response = self.http.put(
            target.url, data=RESULT, headers=dict(target.headers), timeout=CALL_TIMEOUT_S
        )
        response.raise_for_status()
        self.stub.ReportExecutionResult(
            execution_pb2.ReportExecutionResultRequest(
                job_id=assigned.job_id,
                agent_id=self.agent_id,
                outcome=execution_pb2.EXECUTION_OUTCOME_SUCCESS,
                result_raw_bytes=len(RESULT),
                result_encoded_bytes=len(RESULT),
                actual_backend=assigned.job.settings.backend,
                agent_version="bench",
                runner_version="bench",
            ),
            metadata=self.metadata,
            timeout=CALL_TIMEOUT_S,
        )

    def close(self) -> None:
        self.http.close()
        self.channel.close()
