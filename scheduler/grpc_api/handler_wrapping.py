"""Running a grpc.aio method inside something: the one way Berth's interceptors add behaviour.

A grpc.aio server interceptor can only hand back another handler; the RPC's own
task, where ContextVars are per call and `context.abort` works, is reached only
inside the behaviour. So the telemetry and auth interceptors both re-wrap the
handler, for all four call shapes, through `wrap_handler`.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

Context = grpc.aio.ServicerContext[Any, Any]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic only in the stubs
# Entered with the request (the request iterator for client streams) and the context.
Around = Callable[[Any, Context], contextlib.AbstractAsyncContextManager[None]]
Deserializer = Callable[[bytes], Any] | None
if TYPE_CHECKING:
    InterceptorBase = grpc.aio.ServerInterceptor[Any, Any]
else:
    InterceptorBase = grpc.aio.ServerInterceptor

_KEEP: Any = object()


def wrap_handler(
    handler: Handler, around: Around, *, request_deserializer: Deserializer = _KEEP
) -> Handler:
    """The same method run inside `around(request, context)`, for all four call shapes;
    `request_deserializer` replaces the handler's own when given."""
    serializers = {
        "request_deserializer": (
            handler.request_deserializer if request_deserializer is _KEEP else request_deserializer
        ),
        "response_serializer": handler.response_serializer,
    }
    if not handler.response_streaming:
        make = (
            grpc.stream_unary_rpc_method_handler
            if handler.request_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        behaviour: Any = handler.stream_unary if handler.request_streaming else handler.unary_unary

        async def unary(request: Any, context: Context) -> Any:
            async with around(request, context):
                result = behaviour(request, context)
                return await result if inspect.isawaitable(result) else result

        return make(unary, **serializers)
    make_stream = (
        grpc.stream_stream_rpc_method_handler
        if handler.request_streaming
        else grpc.unary_stream_rpc_method_handler
    )
    stream_behaviour: Any = (
        handler.stream_stream if handler.request_streaming else handler.unary_stream
    )

    async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
        async with around(request, context):
            result = stream_behaviour(request, context)
            if hasattr(result, "__aiter__"):  # grpc.aio servicers stream with async generators
                async for item in result:
                    yield item
            elif inspect.isawaitable(result):
                await result  # a coroutine handler that writes with context.write()
            elif result is not None:
                for item in result:
                    yield item

    return make_stream(stream, **serializers)
