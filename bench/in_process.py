"""The scheduler in this process (DevStack on a background loop), for the two
measurements that must reach inside it: AWS call counting and profiling."""

from __future__ import annotations

import uuid

from bench.process_meter import ProcessMeter
from bench.processes import BackgroundLoop
from bench.stack import REGION
from scheduler.config import SchedulerConfig
from scheduler.dev.dev_stack import DevNames, DevStack
from scheduler.domain.jobs import Role

BACKEND = "emulator"  # a backend DevStack makes available to every role


class InProcessStack:
    """Same surface as BenchStack; no CPU meter, since the harness shares the process."""

    scheduler_meter: ProcessMeter | None = None

    def __init__(self, endpoint: str, emulator_meter: ProcessMeter | None = None) -> None:
        # Fresh credentials: make_client caches one boto3 session per credential set,
        # and a hook installed while this stack starts must land on a session of its own.
        key = f"bench-{uuid.uuid4().hex[:8]}"
        config = SchedulerConfig(
            bind_host="127.0.0.1",
            port_for_submission=0,
            port_for_execution=0,
            metrics_port=0,
            aws_access_key_id=key,
            aws_secret_access_key=key,
            region=REGION,
            # No periodic read inside a measurement: those are per replica, not per job.
            backend_status_refresh_seconds=3600.0,
            replica_sync_seconds=3600.0,
            token_cache_seconds=3600.0,
            lease_seconds=600.0,
            grace_seconds=1.0,
        )
        self.emulator_meter = emulator_meter
        self._loop = BackgroundLoop()
        self._dev = DevStack(config, endpoint, DevNames(prefix=f"bench{uuid.uuid4().hex[:10]}"))
        self.tokens: dict[Role, str] = {}
        self.submission_address = ""
        self.execution_address = ""

    def start(self) -> InProcessStack:
        self._loop.run(self._dev.start())
        self.tokens = {Role(role): token for role, token in self._dev.tokens.items()}
        self.submission_address = f"127.0.0.1:{self._dev.submission_port}"
        self.execution_address = f"127.0.0.1:{self._dev.execution_port}"
        return self

    def stop(self) -> None:
        try:
            self._loop.run(self._dev.stop(grace_s=1.0))
        finally:
            self._loop.close()
