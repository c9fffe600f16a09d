"""SubmissionService: requests in, domain calls, responses out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from berth.scheduler.v1 import submission_pb2, submission_pb2_grpc

from berth_common.times import to_duration
from scheduler.auth.interceptor import principal
from scheduler.grpc_api import array_messages, convert, usage_messages
from scheduler.grpc_api.errors import server_stream, unary
from scheduler.service.holds import HoldOperations
from scheduler.service.job_arrays import JobArrays
from scheduler.service.submissions import SubmissionOperations
from scheduler.service.usage_reads import UsageReads

Context = grpc.aio.ServicerContext[Any, Any]


class SubmissionServicer(submission_pb2_grpc.SubmissionServiceServicer):
    def __init__(
        self,
        operations: SubmissionOperations,
        usage: UsageReads,
        arrays: JobArrays,
        holds: HoldOperations,
        serving: Callable[[], bool] = lambda: True,
    ) -> None:
        self._ops = operations
        self._usage = usage
        self._arrays = arrays
        self._holds = holds
        self._serving = serving

    @unary
    async def SubmitJob(
        self, request: submission_pb2.SubmitJobRequest, context: Context
    ) -> submission_pb2.SubmitJobResponse:
        submit = convert.submit_request(request.job, request.options, request.ByteSize())
        job_id = await self._ops.submit(principal(), submit)
        return submission_pb2.SubmitJobResponse(job_id=job_id)

    @unary
    async def CancelJob(
        self, request: submission_pb2.CancelJobRequest, context: Context
    ) -> submission_pb2.CancelJobResponse:
        job = await self._ops.cancel(principal(), request.job_id)
        return submission_pb2.CancelJobResponse(
            status=convert.STATUS_TO_PB[job.status], cancel_requested=job.cancel_requested
        )

    @unary
    async def GetJobStatus(
        self, request: submission_pb2.GetJobStatusRequest, context: Context
    ) -> submission_pb2.JobInfo:
        return convert.job_info(await self._ops.view(principal(), request.job_id))

    @unary
    async def GetJobResult(
        self, request: submission_pb2.GetJobResultRequest, context: Context
    ) -> submission_pb2.GetJobResultResponse:
        links = await self._ops.result_links(principal(), request.job_id)
        return submission_pb2.GetJobResultResponse(
            result=convert.download_link(links.result),
            log=convert.download_link(links.log) if links.log else None,
            result_raw_bytes=links.result_raw_bytes,
            result_encoded_bytes=links.result_encoded_bytes,
        )

    @unary
    async def GetJobLog(
        self, request: submission_pb2.GetJobLogRequest, context: Context
    ) -> submission_pb2.GetJobLogResponse:
        link = await self._ops.log_link(principal(), request.job_id)
        return submission_pb2.GetJobLogResponse(log=convert.download_link(link))

    @unary
    async def ListJobs(
        self, request: submission_pb2.ListJobsRequest, context: Context
    ) -> submission_pb2.ListJobsResponse:
        views, next_token = await self._ops.list_jobs(
            principal(),
            status=convert.job_status(request.status, "status"),
            backend=request.backend or None,
            all_users=request.all_users,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return submission_pb2.ListJobsResponse(
            jobs=[convert.job_info(view) for view in views], next_page_token=next_token
        )

    @unary
    async def GetServiceStatus(
        self, request: submission_pb2.GetServiceStatusRequest, context: Context
    ) -> submission_pb2.GetServiceStatusResponse:
        status = self._ops.service_status(principal(), request.backend)
        return submission_pb2.GetServiceStatusResponse(
            backend=status.backend,
            availability=convert.AVAILABILITY_TO_PB[status.status.availability],
            description=status.status.description,
            queue_length=status.queue_length,
            role_max_timeout=to_duration(status.role_max_timeout_s),
            serving=self._serving(),
        )

    @server_stream
    async def WatchJob(
        self, request: submission_pb2.WatchJobRequest, context: Context
    ) -> AsyncIterator[submission_pb2.JobInfo]:
        async for view in self._ops.watch(principal(), request.job_id):
            yield convert.job_info(view)

    @unary
    async def GetUsage(
        self, request: submission_pb2.GetUsageRequest, context: Context
    ) -> submission_pb2.GetUsageResponse:
        report = await self._usage.report(
            principal(),
            convert.epoch_seconds(request.since, "since"),
            usage_messages.grouping(request.by),
            all_users=request.all_users,
        )
        return usage_messages.usage_response(report)

    @unary
    async def GetMyLimits(
        self, request: submission_pb2.GetMyLimitsRequest, context: Context
    ) -> submission_pb2.GetMyLimitsResponse:
        limits = self._ops.limits(principal())
        return submission_pb2.GetMyLimitsResponse(
            role=limits.role.value,
            active_jobs=limits.active_jobs,
            running_jobs=limits.running_jobs,
            max_concurrent_jobs=limits.max_concurrent_jobs,
            max_job_bytes=limits.max_job_bytes,
            max_timeout=to_duration(limits.max_timeout_s),
            rate_limit_per_second=limits.rate_limit_per_second,
        )

    @unary
    async def SubmitJobArray(
        self, request: submission_pb2.SubmitJobArrayRequest, context: Context
    ) -> submission_pb2.SubmitJobArrayResponse:
        array = array_messages.array_request(request)
        array_id, job_ids = await self._arrays.submit(principal(), array)
        return submission_pb2.SubmitJobArrayResponse(array_id=array_id, job_ids=job_ids)

    @unary
    async def GetJobArray(
        self, request: submission_pb2.GetJobArrayRequest, context: Context
    ) -> submission_pb2.GetJobArrayResponse:
        view = await self._arrays.view(principal(), request.array_id)
        return array_messages.array_response(view)

    @unary
    async def CancelJobArray(
        self, request: submission_pb2.CancelJobArrayRequest, context: Context
    ) -> submission_pb2.CancelJobArrayResponse:
        cancel = await self._arrays.cancel(principal(), request.array_id)
        return array_messages.cancel_response(cancel)

    @unary
    async def HoldJob(
        self, request: submission_pb2.HoldJobRequest, context: Context
    ) -> submission_pb2.JobInfo:
        return convert.job_info(await self._holds.hold(principal(), request.job_id))

    @unary
    async def ReleaseJob(
        self, request: submission_pb2.ReleaseJobRequest, context: Context
    ) -> submission_pb2.JobInfo:
        return convert.job_info(await self._holds.release(principal(), request.job_id))
