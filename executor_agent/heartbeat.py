"""Keeping a job's lease alive on a task of its own.

The job never waits for a heartbeat: the runner, the upload and the report go
on while heartbeats fail, and the heartbeater only raises flags. A failed
heartbeat is retried quickly until the lease would have expired; after that
the scheduler has requeued the job (or will), so the job is abandoned. A
heartbeat refused with FAILED_PRECONDITION or NOT_FOUND means the same, at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import grpc

from berth_common.times import epoch_of, seconds_of
from executor_agent.backoff import describe, status_code
from executor_agent.logging_setup import job_event
from executor_agent.scheduler_link import SchedulerLink

log = logging.getLogger("executor_agent.heartbeat")

LEASE_GONE_CODES = frozenset({grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND})
MIN_CALL_TIMEOUT_S = 1.0


class Heartbeater:
    def __init__(
        self,
        link: SchedulerLink,
        job_id: str,
        agent_id: str,
        lease_expires_at: float,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._link = link
        self._job_id = job_id
        self._agent_id = agent_id
        self._clock = clock
        self.lease_expires_at = lease_expires_at
        self.interval_s = max(interval_s, 0.1)
        self.cancel_requested = asyncio.Event()
        self.lease_lost = asyncio.Event()
        self.lost_reason = ""

    async def run(self) -> None:
        """Runs until cancelled or the lease is lost; never raises."""
        delay = self.interval_s
        failing_since: float | None = None
        while True:
            await asyncio.sleep(delay)
            remaining = self.lease_expires_at - self._clock()
            try:
                response = await self._link.heartbeat(
                    self._job_id,
                    self._agent_id,
                    timeout_s=max(MIN_CALL_TIMEOUT_S, min(self.interval_s, remaining)),
                )
            except grpc.aio.AioRpcError as error:
                if status_code(error) in LEASE_GONE_CODES:
                    self._lose(f"the scheduler refused the heartbeat ({describe(error)})")
                    return
                if self._clock() >= self.lease_expires_at:
                    self._lose(
                        f"heartbeats failed past the lease expiry ({describe(error)}); "
                        "the scheduler will requeue the job"
                    )
                    return
                if failing_since is None:
                    failing_since = self._clock()
                    job_event(
                        log,
                        "heartbeat_failing",
                        self._job_id,
                        level=logging.WARNING,
                        reason=describe(error),
                        lease_left=max(0.0, remaining),
                    )
                # Retry soon: every attempt before the expiry is a chance to keep the job.
                delay = max(0.05, min(self.interval_s / 3, 1.0, remaining / 2))
                continue
            if failing_since is not None:
                job_event(
                    log, "heartbeat_resumed", self._job_id, failed_for=self._clock() - failing_since
                )
                failing_since = None
            self.lease_expires_at = epoch_of(response.lease.expires_at)
            interval = seconds_of(response.lease.heartbeat_interval)
            if interval > 0:
                self.interval_s = interval
            delay = self.interval_s
            if response.cancel_requested and not self.cancel_requested.is_set():
                job_event(log, "cancel_requested", self._job_id)
                self.cancel_requested.set()

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        self.lease_lost.set()
