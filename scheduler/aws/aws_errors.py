"""The one place where AWS failures become domain errors.

Storage contracts promise `Unavailable` (gRPC UNAVAILABLE, retryable) when a
service cannot be reached or pushes back, never a botocore exception. Other
client errors (a failed condition, a missing key) mean something to the
caller, so they pass through for the store to interpret.
"""

from __future__ import annotations

import logging
import threading
from contextlib import ContextDecorator
from types import TracebackType

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

from scheduler.domain.errors import Unavailable

log = logging.getLogger(__name__)

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "TransactionInProgressException",
    }
)
SERVER_ERROR_CODES = frozenset(
    {"ServiceUnavailable", "InternalServerError", "InternalError", "InternalFailure"}
)
# Not retryable by the caller, but not a bug either: the operator must fix the credentials.
CREDENTIAL_ERROR_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "AccessDenied",
        "AccessDeniedException",
    }
)


def unavailable_message(what: str, error: BaseException) -> str | None:
    """The caller-visible message when `error` means the service cannot serve us, else None."""
    if isinstance(error, NoCredentialsError):
        return f"{what} cannot be used: the scheduler has no AWS credentials configured"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in CREDENTIAL_ERROR_CODES:
            return (
                f"{what} refused the scheduler's request ({code}); "
                "an operator must fix its AWS credentials or permissions"
            )
    reason = transient_reason(error)
    if reason is None:
        return None
    return f"{what} is unavailable ({reason}); retry in a few seconds"


def transient_reason(error: BaseException) -> str | None:
    """Why `error` means "try again later", or None when it means something else."""
    if isinstance(error, ReadTimeoutError):
        return "no answer in time"
    if isinstance(error, ConnectionError | HTTPClientError):
        return "unreachable"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in THROTTLING_CODES:
            return "throttled"
        if code in SERVER_ERROR_CODES or status >= 500:
            return f"server error {code or status}"
    return None


def failure_reason(error: BaseException) -> str:
    """One line for an operator: the AWS error code and message, or why it was unreachable."""
    cause = error.__cause__ if isinstance(error, Unavailable) and error.__cause__ else error
    if isinstance(cause, ClientError):
        details = cause.response.get("Error", {})
        status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        code = details.get("Code") or f"HTTP {status}"
        message = " ".join(details.get("Message", "").split())[:200]
        return f"{cause.operation_name} answered {code}" + (f" ({message})" if message else "")
    reason = transient_reason(cause)
    return f"{reason}: {cause}" if reason else str(cause)


def translate_aws_errors(what: str) -> AwsErrorTranslation:
    """`with translate_aws_errors("DynamoDB"):` or `@translate_aws_errors("S3")`.

    `what` names the service in the caller-visible message; the botocore
    error stays chained for the log. Messages never contain credentials.
    """
    return AwsErrorTranslation(what)


class AwsErrorTranslation(ContextDecorator):
    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> AwsErrorTranslation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            _outages.answered(self.what)
            return
        message = unavailable_message(self.what, exc)
        if message is None:
            if isinstance(exc, ClientError):  # an answer, if not the hoped-for one
                _outages.answered(self.what)
            return
        _outages.failed(self.what, exc)
        raise Unavailable(message) from exc


class _OutageLog:
    """A dead endpoint fails every call; the log says so once per outage, not per call.

    The first failure is a warning, the rest debug lines, and the first
    answer afterwards says how many calls failed meanwhile.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}

    def failed(self, what: str, error: BaseException) -> None:
        with self._lock:
            count = self._failures.get(what, 0) + 1
            self._failures[what] = count
        if count == 1:
            log.warning(
                "%s call failed: %s (more failures are logged at debug level until it answers)",
                what,
                error,
            )
        else:
            log.debug("%s call failed: %s", what, error)

    def answered(self, what: str) -> None:
        if what not in self._failures:  # the common case, without taking the lock
            return
        with self._lock:
            count = self._failures.pop(what, 0)
        if count:
            log.info("%s answers again after %d failed calls", what, count)


_outages = _OutageLog()
