"""README shows the run and test commands, and the test command is what CI runs.

The option tables are checked against the option declarations in test_option_docs.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
