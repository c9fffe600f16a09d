"""`python -m scheduler --dev` as a real process on free ports; addresses read from its banner."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DevProcess:
    submission: str
    execution: str
    tokens_file: Path
    banner: str


def spawn_dev(command: list[str], tokens_file: Path, *options: str) -> subprocess.Popen[str]:
    """`command` (a `--dev` start) on free ports, from this checkout, with no AWS_* variables
    (the embedded emulator must not be mistaken for real AWS); its banner on stdout."""
    ports = ["--port-for-submission", "0", "--port-for-execution", "0", "--metrics-port", "0"]
    ports += ["--dashboard-port", "0"]
    return subprocess.Popen(
        [*command, *ports, "--dev-tokens-file", str(tokens_file), *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )


@contextmanager
def dev_process(tokens_file: Path, *options: str) -> Iterator[DevProcess]:
    """Started from this checkout with no AWS_* variables; SIGTERM (then a kill) on exit."""
    process = spawn_dev([sys.executable, "-m", "scheduler", "--dev"], tokens_file, *options)
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
        yield DevProcess(submission[1], execution[1], tokens_file, banner)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
