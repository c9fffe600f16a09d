"""One slot: long-poll for a job, run it, repeat, until the agent stops taking jobs.

Polls that fail because the scheduler is away are retried with full-jitter
backoff; the shared ConnectionState logs the outage once and the recovery
once. Answers that retrying cannot change (bad token, wrong port, unknown
backend) stop the agent with a clear message instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import grpc
from berth.scheduler.v1 import execution_pb2

from berth_common.backoff import Backoff
from executor_agent.backoff import FATAL_CODES, ConnectionState, describe, status_code
from executor_agent.config import AgentConfig
from executor_agent.job_execution import JobExecution, Slot
from executor_agent.runners import Runner
from executor_agent.scheduler_link import SchedulerLink

log = logging.getLogger("executor_agent.slot")


async def _wait_or_stop(stopping: asyncio.Event, delay_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), delay_s)


class SlotLoop:
    def __init__(
        self,
        slot: Slot,
        *,
        config: AgentConfig,
        link: SchedulerLink,
        runner: Runner,
        connection: ConnectionState,
        stopping: asyncio.Event,
        drain_expired: asyncio.Event,
        work_root: Path,
        on_fatal: Callable[[str], None],
        backoff: Backoff | None = None,
    ) -> None:
        self.slot = slot
        self._config = config
        self._link = link
        self._runner = runner
        self._connection = connection
        self._stopping = stopping
        self._drain_expired = drain_expired
        self._work_root = work_root
        self._on_fatal = on_fatal
        self._backoff = backoff or Backoff()
        self.current: JobExecution | None = None

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                assigned = await self._poll()
            except grpc.aio.AioRpcError as error:
                if status_code(error) in FATAL_CODES:
                    self._on_fatal(
                        f"the scheduler refused agent {self.slot.agent_id}: {describe(error)}"
                    )
                    return
                self._connection.failed(error)
                await _wait_or_stop(self._stopping, self._backoff.next_delay())
                continue
            self._connection.succeeded()
            self._backoff.reset()
            if assigned is not None:
                await self._execute(assigned)

    async def _poll(self) -> execution_pb2.AssignedJob | None:
        """The next job, or None after the poll's wait or when the agent stops taking jobs."""
        call = asyncio.create_task(
            self._link.assign(
                self._config.backend, self.slot.agent_id, self._config.poll_wait_seconds
            )
        )
        stop = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({call, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not call.done():
            # A job the scheduler claimed for us in this instant is requeued when its lease lapses.
            call.cancel()
            await asyncio.wait({call})
            if call.cancelled():
                return None
        response = call.result()
        return response.assigned if response.HasField("assigned") else None

    async def _execute(self, assigned: execution_pb2.AssignedJob) -> None:
        self.current = JobExecution(
            assigned,
            config=self._config,
            link=self._link,
            runner=self._runner,
            slot=self.slot,
            drain_expired=self._drain_expired,
            work_root=self._work_root,
        )
        try:
            await self.current.run()
        finally:
            self.current = None
