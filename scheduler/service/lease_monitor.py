"""Ends what agents cannot: lost leases and jobs running past their timeout.

An agent may die, hang or lose its network; the scheduler must still move
the job on. Every decision is a conditional write on the job's attempt (and,
for a lost lease, on the lease still being expired), so a heartbeat that
reached any replica in the meantime wins (see JobLifecycle.expire, time_out).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.periodic_task import PeriodicTask


class LeaseMonitor:
    def __init__(
        self, lifecycle: JobLifecycle, lease_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._lifecycle = lifecycle
        self._lease_s = lease_s
        self._clock = clock
        self._loop = PeriodicTask("lease monitor", lambda: self.interval_s, self.check_once)

    @property
    def interval_s(self) -> float:
        return min(1.0, self._lease_s / 4)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def check_once(self) -> None:
        now = self._clock()
        for running in self._lifecycle.jobs.running_jobs():
            if now > running.deadline:
                await self._lifecycle.time_out(running, now)
            elif now > running.lease_expires_at:
                await self._lifecycle.expire(running, now)
