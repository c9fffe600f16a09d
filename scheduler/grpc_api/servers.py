"""The two grpc.aio servers (submission, execution) with auth and health checking."""

from __future__ import annotations

import errno
import socket
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


@dataclass(frozen=True)
class MessageLimits:
    """gRPC reads a whole message before it can be refused: the receive limit bounds memory."""

    receive_bytes: int
    send_bytes: int


class PortUnavailable(OSError):
    """A port cannot be bound; the message names the port and the flag that chose it."""


@dataclass
class RunningServer:
    """A bound port: `bind_*_port` takes it at once, `serve` answers once the service is ready."""

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

    async def serve(
        self, add_services: Callable[[grpc.aio.Server], None], *, serving: bool = True
    ) -> None:
        add_services(self.server)
        await self.server.start()
        await self.set_serving(serving)


def _bind(
    host: str,
    port: int,
    port_flag: str,
    limits: MessageLimits,
    interceptor: AuthInterceptor,
    service_names: Sequence[str],
    telemetry: CallTelemetryInterceptor | None,
    credentials: grpc.ServerCredentials | None,
) -> RunningServer:
    _check_free(host, port, port_flag)  # in our words, before gRPC logs its own error
    server = grpc.aio.server(
        # Telemetry outermost: refused calls are counted and logged with their request id.
        interceptors=[telemetry, interceptor] if telemetry is not None else [interceptor],
        options=[
            ("grpc.max_receive_message_length", limits.receive_bytes),
            ("grpc.max_send_message_length", limits.send_bytes),
            ("grpc.so_reuseport", 0),
            *AUTH_SERVER_OPTIONS,
        ],
    )
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        bound = bind(server, f"{host}:{port}", credentials)
    except RuntimeError as error:
        raise PortUnavailable(f"port {port} cannot be bound on {host} ({port_flag})") from error
    return RunningServer(server, health_servicer, bound, service_names)


def _check_free(host: str, port: int, port_flag: str) -> None:
    if port == 0:
        return
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
        try:
            probe.bind((address, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortUnavailable(
                    f"port {port} is in use ({port_flag}; another scheduler running?)"
                ) from None
            raise PortUnavailable(
                f"cannot listen on {host}:{port} (--bind-host, {port_flag}): {error.strerror}"
            ) from None


def bind_submission_port(
    host: str,
    port: int,
    limits: MessageLimits,
    verifier: TokenVerifier,
    *,
    with_admin: bool = True,
    telemetry: CallTelemetryInterceptor | None = None,
    rate_limiter: RequestRateLimiter | None = None,
    tls: TlsFiles | None = None,
) -> RunningServer:
    interceptor = AuthInterceptor(verifier, frozenset(CLIENT_ROLES), "submission", rate_limiter)
    return _bind(
        host,
        port,
        "--port-for-submission",
        limits,
        interceptor,
        [SUBMISSION_SERVICE, *([ADMIN_SERVICE] if with_admin else [])],
        telemetry,
        server_credentials(tls, verify_clients=False),
    )


def bind_execution_port(
    host: str,
    port: int,
    limits: MessageLimits,
    verifier: TokenVerifier,
    *,
    telemetry: CallTelemetryInterceptor | None = None,
    tls: TlsFiles | None = None,
) -> RunningServer:
    interceptor = AuthInterceptor(verifier, frozenset({Role.EXECUTOR}), "execution")
    return _bind(
        host,
        port,
        "--port-for-execution",
        limits,
        interceptor,
        [EXECUTION_SERVICE],
        telemetry,
        server_credentials(tls, verify_clients=True),
    )


def submission_services(
    servicer: SubmissionServicer, admin_servicer: AdminServicer | None
) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        submission_pb2_grpc.add_SubmissionServiceServicer_to_server(servicer, server)
        if admin_servicer is not None:
            admin_pb2_grpc.add_AdminServiceServicer_to_server(admin_servicer, server)

    return add


def execution_services(servicer: ExecutionServicer) -> Callable[[grpc.aio.Server], None]:
    return lambda server: execution_pb2_grpc.add_ExecutionServiceServicer_to_server(
        servicer, server
    )
