"""README's agent demo, command for command: `python -m scheduler --dev`, one agent, one job.

Three real processes as in the three terminals of the demo; only the ports
(0, read from the banner) and the token file's place differ, so tests can run
side by side.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.echo_program import make_result
from tests.agent_process import ROOT

BELL = b"OPENQASM 3;\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n"


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def dev_system(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """Terminal 1: (submission address, execution address, dev-tokens file)."""
    tokens_file = tmp_path / "dev-tokens.json"
    ports = ["--port-for-submission", "0", "--port-for-execution", "0", "--metrics-port", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "--dev", *ports, "--dev-tokens-file", str(tokens_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    try:
        assert process.stdout is not None
        banner = ""
        for line in process.stdout:
            banner += line
            if "Press Ctrl-C" in line:
                break
        submission = re.search(r"submission\s+(localhost:\d+)", banner)
        execution = re.search(r"execution\s+(localhost:\d+)", banner)
        assert submission and execution, banner
        yield submission[1], execution[1], tokens_file
    finally:
        _stop(process)


def test_the_readme_demo_runs_a_job_and_its_owner_gets_the_exact_result(
    dev_system: tuple[str, str, Path], tmp_path: Path
) -> None:
    submission, execution, tokens_file = dev_system
    agent_log = tmp_path / "agent.log"
    with agent_log.open("w") as log:
        agent = subprocess.Popen(
            [
                *(sys.executable, "-m", "executor_agent", "--scheduler", execution),
                *("--backend", "emulator", "--token-file", str(tokens_file)),
                *("--", "python3", "examples/echo_program.py", "{input}", "{output}"),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            (tmp_path / "bell.qasm").write_bytes(BELL)
            submit = subprocess.run(
                [
                    *(sys.executable, "-m", "scheduler_client", "--address", submission),
                    *("--token-file", str(tokens_file), "submit", str(tmp_path / "bell.qasm")),
                    *("--backend", "emulator", "--shots", "1000", "--timeout", "60s"),
                    *("--wait", "-o", str(tmp_path / "result.json")),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            _stop(agent)
    assert submit.returncode == 0, submit.stdout + submit.stderr
    result = (tmp_path / "result.json").read_bytes()
    assert result == make_result(BELL, {"backend": "emulator", "format": "qasm3", "n_shots": 1000})
    assert json.loads(result)["payload_bytes"] == 47
    text = agent_log.read_text()
    assert re.search(r"job \S+ completed backend=emulator slot=0 ran=", text), text
    assert agent.returncode == 0
    assert json.loads(tokens_file.read_text())["executor"] not in text
