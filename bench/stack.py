"""The system under test: an emulator, provisioned storage, a token database and
`python -m scheduler` as a child process, so its CPU and memory are its own."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.process_meter import ProcessMeter
from bench.processes import BackgroundLoop, ChildProcess, MotoServer, free_port
from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import ensure_table, provision
from scheduler.aws.table_definitions import token_table_definition
from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    render_backend_status,
)
from scheduler.domain.jobs import Role
from token_database.registry import TokenRegistry
from token_database.server import start_token_database_server
from token_database.token_store import DynamoDbTokenStore

REGION = "us-east-1"
# One backend, hence one queue, per phase: a phase never sees another's jobs.
BACKENDS = (
    "bench-submit",
    "bench-exec1",
    "bench-exec4",
    "bench-status",
    "bench-dispatch",
    "bench-warm",
    "bench-restart",
)
# Phases fill queues on purpose and hold running jobs; no limit may refuse them.
SCHEDULER_ENV = {
    "SCHEDULER_MAX_CONCURRENT_JOBS_ADMIN": str(10**9),
    "SCHEDULER_MAX_QUEUE_BYTES": str(64 * 2**30),
    "SCHEDULER_RATE_LIMIT_ADMIN": "0",  # the harness measures capacity, not the limiter
}
LEASE_SECONDS = 600  # longer than any phase: no lease lapses while a job is held on purpose


class SystemUnderTest(Protocol):
    """What the phases drive: the two ports, a token per role, and meters where measured."""

    submission_address: str
    execution_address: str
    tokens: dict[Role, str]

    @property
    def scheduler_meter(self) -> ProcessMeter | None: ...

    @property
    def emulator_meter(self) -> ProcessMeter | None: ...


def use_emulator_credentials() -> None:
    """Our own moto accepts any credentials; set dummies so boto3 never looks further."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "berth-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "berth-bench")


class Names:
    """Unique resource names per run, so runs against one --endpoint never mix."""

    def __init__(self) -> None:
        self.prefix = f"bench{uuid.uuid4().hex[:10]}"
        self.token_table = f"{self.prefix}-tokens"
        self.floor_table = f"{self.prefix}-floor"
        self.floor_bucket = f"{self.prefix}-floor"


class SchedulerNames:
    """A table, bucket and parameters of one scheduler's own: each phase starts empty."""

    def __init__(self, run_prefix: str, number: int) -> None:
        prefix = f"{run_prefix}-s{number}"
        self.table = f"{prefix}-jobs"
        self.bucket = f"{prefix}-jobs"
        self.bucket_key = f"/{prefix}/job_bucket_name"
        self.table_key = f"/{prefix}/job_table_name"
        self.status_key = f"/{prefix}/backend_status"


class BenchStack:
    """The emulator and token database for a whole run; a fresh scheduler per phase.

    A phase that leaves jobs behind (a full queue, held leases) would otherwise
    tax the next one: the scheduler re-reads its QUEUED and RUNNING jobs
    periodically (replica sync), at a cost that grows with them.
    """

    def __init__(self, out_dir: Path, endpoint: str | None) -> None:
        self.out_dir = out_dir
        self.names = Names()
        self._moto = None if endpoint else MotoServer(out_dir / "moto.log")
        self.endpoint = endpoint or ""
        self.settings = AwsSettings()
        self._loop: BackgroundLoop | None = None
        self._token_server: grpc.aio.Server | None = None
        self._token_address = ""
        self._scheduler: ChildProcess | None = None
        self._schedulers_started = 0
        self._ports = (0, 0)
        self.scheduler_names: SchedulerNames | None = None
        self.tokens: dict[Role, str] = {}
        self.submission_address = ""
        self.execution_address = ""

    @property
    def scheduler_meter(self) -> ProcessMeter:
        assert self._scheduler is not None, "no scheduler is running"
        return self._scheduler.meter

    @property
    def emulator_meter(self) -> ProcessMeter | None:
        return self._moto.child.meter if self._moto is not None else None

    def start(self) -> BenchStack:
        if self._moto is not None:
            use_emulator_credentials()
            self.endpoint = self._moto.start()
        self.settings = AwsSettings(region=REGION, endpoint=self.endpoint)
        dynamodb = make_client("dynamodb", self.settings)
        ensure_table(dynamodb, token_table_definition(self.names.token_table))
        registry = TokenRegistry(DynamoDbTokenStore(dynamodb, self.names.token_table))
        for role in (Role.ADMIN, Role.EXECUTOR):
            self.tokens[role], _ = registry.create_token(f"bench-{role.value}", role.value)
        self._loop = BackgroundLoop()
        self._token_server, port = self._loop.run(
            start_token_database_server(registry, "127.0.0.1:0")
        )
        self._token_address = f"127.0.0.1:{port}"
        return self

    def fresh_scheduler(self) -> None:
        """Stop the running scheduler, if any; start one on storage of its own."""
        self.stop_scheduler()
        names = SchedulerNames(self.names.prefix, self._schedulers_started + 1)
        available = BackendAvailability(Availability.AVAILABLE, "benchmark")
        provision(
            self.settings,
            table=names.table,
            bucket=names.bucket,
            bucket_key_param=names.bucket_key,
            table_key_param=names.table_key,
            backend_status_param=names.status_key,
            backend_status_toml=render_backend_status(
                {backend: dict.fromkeys(Role, available) for backend in BACKENDS}
            ),
            token_table=self.names.token_table,
        )
        self.scheduler_names = names
        child = self._start_scheduler(names, (free_port(), free_port()))
        self.wait_until_serving(child, self.submission_address)

    def start_scheduler_again(self) -> ChildProcess:
        """A new scheduler process on the last one's storage and ports (it must be stopped)."""
        assert self.scheduler_names is not None, "no scheduler was started"
        return self._start_scheduler(self.scheduler_names, self._ports)

    def stop_scheduler(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None

    def _start_scheduler(self, names: SchedulerNames, ports: tuple[int, int]) -> ChildProcess:
        submission, execution = self._ports = ports
        self._schedulers_started += 1
        log_path = self.out_dir / f"scheduler-{self._schedulers_started}.log"
        self._scheduler = child = ChildProcess("scheduler", log_path)
        child.start(
            [
                "scheduler",
                "--endpoint", self.endpoint,
                "--region", REGION,
                "--bind-host", "127.0.0.1",
                "--port-for-submission", str(submission),
                "--port-for-execution", str(execution),
                "--address_to_token_database", self._token_address,
                "--job_bucket_name_key", names.bucket_key,
                "--job_table_name_key", names.table_key,
                "--backend_status_parameter_name", names.status_key,
                "--lease-seconds", str(LEASE_SECONDS),
                "--metrics-port", "0",  # served, as deployed, on any free port
            ],
            env=SCHEDULER_ENV,
        )  # fmt: skip
        self.submission_address = f"127.0.0.1:{submission}"
        self.execution_address = f"127.0.0.1:{execution}"
        return child

    @staticmethod
    def wait_until_serving(child: ChildProcess, address: str, timeout_s: float = 60.0) -> None:
        """gRPC health says SERVING once both ports are open (the queue is restored behind them)."""
        deadline = time.monotonic() + timeout_s
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                child.check_alive()
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the scheduler was not SERVING on {address} in time")
                time.sleep(0.1)

    def stop(self) -> None:
        self.stop_scheduler()
        if self._loop is not None:
            if self._token_server is not None:
                self._loop.run(self._token_server.stop(1.0))
            self._loop.close()
            self._loop = None
        if self._moto is not None:
            self._moto.stop()
