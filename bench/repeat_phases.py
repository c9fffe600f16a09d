"""`python -m bench.repeat_phases PHASE... [--runs N] [--jobs N] [--endpoint URL]`

Chosen phases alone, each on a fresh scheduler, N rounds, and each column's
median: for telling a real change in one figure from the noise of a single
run, without the whole bench (its floors, queue and restart phases). Rounds
take the phases in turn, so a change in the machine's load touches them alike;
to compare two checkouts, alternate runs of this in each.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.measurements import Row, median_row
from bench.processes import REPO_ROOT
from bench.report import table
from bench.service_phases import (
    SMALL_PAYLOAD,
    dispatch_phase,
    execute_phase,
    status_phase,
    submit_phase,
    warm,
)
from bench.stack import BenchStack

Phase = Callable[[BenchStack, int], Row]


def _submit(concurrency: int) -> Phase:
    return lambda stack, jobs: submit_phase(stack, SMALL_PAYLOAD, "100 B", concurrency, jobs)


def _execute(agents: int) -> Phase:
    return lambda stack, jobs: execute_phase(stack, agents, jobs)


PHASES: dict[str, Phase] = {
    "dispatch": dispatch_phase,
    **{f"submit-c{c}": _submit(c) for c in (1, 8, 32)},
    **{f"execute-e{e}": _execute(e) for e in (1, 4)},
    "status": lambda stack, jobs: status_phase(stack, 8, jobs, 60),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.repeat_phases")
    parser.add_argument("phases", nargs="+", choices=sorted(PHASES), metavar="PHASE")
    parser.add_argument("--runs", type=int, default=5, help="rounds to take medians of (5)")
    parser.add_argument("--jobs", type=int, default=200, help="operations per phase (200)")
    parser.add_argument("--endpoint", help="AWS endpoint to use instead of starting a moto server")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "repeat")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        parser.error("--runs and --jobs must be at least 1")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # as python -m bench
    rows: dict[str, list[Row]] = {name: [] for name in args.phases}
    stack = BenchStack(args.out, args.endpoint)
    try:
        stack.start()
        for run in range(1, args.runs + 1):
            for name in args.phases:
                stack.fresh_scheduler()
                warm(stack)
                rows[name].append(PHASES[name](stack, args.jobs))
                row = rows[name][-1]
                print(
                    f"run {run}: {row.phase:<18} {row.rate_per_s:8.1f}/s  p50 {row.p50_ms:.3g} ms"
                )
    finally:
        stack.stop()
    print(f"\nmedian of {args.runs} run(s), {args.jobs} operations each:")
    print(table([median_row(per_phase) for per_phase in rows.values()]))
    for name, per_phase in rows.items():
        print(f"{name} p50 ms per run: {', '.join(f'{r.p50_ms:.3g}' for r in per_phase)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
