"""`wait` and `submit --wait` on the command line: they end on every terminal status.

The progress tests run `python -m scheduler_client wait` as a separate process,
as a user does, and read its output as it comes: the job is ended only after
the command has shown it QUEUED, so the command is seen to notice the end.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent_helpers import FAILURE
from tests.berth_system import BerthSystem
from tests.client_harness import (
    RESULT,
    ROOT,
    TERMINAL_ENDINGS,
    Ending,
    RunCli,
    agent_in_background,
    agent_runs_next_job,
    submit_id,
)

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`

EXIT_FOR_STATUS = {"COMPLETED": 0, "FAILED": 1, "TIMEOUT": 1, "CANCELLED": 1}


def canceller(cli: RunCli, job_id: str) -> None:
    assert cli("cancel", job_id).code == 0


def wait_process(system: BerthSystem, job_id: str, stdout: int) -> subprocess.Popen[bytes]:
    """`python -m scheduler_client wait ID` in its own process, output not yet read."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scheduler_client",
            "wait",
            job_id,
            "--address",
            system.submission_address,
            "--token-file",
            str(system.tokens_file),
        ],
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(("end", "final"), TERMINAL_ENDINGS)
def test_wait_ends_when_the_job_ends(
    berth_system: BerthSystem,
    cli: RunCli,
    program: Path,
    tmp_path: Path,
    end: Ending,
    final: str,
) -> None:
    job_id = submit_id(cli, program)
    waiting = wait_process(berth_system, job_id, stdout=subprocess.PIPE)
    assert waiting.stdout is not None
    first = waiting.stdout.readline().decode()
    assert first.startswith(f"job {job_id}: QUEUED (position 1), elapsed "), first

    end(berth_system, lambda: canceller(cli, job_id))
    rest, errors = waiting.communicate(timeout=30)
    assert waiting.returncode == EXIT_FOR_STATUS[final], errors.decode()
    lines = rest.decode().splitlines()
    assert all(line.startswith(f"job {job_id}: ") for line in lines)
    assert lines[-1].startswith(f"job {job_id}: {final}")

    # Waiting on a job that has already ended answers at once, the same way; as JSON here.
    out_file = tmp_path / "result.json"
    ran = cli("wait", job_id, "-o", str(out_file), "--json")
    assert ran.code == EXIT_FOR_STATUS[final]
    info = ran.json()
    assert (info["job_id"], info["status"]) == (job_id, final)
    assert info["timestamps"]["finished_at"]
    if final == "COMPLETED":
        assert info["result_file"] == str(out_file) and out_file.read_bytes() == RESULT
        assert info["result_raw_bytes"] == len(RESULT)
    else:
        assert "result_file" not in info and not out_file.exists()
        assert info["detail"]


def test_wait_on_a_terminal_redraws_one_status_line(
    berth_system: BerthSystem, cli: RunCli, program: Path
) -> None:
    job_id = submit_id(cli, program)
    terminal, child_end = pty.openpty()
    waiting = wait_process(berth_system, job_id, stdout=child_end)
    os.close(child_end)
    seen = b""
    try:
        while b"QUEUED" not in seen:
            seen += os.read(terminal, 4096)
        agent_runs_next_job(berth_system)
        while chunk := _read_until_closed(terminal):
            seen += chunk
        assert waiting.wait(30) == 0
    finally:
        os.close(terminal)
    text = seen.decode()
    assert f"\r\x1b[2Kjob {job_id}: QUEUED (position 1), elapsed " in text
    assert re.search(rf"\r\x1b\[2Kjob {job_id}: COMPLETED, elapsed \S+\r\n$", text), text
    assert text.count("\n") == 1  # one line, redrawn in place


def _read_until_closed(fd: int) -> bytes:
    """The next output of a terminal; b"" once its process has closed it (EIO on Linux)."""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""


def test_wait_timeout_exits_6_and_the_job_keeps_going(cli: RunCli, program: Path) -> None:
    job_id = submit_id(cli, program)
    ran = cli("wait", job_id, "--timeout", "0.3s", "--json")
    assert ran.code == 6
    assert ran.json()["error"]["code"] == "WaitTimeoutError"
    assert cli("status", job_id, "--json").json()["status"] == "QUEUED"


def test_submit_wait_saves_the_result(
    berth_system: BerthSystem, cli: RunCli, program: Path, tmp_path: Path
) -> None:
    agent = agent_in_background(berth_system)
    out_file = tmp_path / "result.json"
    ran = cli(
        "submit", str(program), "--backend", "emulator", "--wait", "-o", str(out_file), "--json"
    )
    agent.join(10)
    assert ran.code == 0, ran.err
    info = ran.json()
    assert info["status"] == "COMPLETED"
    assert info["result_file"] == str(out_file)
    assert out_file.read_bytes() == RESULT


def test_submit_wait_prints_the_id_then_plain_progress_lines(
    berth_system: BerthSystem, cli: RunCli, program: Path, tmp_path: Path
) -> None:
    agent = agent_in_background(berth_system, FAILURE, "calibration drifted")
    out_file = tmp_path / "result.json"
    ran = cli("submit", str(program), "--backend", "emulator", "--wait", "-o", str(out_file))
    agent.join(10)
    assert ran.code == 1
    job_id, *progress = ran.out.splitlines()
    assert progress and all(line.startswith(f"job {job_id}: ") for line in progress)
    assert "FAILED: calibration drifted" in progress[-1]
    assert not out_file.exists()
