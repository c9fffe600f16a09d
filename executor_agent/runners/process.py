"""Running a program in a process group of its own, and killing all of it when told to.

The program runs in a new session, so it and everything it forks share one
process group: a timeout or cancel signals the whole group (SIGTERM, then
SIGKILL after the kill grace), and when the program ends, whatever it left
running in the background is killed too. Output goes through a pipe into
the job's capped log, never to a file that could fill the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from executor_agent.job_log import JobLog

CHUNK = 64 * 1024
PIPE_DRAIN_S = 2.0  # a grandchild that left the group may hold the pipe open forever


@dataclass(frozen=True)
class ProcessSpec:
    argv: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    stdin_path: Path | None = None
    stdout_path: Path | None = None  # None: stdout goes to the log with stderr


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with code {returncode}"


async def _pump(stream: asyncio.StreamReader, log: JobLog) -> None:
    while chunk := await stream.read(CHUNK):
        log.write(chunk)


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """False when the group is already gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def kill_group(process: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGTERM the group, give it `grace_s` to clean up (hardware!), then SIGKILL."""
    if process.returncode is None and _signal_group(process.pid, signal.SIGTERM):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace_s)
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


async def run_process(spec: ProcessSpec, log: JobLog, kill_grace_s: float) -> int:
    """The program's return code (negative: killed by that signal). Cancel to kill it."""
    stdin: IO[bytes] | int = asyncio.subprocess.DEVNULL
    stdout: IO[bytes] | int = asyncio.subprocess.PIPE
    stderr: int = asyncio.subprocess.STDOUT
    with contextlib.ExitStack() as files:
        if spec.stdin_path is not None:
            stdin = files.enter_context(spec.stdin_path.open("rb"))
        if spec.stdout_path is not None:
            stdout = files.enter_context(spec.stdout_path.open("wb"))
            stderr = asyncio.subprocess.PIPE
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=spec.cwd,
            env=dict(spec.env),
            start_new_session=True,
        )
        stream = process.stderr if spec.stdout_path is not None else process.stdout
        assert stream is not None
        reader = asyncio.create_task(_pump(stream, log))
        try:
            return await process.wait()
        except asyncio.CancelledError:
            await kill_group(process, kill_grace_s)
            raise
        finally:
            _signal_group(process.pid, signal.SIGKILL)  # background leftovers
            done, _ = await asyncio.wait({reader}, timeout=PIPE_DRAIN_S)
            if not done:
                reader.cancel()
                log.note("output pipe still open after the program ended; stopped reading")


def job_environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
