"""Verifying tokens by asking the token database over gRPC.

One channel serves every verification: a channel multiplexes calls over one
HTTP/2 connection, and opening one per call would put a TCP (and TLS)
handshake on every uncached request. Transient failures are retried inside
the call deadline by gRPC's own retry policy.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from berth.tokens.v1 import token_database_pb2, token_database_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from berth_common.times import epoch_of
from scheduler.auth.token_verifier import (
    MAX_TOKEN_LENGTH,
    TOKEN_DATABASE_DOWN_MESSAGE,
    UNKNOWN_TOKEN_MESSAGE,
    VerifiedToken,
    short_hash,
    token_hash,
)
from scheduler.domain.errors import Unauthenticated, Unavailable
from scheduler.domain.jobs import Principal, Role
from scheduler.grpc_api.call_telemetry import REQUEST_ID_KEY
from scheduler.logging_setup import current_request_id

if TYPE_CHECKING:
    from berth.tokens.v1.token_database_pb2_grpc import TokenDatabaseServiceAsyncStub

log = logging.getLogger(__name__)

_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{"service": "berth.tokens.v1.TokenDatabaseService"}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.5s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
_CHANNEL_OPTIONS = [
    ("grpc.enable_retries", 1),
    ("grpc.service_config", _SERVICE_CONFIG),
    # Find a restarted token database within seconds, not gRPC's default of up to 2 minutes.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
# The token database's answer for an unknown token.
_UNKNOWN_CODES = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT})


class GrpcTokenVerifier:
    def __init__(
        self,
        address: str,
        *,
        timeout_s: float = 2.0,
        credentials: grpc.ChannelCredentials | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._address = address
        self._timeout_s = timeout_s
        self._credentials = credentials
        self._wall_clock = wall_clock
        self._channel: grpc.aio.Channel | None = None
        self._stub: TokenDatabaseServiceAsyncStub | None = None
        self._closed = False

    async def verify(self, token: str) -> Principal:
        return (await self.lookup(token)).principal

    async def lookup(self, token: str) -> VerifiedToken:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated(UNKNOWN_TOKEN_MESSAGE)
        try:
            info = await self._get_stub().GetTokenInfo(
                token_database_pb2.GetTokenInfoRequest(token=token),
                timeout=self._timeout_s,
                metadata=_forwarded_request_id(),
            )
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code in _UNKNOWN_CODES:
                raise Unauthenticated(UNKNOWN_TOKEN_MESSAGE) from None
            log.warning(
                "token database at %s failed verifying token %s: %s %s",
                self._address,
                short_hash(token),
                code.name,
                error.details(),
            )
            raise Unavailable(TOKEN_DATABASE_DOWN_MESSAGE) from None
        return self._verified(token, info)

    async def answers(self, timeout_s: float) -> bool:
        """Whether the token database answers its health check now (the scheduler's readiness).

        A server without the health service still answered (UNIMPLEMENTED).
        """
        if self._closed:
            return False
        self._get_stub()
        assert self._channel is not None
        try:
            reply = await health_pb2_grpc.HealthStub(self._channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as error:
            return error.code() == grpc.StatusCode.UNIMPLEMENTED
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def _verified(self, token: str, info: token_database_pb2.TokenInfo) -> VerifiedToken:
        try:
            role = Role(info.role)
        except ValueError:
            log.error("token %s has role %r, unknown to the scheduler", info.token_id, info.role)
            raise Unauthenticated(UNKNOWN_TOKEN_MESSAGE) from None
        expires_at = epoch_of(info.expires_at) if info.HasField("expires_at") else None
        if expires_at is not None and expires_at <= self._wall_clock():
            raise Unauthenticated(UNKNOWN_TOKEN_MESSAGE)  # expired between its check and ours
        owner = info.owner_hash or token_hash(token)
        principal = Principal(
            owner=owner, name=info.name, role=role, token_id=info.token_id or owner[:12]
        )
        return VerifiedToken(principal, expires_at)

    def _get_stub(self) -> TokenDatabaseServiceAsyncStub:
        """Created on first use: an aio channel belongs to the event loop it was made on."""
        if self._closed:
            raise Unavailable("token verifier is shut down; the scheduler is stopping")
        if self._stub is None:
            if self._credentials is None:
                self._channel = grpc.aio.insecure_channel(self._address, options=_CHANNEL_OPTIONS)
            else:
                self._channel = grpc.aio.secure_channel(
                    self._address, self._credentials, options=_CHANNEL_OPTIONS
                )
            self._stub = token_database_pb2_grpc.TokenDatabaseServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        self._closed = True
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = None
            self._stub = None


def _forwarded_request_id() -> tuple[tuple[str, str], ...]:
    """The calling RPC's request id, so the token database logs its lines under it too."""
    request_id = current_request_id()
    return () if request_id is None else ((REQUEST_ID_KEY, request_id),)
