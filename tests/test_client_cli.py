"""`python -m scheduler_client` against a real scheduler: each command, as text and --json."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from berth_common.times import parse_duration
from tests.agent_helpers import CANCELLED, ManualAgent
from tests.berth_system import BerthSystem
from tests.client_harness import ROOT, RunCli, agent_runs_next_job, submit_id

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`


# --- submit and status --------------------------------------------------------------------


def test_submit_prints_the_job_id_and_status_shows_its_settings(cli: RunCli, program: Path) -> None:
    job_id = submit_id(
        cli, program, "--shots", "42", "--timeout", "5m", "--param", "seed=7", "--param", "a=b=c"
    )
    assert job_id and "\n" not in job_id

    ran = cli("status", job_id, "--json")
    assert ran.code == 0
    info = ran.json()
    assert info["job_id"] == job_id
    assert info["status"] == "QUEUED" and info["queue_position"] == 1
    assert (info["backend"], info["format"], info["n_shots"]) == ("emulator", "qasm3", 42)
    assert info["timeout_s"] == 300
    assert info["parameters"] == {"seed": "7", "a": "b=c"}
    assert info["timestamps"]["submitted_at"] and info["timestamps"]["finished_at"] is None

    human = cli("status", job_id)
    assert human.code == 0
    assert job_id in human.out and "QUEUED (position 1)" in human.out


def test_submit_json_prints_the_queued_job(cli: RunCli, program: Path) -> None:
    ran = cli("--json", "submit", str(program), "--backend", "qpu", "--format", "qasm3")
    assert ran.code == 0
    info = ran.json()
    assert info["status"] == "QUEUED" and info["backend"] == "qpu"


def test_submit_from_stdin_with_explicit_format(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"\x00binary program"))
    monkeypatch.setattr(sys, "stdin", stdin)
    ran = cli("submit", "-", "--backend", "emulator", "--format", "python-wheel", "--json")
    assert ran.code == 0
    assert ran.json()["input_bytes"] == len(b"\x00binary program")


# --- result and cancel --------------------------------------------------------------------


def test_result_to_a_file_to_stdout_and_as_json(
    berth_system: BerthSystem, cli: RunCli, program: Path, tmp_path: Path
) -> None:
    binary = bytes(range(256))  # not text: every byte must arrive unchanged
    job_id = submit_id(cli, program)
    agent_runs_next_job(berth_system, result=binary)

    out_file = tmp_path / "out.bin"
    ran = cli("result", job_id, "-o", str(out_file))
    assert ran.code == 0 and out_file.read_bytes() == binary
    assert ran.out == f"saved 256 bytes to {out_file}\n"

    assert cli("result", job_id).raw == binary
    assert cli("result", job_id, "-o", "-").raw == binary

    document = cli("result", job_id, "--json").json()
    assert document == {
        "job_id": job_id,
        "bytes": 256,
        "path": None,
        "result_base64": base64.b64encode(binary).decode(),
    }
    document = cli("result", job_id, "-o", str(out_file), "--json").json()
    assert document == {"job_id": job_id, "bytes": 256, "path": str(out_file)}


def test_cancel_a_queued_job_then_again(cli: RunCli, program: Path) -> None:
    job_id = submit_id(cli, program)
    ran = cli("cancel", job_id, "--json")
    assert ran.code == 0
    assert ran.json() == {"job_id": job_id, "status": "CANCELLED", "cancel_requested": False}
    again = cli("cancel", job_id)
    assert again.code == 1 and "FAILED_PRECONDITION" in again.err
    human = cli("wait", job_id)
    assert human.code == 1 and "CANCELLED" in human.out


def test_cancel_a_running_job(berth_system: BerthSystem, cli: RunCli, program: Path) -> None:
    job_id = submit_id(cli, program)
    with ManualAgent(berth_system.execution_address, berth_system.tokens["executor"]) as agent:
        assigned = agent.assign("emulator")
        ran = cli("cancel", job_id, "--json")
        assert ran.code == 0
        assert ran.json() == {"job_id": job_id, "status": "RUNNING", "cancel_requested": True}
        assert "RUNNING (cancel requested)" in cli("status", job_id).out
        assert "cancel requested" in cli("cancel", job_id).out  # asking again is harmless
        assert agent.heartbeat(job_id).cancel_requested
        agent.finish(assigned, outcome=CANCELLED, error="stopped on request")
    assert cli("status", job_id, "--json").json()["status"] == "CANCELLED"


# --- list and service-status --------------------------------------------------------------


def test_list_as_table_and_json(cli: RunCli, program: Path) -> None:
    first, second, third = (submit_id(cli, program) for _ in range(3))
    assert cli("cancel", second).code == 0

    table = cli("list")
    assert table.code == 0
    header, *rows = table.out.splitlines()
    assert header.split()[:4] == ["JOB", "ID", "STATUS", "BACKEND"]
    assert [row.split()[0] for row in rows] == [third, second, first]

    listed = cli("list", "--json").json()
    assert [job["job_id"] for job in listed] == [third, second, first]
    assert cli("list", "--limit", "2", "--json").json()[1]["job_id"] == second
    cancelled = cli("list", "--status", "cancelled", "--json").json()
    assert [(job["job_id"], job["status"]) for job in cancelled] == [(second, "CANCELLED")]
    assert cli("list", "--status", "completed").out.strip() == "no jobs"


def test_service_status(cli: RunCli, program: Path) -> None:
    submit_id(cli, program)
    ran = cli("service-status", "emulator", "--json")
    assert ran.code == 0
    assert ran.json() == {
        "backend": "emulator",
        "availability": "available",
        "description": ran.json()["description"],
        "queue_length": 1,
        "role_max_timeout_s": 600.0,
        "serving": True,
    }
    human = cli("service-status", "emulator")
    assert human.out.startswith("emulator: available")
    assert "queue length: 1" in human.out
    assert "scheduler: serving" in human.out


def test_limits_show_the_roles_limits_and_the_callers_jobs(cli: RunCli, program: Path) -> None:
    submit_id(cli, program)
    submit_id(cli, program)
    ran = cli("limits", "--json")
    assert ran.code == 0
    assert ran.json() == {
        "role": "developer",
        "active_jobs": 2,
        "running_jobs": 0,
        "max_concurrent_jobs": 10,
        "max_job_bytes": 10 * 1024 * 1024,
        "max_timeout_s": 600.0,
        "rate_limit_per_second": 100.0,
    }
    human = cli("limits").out.splitlines()
    assert human[:2] == [
        "role: developer",
        "jobs queued, waiting or running: 2 of 10 (2 queued or waiting, 0 running)",
    ]


# --- the module entry point and durations ----------------------------------------------


def test_module_entry_point(berth_system: BerthSystem) -> None:
    """`python -m scheduler_client` in a fresh process, as a user types it."""
    env = {**os.environ, "BERTH_ADDRESS": berth_system.submission_address}
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "scheduler_client",
            "service-status",
            "qpu",
            "--token-file",
            str(berth_system.tokens_file),
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["availability"] == "available"
    helped = subprocess.run(
        [sys.executable, "-m", "scheduler_client", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0 and "exit codes" in helped.stdout


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("60s", 60), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("1.5s", 1.5)],
)
def test_durations_as_people_type_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "5 parsecs", "m5", "-3s"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="60s"):
        parse_duration(text)
