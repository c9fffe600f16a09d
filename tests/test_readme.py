"""README stays true to the code: every option documented, the test command CI's own."""

from __future__ import annotations

import re
from pathlib import Path

from executor_agent import config as agent_config
from scheduler import config as scheduler_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_scheduler_flag_and_variable_is_documented() -> None:
    missing = [
        name
        for option in scheduler_config._options()
        for name in (*option.flags, option.env)
        if name and name not in README
    ]
    assert not missing, f"README does not mention {missing}"


def test_every_agent_flag_and_variable_is_documented() -> None:
    missing = [
        name
        for option in agent_config._OPTIONS
        for name in (option.flag, option.env)
        if name not in README
    ]
    assert not missing, f"README does not mention {missing}"


def test_readme_test_command_is_what_ci_runs() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.DOTALL)
    test_command = next(block for block in blocks if block.endswith("pipenv run pytest"))
    assert test_command in ci_lines, "README's test command must be a line of .ci/run, verbatim"
