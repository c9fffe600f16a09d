"""Reconnecting without hammering: which failures are worth retrying, and logging only
when things change.

The waits are berth_common/backoff.py's full jitter, so thousands of agents losing
the scheduler at once do not come back in lockstep. The log says "unreachable"
once and "reachable again" once, not a line per attempt.
"""

from __future__ import annotations

import logging

import grpc

from executor_agent.logging_setup import log_event

log = logging.getLogger("executor_agent.connection")

# Retrying cannot change these answers; the operator has to.
FATAL_CODES = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


def status_code(error: BaseException) -> grpc.StatusCode | None:
    code = getattr(error, "code", None)
    if callable(code):
        value = code()
        if isinstance(value, grpc.StatusCode):
            return value
    return None


def describe(error: BaseException) -> str:
    code = status_code(error)
    details = getattr(error, "details", None)
    text = details() if callable(details) else str(error)
    return f"{code.name if code else type(error).__name__}: {text}"


class ConnectionState:
    """Shared by every slot of an agent: logs transitions, not attempts."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._problem: str | None = None

    @property
    def healthy(self) -> bool:
        return self._problem is None

    def failed(self, error: BaseException) -> None:
        code = status_code(error)
        was_healthy = self._problem is None
        self._problem = code.name if code else type(error).__name__
        if was_healthy:
            log_event(
                log,
                "scheduler_unreachable",
                f"scheduler {self._address} unreachable, retrying with backoff",
                level=logging.WARNING,
                reason=describe(error),
            )

    def succeeded(self) -> None:
        if self._problem is not None:
            self._problem = None
            log_event(log, "scheduler_reachable", f"scheduler {self._address} reachable again")
