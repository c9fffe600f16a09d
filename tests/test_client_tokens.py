"""Where the token comes from, for the library and the CLI, checked against a real scheduler.

The role a call ran with is visible to the user as the longest timeout
`service-status` grants (admin 1 h, developer 10 min, guest 5 min), so each
test gives the candidate places tokens of different roles and reads back which
one was used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduler_client import Client, NoTokenError, resolve_token
from scheduler_client.cli.connection import DEFAULT_ADDRESS
from scheduler_client.cli.main import build_parser
from tests.berth_system import BerthSystem
from tests.client_harness import ROLE_MAX_TIMEOUT_S, RunCli, write_program

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home directory and no BERTH_* variables."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("BERTH_TOKEN", raising=False)
    monkeypatch.delenv("BERTH_ADDRESS", raising=False)
    return tmp_path


def write_config_token(home: Path, text: str) -> None:
    path = home / ".config" / "berth" / "token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def cli_role(cli: RunCli, system: BerthSystem, *options: str) -> str:
    """The role the CLI's call ran with, given only `options` and the environment."""
    ran = cli(
        "--address",
        system.submission_address,
        *options,
        "service-status",
        "emulator",
        "--json",
        connect=False,
    )
    assert ran.code == 0, ran.err
    return _role_of(ran.json()["role_max_timeout_s"])


def _role_of(max_timeout_s: float) -> str:
    return {seconds: role for role, seconds in ROLE_MAX_TIMEOUT_S.items()}[max_timeout_s]


# --- the library --------------------------------------------------------------------------


def test_library_token_order_argument_then_environment_then_file(
    berth_system: BerthSystem, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = berth_system.tokens

    def role(token: str | None = None) -> str:
        with Client(berth_system.submission_address, token) as client:
            return _role_of(client.service_status("emulator").role_max_timeout_s)

    write_config_token(home, tokens["guest"] + "\n")
    assert role() == "guest"
    monkeypatch.setenv("BERTH_TOKEN", tokens["developer"])
    assert role() == "developer"
    assert role(tokens["admin"]) == "admin"


def test_config_token_file_may_be_the_dev_tokens_json(home: Path) -> None:
    write_config_token(home, json.dumps({"developer": "dev-token", "admin": "admin-token"}))
    assert resolve_token() == "dev-token"
    assert resolve_token(role="admin") == "admin-token"
    with pytest.raises(NoTokenError, match="no entry for role 'guest'"):
        resolve_token(role="guest")


def test_missing_token_says_where_it_looked(home: Path) -> None:
    with pytest.raises(NoTokenError, match="BERTH_TOKEN") as caught:
        Client("localhost:1")
    assert ".config/berth/token" in str(caught.value)


# --- the command line ---------------------------------------------------------------------


def test_cli_token_order(
    berth_system: BerthSystem,
    cli: RunCli,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--token, then --token-file, then $BERTH_TOKEN, then ~/.config/berth/token."""
    tokens = berth_system.tokens
    write_config_token(home, tokens["guest"])
    assert cli_role(cli, berth_system) == "guest"

    monkeypatch.setenv("BERTH_TOKEN", tokens["developer"])
    assert cli_role(cli, berth_system) == "developer"

    plain = tmp_path / "admin-token"
    plain.write_text(tokens["admin"] + "\n")
    assert cli_role(cli, berth_system, "--token-file", str(plain)) == "admin"

    assert (
        cli_role(cli, berth_system, "--token", tokens["guest"], "--token-file", str(plain))
        == "guest"
    )


def test_cli_dev_tokens_file_with_role(berth_system: BerthSystem, cli: RunCli, home: Path) -> None:
    dev_file = str(berth_system.tokens_file)
    assert cli_role(cli, berth_system, "--token-file", dev_file) == "developer"
    assert cli_role(cli, berth_system, "--token-file", dev_file, "--role", "admin") == "admin"
    # --role may also come after the command, like every connection option.
    ran = cli(
        "--address",
        berth_system.submission_address,
        "service-status",
        "emulator",
        "--token-file",
        dev_file,
        "--role",
        "guest",
        "--json",
        connect=False,
    )
    assert ran.code == 0 and _role_of(ran.json()["role_max_timeout_s"]) == "guest"

    missing = cli("--token-file", dev_file, "--role", "auditor", "list", connect=False)
    assert missing.code == 3
    assert "no entry for role 'auditor'" in missing.err and "developer" in missing.err


def test_cli_config_token_file_may_be_the_dev_tokens_json(
    berth_system: BerthSystem, cli: RunCli, home: Path
) -> None:
    write_config_token(home, berth_system.tokens_file.read_text())
    assert cli_role(cli, berth_system) == "developer"
    assert cli_role(cli, berth_system, "--role", "guest") == "guest"


def test_cli_address_defaults(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_parser().parse_args(["list"]).address == DEFAULT_ADDRESS == "localhost:8082"
    monkeypatch.setenv("BERTH_ADDRESS", "scheduler.example:9000")
    assert build_parser().parse_args(["list"]).address == "scheduler.example:9000"
    given = build_parser().parse_args(["list", "--address", "other:1"])
    assert given.address == "other:1"


def test_cli_address_and_token_from_the_environment(
    berth_system: BerthSystem, cli: RunCli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_ADDRESS", berth_system.submission_address)
    monkeypatch.setenv("BERTH_TOKEN", berth_system.tokens["guest"])
    program = write_program(home)
    ran = cli("submit", str(program), "--backend", "emulator", "--json", connect=False)
    assert ran.code == 0, ran.err
    assert ran.json()["owner_name"] == "dev-guest"
