"""The error catalogue every Berth process raises from: a kind per failure, no gRPC.

Servers turn a kind into its status code in one table (berth_common/grpc_status.py).
Messages are shown to callers, so they say what to change and never contain a token.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(Enum):
    INVALID_ARGUMENT = "invalid_argument"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    FAILED_PRECONDITION = "failed_precondition"
    UNAVAILABLE = "unavailable"


class BerthError(Exception):
    """An expected failure whose message is safe to show to the caller."""

    kind: ErrorKind = ErrorKind.FAILED_PRECONDITION

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(BerthError):
    kind = ErrorKind.INVALID_ARGUMENT


class Unauthenticated(BerthError):
    kind = ErrorKind.UNAUTHENTICATED


class PermissionDenied(BerthError):
    kind = ErrorKind.PERMISSION_DENIED


class NotFound(BerthError):
    kind = ErrorKind.NOT_FOUND


class ResourceExhausted(BerthError):
    kind = ErrorKind.RESOURCE_EXHAUSTED


class FailedPrecondition(BerthError):
    kind = ErrorKind.FAILED_PRECONDITION


class Unavailable(BerthError):
    """A dependency (AWS, token database, backend) cannot serve now; retry later."""

    kind = ErrorKind.UNAVAILABLE
