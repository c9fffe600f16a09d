"""`--dev`: an AWS emulator, provisioned storage, a token database and the scheduler.

Without --endpoint an in-process moto server on a loopback port stands in for
AWS; with --endpoint any emulator (LocalStack, a moto server) is provisioned
instead. Provisioning is idempotent, so restarting against the same emulator
keeps every job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from scheduler.app import SchedulerApp, aws_settings
from scheduler.aws.aws_settings import make_client
from scheduler.aws.provision import provision
from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    BackendStatusTable,
    render_backend_status,
)
from scheduler.config import SchedulerConfig
from scheduler.dev.dev_tokens import ensure_dev_tokens, read_tokens_file
from scheduler.domain.jobs import Role
from token_database.dev_state import DevState, use_dev_credentials
from token_database.registry import TokenRegistry
from token_database.server import start_token_database_server
from token_database.token_store import DynamoDbTokenStore

log = logging.getLogger(__name__)

DEV_BACKENDS = ("emulator", "qpu")
DEV_REGION = "us-east-1"


@dataclass(frozen=True)
class DevNames:
    """Resource names; tests use a unique prefix per system on a shared emulator."""

    prefix: str = "berth"

    @property
    def table(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def bucket(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def token_table(self) -> str:
        return f"{self.prefix}-tokens"


def dev_backend_status() -> BackendStatusTable:
    available = BackendAvailability(Availability.AVAILABLE, "development backend")
    return {backend: dict.fromkeys(Role, available) for backend in DEV_BACKENDS}


class DevStack:
    """The token database and scheduler over an emulator at `endpoint`."""

    def __init__(
        self,
        config: SchedulerConfig,
        endpoint: str,
        names: DevNames = DevNames(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        prefix = f"/{names.prefix}"
        self.config = replace(
            config,
            dev=True,
            endpoint=endpoint,
            region=config.region or DEV_REGION,
            job_bucket_name_key=f"{prefix}/job_bucket_name",
            job_table_name_key=f"{prefix}/job_table_name",
            backend_status_parameter_name=f"{prefix}/backend_status",
        )
        self.names = names
        self.tokens: dict[str, str] = {}
        self.app: SchedulerApp | None = None
        self.token_server: grpc.aio.Server | None = None
        self.token_database_address = ""

    async def start(self, *, create_tokens: bool = True, tokens_file: Path | None = None) -> None:
        """With `tokens_file`, its tokens are kept while the token table still verifies them
        (a restart against a kept emulator), so their owners keep seeing their jobs."""
        use_dev_credentials()
        settings = aws_settings(self.config)
        provision(
            settings,
            table=self.names.table,
            bucket=self.names.bucket,
            bucket_key_param=self.config.job_bucket_name_key,
            table_key_param=self.config.job_table_name_key,
            backend_status_param=self.config.backend_status_parameter_name,
            backend_status_toml=render_backend_status(dev_backend_status()),
            token_table=self.names.token_table,
        )
        registry = TokenRegistry(
            DynamoDbTokenStore(make_client("dynamodb", settings), self.names.token_table)
        )
        if tokens_file is not None:
            ensure_dev_tokens(registry, tokens_file)
            self.tokens = read_tokens_file(tokens_file)
        elif create_tokens:
            for role in Role:
                token, _ = registry.create_token(f"dev-{role.value}", role.value)
                self.tokens[role.value] = token
        self.token_server, port = await start_token_database_server(registry, "127.0.0.1:0")
        self.token_database_address = f"127.0.0.1:{port}"
        self.config = replace(self.config, address_to_token_database=self.token_database_address)
        await self.start_scheduler()

    async def start_scheduler(self) -> None:
        self.app = SchedulerApp(self.config, clock=self._clock)
        await self.app.start()

    async def stop_scheduler(self, grace_s: float | None = None) -> None:
        if self.app is not None:
            await self.app.stop(grace_s)
            self.app = None

    async def stop(self, grace_s: float | None = None) -> None:
        await self.stop_scheduler(grace_s)
        if self.token_server is not None:
            await self.token_server.stop(1.0)
            self.token_server = None

    @property
    def state(self) -> DevState:
        """What token commands need to reach this system's token table (`--dev`)."""
        assert self.config.endpoint is not None and self.config.region is not None
        return DevState(self.config.endpoint, self.config.region, self.names.token_table)

    @property
    def submission_port(self) -> int:
        assert self.app is not None and self.app.submission is not None
        return self.app.submission.port

    @property
    def execution_port(self) -> int:
        assert self.app is not None and self.app.execution is not None
        return self.app.execution.port
