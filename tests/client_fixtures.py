"""The `cli` and `program` fixtures of the CLI tests, loaded as a plugin by the modules using them:

pytest_plugins = ["tests.client_fixtures"]
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.berth_system import BerthSystem
from tests.client_harness import RunCli, cli_runner, write_program


@pytest.fixture
def cli(
    berth_system: BerthSystem,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> RunCli:
    """`python -m scheduler_client` in-process against this test's system (see `cli_runner`)."""
    return cli_runner(berth_system, capsysbinary, monkeypatch)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    """A small OpenQASM 3 program file, `bell.qasm`."""
    return write_program(tmp_path)
