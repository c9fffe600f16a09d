"""Playing the executor agent by hand over the real execution port, for client-side tests.

`run_one_job` takes the next job for a backend and ends it with the given
outcome; `ManualAgent` splits those steps for tests that act in between
(cancelling a running job, for instance).
"""

from __future__ import annotations

import gzip
from typing import TypeAlias

import grpc
import requests
from berth.scheduler.v1 import execution_pb2, execution_pb2_grpc, job_pb2
from google.protobuf import duration_pb2

Outcome: TypeAlias = execution_pb2.ExecutionOutcome.ValueType
SUCCESS = execution_pb2.EXECUTION_OUTCOME_SUCCESS
FAILURE = execution_pb2.EXECUTION_OUTCOME_FAILURE
TIMEOUT = execution_pb2.EXECUTION_OUTCOME_TIMEOUT
CANCELLED = execution_pb2.EXECUTION_OUTCOME_CANCELLED


class ManualAgent:
    """One agent slot with an executor token; a context manager owning its channel."""

    def __init__(self, execution_address: str, executor_token: str, agent_id: str = "test-agent"):
        self._channel = grpc.insecure_channel(execution_address)
        self._stub = execution_pb2_grpc.ExecutionServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {executor_token}"),)
        self.agent_id = agent_id

    def __enter__(self) -> ManualAgent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._channel.close()

    def assign(self, backend: str, wait_s: float = 5.0) -> execution_pb2.AssignedJob:
        wait = duration_pb2.Duration()
        wait.FromMilliseconds(int(wait_s * 1000))
        response = self._stub.AssignNextJob(
            execution_pb2.AssignNextJobRequest(backend=backend, agent_id=self.agent_id, wait=wait),
            metadata=self._metadata,
            timeout=wait_s + 10,
        )
        if not response.HasField("assigned"):
            raise AssertionError(f"no job for backend {backend!r} within {wait_s}s")
        return response.assigned

    def heartbeat(self, job_id: str) -> execution_pb2.HeartbeatResponse:
        return self._stub.Heartbeat(
            execution_pb2.HeartbeatRequest(job_id=job_id, agent_id=self.agent_id),
            metadata=self._metadata,
            timeout=10,
        )

    @staticmethod
    def upload(target: job_pb2.UploadTarget, result: bytes) -> int:
        """PUT the gzip of `result` with exactly the signed headers; returns its size."""
        encoded = gzip.compress(result)
        response = requests.put(target.url, data=encoded, headers=dict(target.headers), timeout=10)
        response.raise_for_status()
        return len(encoded)

    def finish(
        self,
        assigned: execution_pb2.AssignedJob,
        result: bytes = b"",
        outcome: Outcome = SUCCESS,
        error: str = "",
        log: bytes = b"",
    ) -> execution_pb2.ReportExecutionResultResponse:
        """Upload the result (SUCCESS only) and the log (if any), and report the outcome."""
        encoded = self.upload(assigned.result_upload, result) if outcome == SUCCESS else 0
        log_bytes = self.upload(assigned.log_upload, log) if log else 0
        return self._stub.ReportExecutionResult(
            execution_pb2.ReportExecutionResultRequest(
                job_id=assigned.job_id,
                agent_id=self.agent_id,
                outcome=outcome,
                error=error,
                result_raw_bytes=len(result) if outcome == SUCCESS else 0,
                result_encoded_bytes=encoded,
                log_bytes=log_bytes,
                actual_backend=assigned.job.settings.backend,
                agent_version="test-agent",
                runner_version="test-runner",
            ),
            metadata=self._metadata,
            timeout=10,
        )


def run_one_job(
    execution_address: str,
    executor_token: str,
    backend: str,
    result: bytes = b"",
    outcome: Outcome = SUCCESS,
    *,
    error: str = "",
    agent_id: str = "test-agent",
    log: bytes = b"",
) -> str:
    """Take the next job for `backend`, end it with `outcome`; returns its job id."""
    with ManualAgent(execution_address, executor_token, agent_id) as agent:
        assigned = agent.assign(backend)
        agent.finish(assigned, result, outcome, error, log)
        return assigned.job_id
