"""Exit codes, as scripts rely on them: 0 done, 1 job not COMPLETED, 2 usage, 3 auth,
4 not found, 5 unavailable (1 and 6 for `wait` are in test_client_cli_wait.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from scheduler.admin.cli import main as admin_main
from scheduler_client.cli.main import build_parser, main
from tests.agent_helpers import FAILURE
from tests.berth_system import BerthSystem
from tests.client_harness import RunCli, agent_runs_next_job, closed_port, submit_id
from token_database.token_info import TokenInfo, generate_token, hash_token
from token_database.token_store import DynamoDbTokenStore

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`


def test_exit_codes_are_documented_in_help() -> None:
    text = build_parser().format_help()
    for documented in ("0 done", "1 job ended not COMPLETED", "2 usage", "3 auth"):
        assert documented in text
    for documented in ("4 not found", "5 unavailable"):
        assert documented in text


def test_a_job_that_did_not_complete_exits_1(
    berth_system: BerthSystem, cli: RunCli, program: Path
) -> None:
    job_id = submit_id(cli, program)
    not_yet = cli("result", job_id, "--json")
    assert not_yet.code == 1 and not_yet.json()["error"]["code"] == "FAILED_PRECONDITION"
    agent_runs_next_job(berth_system, FAILURE, "qubit 3 is not calibrated")
    assert cli("status", job_id).code == 0  # asking about a failed job is fine
    failed = cli("result", job_id)
    assert failed.code == 1 and "FAILED_PRECONDITION" in failed.err
    finished = cli("cancel", job_id)
    assert finished.code == 1 and "FAILED_PRECONDITION" in finished.err


@pytest.mark.parametrize(
    "args",
    [
        ["submit", "missing-backend.qasm"],
        ["submit", "prog.qasm", "--backend", "emulator", "--timeout", "5 parsecs"],
        ["wait"],
        ["frobnicate"],
    ],
)
def test_bad_command_lines_exit_2(
    args: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(args) == 2
    err = capsysbinary.readouterr().err
    assert b"error: " in err and b"--help)" in err and err.count(b"\n") == 1


def test_usage_errors_found_after_parsing_exit_2(
    cli: RunCli, program: Path, tmp_path: Path
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
    cli: RunCli,
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


def test_an_expired_token_exits_3_without_echoing_it(
    berth_system: BerthSystem, cli: RunCli, program: Path
) -> None:
    token = generate_token()
    store = DynamoDbTokenStore(berth_system.aws_client("dynamodb"), berth_system.names.token_table)
    now = int(time.time())
    # As the token database holds a token whose time is up (TTL deletes it later).
    store.put_new(TokenInfo(hash_token(token), "lapsed", "developer", now - 7200, now - 60))
    address = ["--address", berth_system.submission_address, "--token", token]
    ran = cli(*address, "submit", str(program), "--backend", "emulator", "--json", connect=False)
    assert ran.code == 3
    error = ran.json()["error"]
    assert (error["code"], error["exit_code"]) == ("UNAUTHENTICATED", 3)
    assert "expired" in error["message"]
    assert token not in ran.out + ran.err


def test_a_backend_in_maintenance_exits_5_with_the_operators_reason(
    berth_system: BerthSystem,
    cli: RunCli,
    program: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    set_backend = ["set-backend", "emulator", "--status", "maintenance", "--description", "Cooling"]
    connection = ["--address", berth_system.submission_address]
    assert (
        admin_main([*connection, "--token-file", str(berth_system.tokens_file), *set_backend]) == 0
    )
    capsysbinary.readouterr()  # the admin CLI's own output
    ran = cli("submit", str(program), "--backend", "emulator", "--json")
    assert ran.code == 5
    error = ran.json()["error"]
    assert (error["code"], error["exit_code"]) == ("UNAVAILABLE", 5)
    assert error["message"] == "backend 'emulator' is maintenance for role developer: Cooling"


def test_unknown_job_exits_4(cli: RunCli) -> None:
    for command in ("status", "wait", "result", "cancel"):
        ran = cli(command, "no-such-job", "--json")
        assert ran.code == 4, command
        assert ran.json()["error"]["code"] == "NOT_FOUND"


def test_unreachable_scheduler_exits_5(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    address = f"127.0.0.1:{closed_port()}"
    assert main(["--address", address, "--token", "t", "list", "--json"]) == 5
    captured = capsysbinary.readouterr()
    assert b"UNAVAILABLE" in captured.err
    error = json.loads(captured.out)["error"]
    assert (error["code"], error["exit_code"]) == ("UNAVAILABLE", 5) and error["message"]
