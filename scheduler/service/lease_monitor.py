"""Ends what agents cannot: lost leases and jobs running past their timeout.

An agent may die, hang or lose its network; the scheduler must still move
the job on. Every decision is a conditional write on the job's attempt (and,
for a lost lease, on the lease still being expired), so a heartbeat that
reached any replica in the meantime wins.
"""

from __future__ import annotations

import logging

from scheduler.domain.jobs import JobStatus
from scheduler.service.periodic_task import PeriodicTask
from scheduler.service.scheduler_state import RunningJob, SchedulerState

log = logging.getLogger(__name__)


class LeaseMonitor:
    def __init__(self, state: SchedulerState) -> None:
        self._s = state
        self._loop = PeriodicTask("lease monitor", lambda: self.interval_s, self.check_once)

    @property
    def interval_s(self) -> float:
        return min(1.0, self._s.config.lease_seconds / 4)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def check_once(self) -> None:
        now = self._s.clock()
        for running in list(self._s.running.values()):
            if now > running.deadline:
                await self._end_timed_out(running, now)
            elif now > running.lease_expires_at:
                await self._handle_lost_lease(running, now)

    async def _end_timed_out(self, running: RunningJob, now: float) -> None:
        s = self._s
        job = await s.execution_io.run(s.store.get, running.job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.attempt != running.attempt:
            await self._resync(running)
            return
        ended = await s.execution_io.run(
            lambda: s.store.end_running(
                running.job_id,
                running.attempt,
                JobStatus.TIMEOUT,
                f"exceeded its timeout of {job.timeout_s:g} s; ended by the scheduler",
                now,
                s.job_expiry(now),
                require_expired_lease=False,
            )
        )
        if ended is not None:
            s.job_ended(ended)
            log.info("job %s TIMEOUT: enforced by the scheduler", running.job_id)
        else:
            await self._resync(running)

    async def _handle_lost_lease(self, running: RunningJob, now: float) -> None:
        s = self._s
        if running.attempt < s.config.max_attempts:
            job = await s.execution_io.run(s.store.requeue, running.job_id, running.attempt, now)
            if job is not None:
                s.running.pop(running.job_id, None)
                if not s.queues.try_reserve(job.size_bytes):
                    s.queues.force_reserve(job.size_bytes)
                    log.warning("job %s requeued beyond SCHEDULER_MAX_QUEUE_BYTES", job.job_id)
                await s.enqueue(job, None)
                s.metrics.lease_expired(job.backend, "requeued")
                log.info(
                    "job %s requeued: lease lost by %s (attempt %d of %d)",
                    job.job_id,
                    job.tried_agents[-1:] or "?",
                    running.attempt,
                    s.config.max_attempts,
                )
                return
        else:
            ended = await s.execution_io.run(
                lambda: s.store.end_running(
                    running.job_id,
                    running.attempt,
                    JobStatus.FAILED,
                    f"lost its agent {running.attempt} times (no heartbeat within the lease); "
                    "giving up after SCHEDULER_MAX_ATTEMPTS",
                    now,
                    s.job_expiry(now),
                    require_expired_lease=True,
                )
            )
            if ended is not None:
                s.job_ended(ended)
                s.metrics.lease_expired(ended.backend, "failed")
                log.info("job %s FAILED: lease lost on its last attempt", running.job_id)
                return
        await self._resync(running)

    async def _resync(self, running: RunningJob) -> None:
        """The condition failed: someone else moved the job. Follow the record."""
        s = self._s
        job = await s.execution_io.run(s.store.get, running.job_id)
        if job is None:
            s.running.pop(running.job_id, None)
        elif job.status is JobStatus.RUNNING:
            s.track_running(job)
        elif job.status.terminal:
            s.job_ended(job, ended_here=False)  # counted where it ended
        else:  # requeued by another replica: it will be picked up from there
            s.running.pop(running.job_id, None)
