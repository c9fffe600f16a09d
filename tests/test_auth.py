"""Authentication on the scheduler's ports, against a real token database over gRPC."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import boto3
import grpc
import pytest
from berth.scheduler.v1 import submission_pb2, submission_pb2_grpc
from grpc_health.v1 import _async as health_aio  # = health.aio, which the stubs lack
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scheduler.auth.cached_token_verifier import CachingTokenVerifier
from scheduler.auth.grpc_token_verifier import GrpcTokenVerifier
from scheduler.auth.interceptor import AUTH_SERVER_OPTIONS, AuthInterceptor, principal
from scheduler.auth.token_verifier import TokenVerifier
from scheduler.domain.errors import Unauthenticated, Unavailable
from scheduler.domain.jobs import CLIENT_ROLES, Role
from tests.token_database_helpers import (
    ManualClock,
    create_token_table,
    refused,
    running_token_database,
)
from token_database.registry import TokenRegistry
from token_database.token_store import DynamoDbTokenStore

if TYPE_CHECKING:
    from berth.scheduler.v1.submission_pb2_grpc import SubmissionServiceAsyncStub

EXPECTED_FORM = "authorization: Bearer <token>"


@pytest.fixture
def registry(aws: None) -> TokenRegistry:
    client = boto3.client("dynamodb")
    return TokenRegistry(DynamoDbTokenStore(client, create_token_table(client)))


@pytest.fixture
def clock(aws: None) -> ManualClock:
    return ManualClock()


@pytest.fixture
def clocked_registry(clock: ManualClock) -> TokenRegistry:
    """Token database time that the test moves, shared with the cache under test."""
    client = boto3.client("dynamodb")
    return TokenRegistry(DynamoDbTokenStore(client, create_token_table(client)), clock=clock)


class WhoAmI(submission_pb2_grpc.SubmissionServiceServicer):
    """Answers with the caller's name, as the interceptor made it known."""

    async def GetJobStatus(self, request: Any, context: Any) -> submission_pb2.JobInfo:
        await asyncio.sleep(0)  # let concurrent calls interleave
        return submission_pb2.JobInfo(job_id=request.job_id, owner_name=principal().name)

    async def WatchJob(self, request: Any, context: Any) -> AsyncIterator[submission_pb2.JobInfo]:
        yield submission_pb2.JobInfo(job_id=request.job_id, owner_name=principal().name)


@asynccontextmanager
async def port_with_auth(
    verifier: TokenVerifier,
    roles: frozenset[Role] = frozenset(CLIENT_ROLES),
    port_name: str = "submission",
) -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server(
        interceptors=[AuthInterceptor(verifier, roles, port_name)],
        options=list(AUTH_SERVER_OPTIONS),
    )
    servicer = WhoAmI()  # type: ignore[abstract]  # implements only what the tests call
    submission_pb2_grpc.add_SubmissionServiceServicer_to_server(servicer, server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(0)


@asynccontextmanager
async def verified_port(
    registry: TokenRegistry, **port_options: Any
) -> AsyncIterator[tuple[SubmissionServiceAsyncStub, CachingTokenVerifier]]:
    """Token database + GrpcTokenVerifier (cached) + a submission port with auth."""
    async with running_token_database(registry) as db:
        verifier = CachingTokenVerifier(GrpcTokenVerifier(db.address))
        try:
            async with port_with_auth(verifier, **port_options) as channel:
                yield submission_pb2_grpc.SubmissionServiceStub(channel), verifier
        finally:
            await verifier.close()


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def status(job_id: str = "job-1") -> submission_pb2.GetJobStatusRequest:
    return submission_pb2.GetJobStatusRequest(job_id=job_id)


def closed_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


# --- the interceptor ---------------------------------------------------------------


async def test_the_verified_caller_reaches_unary_and_streaming_methods(
    registry: TokenRegistry,
) -> None:
    alice, _ = registry.create_token("alice", "developer")
    bob, _ = registry.create_token("bob", "guest")

    async with verified_port(registry) as (stub, _):
        answer = await stub.GetJobStatus(status("j1"), metadata=bearer(alice))
        assert (answer.job_id, answer.owner_name) == ("j1", "alice")
        streamed = [
            item
            async for item in stub.WatchJob(
                submission_pb2.WatchJobRequest(job_id="j2"), metadata=bearer(bob)
            )
        ]
        assert [(i.job_id, i.owner_name) for i in streamed] == [("j2", "bob")]
        # Concurrent calls each see their own caller.
        answers = await asyncio.gather(
            *(
                stub.GetJobStatus(status(str(i)), metadata=bearer(alice if i % 2 else bob))
                for i in range(20)
            )
        )
        assert [a.owner_name for a in answers] == ["bob", "alice"] * 10


async def test_a_call_without_a_valid_header_is_unauthenticated(
    registry: TokenRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice, _ = registry.create_token("alice", "developer")
    cases: list[tuple[tuple[tuple[str, str], ...], str]] = [
        ((), EXPECTED_FORM),
        ((("authorization", alice),), EXPECTED_FORM),
        ((("authorization", f"Basic {alice}"),), EXPECTED_FORM),
        ((("authorization", "Bearer"),), EXPECTED_FORM),
        ((("authorization", "Bearer "),), EXPECTED_FORM),
        ((("authorization", f"Bearer {alice}"), ("authorization", f"Bearer {alice}")), "one"),
        (bearer("berth_" + "A" * 43), "missing, unknown or expired token"),
        (bearer("x" * 1_000_000), EXPECTED_FORM),
    ]

    async with verified_port(registry) as (stub, verifier):
        for metadata, hint in cases:
            error = await refused(stub.GetJobStatus(status(), metadata=metadata))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (metadata[:1], error)
            assert hint in (error.details() or "")
            assert alice not in (error.details() or "")
        assert verifier.stats.misses == 1, "only the well-formed unknown token was looked up"
    assert alice not in caplog.text and "A" * 43 not in caplog.text, "logs show no token"


async def test_an_expired_or_deleted_token_is_unauthenticated(registry: TokenRegistry) -> None:
    gone, info = registry.create_token("gone", "developer")
    registry.delete(info.token_id)

    async with verified_port(registry) as (stub, _):
        error = await refused(stub.GetJobStatus(status(), metadata=bearer(gone)))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error.details() == "missing, unknown or expired token"


async def test_roles_are_confined_to_their_port(registry: TokenRegistry) -> None:
    agent, _ = registry.create_token("agent-7", "executor")
    developer, _ = registry.create_token("dana", "developer")

    async with verified_port(registry) as (submission, _):
        error = await refused(submission.GetJobStatus(status(), metadata=bearer(agent)))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error.details() == (
            "role 'executor' may not use the submission port; use the execution port"
        )
        watch = submission.WatchJob(
            submission_pb2.WatchJobRequest(job_id="j"), metadata=bearer(agent)
        )
        error = await refused(watch.read())
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    async with verified_port(registry, roles=frozenset({Role.EXECUTOR}), port_name="execution") as (
        execution,
        _,
    ):
        error = await refused(execution.GetJobStatus(status(), metadata=bearer(developer)))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error.details() == (
            "role 'developer' may not use the execution port; use the submission port"
        )
        assert (await execution.GetJobStatus(status(), metadata=bearer(agent))).owner_name


async def test_token_database_down_is_unavailable(
    registry: TokenRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    alice, _ = registry.create_token("alice", "developer")

    verifier = GrpcTokenVerifier(closed_address(), timeout_s=1.0)
    async with port_with_auth(verifier) as channel:
        stub = submission_pb2_grpc.SubmissionServiceStub(channel)
        for call in (
            stub.GetJobStatus(status(), metadata=bearer(alice)),
            stub.WatchJob(submission_pb2.WatchJobRequest(), metadata=bearer(alice)).read(),
        ):
            error = await refused(call)
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert error.details() == "token database unreachable; retry"
    await verifier.close()
    assert "cannot verify token" in caplog.text and alice not in caplog.text


async def test_health_checks_need_no_token() -> None:
    verifier = GrpcTokenVerifier(closed_address())
    async with port_with_auth(verifier) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = await health.Check(health_pb2.HealthCheckRequest())
        assert response.status == health_pb2.HealthCheckResponse.SERVING
    await verifier.close()


# --- the cache in front of the token database --------------------------------------


@asynccontextmanager
async def cached_verifier(
    registry: TokenRegistry, clock: ManualClock, **options: Any
) -> AsyncIterator[CachingTokenVerifier]:
    async with running_token_database(registry) as db:
        inner = GrpcTokenVerifier(db.address, wall_clock=clock)
        cache = CachingTokenVerifier(inner, clock=clock, wall_clock=clock, **options)
        try:
            yield cache
        finally:
            await cache.close()


async def test_a_verified_token_is_trusted_for_the_ttl(
    clocked_registry: TokenRegistry, clock: ManualClock
) -> None:
    token, info = clocked_registry.create_token("alice", "developer")

    async with cached_verifier(clocked_registry, clock, ttl_s=30) as cache:
        first = await cache.verify(token)
        assert (first.name, first.role, first.token_id) == (
            "alice",
            Role.DEVELOPER,
            info.token_id,
        )
        assert first.owner == info.owner_hash
        clocked_registry.delete(info.token_id)
        clock.advance(29)
        assert await cache.verify(token) == first, "within the TTL the cache answers"
        assert (cache.stats.hits, cache.stats.misses) == (1, 1)
        clock.advance(1)
        with pytest.raises(Unauthenticated, match="missing, unknown or expired token"):
            await cache.verify(token)
        assert cache.stats.misses == 2


async def test_a_cached_token_is_never_trusted_past_its_expiry(
    clocked_registry: TokenRegistry, clock: ManualClock
) -> None:
    token, _ = clocked_registry.create_token("bob", "guest", expires_at=clock.now + 10)

    async with cached_verifier(clocked_registry, clock, ttl_s=3600) as cache:
        assert (await cache.verify(token)).name == "bob"
        clock.advance(9)
        assert (await cache.verify(token)).name == "bob"
        clock.advance(1)
        with pytest.raises(Unauthenticated):
            await cache.verify(token)
        assert cache.stats.hits == 1


async def test_concurrent_lookups_of_one_token_share_one_request(
    clocked_registry: TokenRegistry, clock: ManualClock
) -> None:
    token, _ = clocked_registry.create_token("carol", "admin")

    async with cached_verifier(clocked_registry, clock) as cache:
        principals = await asyncio.gather(*(cache.verify(token) for _ in range(20)))
        assert {p.name for p in principals} == {"carol"}
        assert (cache.stats.misses, cache.stats.coalesced) == (1, 19)


async def test_unknown_tokens_are_remembered_only_briefly(
    clocked_registry: TokenRegistry, clock: ManualClock
) -> None:
    async with cached_verifier(clocked_registry, clock, negative_ttl_s=2) as cache:
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                await cache.verify("berth_unknown")
        assert (cache.stats.misses, cache.stats.hits) == (1, 2)
        clock.advance(2)
        with pytest.raises(Unauthenticated):
            await cache.verify("berth_unknown")
        assert cache.stats.misses == 2


async def test_an_unreachable_token_database_is_asked_again_each_time(
    clocked_registry: TokenRegistry, clock: ManualClock
) -> None:
    token, _ = clocked_registry.create_token("dave", "developer")
    address = closed_address()

    cache = CachingTokenVerifier(
        GrpcTokenVerifier(address, timeout_s=1.0, wall_clock=clock),
        clock=clock,
        wall_clock=clock,
    )
    for _ in range(2):
        with pytest.raises(Unavailable, match="token database unreachable; retry"):
            await cache.verify(token)
    assert (cache.stats.misses, cache.stats.size) == (2, 0), "failures are not cached"
    async with running_token_database(clocked_registry, address):
        assert (await _eventually_verified(cache, token)).name == "dave"
    await cache.close()


async def _eventually_verified(cache: CachingTokenVerifier, token: str) -> Any:
    """The channel reconnects on its own backoff (about 0.2 s after a failure)."""
    for _ in range(50):
        try:
            return await cache.verify(token)
        except Unavailable:
            await asyncio.sleep(0.1)
    raise AssertionError("the token database came back but the token is still not verified")


async def test_the_cache_is_bounded(clocked_registry: TokenRegistry, clock: ManualClock) -> None:
    issued = [clocked_registry.create_token(f"user{i}", "guest")[0] for i in range(3)]

    async with cached_verifier(clocked_registry, clock, max_entries=2) as cache:
        for token in issued:
            await cache.verify(token)
        assert cache.stats.size == 2
        await cache.verify(issued[0])  # the least recently used one was dropped
        assert cache.stats.misses == 4
