"""The two grpc.aio servers (submission, execution) with auth and health checking."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from berth.scheduler.v1 import admin_pb2_grpc, execution_pb2_grpc, submission_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from scheduler.auth.interceptor import AUTH_SERVER_OPTIONS, AuthInterceptor
from scheduler.auth.rate_limit import RequestRateLimiter
from scheduler.auth.token_verifier import TokenVerifier
from scheduler.config import TlsFiles
from scheduler.domain.jobs import CLIENT_ROLES, Role
from scheduler.grpc_api.admin_servicer import AdminServicer
from scheduler.grpc_api.call_telemetry import CallTelemetryInterceptor
from scheduler.grpc_api.execution_servicer import ExecutionServicer
from scheduler.grpc_api.submission_servicer import SubmissionServicer
from scheduler.grpc_api.tls import bind, server_credentials

SUBMISSION_SERVICE = "berth.scheduler.v1.SubmissionService"
EXECUTION_SERVICE = "berth.scheduler.v1.ExecutionService"
ADMIN_SERVICE = "berth.scheduler.v1.AdminService"  # admin role only; on the submission port


@dataclass
class RunningServer:
    server: grpc.aio.Server
    health: Any  # grpc_health.v1.health.aio.HealthServicer (untyped package)
    port: int
    service_names: Sequence[str]

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            await self.health.set(name, status)


async def _start(
    address: str,
    max_message_length: int,
    interceptor: AuthInterceptor,
    add_servicer: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    telemetry: CallTelemetryInterceptor | None,
    credentials: grpc.ServerCredentials | None,
) -> RunningServer:
    server = grpc.aio.server(
        # Telemetry outermost: refused calls are counted and logged with their request id.
        interceptors=[telemetry, interceptor] if telemetry is not None else [interceptor],
        options=[
            ("grpc.max_receive_message_length", max_message_length),
            ("grpc.max_send_message_length", max_message_length + 64 * 1024),
            ("grpc.so_reuseport", 0),
            *AUTH_SERVER_OPTIONS,
        ],
    )
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    add_servicer(server)
    port = bind(server, address, credentials)
    await server.start()
    running = RunningServer(server, health_servicer, port, service_names)
    await running.set_serving(True)
    return running


async def start_submission_server(
    host: str,
    port: int,
    max_message_length: int,
    servicer: SubmissionServicer,
    verifier: TokenVerifier,
    admin_servicer: AdminServicer | None = None,
    telemetry: CallTelemetryInterceptor | None = None,
    rate_limiter: RequestRateLimiter | None = None,
    tls: TlsFiles | None = None,
) -> RunningServer:
    interceptor = AuthInterceptor(verifier, frozenset(CLIENT_ROLES), "submission", rate_limiter)

    def add_servicers(server: grpc.aio.Server) -> None:
        submission_pb2_grpc.add_SubmissionServiceServicer_to_server(servicer, server)
        if admin_servicer is not None:
            admin_pb2_grpc.add_AdminServiceServicer_to_server(admin_servicer, server)

    return await _start(
        f"{host}:{port}",
        max_message_length,
        interceptor,
        add_servicers,
        [SUBMISSION_SERVICE, *([ADMIN_SERVICE] if admin_servicer is not None else [])],
        telemetry,
        server_credentials(tls, verify_clients=False),
    )


async def start_execution_server(
    host: str,
    port: int,
    max_message_length: int,
    servicer: ExecutionServicer,
    verifier: TokenVerifier,
    telemetry: CallTelemetryInterceptor | None = None,
    tls: TlsFiles | None = None,
) -> RunningServer:
    interceptor = AuthInterceptor(verifier, frozenset({Role.EXECUTOR}), "execution")
    return await _start(
        f"{host}:{port}",
        max_message_length,
        interceptor,
        lambda server: execution_pb2_grpc.add_ExecutionServiceServicer_to_server(servicer, server),
        [EXECUTION_SERVICE],
        telemetry,
        server_credentials(tls, verify_clients=True),
    )
