"""Job array requests and responses <-> the job arrays' domain types."""

from __future__ import annotations

from berth.scheduler.v1 import submission_pb2

from scheduler.grpc_api import convert
from scheduler.service.job_arrays import ArrayCancel, ArrayRequest, ArrayView


def array_request(request: submission_pb2.SubmitJobArrayRequest) -> ArrayRequest:
    """Each member counts the shared job and options plus its own parameter set."""
    job = request.job
    shared = submission_pb2.SubmitJobRequest(job=job, options=request.options).ByteSize()
    return ArrayRequest(
        job=convert.submit_request(job, request.options, shared),
        parameter_sets=[dict(s.parameters) for s in request.parameter_sets],
        member_bytes=[shared + s.ByteSize() for s in request.parameter_sets],
        max_running=request.max_running,
    )


def array_response(view: ArrayView) -> submission_pb2.GetJobArrayResponse:
    return submission_pb2.GetJobArrayResponse(
        array_id=view.array_id,
        max_running=view.max_running,
        jobs_by_status=view.counts(),
        jobs=[convert.job_info(job) for job in view.jobs],
    )


def cancel_response(cancel: ArrayCancel) -> submission_pb2.CancelJobArrayResponse:
    return submission_pb2.CancelJobArrayResponse(
        cancelled=cancel.cancelled,
        cancel_requested=cancel.cancel_requested,
        already_ended=cancel.already_ended,
    )
