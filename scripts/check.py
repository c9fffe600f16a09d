"""Every check CI runs, in order, stopping at the first that fails.

Usage: python scripts/check.py [STEP ...]   (no step: all of them; see --list)

Each step runs with this interpreter from the repository root and prints how long it took, so
a slow step shows up in CI's log. The docs build runs only where mkdocs.yml exists.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# One worker more than cores: about half of the suite's time is spent waiting (on
# subprocesses starting, sockets, leases and heartbeats timed in seconds), and the extra
# worker fills those waits; tests that time leases still pass with the cores this busy.
# Tests that must share a process say so with xdist_group.
PYTEST_WORKERS = str((os.cpu_count() or 1) + 1)


@dataclass(frozen=True)
class Step:
    name: str
    argv: Callable[[Path], list[str]]  # given a scratch directory
    applies: Callable[[], bool] = lambda: True


def _module(*args: str) -> Callable[[Path], list[str]]:
    return lambda _scratch: [sys.executable, "-m", *args]


STEPS = (
    Step("ruff", _module("ruff", "check", ".")),
    Step("format", _module("ruff", "format", "--check", ".")),
    Step("mypy", _module("mypy")),
    Step(
        "docs",
        lambda scratch: [
            *[sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"],
            *["--site-dir", str(scratch / "site")],
        ],
        applies=lambda: (ROOT / "mkdocs.yml").is_file(),
    ),
    # The headless browser the dashboard's tests drive, installed from the OS's packages
    # where it is missing: a download that is setup, not the suite's time.
    Step("browser", _module("tests.browser")),
    Step("tests", _module("pytest", "-q", "-n", PYTEST_WORKERS, "--dist", "loadgroup")),
    Step("slow", _module("pytest", "-q", "-m", "slow")),
)


def _environment() -> dict[str, str]:
    """Tools installed beside this interpreter (protoc plugins) are found without activation.

    Compiled modules are cached even where the shell says not to: the suite starts about a
    hundred interpreters on the same sources and each pytest worker rewrites every test
    module, which without the cache is compiled again each time (a tenth of the suite's CPU).
    """
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(steps: Sequence[Step]) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="berth-check-") as scratch:
        for step in steps:
            if not step.applies():
                print(f"== {step.name}: skipped (not configured here)", flush=True)
                continue
            argv = step.argv(Path(scratch))
            print(f"== {step.name}: {' '.join(argv[1:])}", flush=True)
            begun = time.monotonic()
            code = subprocess.run(argv, cwd=ROOT, env=_environment(), check=False).returncode
            took = time.monotonic() - begun
            if code != 0:
                print(f"== {step.name}: FAILED (exit {code}) after {took:.1f}s", flush=True)
                return code
            print(f"== {step.name}: ok in {took:.1f}s", flush=True)
    print(f"== all checks passed in {time.monotonic() - started:.1f}s", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [step.name for step in STEPS]
    parser.add_argument("steps", nargs="*", metavar="STEP", help=f"one of: {', '.join(names)}")
    parser.add_argument("--list", action="store_true", help="print the steps in order and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(names))
        return 0
    unknown = [name for name in args.steps if name not in names]
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    return run([step for step in STEPS if not args.steps or step.name in args.steps])


if __name__ == "__main__":
    sys.exit(main())
