"""TokenDatabaseService over gRPC: metadata and protobuf in, registry calls, protobuf out.

Registry calls block on DynamoDB, so they run in the event loop's executor;
the loop itself only moves bytes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from berth.tokens.v1 import token_database_pb2, token_database_pb2_grpc

from berth_common.errors import NotFound, PermissionDenied, Unauthenticated
from berth_common.grpc_status import RpcErrors
from berth_common.times import epoch_of, to_timestamp
from token_database.registry import TokenRegistry
from token_database.request_ids import bind_request_id
from token_database.token_info import ADMIN_ROLE, MAX_TOKEN_LENGTH, TokenInfo

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req")
Resp = TypeVar("Resp")

BEARER_FORM = "authorization: Bearer <token>"
_RPC_ERRORS = RpcErrors(report_hint="please report it")


def _rpc(
    fn: Callable[[Any, Req, Context], Awaitable[Resp]],
) -> Callable[[Any, Req, Context], Awaitable[Resp]]:
    """Each call logs under its request id and answers failures through the shared catalogue."""

    @functools.wraps(fn)
    async def bound(self: Any, request: Req, context: Context) -> Resp:
        bind_request_id(context)
        return await fn(self, request, context)

    return _RPC_ERRORS.unary(bound)


class TokenDatabaseServicer(token_database_pb2_grpc.TokenDatabaseServiceServicer):
    def __init__(self, registry: TokenRegistry) -> None:
        self._registry = registry

    @_rpc
    async def GetTokenInfo(
        self, request: token_database_pb2.GetTokenInfoRequest, context: Context
    ) -> token_database_pb2.TokenInfo:
        info = await asyncio.to_thread(self._registry.verify, request.token)
        return token_info_pb(info)

    @_rpc
    async def CreateToken(
        self, request: token_database_pb2.CreateTokenRequest, context: Context
    ) -> token_database_pb2.CreateTokenResponse:
        admin = await self._require_admin(context)
        expires_at = _optional_time(request, "expires_at")
        token, info = await asyncio.to_thread(
            self._registry.create_token, request.name, request.role, expires_at
        )
        log.info("admin token %s created token %s", admin.token_id, info.token_id)
        return token_database_pb2.CreateTokenResponse(token=token, info=token_info_pb(info))

    @_rpc
    async def DeleteToken(
        self, request: token_database_pb2.DeleteTokenRequest, context: Context
    ) -> token_database_pb2.DeleteTokenResponse:
        admin = await self._require_admin(context)
        info = await asyncio.to_thread(self._registry.delete, request.token_id)
        log.info("admin token %s deleted token %s", admin.token_id, info.token_id)
        return token_database_pb2.DeleteTokenResponse()

    @_rpc
    async def RenewToken(
        self, request: token_database_pb2.RenewTokenRequest, context: Context
    ) -> token_database_pb2.TokenInfo:
        admin = await self._require_admin(context)
        expires_at = _optional_time(request, "expires_at")
        info = await asyncio.to_thread(self._registry.renew, request.token_id, expires_at)
        log.info("admin token %s renewed token %s", admin.token_id, info.token_id)
        return token_info_pb(info)

    @_rpc
    async def ListTokens(
        self, request: token_database_pb2.ListTokensRequest, context: Context
    ) -> token_database_pb2.ListTokensResponse:
        await self._require_admin(context)
        infos = await asyncio.to_thread(self._registry.list_tokens)
        return token_database_pb2.ListTokensResponse(tokens=[token_info_pb(i) for i in infos])

    async def _require_admin(self, context: Context) -> TokenInfo:
        token = bearer_token(context.invocation_metadata() or ())
        try:
            caller = await asyncio.to_thread(self._registry.verify, token)
        except NotFound:
            raise Unauthenticated(
                "the token in the authorization metadata is unknown or expired"
            ) from None
        if caller.role != ADMIN_ROLE:
            raise PermissionDenied(
                f"managing tokens needs an admin token; token {caller.token_id} has role "
                f"{caller.role!r}"
            )
        return caller


def bearer_token(metadata: Any) -> str:
    """The token from `authorization: Bearer <token>`; Unauthenticated when absent or malformed."""
    values = [value for key, value in metadata if key.lower() == "authorization"]
    if len(values) != 1:
        raise Unauthenticated(f"send exactly one authorization metadata entry: {BEARER_FORM}")
    value = values[0]
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    scheme, _, token = text.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated(f"malformed authorization metadata; expected {BEARER_FORM}")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("the token in the authorization metadata is unknown or expired")
    return token


def _optional_time(message: Any, field: str) -> float | None:
    if not message.HasField(field):
        return None
    return epoch_of(getattr(message, field))


def token_info_pb(info: TokenInfo) -> token_database_pb2.TokenInfo:
    return token_database_pb2.TokenInfo(
        token_id=info.token_id,
        name=info.name,
        role=info.role,
        created_at=to_timestamp(info.created_at),
        expires_at=to_timestamp(info.expires_at) if info.expires_at is not None else None,
        owner_hash=info.owner_hash,
    )
