"""A job's log: `berth log ID [-o FILE] [--follow]` and `Job.log()`."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from scheduler_client import Client, FailedPreconditionError
from scheduler_client.job import Job
from tests.agent_helpers import FAILURE, ManualAgent
from tests.berth_system import BerthSystem
from tests.client_harness import RunCli, agent_runs_next_job, submit_id

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`

LOG = b"calibrating qubit 0\nqubit 3 is not calibrated\n"


def test_the_log_of_an_ended_job_to_stdout_and_to_a_file(
    berth_system: BerthSystem, cli: RunCli, program: Path, tmp_path: Path
) -> None:
    job_id = submit_id(cli, program)
    agent_runs_next_job(berth_system, FAILURE, "qubit 3 is not calibrated", log=LOG)
    printed = cli("log", job_id)
    assert (printed.code, printed.raw) == (0, LOG)
    saved = cli("log", job_id, "-o", str(tmp_path / "job.log"))
    assert saved.code == 0 and (tmp_path / "job.log").read_bytes() == LOG
    assert saved.out == f"saved {len(LOG)} bytes to {tmp_path / 'job.log'}\n"


def test_a_queued_job_has_no_log_yet_and_the_error_says_to_follow(
    cli: RunCli, program: Path
) -> None:
    job_id = submit_id(cli, program)
    ran = cli("log", job_id)
    assert ran.code == 1
    assert "its log is uploaded when it ends (add --follow to wait for it)" in ran.err


def test_follow_waits_while_the_job_runs_then_prints_its_log(
    berth_system: BerthSystem,
    cli: RunCli,
    program: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = submit_id(cli, program)
    waiting = threading.Event()
    wait = Job.wait

    def wait_noticed(job: Job, *args: object, **kwargs: object) -> object:
        waiting.set()
        return wait(job, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Job, "wait", wait_noticed)
    with ManualAgent(berth_system.execution_address, berth_system.tokens["executor"]) as agent:
        assigned = agent.assign("emulator")  # RUNNING from here

        def finish_once_followed() -> None:
            waiting.wait(30)
            agent.finish(assigned, b"{}", log=LOG)

        finisher = threading.Thread(target=finish_once_followed)
        finisher.start()
        ran = cli("log", job_id, "--follow")
        finisher.join(30)
    assert ran.code == 0, ran.err
    assert ran.raw == LOG
    assert "RUNNING" in ran.err or "COMPLETED" in ran.err  # progress goes to stderr


def test_job_log_in_the_library(berth_system: BerthSystem) -> None:
    with Client(berth_system.submission_address, berth_system.tokens["developer"]) as client:
        job = client.submit(b"OPENQASM 3;", format="qasm3", backend="emulator")
        with pytest.raises(FailedPreconditionError, match="uploaded when it ends"):
            job.log()
        agent_runs_next_job(berth_system, log=LOG)
        job.wait(timeout=30)
        assert job.log() == LOG
