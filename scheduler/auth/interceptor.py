"""Authentication and port rules for every RPC, as a grpc.aio server interceptor.

The interceptor does not verify in `intercept_service` itself: it wraps the
method's behaviour so that verification runs inside the RPC's own task, where
it can abort with a precise status and where the verified Principal, set in
a ContextVar, is seen by the servicer. grpc.aio runs each RPC in its own task
(with its own copy of the context), so one call's principal never leaks into
another and nothing needs resetting.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc

from berth_common.errors import (
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from scheduler.auth.bearer import bearer_token
from scheduler.auth.rate_limit import RequestRateLimiter
from scheduler.auth.token_verifier import TokenVerifier, short_hash
from scheduler.domain.jobs import CLIENT_ROLES, Principal, Role
from scheduler.grpc_api.errors import RPC_ERRORS
from scheduler.grpc_api.handler_wrapping import Context, Handler, InterceptorBase, wrap_handler

log = logging.getLogger(__name__)

current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("current_principal")

# Probes and tooling must work without a token.
PUBLIC_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
)
# gRPC refuses request metadata beyond 16 KiB with RESOURCE_EXHAUSTED before any
# interceptor runs; servers that want oversized tokens to get UNAUTHENTICATED like any
# other bad token pass this in their options.
AUTH_SERVER_OPTIONS: Sequence[tuple[str, int]] = (("grpc.max_metadata_size", 2 * 1024 * 1024),)


def principal() -> Principal:
    """The caller of the current RPC, as verified by AuthInterceptor."""
    try:
        return current_principal.get()
    except LookupError:
        raise RuntimeError(
            "no authenticated principal: this RPC did not pass through AuthInterceptor"
        ) from None


class AuthInterceptor(InterceptorBase):
    def __init__(
        self,
        verifier: TokenVerifier,
        allowed_roles: frozenset[Role],
        port_name: str,
        rate_limiter: RequestRateLimiter | None = None,
    ) -> None:
        self._verifier = verifier
        self._allowed_roles = allowed_roles
        self._port_name = port_name
        self._rate_limiter = rate_limiter

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or _service_of(method) in PUBLIC_SERVICES:
            return handler
        metadata = tuple(handler_call_details.invocation_metadata or ())

        @contextlib.asynccontextmanager
        async def authenticated(request: Any, context: Context) -> AsyncIterator[None]:
            try:
                current_principal.set(await self._authenticate(metadata, method))
                _refuse_undecodable(request)
            except Exception as error:
                await RPC_ERRORS.abort(context, error, method)
            yield

        # A unary request that does not decode reaches `authenticated` (INVALID_ARGUMENT).
        deserializer = handler.request_deserializer
        if not handler.request_streaming:
            deserializer = _tolerant(deserializer)
        return wrap_handler(handler, authenticated, request_deserializer=deserializer)

    async def _authenticate(self, metadata: tuple[Any, ...], method: str) -> Principal:
        """The verified caller; a BerthError (answered with its status) when refused."""
        token = ""
        try:
            token = bearer_token(metadata)
            caller = await self._verifier.verify(token)
        except Unauthenticated as error:
            log.debug("refused %s: token %s: %s", method, _fingerprint(token), error.message)
            raise
        except Unavailable as error:
            log.warning("cannot verify token %s for %s: %s", _fingerprint(token), method, error)
            raise
        if caller.role not in self._allowed_roles:
            log.info(
                "refused %s: token %s has role %s, not allowed on the %s port",
                method,
                caller.token_id,
                caller.role.value,
                self._port_name,
            )
            raise PermissionDenied(self._wrong_port(caller.role))
        if self._rate_limiter is not None:
            try:
                self._rate_limiter.check(caller)
            except ResourceExhausted as error:
                log.info("refused %s: token %s: %s", method, caller.token_id, error.message)
                raise
        return caller

    def _wrong_port(self, role: Role) -> str:
        message = f"role {role.value!r} may not use the {self._port_name} port"
        if role is Role.EXECUTOR and self._port_name != "execution":
            return message + "; use the execution port"
        if role in CLIENT_ROLES and self._port_name != "submission":
            return message + "; use the submission port"
        return message


def _service_of(method: str) -> str:
    """The service part of a method path: "/pkg.Service/Method" gives "pkg.Service"."""
    return method.lstrip("/").partition("/")[0]


def _fingerprint(token: str) -> str:
    return short_hash(token) if token else "(none)"


class _Undecodable:
    """Stands in for request bytes that are not the method's message.

    gRPC would report a failed decode as INTERNAL, which says "server bug";
    it is the client's mistake, so the RPC answers INVALID_ARGUMENT instead.
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as error:
            return _Undecodable(str(error)[:200])

    return deserialize


def _refuse_undecodable(request: Any) -> None:
    if isinstance(request, _Undecodable):
        raise InvalidArgument(
            f"the request is not a valid message for this method ({request.reason}); "
            "send it with the generated client code of the matching .proto",
        )
