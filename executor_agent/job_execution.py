"""One assigned job, from the assignment to the report.

The runner, the heartbeats and the job's deadline run side by side; the first
of "runner finished", "timeout", "owner cancelled", "lease lost" and "agent
draining ran out of time" decides how the job ends. The log is uploaded for
every outcome; the result only on success. A lost lease means someone else
may already be running the job: it is abandoned without upload or report.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from berth.scheduler.v1 import execution_pb2

from berth_common.times import epoch_of, seconds_of
from executor_agent.config import AgentConfig
from executor_agent.heartbeat import Heartbeater
from executor_agent.job_log import JobLog
from executor_agent.logging_setup import job_event
from executor_agent.reporting import (
    CANCELLED,
    FAILURE,
    OUTCOME_EVENTS,
    SUCCESS,
    TIMEOUT,
    Outcome,
    Report,
    send_report,
)
from executor_agent.runners import Runner, RunRequest, RunResult
from executor_agent.scheduler_link import SchedulerLink
from executor_agent.upload import Targets, Uploader, UploadError

log = logging.getLogger("executor_agent.job")


@dataclass(frozen=True)
class Slot:
    index: int
    agent_id: str
    gpus: tuple[str, ...]


@dataclass(frozen=True)
class Ending:
    outcome: Outcome | None  # None: abandoned (lease lost)
    result: RunResult
    started_at: float
    finished_at: float


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0] if text.strip() else "(no detail)"


def job_settings(assigned: execution_pb2.AssignedJob) -> dict[str, object]:
    """What the program sees as BERTH_JOB_SETTINGS."""
    settings = assigned.job.settings
    return {
        "job_id": assigned.job_id,
        "format": assigned.job.program.format,
        "backend": settings.backend,
        "n_shots": settings.n_shots,
        "timeout_seconds": seconds_of(settings.timeout),
        "parameters": dict(settings.parameters),
        "attempt": assigned.attempt,
    }


class JobExecution:
    def __init__(
        self,
        assigned: execution_pb2.AssignedJob,
        *,
        config: AgentConfig,
        link: SchedulerLink,
        runner: Runner,
        slot: Slot,
        drain_expired: asyncio.Event,
        work_root: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._assigned = assigned
        self._config = config
        self._link = link
        self._runner = runner
        self._slot = slot
        self._drain_expired = drain_expired
        self._work_root = work_root
        self._clock = clock
        self.job_id = assigned.job_id
        self._backend = assigned.job.settings.backend
        self._log = JobLog(config.log_limit_bytes)
        self._heartbeater = Heartbeater(
            link,
            assigned.job_id,
            slot.agent_id,
            epoch_of(assigned.lease.expires_at),
            seconds_of(assigned.lease.heartbeat_interval),
            clock,
        )

    def _event(self, event: str, *, level: int = logging.INFO, **fields: object) -> None:
        job_event(
            log,
            event,
            self.job_id,
            level=level,
            backend=self._backend,
            slot=self._slot.index,
            **fields,
        )

    async def run(self) -> None:
        dequeued_at = self._clock()
        queued_at = self._assigned.timestamps.queued_at
        self._event(
            "assigned",
            attempt=self._assigned.attempt,
            queued=dequeued_at - epoch_of(queued_at) if queued_at.seconds else None,
        )
        heartbeats = asyncio.create_task(self._heartbeater.run())
        work_dir = Path(tempfile.mkdtemp(prefix=f"{self.job_id[:40]}-", dir=self._work_root))
        try:
            ending = await self._execute(work_dir)
            if ending.outcome is None:
                self._event(
                    "abandoned",
                    level=logging.WARNING,
                    reason=self._heartbeater.lost_reason,
                    ran=ending.finished_at - ending.started_at,
                )
                return
            await self._finish(ending, dequeued_at)
        finally:
            heartbeats.cancel()
            await asyncio.gather(heartbeats, return_exceptions=True)
            shutil.rmtree(work_dir, ignore_errors=True)

    async def _execute(self, work_dir: Path) -> Ending:
        request = RunRequest(
            job_id=self.job_id,
            payload=self._assigned.job.program.payload,
            settings=job_settings(self._assigned),
            work_dir=work_dir,
            log=self._log,
            gpus=self._slot.gpus,
            env={"CUDA_VISIBLE_DEVICES": ",".join(self._slot.gpus)} if self._slot.gpus else {},
        )
        timeout_s = seconds_of(self._assigned.job.settings.timeout)
        started_at = self._clock()
        self._event("running", timeout=timeout_s)
        running = asyncio.create_task(self._runner.run(request))
        stoppers = [
            asyncio.create_task(event.wait())
            for event in (
                self._heartbeater.lease_lost,
                self._heartbeater.cancel_requested,
                self._drain_expired,
            )
        ]
        try:
            await asyncio.wait(
                {running, *stoppers},
                timeout=timeout_s if timeout_s > 0 else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for stopper in stoppers:
                stopper.cancel()
        if running.done():
            result = self._result_of(running)
            finished_at = self._clock()
            if not result.succeeded:
                self._log.note(f"job failed: {first_line(result.error)}")
            return Ending(SUCCESS if result.succeeded else FAILURE, result, started_at, finished_at)
        outcome, why = self._stop_reason(timeout_s)
        self._log.note(why)
        self._event("stopping", reason=why)
        running.cancel()
        await asyncio.wait({running})
        finished_at = self._clock()
        return Ending(outcome, RunResult(False, error=why), started_at, finished_at)

    def _stop_reason(self, timeout_s: float) -> tuple[Outcome | None, str]:
        if self._heartbeater.lease_lost.is_set():
            return None, f"lease lost: {self._heartbeater.lost_reason}; killed the job"
        if self._heartbeater.cancel_requested.is_set():
            return CANCELLED, "cancelled by its owner; the job was stopped"
        if self._drain_expired.is_set():
            return CANCELLED, (
                f"the agent shut down and the job did not finish within its grace period "
                f"({self._config.grace_seconds:g}s); the job was stopped"
            )
        return TIMEOUT, f"exceeded its timeout of {timeout_s:g}s; the job was killed"

    def _result_of(self, running: asyncio.Task[RunResult]) -> RunResult:
        error = running.exception()
        if error is None:
            return running.result()
        log.error("runner error on job %s", self.job_id, exc_info=error)
        return RunResult(False, error=f"the agent could not run the job: {error!r}")

    async def _finish(self, ending: Ending, dequeued_at: float) -> None:
        result = ending.result
        outcome = ending.outcome
        assert outcome is not None
        report = Report(
            job_id=self.job_id,
            agent_id=self._slot.agent_id,
            outcome=outcome,
            error="" if outcome == SUCCESS else result.error,
            dequeued_at=dequeued_at,
            execution_started_at=ending.started_at,
            execution_finished_at=ending.finished_at,
            actual_backend=self._config.actual_backend or self._backend,
            runner_version=result.runner_version or self._runner.version,
        )
        upload_started = self._clock()
        uploader = Uploader(
            self.job_id,
            (self._assigned.result_upload, self._assigned.log_upload),
            self._refresh_targets,
            attempts=self._config.upload_attempts,
            clock=self._clock,
        )
        if outcome == SUCCESS:
            try:
                report.result_encoded_bytes = await uploader.put("result", result.result)
                report.result_raw_bytes = len(result.result)
            except UploadError as error:
                report.outcome = FAILURE
                report.error = f"the result could not be uploaded: {error}"
                self._log.note(report.error)
        try:
            report.log_bytes = await uploader.put("log", self._log.render())
        except UploadError as error:
            self._event("log_upload_failed", level=logging.WARNING, reason=str(error))
        upload_s = self._clock() - upload_started
        accepted = await send_report(self._link, report, self._heartbeater.lease_lost.is_set)
        if accepted:
            self._event(
                OUTCOME_EVENTS[report.outcome],
                ran=ending.finished_at - ending.started_at,
                upload=upload_s,
                total=self._clock() - dequeued_at,
                error=first_line(report.error)[:200] if report.error else None,
            )

    async def _refresh_targets(self) -> Targets:
        response = await self._link.refresh_upload_url(self.job_id, self._slot.agent_id)
        return response.result_upload, response.log_upload
