"""Shared fixtures: fake AWS credentials, in-process moto, and a moto HTTP server."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.berth_system import BerthSystem
from tests.emulator_process import EmulatorServer
from tests.replica_processes import emulator_process
from tests.service_harness import service_world  # noqa: F401  (the service-layer tests' world)
from tests.xdist_groups import ModuleGroupScheduling

REGION = "eu-west-1"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under --dist loadgroup, a module marked with xdist_group runs whole on one worker."""
    if config.getvalue("dist") != "loadgroup":
        return None
    return ModuleGroupScheduling(config, log)


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may ever reach real AWS: credentials are fake and the region fixed."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """CLIs run in-process install a root handler on pytest's captured stream; once that
    stream is closed, later log lines from background threads would fail to write."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto for unit tests."""
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real HTTP moto server on a loopback port, for presigned URLs and subprocesses."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = EmulatorServer()  # moto, with DynamoDB's conditional writes atomic as in AWS
    yield server.start()
    server.stop()


@pytest.fixture
def make_berth_system(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., BerthSystem]]:
    """Factory: make_berth_system(lease_seconds=3, ...) -> a started BerthSystem."""
    systems: list[BerthSystem] = []

    def make(**overrides: Any) -> BerthSystem:
        system = BerthSystem(moto_endpoint, tmp_path_factory.mktemp("berth"), **overrides)
        systems.append(system)
        return system.start()

    yield make
    for system in systems:
        system.stop()


@pytest.fixture
def berth_system(make_berth_system: Callable[..., BerthSystem]) -> BerthSystem:
    return make_berth_system()


@pytest.fixture(scope="module")
def module_berth_system(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BerthSystem]:
    """One system shared by a module's tests (each test then uses its own users or jobs)."""
    system = BerthSystem(moto_endpoint, tmp_path_factory.mktemp("berth")).start()
    yield system
    system.stop()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server subprocess (DynamoDB serialized) for tests that run the scheduler as
    processes: one per test process, as each cluster provisions its own tables and bucket."""
    process, endpoint = emulator_process(tmp_path_factory.mktemp("emulator") / "emulator.log")
    yield endpoint
    process.kill()
