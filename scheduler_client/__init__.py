"""Berth's Python client: submit programs, follow jobs, fetch results.

from scheduler_client import Client

with Client("localhost:8082") as client:
    job = client.submit(program, format="qasm3", backend="emulator")
    job.wait()
    data = job.result()
"""

from scheduler_client.client import DEFAULT_CALL_TIMEOUT_S, Client
from scheduler_client.dependencies import DependencyCondition
from scheduler_client.errors import (
    AuthenticationError,
    BerthError,
    BerthRpcError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NoTokenError,
    PermissionDeniedError,
    RequestTooLargeError,
    ResourceExhaustedError,
    ResultDownloadError,
    SchedulerUnreachableError,
    UnavailableError,
    WaitTimeoutError,
    WrongServiceError,
)
from scheduler_client.job import Job
from scheduler_client.job_array import ArrayCancelOutcome, ArrayStatus, ArraySubmission
from scheduler_client.job_info import JobInfo, JobStatus
from scheduler_client.retry import RetryPolicy
from scheduler_client.role_limits import RoleLimits
from scheduler_client.service_status import Availability, ServiceStatus
from scheduler_client.token_source import resolve_token
from scheduler_client.usage_report import UsageFigures, UsageGrouping, UsageReport

__all__ = [
    "DEFAULT_CALL_TIMEOUT_S",
    "ArrayCancelOutcome",
    "ArrayStatus",
    "ArraySubmission",
    "AuthenticationError",
    "Availability",
    "BerthError",
    "BerthRpcError",
    "Client",
    "DeadlineExceededError",
    "DependencyCondition",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "Job",
    "JobInfo",
    "JobStatus",
    "NoTokenError",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestTooLargeError",
    "ResourceExhaustedError",
    "ResultDownloadError",
    "RetryPolicy",
    "RoleLimits",
    "SchedulerUnreachableError",
    "ServiceStatus",
    "UnavailableError",
    "UsageFigures",
    "UsageGrouping",
    "UsageReport",
    "WaitTimeoutError",
    "WrongServiceError",
    "resolve_token",
]
