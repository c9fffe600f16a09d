"""A real token database for tests: a DynamoDB table (moto) and a grpc.aio server on port 0."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from token_database.registry import TokenRegistry
from token_database.server import start_token_database_server, stop_token_database_server

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class ManualClock:
    """Time that moves only when a test says so (registry, cache and verifier share one)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def create_token_table(client: DynamoDBClient) -> str:
    """The token table exactly as scheduler/aws/provision.py creates it, under a unique name."""
    name = f"tokens-{uuid.uuid4().hex[:12]}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "token_hash", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "token_hash", "KeyType": "HASH"}],
    )
    return name


@dataclass
class RunningTokenDatabase:
    address: str
    port: int


@asynccontextmanager
async def running_token_database(
    registry: TokenRegistry, address: str = "127.0.0.1:0"
) -> AsyncIterator[RunningTokenDatabase]:
    server, port = await start_token_database_server(registry, address)
    try:
        yield RunningTokenDatabase(f"127.0.0.1:{port}", port)
    finally:
        await stop_token_database_server(server, grace_s=0)


async def refused(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    """Await a call that must fail; return its error for code and message checks."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError("the call succeeded but was expected to fail")
