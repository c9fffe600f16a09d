"""`python -m bench.profile_scheduler [--phase P] [--jobs N] [--top N] [--endpoint URL]`

cProfile over every thread of a scheduler running in this process (the event
loop and the blocking-I/O pools), while one phase of the benchmark drives it.
Prints where the scheduler's own time goes, by package and by function; the
harness's client and agent threads are left out.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from bench.in_process import BACKEND, InProcessStack
from bench.processes import REPO_ROOT, MotoServer
from bench.service_phases import execute_phase, fill_queue, status_phase
from bench.stack import SystemUnderTest, use_emulator_credentials

HARNESS_THREADS = "bench-worker"


class ThreadProfiles:
    """One cProfile.Profile per thread started while installed (cProfile is per thread)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start_in_thread(self, frame: FrameType, event: str, arg: Any) -> None:
        sys.setprofile(None)
        if threading.current_thread().name.startswith(HARNESS_THREADS):
            return
        profile = cProfile.Profile(time.thread_time)  # CPU, not time spent waiting
        with self._lock:
            self.profiles.append(profile)
        profile.enable()

    @contextmanager
    def installed(self) -> Iterator[None]:
        threading.setprofile(self._start_in_thread)
        try:
            yield
        finally:
            threading.setprofile(None)

    def clear(self) -> None:
        """Forget start-up; the threads are idle between phases."""
        with self._lock:
            for profile in self.profiles:
                profile.clear()

    def stats(self) -> pstats.Stats:
        with self._lock:
            profiles = list(self.profiles)
        for profile in profiles:
            profile.create_stats()
        # A thread that ran nothing profiled has no stats, which pstats refuses.
        return pstats.Stats(*(p for p in profiles if p.stats))


def package_of(filename: str) -> str:
    """site-packages/botocore/... -> botocore; a file of this repository -> its package."""
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for root in ("scheduler", "token_database", "bench", "berth"):
        if root in parts:
            return f"berth:{root}" if root != "scheduler" else _scheduler_part(parts)
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return f"stdlib:{path.stem}"


def _scheduler_part(parts: tuple[str, ...]) -> str:
    index = parts.index("scheduler")
    return "berth:scheduler/" + (parts[index + 1] if len(parts) > index + 2 else "")


def by_package(stats: pstats.Stats) -> Counter[str]:
    totals: Counter[str] = Counter()
    for (filename, _, _), (_, _, own_s, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        totals[package_of(filename)] += own_s
    return totals


def submit_load(stack: SystemUnderTest, jobs: int) -> None:
    fill_queue(stack, BACKEND, jobs, concurrency=8)


PHASES: dict[str, Callable[[SystemUnderTest, int], object]] = {
    "submit": submit_load,
    "execute": lambda stack, jobs: execute_phase(stack, 4, jobs, backend=BACKEND),
    "status": lambda stack, jobs: status_phase(stack, 8, jobs * 10, 30, backend=BACKEND),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_scheduler")
    parser.add_argument("--phase", choices=sorted(PHASES), default="submit")
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--endpoint", help="AWS endpoint instead of a moto server")
    args = parser.parse_args(argv)
    moto = None
    endpoint = args.endpoint
    if endpoint is None:
        use_emulator_credentials()
        moto = MotoServer(REPO_ROOT / "bench" / "results" / "profile-moto.log")
        endpoint = moto.start()
    profiles = ThreadProfiles()
    try:
        # Installed throughout: the I/O pools start threads on demand, mid-phase.
        with profiles.installed():
            stack = InProcessStack(endpoint).start()
            try:
                fill_queue(stack, BACKEND, 8)  # warm: token verification, connections, pools
                profiles.clear()
                PHASES[args.phase](stack, args.jobs)
            finally:
                stack.stop()
        # Only once the scheduler's threads have ended: reading a profile flushes the
        # calls still open, timed against the reading thread's clock.
        stats = profiles.stats()
    finally:
        if moto is not None:
            moto.stop()
    total = sum(by_package(stats).values())
    print(f"scheduler threads' CPU by package ({args.phase}, {args.jobs} jobs): {total:.2f} s")
    for package, seconds in by_package(stats).most_common(15):
        print(f"  {package:<36} {seconds:7.3f} s  {seconds / total:6.1%}")
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
