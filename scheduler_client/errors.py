"""Exceptions raised by the client.

A failed call becomes a `BerthRpcError` subclass chosen by its gRPC status
code, so callers can catch "not found" or "try later" without comparing codes,
while `.code` and `.message` keep exactly what the server said. Messages never
contain the token.
"""

from __future__ import annotations

import grpc


class BerthError(Exception):
    """Anything the client library raises on purpose."""


class NoTokenError(BerthError):
    """No token in the argument, BERTH_TOKEN, or the token file."""


class WaitTimeoutError(BerthError, TimeoutError):
    """`Job.wait(timeout=...)` ran out before the job ended; the job keeps running."""

    def __init__(self, job_id: str, timeout_s: float, last_status: str) -> None:
        super().__init__(
            f"job {job_id} is still {last_status} after waiting {timeout_s:g}s "
            "(the job itself was not touched)"
        )
        self.job_id = job_id
        self.timeout_s = timeout_s
        self.last_status = last_status


class ResultDownloadError(BerthError):
    """The result link was issued but the object could not be fetched or un-gzipped."""


class BerthRpcError(BerthError):
    """The scheduler refused or failed a call."""

    def __init__(self, code: grpc.StatusCode, message: str, method: str) -> None:
        super().__init__(f"{method}: {code.name}: {message}")
        self.code = code
        self.message = message
        self.method = method


class InvalidArgumentError(BerthRpcError):
    """A field was wrong: unknown backend, bad timeout, oversized program..."""


class AuthenticationError(BerthRpcError):
    """The token is missing, unknown or expired."""


class PermissionDeniedError(BerthRpcError):
    """The token is valid but its role may not do this (e.g. an executor token)."""


class NotFoundError(BerthRpcError):
    """No such job for this token (other users' jobs are reported the same way)."""


class ResourceExhaustedError(BerthRpcError):
    """A limit was reached: queue full or too many jobs for this token."""


class FailedPreconditionError(BerthRpcError):
    """The job's state does not allow it: result of a failed job, cancel of a finished one."""


class UnavailableError(BerthRpcError):
    """The scheduler or one of its dependencies is unreachable; retried before raising."""


class SchedulerUnreachableError(UnavailableError):
    """No scheduler answered at the address: not running, wrong host, or a TLS mismatch."""


class WrongServiceError(BerthRpcError):
    """The address answers but offers no submission API (typically the execution port)."""


class RequestTooLargeError(BerthRpcError):
    """The request exceeds what the scheduler takes in one message: the program is too big."""


class DeadlineExceededError(BerthRpcError):
    """The call's deadline passed before the scheduler answered."""


class InternalError(BerthRpcError):
    """A server bug; the message holds a correlation id to report."""


_CLASS_FOR_CODE: dict[grpc.StatusCode, type[BerthRpcError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}


def from_rpc_error(error: grpc.RpcError, method: str) -> BerthRpcError:
    """The exception for a failed call, keeping the server's code and message."""
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    message = (error.details() if callable(getattr(error, "details", None)) else None) or ""
    return _CLASS_FOR_CODE.get(code, InternalError)(code, message, method)
