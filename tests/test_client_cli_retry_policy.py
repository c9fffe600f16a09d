"""`berth submit --max-attempts/--retry-on-failure` and the attempts `berth status` shows."""

from __future__ import annotations

from pathlib import Path

from tests.agent_helpers import FAILURE, run_one_job
from tests.berth_system import BerthSystem
from tests.client_harness import RunCli, submit_id

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`


def test_a_failed_run_is_retried_and_status_shows_both_attempts(
    cli: RunCli, program: Path, berth_system: BerthSystem
) -> None:
    job_id = submit_id(cli, program, "--retry-on-failure", "--max-attempts", "2")
    address, token = berth_system.execution_address, berth_system.tokens["executor"]
    assert run_one_job(address, token, "emulator", b"", FAILURE, error="glitch", agent_id="a-1")
    assert run_one_job(address, token, "emulator", b"result", agent_id="a-2") == job_id
    info = cli("status", job_id, "--json").json()
    assert info["status"] == "COMPLETED"
    assert (info["max_attempts"], info["retry_on_failure"]) == (2, True)
    shown = [(a["number"], a["agent_id"], a["outcome"]) for a in info["attempts"]]
    assert shown == [(1, "a-1", "FAILED_RETRIED"), (2, "a-2", "COMPLETED")]
    human = cli("status", job_id).out
    assert "1. a-1" in human and "FAILED_RETRIED" in human and "2. a-2" in human


def test_more_attempts_than_the_scheduler_allows_are_refused(cli: RunCli, program: Path) -> None:
    ran = cli("submit", str(program), "--backend", "emulator", "--max-attempts", "99")
    assert ran.code != 0
    assert "SCHEDULER_MAX_ATTEMPTS" in ran.err and "max_attempts is 99" in ran.err
