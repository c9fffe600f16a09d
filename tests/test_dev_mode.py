"""`python -m scheduler --dev`: the newcomer's one command, run as a real process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def test_dev_mode_walkthrough_and_clean_stop(tmp_path: Path) -> None:
    tokens_file = tmp_path / "dev-tokens.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scheduler",
            "--dev",
            "--port-for-submission",
            "0",
            "--port-for-execution",
            "0",
            "--metrics-port",
            "0",
            "--dashboard-port",
            "0",
            "--dev-tokens-file",
            str(tokens_file),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(banner)
        submission = re.search(r"submission\s+localhost:(\d+)", text)
        execution = re.search(r"execution\s+localhost:(\d+)", text)
        assert submission and execution, text
        tokens = json.loads(tokens_file.read_text())
        dashboard = re.search(r"dashboard\s+(http://localhost:\d+/)\s+\(sign in with a token", text)
        assert dashboard, text
        signin = requests.get(f"{dashboard[1]}signin", timeout=10)
        assert signin.status_code == 200 and 'name="token"' in signin.text
        assert set(tokens) == {"admin", "developer", "guest", "executor"}
        assert oct(tokens_file.stat().st_mode & 0o777) == "0o600"

        walkthrough = subprocess.run(
            [
                sys.executable,
                "examples/protocol_walkthrough.py",
                "--submission",
                f"localhost:{submission[1]}",
                "--execution",
                f"localhost:{execution[1]}",
                "--tokens",
                str(tokens_file),
            ],
            cwd=ROOT,
            # As installed by the Pipfile: the checkout's packages importable from a script.
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert walkthrough.returncode == 0, walkthrough.stderr
        assert "status JOB_STATUS_COMPLETED" in walkthrough.stdout
        assert '"counts"' in walkthrough.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "scheduler stopped" in stderr
    for token in tokens.values():
        assert token not in stderr, "tokens never appear in logs"


def test_a_taken_dashboard_port_stops_dev_mode_naming_the_flag(
    moto_endpoint: str, tmp_path: Path
) -> None:
    # A running emulator instead of the embedded one: what fails here comes after it.
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "scheduler",
                "--dev",
                *("--port-for-submission", "0", "--port-for-execution", "0"),
                *("--metrics-port", "-1", "--dashboard-port", str(port)),
                *("--dev-tokens-file", str(tmp_path / "dev-tokens.json")),
                *("--endpoint", moto_endpoint),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )
    assert done.returncode == 1, done.stderr
    assert f"cannot serve the dashboard on port {port} (--dashboard-port" in done.stderr
