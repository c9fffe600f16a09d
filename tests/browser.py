"""Headless Chromium for the dashboard's browser tests: Debian's package, driven by Playwright.

`python -m tests.browser` installs the package when it is missing (CI runs as
root with apt reachable); `scripts/check.py` runs it as the step before the
suite, so the download is not charged to the tests' time. The browser tests'
fixture calls the same `chromium_executable` and, where it cannot install,
fails with one line saying what to do: the browser tests never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


class BrowserUnavailable(Exception):
    """Chromium is missing and cannot be installed here; the message says what to do."""


def _runs(executable: Path) -> bool:
    try:
        done = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=60
        )
    except OSError:
        return False
    return done.returncode == 0 and "Chromium" in done.stdout


def chromium_executable() -> Path:
    """The browser, installed first if it is missing and this process may install it."""
    if _runs(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BrowserUnavailable(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y chromium) or run the tests as root so they can"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise BrowserUnavailable(f"cannot install chromium ({' '.join(command)}): {last}")
    if not _runs(CHROMIUM):
        raise BrowserUnavailable(f"chromium was installed but {CHROMIUM} --version fails")
    return CHROMIUM


def main() -> int:
    try:
        print(f"headless browser: {chromium_executable()}", flush=True)
    except BrowserUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
