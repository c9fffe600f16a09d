"""The token database as its users meet it: the gRPC service, the table, the admin CLI."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import grpc
import pytest
from berth.tokens.v1 import token_database_pb2 as tdb
from berth.tokens.v1 import token_database_pb2_grpc
from botocore.config import Config
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.token_database_helpers import (
    ManualClock,
    create_token_table,
    refused,
    running_token_database,
)
from token_database.registry import TokenRegistry
from token_database.token_store import DynamoDbTokenStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


ROOT = Path(__file__).resolve().parent.parent
Stub = Any  # the generated async stub (a type-check-only class)


@dataclass
class Tokens:
    client: DynamoDBClient
    table: str
    clock: ManualClock
    registry: TokenRegistry
    admin_token: str


@pytest.fixture
def tokens(aws: None) -> Tokens:
    client = boto3.client("dynamodb")
    table = create_token_table(client)
    clock = ManualClock()
    registry = TokenRegistry(DynamoDbTokenStore(client, table), clock=clock)
    admin_token, _ = registry.create_token("root", "admin")
    return Tokens(client, table, clock, registry, admin_token)


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


@asynccontextmanager
async def served(registry: TokenRegistry) -> AsyncIterator[Stub]:
    """A stub of a real server for `registry` on a loopback port."""
    async with (
        running_token_database(registry) as db,
        grpc.aio.insecure_channel(db.address) as channel,
    ):
        yield token_database_pb2_grpc.TokenDatabaseServiceStub(channel)


def stamp(seconds: float) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=int(seconds))


async def test_a_created_token_verifies_with_its_name_and_role(tokens: Tokens) -> None:
    async with served(tokens.registry) as stub:
        created = await stub.CreateToken(
            tdb.CreateTokenRequest(name="alice", role="developer"),
            metadata=bearer(tokens.admin_token),
        )
        assert created.token.startswith("berth_") and len(created.token) > 40
        info = await stub.GetTokenInfo(tdb.GetTokenInfoRequest(token=created.token))
        owner = hashlib.sha256(created.token.encode()).hexdigest()
        assert (info.name, info.role, info.owner_hash) == ("alice", "developer", owner)
        assert info.token_id == owner[:12] == created.info.token_id
        assert info.created_at.seconds == int(tokens.clock.now)
        assert not info.HasField("expires_at")


async def test_an_unknown_token_is_not_found_and_never_echoed(tokens: Tokens) -> None:
    async with served(tokens.registry) as stub:
        guess = "berth_" + "x" * 43
        error = await refused(stub.GetTokenInfo(tdb.GetTokenInfoRequest(token=guess)))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == "token is unknown or expired"
        for token in ("", "y" * 1_000_000):
            error = await refused(stub.GetTokenInfo(tdb.GetTokenInfoRequest(token=token)))
            assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_an_expired_token_is_refused_until_renewed(tokens: Tokens) -> None:
    async with served(tokens.registry) as stub:
        admin = bearer(tokens.admin_token)
        created = await stub.CreateToken(
            tdb.CreateTokenRequest(
                name="bob", role="guest", expires_at=stamp(tokens.clock.now + 3600)
            ),
            metadata=admin,
        )
        request = tdb.GetTokenInfoRequest(token=created.token)
        info = await stub.GetTokenInfo(request)
        assert info.expires_at.seconds == int(tokens.clock.now + 3600)

        tokens.clock.advance(3600)
        error = await refused(stub.GetTokenInfo(request))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        listed = await stub.ListTokens(tdb.ListTokensRequest(), metadata=admin)
        assert created.info.token_id in [t.token_id for t in listed.tokens], "kept for renewal"

        renewed = await stub.RenewToken(
            tdb.RenewTokenRequest(
                token_id=created.info.token_id, expires_at=stamp(tokens.clock.now + 60)
            ),
            metadata=admin,
        )
        assert renewed.expires_at.seconds == int(tokens.clock.now + 60)
        assert (await stub.GetTokenInfo(request)).name == "bob"

        forever = await stub.RenewToken(
            tdb.RenewTokenRequest(token_id=created.info.token_id), metadata=admin
        )
        assert not forever.HasField("expires_at")
        tokens.clock.advance(10 * 365 * 86400)
        assert (await stub.GetTokenInfo(request)).name == "bob"


async def test_a_deleted_token_is_refused(tokens: Tokens) -> None:
    token, info = tokens.registry.create_token("carol", "executor")

    async with served(tokens.registry) as stub:
        await stub.GetTokenInfo(tdb.GetTokenInfoRequest(token=token))
        await stub.DeleteToken(
            tdb.DeleteTokenRequest(token_id=info.token_id), metadata=bearer(tokens.admin_token)
        )
        error = await refused(stub.GetTokenInfo(tdb.GetTokenInfoRequest(token=token)))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        again = await refused(
            stub.DeleteToken(
                tdb.DeleteTokenRequest(token_id=info.token_id),
                metadata=bearer(tokens.admin_token),
            )
        )
        assert again.code() == grpc.StatusCode.NOT_FOUND
        assert info.token_id in (again.details() or "")


async def test_listing_shows_ids_and_names_but_never_a_token(tokens: Tokens) -> None:
    issued = [tokens.registry.create_token(f"user{i}", "developer") for i in range(3)]

    async with served(tokens.registry) as stub:
        listed = await stub.ListTokens(tdb.ListTokensRequest(), metadata=bearer(tokens.admin_token))
        assert {t.name for t in listed.tokens} == {"root", "user0", "user1", "user2"}
        assert {info.token_id for _, info in issued} <= {t.token_id for t in listed.tokens}
        wire = listed.SerializeToString()
        for token, _ in [*issued, (tokens.admin_token, None)]:
            assert token.encode() not in wire


def test_only_hashes_of_tokens_are_stored(tokens: Tokens) -> None:
    token, info = tokens.registry.create_token("dave", "developer", tokens.clock.now + 60)
    items = tokens.client.scan(TableName=tokens.table)["Items"]
    assert token not in json.dumps(items) and tokens.admin_token not in json.dumps(items)
    stored = next(item for item in items if item["name"]["S"] == "dave")
    assert stored["token_hash"]["S"] == hashlib.sha256(token.encode()).hexdigest()
    assert stored["token_id"]["S"] == info.token_id
    assert stored["role"]["S"] == "developer"
    assert stored["created_at"]["N"] == str(int(tokens.clock.now))
    assert stored["expires_at"]["N"] == str(int(tokens.clock.now + 60))
    never = next(item for item in items if item["name"]["S"] == "root")
    assert "expires_at" not in never


async def test_management_needs_an_admin_token(tokens: Tokens) -> None:
    developer_token, _ = tokens.registry.create_token("eve", "developer")
    request = tdb.CreateTokenRequest(name="mallory", role="admin")

    async with served(tokens.registry) as stub:
        cases = [
            ((), grpc.StatusCode.UNAUTHENTICATED, "authorization: Bearer <token>"),
            (
                (("authorization", tokens.admin_token),),
                grpc.StatusCode.UNAUTHENTICATED,
                "authorization: Bearer <token>",
            ),
            (bearer("berth_nope"), grpc.StatusCode.UNAUTHENTICATED, "unknown or expired"),
            (bearer(developer_token), grpc.StatusCode.PERMISSION_DENIED, "admin token"),
        ]
        for metadata, code, hint in cases:
            for call in (
                stub.CreateToken(request, metadata=metadata),
                stub.ListTokens(tdb.ListTokensRequest(), metadata=metadata),
                stub.DeleteToken(tdb.DeleteTokenRequest(token_id="0" * 12), metadata=metadata),
                stub.RenewToken(tdb.RenewTokenRequest(token_id="0" * 12), metadata=metadata),
            ):
                error = await refused(call)
                assert error.code() == code, (metadata, error)
                assert hint in (error.details() or "")
                assert developer_token not in (error.details() or "")
                assert tokens.admin_token not in (error.details() or "")
        assert "mallory" not in [i.name for i in tokens.registry.list_tokens()]


async def test_bad_requests_say_what_to_change(tokens: Tokens) -> None:
    admin = bearer(tokens.admin_token)

    async with served(tokens.registry) as stub:
        cases: list[tuple[Awaitable[Any], grpc.StatusCode, str]] = [
            (
                stub.CreateToken(tdb.CreateTokenRequest(name="x", role="root"), metadata=admin),
                grpc.StatusCode.INVALID_ARGUMENT,
                "admin, developer, guest, executor",
            ),
            (
                stub.CreateToken(tdb.CreateTokenRequest(name=" ", role="guest"), metadata=admin),
                grpc.StatusCode.INVALID_ARGUMENT,
                "name must not be empty",
            ),
            (
                stub.CreateToken(
                    tdb.CreateTokenRequest(
                        name="x", role="guest", expires_at=stamp(tokens.clock.now - 1)
                    ),
                    metadata=admin,
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "in the past",
            ),
            (
                stub.RenewToken(tdb.RenewTokenRequest(token_id="abc"), metadata=admin),
                grpc.StatusCode.INVALID_ARGUMENT,
                "12 hex characters",
            ),
            (
                stub.RenewToken(tdb.RenewTokenRequest(token_id="0" * 12), metadata=admin),
                grpc.StatusCode.NOT_FOUND,
                "no token has token_id 000000000000",
            ),
            (
                stub.DeleteToken(
                    tdb.DeleteTokenRequest(token_id=tokens.admin_token), metadata=admin
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "that is a token, not a token_id",
            ),
        ]
        for call, code, hint in cases:
            error = await refused(call)
            assert (error.code(), hint in (error.details() or "")) == (code, True), error
            assert tokens.admin_token not in (error.details() or "")


async def test_health_is_reported_per_service_without_a_token(tokens: Tokens) -> None:
    async with (
        running_token_database(tokens.registry) as db,
        grpc.aio.insecure_channel(db.address) as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "berth.tokens.v1.TokenDatabaseService"):
            response = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_dynamodb_unreachable_is_unavailable_not_internal() -> None:
    unreachable = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    registry = TokenRegistry(DynamoDbTokenStore(unreachable, "tokens"))

    async with served(registry) as stub:
        error = await refused(stub.GetTokenInfo(tdb.GetTokenInfoRequest(token="berth_abc")))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "retry" in (error.details() or "")


def test_create_token_in_process_for_dev_mode(tokens: Tokens) -> None:
    token, info = tokens.registry.create_token("dev-executor", "executor")
    assert tokens.registry.verify(token) == info
    assert (info.name, info.role, info.expires_at) == ("dev-executor", "executor", None)
    assert info.owner_hash == hashlib.sha256(token.encode()).hexdigest()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
