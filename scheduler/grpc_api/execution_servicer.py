"""ExecutionService: requests in, domain calls, responses out."""

from __future__ import annotations

from typing import Any

import grpc
from berth.scheduler.v1 import execution_pb2, execution_pb2_grpc, job_pb2

from berth_common.times import to_duration
from scheduler.auth.interceptor import principal
from scheduler.domain.errors import InvalidArgument
from scheduler.domain.jobs import Assignment, Completion, JobStatus
from scheduler.grpc_api import convert
from scheduler.grpc_api.errors import unary
from scheduler.service.agent_directory import AgentDirectory
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.executions import ExecutionOperations
from scheduler.service.limits import check_backend_name

Context = grpc.aio.ServicerContext[Any, Any]

OUTCOME_TO_STATUS = {
    execution_pb2.EXECUTION_OUTCOME_SUCCESS: JobStatus.COMPLETED,
    execution_pb2.EXECUTION_OUTCOME_FAILURE: JobStatus.FAILED,
    execution_pb2.EXECUTION_OUTCOME_TIMEOUT: JobStatus.TIMEOUT,
    execution_pb2.EXECUTION_OUTCOME_CANCELLED: JobStatus.CANCELLED,
}


class ExecutionServicer(execution_pb2_grpc.ExecutionServiceServicer):
    def __init__(
        self,
        operations: ExecutionOperations,
        clock: Any,
        backends: BackendStatusCache,
        agents: AgentDirectory | None = None,
    ) -> None:
        self._ops = operations
        self._clock = clock
        self._backends = backends
        self._agents = agents

    @unary
    async def CheckBackend(
        self, request: execution_pb2.CheckBackendRequest, context: Context
    ) -> execution_pb2.CheckBackendResponse:
        check_backend_name(request.backend, "backend")
        self._backends.require_known(request.backend)
        return execution_pb2.CheckBackendResponse(known_backends=self._backends.backends())

    @unary
    async def AssignNextJob(
        self, request: execution_pb2.AssignNextJobRequest, context: Context
    ) -> execution_pb2.AssignNextJobResponse:
        wait_s = convert.duration_seconds(request.wait, "wait")
        assignment = await self._ops.assign(request.backend, request.agent_id, wait_s, principal())
        if self._agents is not None:
            job_id = assignment.job.job_id if assignment is not None else None
            self._agents.polled(request.agent_id, principal().token_id, job_id)
        if assignment is None:
            return execution_pb2.AssignNextJobResponse()
        return execution_pb2.AssignNextJobResponse(assigned=_assigned(assignment))

    @unary
    async def Heartbeat(
        self, request: execution_pb2.HeartbeatRequest, context: Context
    ) -> execution_pb2.HeartbeatResponse:
        expires_at, cancel_requested = await self._ops.heartbeat(
            request.job_id, request.agent_id, principal()
        )
        return execution_pb2.HeartbeatResponse(
            lease=execution_pb2.Lease(
                expires_at=convert.timestamp(expires_at),
                heartbeat_interval=to_duration(self._ops.heartbeat_interval_s),
            ),
            cancel_requested=cancel_requested,
        )

    @unary
    async def ReportExecutionResult(
        self, request: execution_pb2.ReportExecutionResultRequest, context: Context
    ) -> execution_pb2.ReportExecutionResultResponse:
        status = OUTCOME_TO_STATUS.get(request.outcome)
        if status is None:
            raise InvalidArgument("outcome must be SUCCESS, FAILURE, TIMEOUT or CANCELLED")
        for name in ("result_raw_bytes", "result_encoded_bytes", "log_bytes"):
            if getattr(request, name) < 0:
                raise InvalidArgument(f"{name} must not be negative")
        completion = Completion(
            status=status,
            detail=request.error,
            result_raw_bytes=request.result_raw_bytes,
            result_encoded_bytes=request.result_encoded_bytes,
            log_bytes=request.log_bytes,
            dequeued_at=convert.epoch_seconds(request.dequeued_at, "dequeued_at"),
            execution_started_at=convert.epoch_seconds(
                request.execution_started_at, "execution_started_at"
            ),
            execution_finished_at=convert.epoch_seconds(
                request.execution_finished_at, "execution_finished_at"
            ),
            finished_at=self._clock(),
            actual_backend=request.actual_backend[:64],
            agent_version=request.agent_version[:64],
            runner_version=request.runner_version[:64],
        )
        job = await self._ops.report(request.job_id, request.agent_id, completion, principal())
        if self._agents is not None:
            self._agents.reported(request.agent_id, request.job_id, completion.agent_version)
        return execution_pb2.ReportExecutionResultResponse(status=convert.STATUS_TO_PB[job.status])

    @unary
    async def RefreshUploadUrl(
        self, request: execution_pb2.RefreshUploadUrlRequest, context: Context
    ) -> execution_pb2.RefreshUploadUrlResponse:
        result, log = await self._ops.refresh_upload(request.job_id, request.agent_id, principal())
        return execution_pb2.RefreshUploadUrlResponse(
            result_upload=convert.upload_target(result), log_upload=convert.upload_target(log)
        )


def _assigned(assignment: Assignment) -> execution_pb2.AssignedJob:
    job = assignment.job
    return execution_pb2.AssignedJob(
        job_id=job.job_id,
        job=job_pb2.Job(
            program=job_pb2.Program(format=job.format, payload=assignment.payload),
            settings=job_pb2.JobSettings(
                backend=job.backend,
                n_shots=job.n_shots,
                timeout=to_duration(job.timeout_s),
                parameters=job.parameters,
            ),
        ),
        attempt=job.attempt,
        result_upload=convert.upload_target(assignment.result_upload),
        log_upload=convert.upload_target(assignment.log_upload),
        lease=execution_pb2.Lease(
            expires_at=convert.timestamp(assignment.lease_expires_at),
            heartbeat_interval=to_duration(assignment.heartbeat_interval_s),
        ),
        timestamps=convert.timestamps(job),
    )
