"""The docs stay true to the code: every option documented, none invented, CI's command shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from executor_agent import config as agent_config
from scheduler import config as scheduler_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

RUN_COMMAND = (
    "python3 -m pip install --user --quiet pipenv && python3 -m pipenv sync"
    " && python3 -m pipenv run python -m scheduler --dev"
)
TEST_COMMAND = (
    "python3 -m pip install --user --quiet pipenv && python3 -m pipenv sync --dev"
    " && python3 -m pipenv run python scripts/check.py"
)


def _section(page: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    start = page.index(f"\n## {heading}\n")
    end = page.find("\n## ", start + 1)
    return page[start : end if end != -1 else None]


def _table_names(section: str, name: str) -> set[str]:
    """Backticked flags and variables in the first two columns of the section's tables."""
    names: set[str] = set()
    for row in section.splitlines():
        cells = row.split("|")
        if row.startswith("| ") and len(cells) > 3:
            names.update(re.findall(rf"`({name})", cells[1] + cells[2]))
    return names


def _scheduler_names() -> set[str]:
    """Every flag the parser accepts and every SCHEDULER_* variable the loader reads."""
    names = {option.env for option in scheduler_config._options() if option.env}
    for action in scheduler_config.build_parser()._actions:
        names.update(flag for flag in action.option_strings if flag not in ("-h", "--help"))
        names.update(re.findall(r"SCHEDULER_\w+", action.help or ""))
    return names


def _agent_names() -> set[str]:
    return {name for option in agent_config._OPTIONS for name in (option.flag, option.env)}


@dataclass(frozen=True)
class OptionTables:
    """Where a program's options are documented, and which names it really has."""

    page: str
    heading: str
    pattern: str
    names: Callable[[], set[str]]

    def documented(self) -> set[str]:
        return _table_names(_section((ROOT / self.page).read_text(), self.heading), self.pattern)


TABLES = {
    "scheduler": OptionTables(
        "docs/operators/configuration.md",
        "Scheduler flags and variables",
        r"-{1,2}[a-z][\w-]*|SCHEDULER_\w+",
        _scheduler_names,
    ),
    "agent": OptionTables(
        "docs/hardware/agent.md", "Options", r"--[a-z][\w-]*|BERTH_AGENT_\w+", _agent_names
    ),
}


@pytest.mark.parametrize("program", TABLES)
def test_every_flag_and_variable_is_in_the_tables(program: str) -> None:
    tables = TABLES[program]
    missing = sorted(tables.names() - tables.documented())
    assert not missing, f"{tables.page}'s tables do not list {missing}"


@pytest.mark.parametrize("program", TABLES)
def test_the_tables_name_no_option_the_program_lacks(program: str) -> None:
    tables = TABLES[program]
    invented = sorted(tables.documented() - tables.names())
    assert not invented, f"{tables.page} lists unknown options {invented}"


def test_readme_shows_the_run_and_test_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.DOTALL)
    assert RUN_COMMAND in blocks
    assert TEST_COMMAND in blocks


@pytest.mark.skipif(
    not (ROOT / "scripts" / "check.py").exists(),
    reason="README's test command runs scripts/check.py, which this checkout does not have yet",
)
def test_readme_test_command_is_what_ci_runs() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert TEST_COMMAND in ci_lines, "README's test command must be a line of .ci/run, verbatim"
