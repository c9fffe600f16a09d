"""Exit codes, documented in `--help` and docs/researchers/cli.md, and which failure gets which.

0 done · 1 the job ended but not COMPLETED, or its state forbids the request
(result of a failed job, cancel of a finished one) · 2 usage: bad arguments,
a field the server rejected, a program too large, an address that is not a
submission port · 3 authentication: no, unknown or expired token,
or a role that may not do this · 4 no such job for this token · 5 the
scheduler is unavailable, overloaded or too slow (after retries) · 6 `wait`
gave up at its --timeout while the job is still going · 7 anything else (a
server bug with its correlation id, a failed download) · 141 stdout was closed
early (`berth list | head`), quietly.
"""

from __future__ import annotations

import grpc

from scheduler_client.errors import (
    BerthError,
    BerthRpcError,
    NoTokenError,
    RequestTooLargeError,
    WaitTimeoutError,
)

OK = 0
JOB_NOT_COMPLETED = 1
USAGE = 2
AUTH = 3
NOT_FOUND = 4
UNAVAILABLE = 5
WAIT_TIMED_OUT = 6
OTHER = 7
INTERRUPTED = 130
CLOSED_PIPE = 141  # 128 + SIGPIPE, as a shell reports a program ended by it

HELP_TEXT = (
    "exit codes: 0 done, 1 job ended not COMPLETED (or its state forbids the request), "
    "2 usage, 3 auth, 4 not found, 5 unavailable, 6 wait timed out, 7 other error"
)

_FOR_CODE = {
    grpc.StatusCode.FAILED_PRECONDITION: JOB_NOT_COMPLETED,
    grpc.StatusCode.INVALID_ARGUMENT: USAGE,
    grpc.StatusCode.OUT_OF_RANGE: USAGE,
    grpc.StatusCode.UNIMPLEMENTED: USAGE,  # not a submission port: the address is wrong
    grpc.StatusCode.UNAUTHENTICATED: AUTH,
    grpc.StatusCode.PERMISSION_DENIED: AUTH,
    grpc.StatusCode.NOT_FOUND: NOT_FOUND,
    grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: UNAVAILABLE,
}


def exit_code_for(error: BerthError) -> int:
    if isinstance(error, RequestTooLargeError):
        return USAGE
    if isinstance(error, BerthRpcError):
        return _FOR_CODE.get(error.code, OTHER)
    if isinstance(error, NoTokenError):
        return AUTH
    if isinstance(error, WaitTimeoutError):
        return WAIT_TIMED_OUT
    return OTHER
