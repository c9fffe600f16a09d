"""`--dev` against a kept emulator keeps its tokens; the token CLI reaches it with `--dev`;
without the emulator installed, `--dev` says which extra brings it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scheduler_client import Client
from scheduler_client.job_info import JobStatus
from tests.dev_process import ROOT, dev_process


def test_a_restart_against_the_same_emulator_keeps_the_tokens_and_their_jobs(
    moto_endpoint: str, tmp_path: Path
) -> None:
    tokens_file = tmp_path / "dev-tokens.json"
    with dev_process(tokens_file, "--endpoint", moto_endpoint) as dev:
        tokens = json.loads(tokens_file.read_text())
        with Client(dev.submission, tokens["developer"]) as client:
            job = client.submit(b"OPENQASM 3;", format="qasm3", backend="qpu")
    with dev_process(tokens_file, "--endpoint", moto_endpoint) as dev:
        assert json.loads(tokens_file.read_text()) == tokens
        assert tokens["developer"] in dev.banner
        with Client(dev.submission, tokens["developer"]) as client:
            assert client.job(job.id).status().status is JobStatus.QUEUED


def _token_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m token_database` as an installed command: no AWS settings, any directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "token_database", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_token_cli_works_on_the_dev_system_with_one_flag(
    moto_endpoint: str, tmp_path: Path
) -> None:
    # The defaults: the scheduler writes .berth/ in the directory it runs in. The emulator it
    # uses is whichever it was given (the embedded one is the walkthrough's): the dev state
    # names it, so the token CLI needs no flag for it.
    tokens_file = tmp_path / ".berth" / "dev-tokens.json"
    with dev_process(tokens_file, "--endpoint", moto_endpoint) as dev:
        listed = _token_cli(tmp_path, "--dev", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        names = {row["name"] for row in json.loads(listed.stdout)}
        assert names == {"dev-admin", "dev-developer", "dev-guest", "dev-executor"}

        created = _token_cli(tmp_path, "--dev", "create", "--name", "ada", "--role", "developer")
        assert created.returncode == 0, created.stderr
        with Client(dev.submission, created.stdout.strip()) as client:
            assert list(client.list_jobs()) == []


def test_the_token_cli_says_to_start_the_dev_system_first(tmp_path: Path) -> None:
    done = _token_cli(tmp_path, "--dev", "list")
    assert done.returncode == 2
    assert "start `python -m scheduler --dev` first" in done.stderr
    assert "Traceback" not in done.stderr


_WITHOUT_MOTO = """
import importlib.abc, sys
class NoMoto(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "moto":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoMoto())
from scheduler.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_dev_mode_without_the_emulator_installed_says_which_extra_to_install(
    tmp_path: Path,
) -> None:
    """As with `pip install 'berth[scheduler]'`, which holds no emulator."""
    ports = ["--port-for-submission", "0", "--port-for-execution", "0", "--metrics-port", "-1"]
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MOTO, "--dev", *ports],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "install the dev extra (pip install 'berth[dev]')" in done.stderr
    assert "Traceback" not in done.stderr
