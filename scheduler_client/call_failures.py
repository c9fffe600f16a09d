"""Failed calls in words a user can act on, and which of them another attempt cannot fix.

gRPC reports a wrong port, a stopped scheduler or a TLS mismatch in transport
terms ("Method not found!", "failed to connect to all addresses", "Socket
closed"). These are recognised here once, for the library and the CLI alike.
"""

from __future__ import annotations

import re

import grpc

from scheduler_client.errors import (
    BerthRpcError,
    RequestTooLargeError,
    SchedulerUnreachableError,
    WrongServiceError,
    from_rpc_error,
)

_CONNECT_FAILED = ("failed to connect to all addresses", "errors resolving", "DNS resolution")
_TOO_LARGE = re.compile(r"Received message larger than max \((\d+) vs\. (\d+)\)")
# The scheduler's words for a backend an operator took out of service (see GetServiceStatus).
_BACKEND_OUT_OF_SERVICE = re.compile(r"^backend '[^']*' is (maintenance|unavailable) for role ")


def _details(error: grpc.RpcError) -> str:
    details = error.details() if callable(getattr(error, "details", None)) else None
    return details or ""


def _code(error: grpc.RpcError) -> grpc.StatusCode:
    return error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN


def connection_failed(error: grpc.RpcError) -> bool:
    """No scheduler was reached at all (nothing listens, unknown host, failed handshake)."""
    details = _details(error)
    return _code(error) is grpc.StatusCode.UNAVAILABLE and any(
        marker in details for marker in _CONNECT_FAILED
    )


def not_worth_retrying(error: grpc.RpcError, *, ever_connected: bool) -> bool:
    """UNAVAILABLE that waiting will not change: a backend out of service, or a scheduler
    that has never answered this client (a restart of one that did is worth the wait)."""
    if _code(error) is not grpc.StatusCode.UNAVAILABLE:
        return False
    if _BACKEND_OUT_OF_SERVICE.match(_details(error)):
        return True
    return connection_failed(error) and not ever_connected


def _connection_hint(details: str, address: str, tls: bool) -> str:
    if "handshake failed" in details.lower():
        if "WRONG_VERSION_NUMBER" in details:
            return f"{address} does not speak TLS: connect without --tls/--tls-ca"
        return (
            f"the TLS handshake with {address} failed (its certificate is not trusted or does "
            "not name this host): give the CA that signed it with --tls-ca FILE"
        )
    if "Socket closed" in details and not tls:
        return (
            f"{address} closed the connection during set-up: it probably expects TLS; "
            "connect with --tls (and --tls-ca FILE for a private CA)"
        )
    return f"cannot connect to {address}: is the scheduler running at {address}?"


def explain(error: grpc.RpcError, method: str, *, address: str, tls: bool) -> BerthRpcError:
    """The library's exception for a failed call, with advice where gRPC gives none."""
    code, details = _code(error), _details(error)
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return WrongServiceError(
            code,
            f"{address} does not offer the submission API ({details or 'UNIMPLEMENTED'}): "
            "is it the execution port, which is for agents? Clients use the submission port "
            "(8082 by default; `python -m scheduler --dev` prints both)",
            method,
        )
    too_large = _TOO_LARGE.search(details)
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and too_large:
        size, limit = too_large.groups()
        return RequestTooLargeError(
            code,
            f"the request is {size} bytes, more than the scheduler takes ({limit} bytes); the "
            "job size limit of your role is SCHEDULER_MAX_JOB_BYTES_<ROLE> on the scheduler "
            "(by default 10 MiB for admin and developer, 1 MiB for guest): send a smaller program",
            method,
        )
    if connection_failed(error):
        return SchedulerUnreachableError(code, _connection_hint(details, address, tls), method)
    return from_rpc_error(error, method)
