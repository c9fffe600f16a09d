"""The dashboard's only way to the scheduler: its gRPC services, as the signed-in user.

One grpc.aio channel is shared by every session; each call carries the
session's token as bearer metadata, so the scheduler applies its own rules
(roles, ownership, rate limits) to every page. Failures surface as the
client library's BerthRpcError subclasses, whose messages carry no token.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

import grpc
from berth.scheduler.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    job_pb2,
    submission_pb2,
    submission_pb2_grpc,
)

from scheduler_client.client import CHANNEL_OPTIONS
from scheduler_client.errors import BerthRpcError, from_rpc_error
from scheduler_client.job_array import ArrayCancelOutcome, ArrayStatus
from scheduler_client.job_info import JobInfo, JobStatus
from scheduler_client.role_limits import RoleLimits

CALL_TIMEOUT_S = 15.0
T = TypeVar("T")


class SchedulerGateway:
    def __init__(self, address: str, tls: bool | grpc.ChannelCredentials = False) -> None:
        self.address = address
        self._tls = tls
        self._channel: grpc.aio.Channel | None = None

    async def open(self) -> None:
        """On the serving loop: grpc.aio channels belong to the loop that made them."""
        if self._tls is False:
            self._channel = grpc.aio.insecure_channel(self.address, options=CHANNEL_OPTIONS)
        else:
            credentials = grpc.ssl_channel_credentials() if self._tls is True else self._tls
            self._channel = grpc.aio.secure_channel(
                self.address, credentials, options=CHANNEL_OPTIONS
            )

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(None)

    def for_token(self, token: str) -> UserCalls:
        assert self._channel is not None, "open() first"
        return UserCalls(self._channel, token)


class UserCalls:
    """The RPCs a page makes, authenticated as one user."""

    def __init__(self, channel: grpc.aio.Channel, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._submission = submission_pb2_grpc.SubmissionServiceStub(channel)
        self._admin = admin_pb2_grpc.AdminServiceStub(channel)

    def __repr__(self) -> str:
        return "UserCalls()"

    async def list_jobs(
        self, status: JobStatus | None, backend: str, page_size: int, page_token: str
    ) -> tuple[list[JobInfo], str]:
        request = submission_pb2.ListJobsRequest(
            status=status.to_pb() if status else job_pb2.JOB_STATUS_UNSPECIFIED,
            backend=backend,
            page_size=page_size,
            page_token=page_token,
        )
        response = await self._call("ListJobs", self._submission.ListJobs, request)
        return [JobInfo.from_pb(job) for job in response.jobs], response.next_page_token

    async def job(self, job_id: str) -> JobInfo:
        request = submission_pb2.GetJobStatusRequest(job_id=job_id)
        info = await self._call("GetJobStatus", self._submission.GetJobStatus, request)
        return JobInfo.from_pb(info)

    async def cancel(self, job_id: str) -> submission_pb2.CancelJobResponse:
        request = submission_pb2.CancelJobRequest(job_id=job_id)
        return await self._call("CancelJob", self._submission.CancelJob, request)

    async def hold(self, job_id: str) -> JobInfo:
        request = submission_pb2.HoldJobRequest(job_id=job_id)
        return JobInfo.from_pb(await self._call("HoldJob", self._submission.HoldJob, request))

    async def release(self, job_id: str) -> JobInfo:
        request = submission_pb2.ReleaseJobRequest(job_id=job_id)
        return JobInfo.from_pb(await self._call("ReleaseJob", self._submission.ReleaseJob, request))

    async def array(self, array_id: str) -> ArrayStatus:
        request = submission_pb2.GetJobArrayRequest(array_id=array_id)
        return ArrayStatus.from_pb(
            await self._call("GetJobArray", self._submission.GetJobArray, request)
        )

    async def cancel_array(self, array_id: str) -> ArrayCancelOutcome:
        request = submission_pb2.CancelJobArrayRequest(array_id=array_id)
        response = await self._call("CancelJobArray", self._submission.CancelJobArray, request)
        return ArrayCancelOutcome(
            array_id, response.cancelled, response.cancel_requested, response.already_ended
        )

    async def result_links(self, job_id: str) -> submission_pb2.GetJobResultResponse:
        request = submission_pb2.GetJobResultRequest(job_id=job_id)
        return await self._call("GetJobResult", self._submission.GetJobResult, request)

    async def log_link(self, job_id: str) -> submission_pb2.GetJobLogResponse:
        request = submission_pb2.GetJobLogRequest(job_id=job_id)
        return await self._call("GetJobLog", self._submission.GetJobLog, request)

    async def service_status(self, backend: str) -> submission_pb2.GetServiceStatusResponse:
        request = submission_pb2.GetServiceStatusRequest(backend=backend)
        return await self._call("GetServiceStatus", self._submission.GetServiceStatus, request)

    async def limits(self) -> RoleLimits:
        request = submission_pb2.GetMyLimitsRequest()
        return RoleLimits.from_pb(
            await self._call("GetMyLimits", self._submission.GetMyLimits, request)
        )

    async def watch(self, job_id: str) -> AsyncGenerator[JobInfo, None]:
        """The job now, then at each change until it ends."""
        call = self._submission.WatchJob(
            submission_pb2.WatchJobRequest(job_id=job_id), metadata=self._metadata
        )
        try:
            async for info in call:
                yield JobInfo.from_pb(info)
        except grpc.RpcError as error:
            raise from_rpc_error(error, "WatchJob") from None
        finally:
            call.cancel()

    # --- admin ----------------------------------------------------------------

    async def queue(self, backend: str = "", limit: int = 0) -> admin_pb2.ListQueueResponse:
        request = admin_pb2.ListQueueRequest(backend=backend, limit=limit)
        return await self._call("ListQueue", self._admin.ListQueue, request)

    async def activity(self) -> admin_pb2.GetActivityResponse:
        request = admin_pb2.GetActivityRequest()
        return await self._call("GetActivity", self._admin.GetActivity, request)

    async def agents(self) -> admin_pb2.ListAgentsResponse:
        request = admin_pb2.ListAgentsRequest()
        return await self._call("ListAgents", self._admin.ListAgents, request)

    async def requeue(self, job_id: str) -> admin_pb2.AdminJobResponse:
        request = admin_pb2.RequeueJobRequest(job_id=job_id)
        return await self._call("RequeueJob", self._admin.RequeueJob, request)

    async def fail(self, job_id: str, reason: str) -> admin_pb2.AdminJobResponse:
        request = admin_pb2.FailJobRequest(job_id=job_id, reason=reason)
        return await self._call("FailJob", self._admin.FailJob, request)

    async def set_backend_status(
        self, backend: str, role: str, availability: int, description: str
    ) -> admin_pb2.SetBackendStatusResponse:
        request = admin_pb2.SetBackendStatusRequest(
            backend=backend,
            role=role,
            availability=availability,  # type: ignore[arg-type]
            description=description,
        )
        return await self._call("SetBackendStatus", self._admin.SetBackendStatus, request)

    async def _call(self, name: str, method: Callable[..., Awaitable[T]], request: object) -> T:
        try:
            return await method(request, metadata=self._metadata, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as error:
            raise from_rpc_error(error, name) from None


__all__ = ["BerthRpcError", "SchedulerGateway", "UserCalls"]
