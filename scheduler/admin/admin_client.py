"""The AdminService over the submission port, for one admin token.

An admin token is also a client token, so AdminClient is a `Client` (submit,
list everyone's jobs...) with the operator calls added. Calls carry the same
deadline and UNAVAILABLE retries; each admin action is safe to repeat (a
requeued job stays queued, a retried fail with the same reason is
acknowledged, a backend status already set is left as is).
"""

from __future__ import annotations

from functools import cached_property

from berth.scheduler.v1 import admin_pb2, admin_pb2_grpc, submission_pb2

from scheduler_client.client import Client

AVAILABILITIES = {
    "available": submission_pb2.AVAILABILITY_AVAILABLE,
    "maintenance": submission_pb2.AVAILABILITY_MAINTENANCE,
    "unavailable": submission_pb2.AVAILABILITY_UNAVAILABLE,
}
AVAILABILITY_NAMES = {value: name for name, value in AVAILABILITIES.items()}


class AdminClient(Client):
    @cached_property
    def _admin(self) -> admin_pb2_grpc.AdminServiceStub:
        return admin_pb2_grpc.AdminServiceStub(self._channel)

    def __repr__(self) -> str:
        return f"AdminClient(address={self.address!r})"

    def __enter__(self) -> AdminClient:
        return self

    def list_queue(self, backend: str = "", limit: int = 0) -> admin_pb2.ListQueueResponse:
        """Queued jobs in pop order with their priority terms; backend "" = every queue."""
        request = admin_pb2.ListQueueRequest(backend=backend, limit=limit)
        return self._unary("ListQueue", self._admin.ListQueue, request)

    def requeue_job(self, job_id: str) -> admin_pb2.AdminJobResponse:
        request = admin_pb2.RequeueJobRequest(job_id=job_id)
        return self._unary("RequeueJob", self._admin.RequeueJob, request)

    def fail_job(self, job_id: str, reason: str) -> admin_pb2.AdminJobResponse:
        request = admin_pb2.FailJobRequest(job_id=job_id, reason=reason)
        return self._unary("FailJob", self._admin.FailJob, request)

    def set_backend_status(
        self,
        backend: str,
        availability: str,
        *,
        role: str = "",
        description: str | None = None,
        add_backend: bool = False,
    ) -> admin_pb2.SetBackendStatusResponse:
        """`availability` is "available", "maintenance" or "unavailable"; role "" = all listed;
        `description` None keeps the text each entry has."""
        request = admin_pb2.SetBackendStatusRequest(
            backend=backend,
            role=role,
            availability=AVAILABILITIES[availability],
            description=description,
            add_backend=add_backend,
        )
        return self._unary("SetBackendStatus", self._admin.SetBackendStatus, request)

    def hold_jobs(
        self, *, owner_name: str = "", backend: str = "", release: bool = False
    ) -> admin_pb2.HoldJobsResponse:
        """Hold every QUEUED or WAITING job (release: every HELD one) of a user, a backend,
        or both."""
        request = admin_pb2.HoldJobsRequest(owner_name=owner_name, backend=backend, release=release)
        return self._unary("HoldJobs", self._admin.HoldJobs, request)
