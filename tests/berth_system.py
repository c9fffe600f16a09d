"""A whole Berth system (token database + scheduler) on a background event loop.

Tests talk to it with ordinary synchronous gRPC channels over loopback, as a
user's client or agent would; the moto server behind it is real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.config import SchedulerConfig
from scheduler.dev.dev_stack import DevNames, DevStack

T = TypeVar("T")


class BerthSystem:
    def __init__(
        self,
        endpoint: str,
        tmp_dir: Path,
        clock: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> None:
        base = SchedulerConfig(
            bind_host="127.0.0.1",
            port_for_submission=0,
            port_for_execution=0,
            grace_seconds=2.0,
            backend_status_refresh_seconds=0.5,
            metrics_port=-1,  # tests that scrape pass metrics_port=0
        )
        self.config = replace(base, **overrides)
        self.endpoint = endpoint
        self.names = DevNames(prefix=f"t{uuid.uuid4().hex[:12]}")
        self.tokens_file = tmp_dir / "dev-tokens.json"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.stack = DevStack(self.config, endpoint, self.names, clock)
        self.submission_address = ""
        self.execution_address = ""

    def aws_client(self, service: Literal["dynamodb", "s3", "ssm"]) -> Any:
        """A client of the emulator behind this system, as an operator's tooling would use."""
        settings = AwsSettings(region=self.stack.config.region, endpoint=self.endpoint)
        return make_client(service, settings)

    def object_tags(self, key: str) -> dict[str, str]:
        """The tags of an object in the job bucket, as a lifecycle rule matches them."""
        s3 = self.aws_client("s3")
        tag_set = s3.get_object_tagging(Bucket=self.names.bucket, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    @property
    def tokens(self) -> dict[str, str]:
        return self.stack.tokens

    def start(self) -> BerthSystem:
        self.run(self.stack.start())
        self.tokens_file.write_text(json.dumps(self.tokens))
        self._pin_ports()
        return self

    def _pin_ports(self) -> None:
        """Restarts reuse the same ports, as a restarted deployment would."""
        self.submission_address = f"127.0.0.1:{self.stack.submission_port}"
        self.execution_address = f"127.0.0.1:{self.stack.execution_port}"
        self.stack.config = replace(
            self.stack.config,
            port_for_submission=self.stack.submission_port,
            port_for_execution=self.stack.execution_port,
        )

    def restart(self) -> None:
        """Stop the scheduler and start a new one on the same ports and storage; return once
        it has restored the job table (it serves before that)."""
        self.run(self.stack.stop_scheduler(grace_s=1.0))
        self.start_scheduler()

    def stop_scheduler(self) -> None:
        self.run(self.stack.stop_scheduler(grace_s=1.0))

    def start_scheduler(self) -> None:
        self.run(self.stack.start_scheduler())
        assert self.stack.app is not None
        self.run(self.stack.app.wait_restored())

    def stop(self) -> None:
        try:
            self.run(self.stack.stop(grace_s=1.0))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
