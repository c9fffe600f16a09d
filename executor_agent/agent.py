"""The agent: N slots sharing one scheduler connection, and an orderly shutdown.

Shutdown goes in stages, and asking twice is harmless: stop taking jobs
(in-flight polls are cancelled), let running jobs finish within --grace, then
stop what remains and report it CANCELLED, then return. A fatal answer from
the scheduler (bad token, unknown backend) takes the same path with a
non-zero exit code, so a supervisor restarts the agent once it is fixed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from executor_agent import AGENT_VERSION
from executor_agent.backoff import ConnectionState
from executor_agent.config import AgentConfig
from executor_agent.job_execution import Slot
from executor_agent.logging_setup import log_event
from executor_agent.runners import Runner
from executor_agent.scheduler_link import SchedulerLink
from executor_agent.slot import SlotLoop
from executor_agent.token_file import token_id

log = logging.getLogger("executor_agent")

EXIT_OK = 0
EXIT_FATAL = 1


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        link: SchedulerLink,
        runner: Runner,
        work_root: Path,
        token: str = "",
    ) -> None:
        self._config = config
        self._link = link
        self._runner = runner
        self._token_id = token_id(token) if token else "-"
        self.stopping = asyncio.Event()
        self.drain_expired = asyncio.Event()
        self.exit_code = EXIT_OK
        connection = ConnectionState(config.scheduler)
        self.slots = [
            SlotLoop(
                Slot(index, config.slot_agent_id(index), config.slot_gpus(index)),
                config=config,
                link=link,
                runner=runner,
                connection=connection,
                stopping=self.stopping,
                drain_expired=self.drain_expired,
                work_root=work_root,
                on_fatal=self.fail,
            )
            for index in range(config.slots)
        ]

    def running_jobs(self) -> list[str]:
        return [slot.current.job_id for slot in self.slots if slot.current is not None]

    def request_stop(self, reason: str) -> None:
        """Stage 1: no new jobs. Idempotent."""
        if self.stopping.is_set():
            log_event(log, "already_stopping", f"{reason}: already stopping")
            return
        log_event(
            log,
            "draining",
            f"{reason}: taking no new jobs, waiting for running ones",
            running=len(self.running_jobs()),
            grace=self._config.grace_seconds,
        )
        self.stopping.set()

    def fail(self, message: str) -> None:
        log_event(log, "fatal", message, level=logging.ERROR)
        self.exit_code = EXIT_FATAL
        self.request_stop("fatal error")

    async def _guarded(self, slot: SlotLoop) -> None:
        try:
            await slot.run()
        except Exception:
            log.exception("slot %d crashed", slot.slot.index)
            self.fail(f"slot {slot.slot.index} crashed (a bug; see the traceback above)")

    async def run(self) -> int:
        log_event(
            log,
            "started",
            f"agent {AGENT_VERSION} serving backend {self._config.backend}",
            scheduler=self._config.scheduler,
            slots=len(self.slots),
            runner=self._runner.version,
            agent_ids=",".join(slot.slot.agent_id for slot in self.slots),
            token_id=self._token_id,
        )
        tasks = [asyncio.create_task(self._guarded(slot)) for slot in self.slots]
        await self.stopping.wait()
        _, pending = await asyncio.wait(tasks, timeout=self._config.grace_seconds)
        if pending:
            log_event(
                log,
                "grace_expired",
                "grace period over: stopping the remaining jobs",
                jobs=",".join(self.running_jobs()),
            )
            self.drain_expired.set()
            await asyncio.wait(pending)
        log_event(log, "stopped", "agent stopped", exit_code=self.exit_code)
        return self.exit_code
