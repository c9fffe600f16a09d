"""What every call gets: a request id for its log lines, and its line in the RPC metrics.

This interceptor must be the outermost one: calls the auth interceptor
refuses (UNAUTHENTICATED, PERMISSION_DENIED) are counted and timed too, and
its log lines carry the request id.

The request id is the caller's `x-request-id` metadata when it is a sane
one (so a client or proxy can correlate), otherwise a fresh one; it is
returned to the caller in the trailing metadata, which gRPC also sends with
an error status, and forwarded to the token database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc

from scheduler.grpc_api.handler_wrapping import Context, Handler, InterceptorBase, wrap_handler
from scheduler.logging_setup import request_id_var
from scheduler.metrics.scheduler_metrics import SchedulerMetrics

log = logging.getLogger(__name__)

REQUEST_ID_KEY = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(metadata: Sequence[tuple[str, str | bytes]]) -> str:
    """The caller's x-request-id if it is printable and short, else a new id.

    Anything else is replaced rather than logged: the id goes into every log
    line of the call, where a newline or a megabyte would do harm.
    """
    for key, value in metadata:
        if key == REQUEST_ID_KEY and isinstance(value, str) and _SANE_REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


class CallTelemetryInterceptor(InterceptorBase):
    def __init__(self, metrics: SchedulerMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler  # UNIMPLEMENTED: arbitrary method names must not become series
        service, _, method = handler_call_details.method.lstrip("/").partition("/")
        request_id = request_id_from(tuple(handler_call_details.invocation_metadata or ()))

        @contextlib.asynccontextmanager
        async def observed(_: Any, context: Context) -> AsyncIterator[None]:
            request_id_var.set(request_id)  # this RPC's task has a context of its own
            context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                yield
                code = _code_of(context) or grpc.StatusCode.OK
            except (asyncio.CancelledError, GeneratorExit):
                remaining = context.time_remaining()
                expired = remaining is not None and remaining <= 0
                code = grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
                raise
            except BaseException:
                code = _code_of(context) or grpc.StatusCode.UNKNOWN
                raise
            finally:
                self._finished(service, method, code, time.perf_counter() - started)

        return wrap_handler(handler, observed)

    def _finished(self, service: str, method: str, code: grpc.StatusCode, seconds: float) -> None:
        self._metrics.rpc_finished(service, method, code.name, seconds)
        # The access log: failures at INFO, the steady stream of successes at DEBUG.
        log.log(
            logging.DEBUG if code is grpc.StatusCode.OK else logging.INFO,
            "%s/%s %s in %.3fs",
            service,
            method,
            code.name,
            seconds,
        )


def _code_of(context: Context) -> grpc.StatusCode | None:
    """The status the call ended with, if the handler set one (abort or set_code)."""
    code = context.code()
    return code if isinstance(code, grpc.StatusCode) else None
