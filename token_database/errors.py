"""Failures of the token database, each with a gRPC-neutral kind.

Messages are shown to callers and operators, so they say what to change and
never contain a token.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(Enum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    FAILED_PRECONDITION = "failed_precondition"
    UNAVAILABLE = "unavailable"


class TokenDatabaseError(Exception):
    kind: ErrorKind = ErrorKind.FAILED_PRECONDITION

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(TokenDatabaseError):
    kind = ErrorKind.INVALID_ARGUMENT


class TokenNotFound(TokenDatabaseError):
    kind = ErrorKind.NOT_FOUND


class NotAuthenticated(TokenDatabaseError):
    kind = ErrorKind.UNAUTHENTICATED


class NotAllowed(TokenDatabaseError):
    kind = ErrorKind.PERMISSION_DENIED


class StoreUnavailable(TokenDatabaseError):
    """DynamoDB cannot serve now (unreachable, throttled, misconfigured); retry later."""

    kind = ErrorKind.UNAVAILABLE
