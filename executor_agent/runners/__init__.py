"""Runners turn a job's payload into a result: a program, a Python function, a container.

A runner's `run` is cancelled (asyncio) when the job must stop early — timeout,
owner's cancel, lost lease, agent shutdown — and must then kill everything
it started before returning, so the slot is clean for the next job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from executor_agent.job_log import JobLog


@dataclass(frozen=True)
class RunRequest:
    job_id: str
    payload: bytes
    settings: Mapping[str, Any]  # what the program sees as BERTH_JOB_SETTINGS (JSON)
    work_dir: Path  # empty, private to this job, removed afterwards
    log: JobLog
    gpus: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # CUDA_VISIBLE_DEVICES etc.


@dataclass(frozen=True)
class RunResult:
    succeeded: bool
    result: bytes = b""
    error: str = ""  # why it failed, for the owner; the log has the full output
    runner_version: str = ""  # when it depends on the job (the docker image); else Runner.version


class Runner(Protocol):
    @property
    def version(self) -> str:
        """Reported with every job (at most 64 characters are kept)."""
        ...

    async def run(self, request: RunRequest) -> RunResult: ...
