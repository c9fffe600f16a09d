"""README's demo, run as README writes it: the system, one agent, a researcher's session.

The three terminals' commands are read from README and run as real processes;
only the ports (0, read from the banner), the token file's place and the
researcher's working directory differ, so tests can run side by side. What
README shows them print is compared with what they print.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from examples.echo_program import make_result
from tests.agent_process import ROOT
from tests.dev_process import spawn_dev

BELL = b"OPENQASM 3;\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n"
PIPENV_PYTHON = "python3 -m pipenv run python"
README_TOKENS = ".berth/dev-tokens.json"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Demo:
    """README's demo: the command of each terminal and the output it shows."""

    system: str
    agent: str
    researcher: str
    banner: list[str]
    researcher_output: list[str]
    agent_log: list[str]


def _readme_demo() -> Demo:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## One job, end to end\n")
    section = readme[start : readme.index("\n## ", start + 1)]
    commands = re.findall(r"```sh\n(.*?)\n```", section, flags=re.DOTALL)
    outputs = re.findall(r"```text\n(.*?)\n```", section, flags=re.DOTALL)
    assert len(commands) == 3 and len(outputs) == 3, "README's demo: three terminals"
    system, agent, researcher = (c.replace("\\\n", " ") for c in commands)
    banner, researcher_output, agent_log = (o.splitlines() for o in outputs)
    return Demo(system, agent, researcher, banner, researcher_output, agent_log)


DEMO = _readme_demo()


def _normalized(lines: list[str]) -> list[str]:
    """Lines without what differs between runs: times, ids, numbers, tokens, spacing."""
    out = []
    for line in lines:
        line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", "", line)
        line = re.sub(rf"\b{UUID}\b", "J", line)
        line = re.sub(r"berth_\S+", "TOKEN", line)
        line = re.sub(r"(agent_ids|token_id)=\S+", r"\1=X", line)
        line = re.sub(r"\d+", "N", line)
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            out.append(line)
    return out


def _command(text: str, **replacements: str) -> list[str]:
    text = text.replace(PIPENV_PYTHON, shlex.quote(sys.executable))
    for old, new in replacements.items():
        text = text.replace(old, new)
    return shlex.split(text)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def dev_system(tmp_path: Path) -> Iterator[tuple[str, str, Path, list[str]]]:
    """Terminal 1: (submission address, execution address, dev-tokens file, banner)."""
    tokens_file = tmp_path / "dev-tokens.json"
    process = spawn_dev(_command(DEMO.system), tokens_file)
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line.rstrip("\n").replace(str(tokens_file), README_TOKENS))
            if "Press Ctrl-C" in line:
                break
        text = "\n".join(banner)
        submission = re.search(r"submission\s+(localhost:\d+)", text)
        execution = re.search(r"execution\s+(localhost:\d+)", text)
        assert submission and execution, text
        yield submission[1], execution[1], tokens_file, banner
    finally:
        _stop(process)


def test_the_readme_demo_runs_a_job_and_prints_what_readme_shows(
    dev_system: tuple[str, str, Path, list[str]], tmp_path: Path
) -> None:
    submission, execution, tokens_file, banner = dev_system
    assert _normalized(banner) == _normalized(DEMO.banner)

    agent_log = tmp_path / "agent.log"
    researcher_dir = tmp_path / "researcher"
    researcher_dir.mkdir()
    with agent_log.open("w") as log:
        agent = subprocess.Popen(
            _command(
                DEMO.agent,
                **{"localhost:8081": execution, README_TOKENS: str(tokens_file)},
            ),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            script = DEMO.researcher.replace(PIPENV_PYTHON, shlex.quote(sys.executable))
            session = subprocess.run(
                ["bash", "-ec", script.replace(README_TOKENS, str(tokens_file))],
                cwd=researcher_dir,
                env={**os.environ, "BERTH_ADDRESS": submission, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            _stop(agent)

    assert session.returncode == 0, session.stdout + session.stderr
    result = (researcher_dir / "result.json").read_bytes()
    assert result == make_result(BELL, {"backend": "emulator", "format": "qasm3", "n_shots": 1000})
    assert result.decode().strip() in DEMO.researcher_output, "README shows the exact result"

    printed = _normalized(session.stdout.splitlines())
    for line in _normalized(DEMO.researcher_output):
        if not line.startswith("job J: "):  # the states seen depend on timing; the end does not
            assert line in printed, (line, session.stdout)
    assert "job J: COMPLETED, elapsed N.Ns" in printed, session.stdout

    logged = agent_log.read_text()
    for line in _normalized(DEMO.agent_log):
        assert line in _normalized(logged.splitlines()), (line, logged)
    assert agent.returncode == 0
    assert json.loads(tokens_file.read_text())["executor"] not in logged
