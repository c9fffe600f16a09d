"""A scheduler that cannot start says why in one line and exits non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _start(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SCHEDULER_"))}
    env.update(HOME=str(home), AWS_CONFIG_FILE=str(home / "none"))
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_region_is_named_not_a_traceback(tmp_path: Path) -> None:
    result = _start(["--endpoint", "http://127.0.0.1:9"], tmp_path)
    assert result.returncode == 1
    assert "no AWS region: pass --region" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flag_value_exits_2_naming_it(tmp_path: Path) -> None:
    result = _start(["--lease-seconds", "soon"], tmp_path)
    assert result.returncode == 2
    assert "--lease-seconds='soon'" in result.stderr
