"""The documented option tables say what the option declarations say.

Each declared option must have a table row naming its flags and variable whose
default column shows its default, and the tables may name no option the program
lacks, so a new, renamed or re-defaulted option cannot ship with stale docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from berth_common.options import Option, declared_options
from executor_agent.config import AgentConfig
from scheduler.config import SchedulerConfig
from token_database.cli import ServeOptions, StorageOptions

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class OptionTables:
    """Where a program's options are documented: a page's `## heading` section."""

    page: str
    heading: str
    config_types: tuple[type, ...]

    def section(self) -> str:
        text = (ROOT / self.page).read_text(encoding="utf-8")
        start = text.index(f"\n## {self.heading}\n")
        end = text.find("\n## ", start + 1)
        return text[start : end if end != -1 else None]

    def rows(self) -> list[list[str]]:
        """Cells of every markdown table row in the section."""
        return [
            [cell.strip() for cell in line.strip()[1:-1].split(" | ")]
            for line in self.section().splitlines()
            if line.startswith("| ") and line.rstrip().endswith("|")
        ]

    def options(self) -> list[Option]:
        return [option for kind in self.config_types for option in declared_options(kind)]


SCHEDULER = OptionTables(
    "docs/operators/configuration.md", "Scheduler flags and variables", (SchedulerConfig,)
)
AGENT = OptionTables("docs/hardware/agent.md", "Options", (AgentConfig,))
TOKEN_DATABASE = OptionTables(
    "docs/operators/configuration.md", "Token database", (StorageOptions, ServeOptions)
)


def names_flag(cell: str, flag: str) -> bool:
    """`--slots N` and `--slots` both name --slots; `--slots-max` does not."""
    return f"`{flag}`" in cell or f"`{flag} " in cell


def shown_default(value: Any) -> str | None:
    """How a table shows a default, or None where it describes one in words."""
    if value is None or value == () or value is True:
        return None
    if value is False:
        return "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def row_for(option: Option, rows: list[list[str]]) -> list[str]:
    matches = [
        row
        for row in rows
        if len(row) >= 3
        and all(names_flag(row[0], flag) for flag in option.flags)
        and (option.flags or row[0] == "—")
        and (f"`{option.env}" in row[1] if option.env else row[1] == "—")
    ]
    assert matches, f"no table row documents {' '.join(option.flags)} {option.env or ''}"
    return matches[0]


@pytest.mark.parametrize("tables", [SCHEDULER, AGENT], ids=["scheduler", "agent"])
def test_every_option_has_a_row_with_its_flags_variable_and_default(
    tables: OptionTables,
) -> None:
    rows = tables.rows()
    for option in tables.options():
        row = row_for(option, rows)
        expected = "required" if option.required else shown_default(option.default)
        if expected is not None:
            assert expected in row[2], (
                f"{option.dest}: {tables.page} says the default is {row[2]!r}, "
                f"the code {expected!r}"
            )


@pytest.mark.parametrize(
    ("tables", "pattern"),
    [
        (SCHEDULER, r"-{1,2}[a-z][\w-]*|SCHEDULER_\w+"),
        (AGENT, r"--[a-z][\w-]*|BERTH_AGENT_\w+"),
    ],
    ids=["scheduler", "agent"],
)
def test_the_tables_name_no_option_the_program_lacks(tables: OptionTables, pattern: str) -> None:
    declared = {"-h", "--help"}
    for option in tables.options():
        declared.update(option.flags)
        declared.update([option.env] if option.env else [])
    documented = {
        name for row in tables.rows() for name in re.findall(rf"`({pattern})", " ".join(row[:2]))
    }
    invented = sorted(documented - declared)
    assert not invented, f"{tables.page} lists options the program lacks: {invented}"


def test_every_token_database_option_is_documented() -> None:
    text = TOKEN_DATABASE.section()
    for option in TOKEN_DATABASE.options():
        assert re.search(rf"`[^`]*{re.escape(option.flag)}\b", text), (
            f"{option.flag} is not in {TOKEN_DATABASE.page}"
        )
