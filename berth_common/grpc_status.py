"""The one table from error kinds to gRPC status codes, and the RPC error wrapper.

An unexpected exception becomes INTERNAL with a correlation id that is both in
the caller's message and in the log next to the traceback, so a user's report
can be matched to the log without showing them internals.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc

from berth_common.errors import BerthError, ErrorKind

log = logging.getLogger(__name__)

STATUS_FOR_KIND: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorKind.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}

Context = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req")
Resp = TypeVar("Resp")
UnaryMethod = Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]
StreamMethod = Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]]


class RpcErrors:
    """A server process's way of answering failures; `report_hint` tells users whom to tell."""

    def __init__(self, report_hint: str) -> None:
        self._report_hint = report_hint

    async def abort(self, context: Context, error: BaseException, where: str) -> NoReturn:
        """End the RPC: a BerthError with its kind's status, anything else INTERNAL."""
        if isinstance(error, BerthError):
            await context.abort(STATUS_FOR_KIND[error.kind], error.message)
        correlation_id = uuid.uuid4().hex[:12]
        log.error("internal error in %s (correlation id %s)", where, correlation_id, exc_info=error)
        await context.abort(
            grpc.StatusCode.INTERNAL,
            f"internal error (correlation id {correlation_id}); {self._report_hint}",
        )
        raise AssertionError("unreachable")  # context.abort always raises

    def unary(self, fn: UnaryMethod[Req, Resp]) -> UnaryMethod[Req, Resp]:
        @functools.wraps(fn)
        async def wrapper(
            servicer: Any, request: Req, context: grpc.aio.ServicerContext[Req, Resp]
        ) -> Resp:
            try:
                return await fn(servicer, request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await self.abort(context, error, fn.__name__)

        return wrapper

    def server_stream(self, fn: StreamMethod[Req, Resp]) -> StreamMethod[Req, Resp]:
        @functools.wraps(fn)
        async def wrapper(
            servicer: Any, request: Req, context: grpc.aio.ServicerContext[Req, Resp]
        ) -> AsyncIterator[Resp]:
            try:
                async for item in fn(servicer, request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await self.abort(context, error, fn.__name__)

        return wrapper
