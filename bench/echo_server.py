"""`python -m bench.echo_server PORT`: a bare grpc.aio server that echoes bytes.

The floor for any RPC of the scheduler: the same runtime and transport, no
work. Raw bytes in and out (no protobuf), so nothing but gRPC is measured.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Echo"


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


async def serve(port: int) -> None:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_echo)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Echo": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1.0)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
