"""The token database's grpc.aio server, with gRPC health checking.

Health reports SERVING for "" and the service name while the server takes
calls; `stop_token_database_server` flips both to NOT_SERVING first, so load
balancers drain it before in-flight calls are given their grace period.
"""

from __future__ import annotations

import weakref

import grpc
from berth.tokens.v1 import token_database_pb2_grpc
from grpc_health.v1 import _async as health_aio  # = health.aio, which the stubs lack
from grpc_health.v1 import health_pb2, health_pb2_grpc

from token_database.registry import TokenRegistry
from token_database.servicer import TokenDatabaseServicer

SERVICE_NAME = "berth.tokens.v1.TokenDatabaseService"
# Room for an oversized authorization header to reach the servicer, which refuses
# it with UNAUTHENTICATED, instead of gRPC's opaque RESOURCE_EXHAUSTED at 16 KiB.
MAX_METADATA_BYTES = 2 * 1024 * 1024
MAX_MESSAGE_BYTES = 1024 * 1024

_health_of: weakref.WeakKeyDictionary[grpc.aio.Server, health_aio.HealthServicer] = (
    weakref.WeakKeyDictionary()
)


async def start_token_database_server(
    registry: TokenRegistry, address: str
) -> tuple[grpc.aio.Server, int]:
    """Serve on `address` (e.g. "[::]:8084", "127.0.0.1:0"); returns the server and bound port.

    Raises RuntimeError when the address cannot be bound.
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ]
    )
    token_database_pb2_grpc.add_TokenDatabaseServiceServicer_to_server(
        TokenDatabaseServicer(registry), server
    )
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(address)
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    _health_of[server] = health_servicer
    return server, port


async def stop_token_database_server(server: grpc.aio.Server, grace_s: float = 5.0) -> None:
    """Report NOT_SERVING, refuse new calls, give in-flight ones `grace_s` to finish."""
    health_servicer = _health_of.pop(server, None)
    if health_servicer is not None:
        await health_servicer.enter_graceful_shutdown()
    await server.stop(grace_s)
