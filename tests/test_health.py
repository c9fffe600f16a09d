"""Health says whether the scheduler can serve: not while its token database is silent.

Every call is authenticated, so a scheduler whose token database has not
answered for longer than the grace fails every new token: its ports say
NOT_SERVING (and so do GetServiceStatus and the metric) until it answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest
import requests
from berth.scheduler.v1 import submission_pb2, submission_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scheduler.app import aws_settings
from scheduler.aws.aws_settings import make_client
from tests.berth_system import BerthSystem
from tests.dashboard_helpers import dashboard_client, sign_in
from token_database.registry import TokenRegistry
from token_database.server import start_token_database_server, stop_token_database_server
from token_database.token_store import DynamoDbTokenStore

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def wait_for_health(address: str, wanted: int, timeout_s: float = 15.0) -> None:
    """Follow the port's health stream until it reports `wanted` (no polling, no sleeps)."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for update in stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s):
            if update.status == wanted:
                return


def stop_token_database(system: BerthSystem) -> None:
    assert system.stack.token_server is not None
    system.run(stop_token_database_server(system.stack.token_server, 0))


def start_token_database(system: BerthSystem) -> None:
    store = DynamoDbTokenStore(
        make_client("dynamodb", aws_settings(system.stack.config)), system.names.token_table
    )
    server, _ = system.run(
        start_token_database_server(TokenRegistry(store), system.stack.token_database_address)
    )
    system.stack.token_server = server


def service_serving(system: BerthSystem) -> bool:
    """GetServiceStatus's view (the token is cached, so the call itself still works)."""
    with grpc.insecure_channel(system.submission_address) as channel:
        reply = submission_pb2_grpc.SubmissionServiceStub(channel).GetServiceStatus(
            submission_pb2.GetServiceStatusRequest(backend="emulator"),
            metadata=(("authorization", f"Bearer {system.tokens['developer']}"),),
            timeout=10,
        )
    return reply.serving


def serving_metric(system: BerthSystem) -> float:
    app = system.stack.app
    assert app is not None and app.metrics_server is not None
    text = requests.get(f"http://127.0.0.1:{app.metrics_server.port}/metrics", timeout=10).text
    [line] = [line for line in text.splitlines() if line.startswith("berth_serving ")]
    return float(line.split()[1])


@pytest.fixture
def system(make_berth_system: object) -> Iterator[BerthSystem]:
    yield make_berth_system(  # type: ignore[operator]
        token_database_grace_seconds=0.5, metrics_port=0
    )


def test_health_follows_the_token_database(system: BerthSystem) -> None:
    for address in (system.submission_address, system.execution_address):
        wait_for_health(address, SERVING)
    assert service_serving(system) and serving_metric(system) == 1

    stop_token_database(system)
    for address in (system.submission_address, system.execution_address):
        wait_for_health(address, NOT_SERVING)
    assert not service_serving(system) and serving_metric(system) == 0

    start_token_database(system)
    for address in (system.submission_address, system.execution_address):
        wait_for_health(address, SERVING)
    assert service_serving(system) and serving_metric(system) == 1


def test_a_scheduler_starting_without_its_token_database_is_not_serving_until_it_answers(
    system: BerthSystem,
) -> None:
    stop_token_database(system)
    system.restart()
    wait_for_health(system.submission_address, NOT_SERVING)
    assert serving_metric(system) == 0
    start_token_database(system)
    wait_for_health(system.submission_address, SERVING)
    wait_for_health(system.execution_address, SERVING)


async def test_the_dashboard_overview_says_when_the_scheduler_is_not_serving(
    system: BerthSystem,
) -> None:
    client = await dashboard_client(system)
    try:
        assert 'data-serving="yes"' in await sign_in(client, system.tokens["developer"])
        await asyncio.to_thread(stop_token_database, system)
        await asyncio.to_thread(wait_for_health, system.submission_address, NOT_SERVING)
        overview = await (await client.get("/")).text()  # the signed-in token is cached
        assert 'data-serving="no"' in overview and "The scheduler is not serving" in overview
    finally:
        await client.close()
