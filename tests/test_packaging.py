"""The wheel as people install it: a fresh environment, only the extra they asked for.

The wheel is built from a copy of the checkout; each test installs it into a new
virtual environment (dependencies from the package index) and runs the console
commands from a directory outside the checkout, against `python -m scheduler --dev`.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dev_process import ROOT, DevProcess, dev_process

PROGRAM = b"OPENQASM 3.0;\nqubit q;\nh q;\n"

pytestmark = pytest.mark.slow

# Checkout state that is not source: never copied into the build.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".berth", "__pycache__", "*.pyc", ".*_cache", "build", "dist", "*.egg-info"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "berth"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    dist = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)], source
    )
    (built,) = dist.glob("berth-*.whl")
    return built


@pytest.fixture(scope="module")
def dev_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    with dev_process(tmp_path_factory.mktemp("dev") / "dev-tokens.json") as dev:
        yield dev


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done


def _install(venv: Path, requirement: str) -> Path:
    """A fresh environment holding `requirement` and what it depends on, nothing else."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], venv.parent)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    _run([*pip, "--disable-pip-version-check", requirement], venv.parent)
    return venv / "bin"


def _importable(bin_dir: Path, module: str, cwd: Path) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([bin_dir / "python", "-c", probe], cwd=cwd).returncode == 0


def _start_agent(
    agent: list[str], system: DevProcess, backend: str, cwd: Path, python: Path
) -> subprocess.Popen[bytes]:
    """An agent serving `backend` with the example program run by `python`."""
    options = ["--scheduler", system.execution, "--backend", backend, "--grace", "1"]
    program = [str(python), str(ROOT / "examples" / "echo_program.py"), "{input}", "{output}"]
    return subprocess.Popen(
        [*agent, *options, "--token-file", str(system.tokens_file), "--", *program],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _submit_wait_result(
    berth: Path, system: DevProcess, backend: str, work: Path
) -> dict[str, object]:
    (work / "bell.qasm").write_bytes(PROGRAM)
    connection = ["--address", system.submission, "--token-file", str(system.tokens_file)]
    submitted = _run([str(berth), "submit", "bell.qasm", "--backend", backend, *connection], work)
    job_id = submitted.stdout.strip()
    _run([str(berth), "wait", job_id, "--timeout", "60s", *connection], work, timeout=90)
    _run([str(berth), "result", job_id, "-o", "result.json", *connection], work)
    result: dict[str, object] = json.loads((work / "result.json").read_text())
    return result


def test_bare_install_is_the_client_and_runs_a_job(
    wheel: Path, dev_system: DevProcess, tmp_path: Path
) -> None:
    bin_dir = _install(tmp_path / "venv", str(wheel))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shown = _run([str(bin_dir / "berth"), "--help"], outside)
    assert "submit" in shown.stdout and "usage: berth" in shown.stdout
    for module in ("boto3", "botocore", "moto"):
        assert not _importable(bin_dir, module, outside), f"{module} in the client install"
    checkout_agent = [sys.executable, "-m", "executor_agent"]
    agent = _start_agent(checkout_agent, dev_system, "emulator", ROOT, Path(sys.executable))
    try:
        result = _submit_wait_result(bin_dir / "berth", dev_system, "emulator", outside)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)
    assert result["backend"] == "emulator" and "counts" in result


def test_agent_extra_runs_a_job_without_aws(
    wheel: Path, dev_system: DevProcess, tmp_path: Path
) -> None:
    bin_dir = _install(tmp_path / "venv", f"{wheel}[agent]")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shown = _run([str(bin_dir / "berth-agent"), "--help"], outside)
    assert "--scheduler" in shown.stdout
    for module in ("boto3", "botocore", "moto"):
        assert not _importable(bin_dir, module, outside), f"{module} in the agent install"
    agent = _start_agent(
        [str(bin_dir / "berth-agent")], dev_system, "qpu", outside, bin_dir / "python"
    )
    try:
        result = _submit_wait_result(bin_dir / "berth", dev_system, "qpu", outside)
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=30) == 0
    assert result["backend"] == "qpu" and "counts" in result
