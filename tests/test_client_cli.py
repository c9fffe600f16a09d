"""`python -m scheduler_client` against a real scheduler: output, --json, exit codes."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from scheduler_client.cli.live_status import Progress
from scheduler_client.cli.main import main
from scheduler_client.durations import parse_duration
from scheduler_client.job_info import JobInfo, JobStatus
from tests.agent_helpers import (
    CANCELLED,
    FAILURE,
    SUCCESS,
    TIMEOUT,
    ManualAgent,
    Outcome,
    run_one_job,
)
from tests.berth_system import BerthSystem

ROOT = Path(__file__).resolve().parent.parent
RESULT = b'{"counts": {"00": 7, "11": 3}}'


class Ran(NamedTuple):
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "bell.qasm"
    path.write_text("OPENQASM 3; qubit[2] q; h q[0]; cx q[0], q[1];")
    return path


@pytest.fixture
def cli(
    berth_system: BerthSystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Ran]:
    """Run the CLI in-process as the developer of the dev-tokens file."""
    monkeypatch.delenv("BERTH_TOKEN", raising=False)
    monkeypatch.delenv("BERTH_ADDRESS", raising=False)

    def run(*args: str, connect: bool = True) -> Ran:
        prefix = (
            [
                "--address",
                berth_system.submission_address,
                "--token-file",
                str(berth_system.tokens_file),
            ]
            if connect
            else []
        )
        code = main([*prefix, *args])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def agent_in_background(
    system: BerthSystem, outcome: Outcome = SUCCESS, error: str = ""
) -> threading.Thread:
    """An agent that long-polls for the next emulator job and ends it with `outcome`."""
    thread = threading.Thread(
        target=run_one_job,
        args=(system.execution_address, system.tokens["executor"], "emulator", RESULT, outcome),
        kwargs={"error": error},
        daemon=True,
    )
    thread.start()
    return thread


def submit_id(cli: Callable[..., Ran], program: Path, *extra: str) -> str:
    ran = cli("submit", str(program), "--backend", "emulator", *extra)
    assert ran.code == 0, ran.err
    return ran.out.strip()


# --- submit and status --------------------------------------------------------------------


def test_submit_prints_the_job_id_and_status_shows_its_settings(
    cli: Callable[..., Ran], program: Path
) -> None:
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


def test_submit_json_prints_the_queued_job(cli: Callable[..., Ran], program: Path) -> None:
    ran = cli("--json", "submit", str(program), "--backend", "qpu", "--format", "qasm3")
    assert ran.code == 0
    info = ran.json()
    assert info["status"] == "QUEUED" and info["backend"] == "qpu"


def test_submit_wait_saves_the_result(
    berth_system: BerthSystem, cli: Callable[..., Ran], program: Path, tmp_path: Path
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
    assert info["result_raw_bytes"] == len(RESULT)
    assert out_file.read_bytes() == RESULT


def test_submit_wait_prints_plain_progress_lines(
    berth_system: BerthSystem, cli: Callable[..., Ran], program: Path
) -> None:
    agent = agent_in_background(berth_system, FAILURE, "calibration drifted")
    ran = cli("submit", str(program), "--backend", "emulator", "--wait")
    agent.join(10)
    assert ran.code == 1
    lines = ran.out.splitlines()
    job_id = lines[0]
    assert all(line.startswith(f"job {job_id}: ") for line in lines[1:])
    assert "FAILED: calibration drifted" in lines[-1]


def test_submit_from_stdin_with_explicit_format(
    cli: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"\x00binary program"))
    monkeypatch.setattr(sys, "stdin", stdin)
    ran = cli("submit", "-", "--backend", "emulator", "--format", "python-wheel", "--json")
    assert ran.code == 0
    assert ran.json()["input_bytes"] == len(b"\x00binary program")


# --- wait ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "exit_code"),
    [
        (SUCCESS, "COMPLETED", 0),
        (FAILURE, "FAILED", 1),
        (TIMEOUT, "TIMEOUT", 1),
    ],
)
def test_wait_ends_with_the_jobs_final_status(
    berth_system: BerthSystem,
    cli: Callable[..., Ran],
    program: Path,
    outcome: Outcome,
    status: str,
    exit_code: int,
) -> None:
    job_id = submit_id(cli, program)
    agent = agent_in_background(berth_system, outcome, "" if outcome == SUCCESS else "ended")
    ran = cli("wait", job_id, "--json")
    agent.join(10)
    assert ran.code == exit_code
    info = ran.json()
    assert (info["job_id"], info["status"]) == (job_id, status)
    assert info["timestamps"]["finished_at"]


def test_wait_on_a_job_cancelled_while_running(
    berth_system: BerthSystem, cli: Callable[..., Ran], program: Path
) -> None:
    job_id = submit_id(cli, program)
    with ManualAgent(berth_system.execution_address, berth_system.tokens["executor"]) as agent:
        assigned = agent.assign("emulator")
        ran = cli("cancel", job_id, "--json")
        assert ran.code == 0
        assert ran.json() == {"job_id": job_id, "status": "RUNNING", "cancel_requested": True}
        assert agent.heartbeat(job_id).cancel_requested
        agent.finish(assigned, outcome=CANCELLED, error="stopped on request")
    ran = cli("wait", job_id)
    assert ran.code == 1
    assert f"job {job_id}: CANCELLED" in ran.out


def test_wait_timeout_exits_6_and_the_job_keeps_going(
    cli: Callable[..., Ran], program: Path
) -> None:
    job_id = submit_id(cli, program)
    ran = cli("wait", job_id, "--timeout", "0.3s", "--json")
    assert ran.code == 6
    assert ran.json()["error"]["code"] == "WaitTimeoutError"
    assert cli("status", job_id, "--json").json()["status"] == "QUEUED"


def test_live_status_line_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    with Progress(terminal) as progress:
        assert progress.live
        progress.update(JobInfo(job_id="j1", status=JobStatus.QUEUED, queue_position=2))
        progress.update(JobInfo(job_id="j1", status=JobStatus.RUNNING))
    text = terminal.getvalue()
    assert "\r\x1b[2Kjob j1: QUEUED (position 2)" in text
    assert text.endswith("job j1: RUNNING, elapsed -\n")
    assert text.count("\n") == 1  # one line, redrawn in place


# --- result and cancel --------------------------------------------------------------------


def test_result_to_a_file_to_stdout_and_as_json(
    berth_system: BerthSystem,
    cli: Callable[..., Ran],
    program: Path,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    job_id = submit_id(cli, program)
    run_one_job(berth_system.execution_address, berth_system.tokens["executor"], "emulator", RESULT)

    out_file = tmp_path / "out.bin"
    ran = cli("result", job_id, "-o", str(out_file))
    assert ran.code == 0 and out_file.read_bytes() == RESULT

    ran = cli("result", job_id, "--json")
    document = ran.json()
    assert (document["job_id"], document["bytes"], document["path"]) == (job_id, len(RESULT), None)
    assert base64.b64decode(document["result_base64"]) == RESULT

    code = main(
        [
            "result",
            job_id,
            "--address",
            berth_system.submission_address,
            "--token-file",
            str(berth_system.tokens_file),
        ]
    )
    assert code == 0
    assert capsysbinary.readouterr().out == RESULT


def test_result_of_an_unfinished_job_exits_1(cli: Callable[..., Ran], program: Path) -> None:
    job_id = submit_id(cli, program)
    ran = cli("result", job_id, "--json")
    assert ran.code == 1
    assert ran.json()["error"]["code"] == "FAILED_PRECONDITION"
    assert "FAILED_PRECONDITION" in ran.err


def test_cancel_a_queued_job_then_again(cli: Callable[..., Ran], program: Path) -> None:
    job_id = submit_id(cli, program)
    ran = cli("cancel", job_id, "--json")
    assert ran.code == 0
    assert ran.json() == {"job_id": job_id, "status": "CANCELLED", "cancel_requested": False}
    again = cli("cancel", job_id)
    assert again.code == 1 and "FAILED_PRECONDITION" in again.err
    human = cli("wait", job_id)
    assert human.code == 1 and "CANCELLED" in human.out


# --- list and service-status --------------------------------------------------------------


def test_list_as_table_and_json(cli: Callable[..., Ran], program: Path) -> None:
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


def test_service_status(cli: Callable[..., Ran], program: Path) -> None:
    submit_id(cli, program)
    ran = cli("service-status", "emulator", "--json")
    assert ran.code == 0
    assert ran.json() == {
        "backend": "emulator",
        "availability": "available",
        "description": ran.json()["description"],
        "queue_length": 1,
        "role_max_timeout_s": 600.0,
    }
    human = cli("service-status", "emulator")
    assert human.out.startswith("emulator: available")
    assert "queue length: 1" in human.out


# --- exit codes and connection options ----------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["submit", "missing-backend.qasm"],
        ["submit", "prog.qasm", "--backend", "emulator", "--timeout", "5 parsecs"],
        ["wait"],
        ["frobnicate"],
    ],
)
def test_bad_command_lines_exit_2(cli: Callable[..., Ran], args: list[str]) -> None:
    assert cli(*args).code == 2


def test_usage_errors_found_after_parsing_exit_2(
    cli: Callable[..., Ran], program: Path, tmp_path: Path
) -> None:
    bad_param = cli("submit", str(program), "--backend", "emulator", "--param", "novalue")
    assert bad_param.code == 2 and "KEY=VALUE" in bad_param.err
    unknown_format = tmp_path / "program.bin"
    unknown_format.write_bytes(b"x")
    assert cli("submit", str(unknown_format), "--backend", "emulator").code == 2
    assert cli("submit", str(tmp_path / "absent.qasm"), "--backend", "emulator").code == 2
    rejected = cli("submit", str(program), "--backend", "no-such-backend", "--json")
    assert rejected.code == 2
    assert rejected.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_auth_failures_exit_3(
    berth_system: BerthSystem,
    cli: Callable[..., Ran],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = ["--address", berth_system.submission_address]
    bad = cli(*address, "--token", "wrong-token", "list", "--json", connect=False)
    assert bad.code == 3 and bad.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "wrong-token" not in bad.out + bad.err
    executor = cli(
        *address,
        "--token-file",
        str(berth_system.tokens_file),
        "--role",
        "executor",
        "list",
        connect=False,
    )
    assert executor.code == 3 and "PERMISSION_DENIED" in executor.err
    monkeypatch.setenv("HOME", str(tmp_path))
    no_token = cli(*address, "list", connect=False)
    assert no_token.code == 3 and "BERTH_TOKEN" in no_token.err


def test_unknown_job_exits_4(cli: Callable[..., Ran]) -> None:
    for command in ("status", "wait", "result", "cancel"):
        ran = cli(command, "no-such-job", "--json")
        assert ran.code == 4, command
        assert ran.json()["error"]["code"] == "NOT_FOUND"


def test_unreachable_scheduler_exits_5(cli: Callable[..., Ran]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ran = cli("--address", f"127.0.0.1:{port}", "--token", "t", "list", connect=False)
    assert ran.code == 5 and "UNAVAILABLE" in ran.err


def test_token_and_address_from_the_environment(
    berth_system: BerthSystem,
    cli: Callable[..., Ran],
    program: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BERTH_ADDRESS", berth_system.submission_address)
    monkeypatch.setenv("BERTH_TOKEN", berth_system.tokens["guest"])
    ran = cli("submit", str(program), "--backend", "emulator", "--json", connect=False)
    assert ran.code == 0 and ran.json()["owner_name"] == "dev-guest"
    # --token-file with a plain token wins over the environment.
    plain = tmp_path / "token"
    plain.write_text(berth_system.tokens["admin"] + "\n")
    ran = cli("--token-file", str(plain), "service-status", "qpu", "--json", connect=False)
    assert ran.code == 0 and ran.json()["role_max_timeout_s"] == 3600.0


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
