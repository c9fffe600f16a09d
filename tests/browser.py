"""Headless Chromium for the dashboard's browser tests: Debian's package, driven by Playwright.

`chromium_executable` installs the package when it is missing (CI runs as root
with apt reachable) and otherwise fails with one line saying what to do: the
browser tests never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


def _runs(executable: Path) -> bool:
    try:
        done = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=60
        )
    except OSError:
        return False
    return done.returncode == 0 and "Chromium" in done.stdout


def chromium_executable() -> Path:
    if _runs(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y chromium) or run the tests as root so they can",
            pytrace=False,
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.fail(f"cannot install chromium ({' '.join(command)}): {last}", pytrace=False)
    if not _runs(CHROMIUM):
        pytest.fail(f"chromium was installed but {CHROMIUM} --version fails", pytrace=False)
    return CHROMIUM
