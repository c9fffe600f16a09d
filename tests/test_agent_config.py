"""Agent options: flags, their environment variables, and one clear line when something is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from executor_agent.__main__ import main
from executor_agent.config import ConfigError, parse_config
from executor_agent.token_file import TokenFile, TokenFileError, token_id

BASE = ["--scheduler", "sched.example:8081", "--backend", "qpu", "--token-file", "/t"]


def test_flags_and_the_command_after_double_dash() -> None:
    config = parse_config([*BASE, "--slots", "2", "--", "python3", "run.py", "{input}"], {})
    assert config.scheduler == "sched.example:8081"
    assert config.backend == "qpu"
    assert config.token_file == Path("/t")
    assert config.runner == "command"
    assert config.slots == 2
    assert config.command == ("python3", "run.py", "{input}")
    assert config.grace_seconds == 60.0
    assert config.log_limit_bytes == 1024 * 1024


def test_every_option_can_come_from_the_environment() -> None:
    environ = {
        "BERTH_AGENT_SCHEDULER": "10.0.0.5:8081",
        "BERTH_AGENT_BACKEND": "emulator",
        "BERTH_AGENT_TOKEN_FILE": "/etc/berth/token",
        "BERTH_AGENT_RUNNER": "docker",
        "BERTH_AGENT_DOCKER_ALLOWED_IMAGES": "ghcr.io/lab/*, quay.io/x/y:1",
        "BERTH_AGENT_KEEP_CONTAINERS": "true",
        "BERTH_AGENT_GRACE": "5",
        "BERTH_AGENT_LOG_FORMAT": "json",
        "BERTH_AGENT_AGENT_ID": "gpu-box-7",
    }
    config = parse_config([], environ)
    assert config.runner == "docker"
    assert config.docker.allowed_images == ("ghcr.io/lab/*", "quay.io/x/y:1")
    assert config.docker.keep_containers is True
    assert config.grace_seconds == 5.0
    assert config.log_format == "json"
    assert config.slot_agent_id(1) == "gpu-box-7-slot1"


def test_a_flag_beats_its_environment_variable() -> None:
    config = parse_config(
        [*BASE, "--grace", "3", "--", "cat"], {"BERTH_AGENT_GRACE": "99", "BERTH_AGENT_SLOTS": "4"}
    )
    assert config.grace_seconds == 3.0
    assert config.slots == 4


def test_command_from_the_environment_is_split_like_a_shell() -> None:
    config = parse_config(BASE, {"BERTH_AGENT_COMMAND": "python3 'my prog.py' {input}"})
    assert config.command == ("python3", "my prog.py", "{input}")


def test_gpus_are_shared_out_to_slots() -> None:
    one_each = parse_config([*BASE, "--gpus", "0,1", "--", "cat"], {})
    assert one_each.slots == 2
    assert [one_each.slot_gpus(i) for i in range(2)] == [("0",), ("1",)]
    two_each = parse_config([*BASE, "--gpus", "0,1,2,3", "--slots", "2", "--", "cat"], {})
    assert [two_each.slot_gpus(i) for i in range(2)] == [("0", "1"), ("2", "3")]
    with pytest.raises(ConfigError, match="cannot be shared equally"):
        parse_config([*BASE, "--gpus", "0,1,2", "--slots", "2", "--", "cat"], {})


def test_default_agent_ids_are_distinct_per_slot() -> None:
    config = parse_config([*BASE, "--slots", "2", "--", "cat"], {})
    first, second = config.slot_agent_id(0), config.slot_agent_id(1)
    assert first != second
    assert first.endswith("-slot0") and second.endswith("-slot1")


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([*BASE[2:], "--", "cat"], {}, "--scheduler (or BERTH_AGENT_SCHEDULER) is required"),
        ([*BASE, "--slots", "zero", "--", "cat"], {}, "--slots: "),
        (BASE, {"BERTH_AGENT_SLOTS": "-1", "BERTH_AGENT_COMMAND": "cat"}, "BERTH_AGENT_SLOTS: "),
        ([*BASE, "--runner", "ssh", "--", "cat"], {}, "must be one of command, python, docker"),
        (BASE, {}, "--runner command needs a program"),
        ([*BASE, "--runner", "python"], {}, "--python-function"),
        ([*BASE, "--runner", "docker"], {}, "--docker-image"),
        (["--scheduler", "nohostport", *BASE[2:], "--", "cat"], {}, "HOST:PORT"),
        ([*BASE, "--bogus", "--", "cat"], {}, "unrecognized arguments"),
    ],
)
def test_bad_options_name_what_to_fix(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(argv, environ)
    assert message in str(caught.value)


def test_a_bad_option_is_one_line_on_stderr_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--slots", "0", "--", "cat"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("berth-agent: error: --slots")


def test_a_missing_token_file_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    argv = ["--scheduler", "127.0.0.1:1", "--backend", "qpu", "--token-file", str(missing)]
    assert main([*argv, "--", "cat"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot read token file {missing}" in err


def test_token_file_holds_a_token_or_the_dev_tokens_json(tmp_path: Path) -> None:
    plain = tmp_path / "token"
    plain.write_text("  secret-executor-token\n")
    assert TokenFile(plain).token() == "secret-executor-token"
    dev = tmp_path / "dev-tokens.json"
    dev.write_text(json.dumps({"developer": "dev-token", "executor": "exec-token"}))
    assert TokenFile(dev).token() == "exec-token"
    no_executor = tmp_path / "clients.json"
    no_executor.write_text(json.dumps({"developer": "dev-token"}))
    with pytest.raises(TokenFileError, match="no 'executor' entry"):
        TokenFile(no_executor)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(TokenFileError, match="is empty"):
        TokenFile(empty)


def test_a_rotated_token_file_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("old-token")
    tokens = TokenFile(path)
    path.write_text("the-new-token")
    assert tokens.token() == "the-new-token"


def test_token_id_does_not_reveal_the_token() -> None:
    assert "secret" not in token_id("secret-token")
    assert len(token_id("secret-token")) == 8
