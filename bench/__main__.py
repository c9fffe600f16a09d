"""`python -m bench [--quick] [--runs N] [--endpoint URL] [--out DIR] [--write-baseline]`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.chart import bar_chart, bars_of, subtitle_of
from bench.measurements import median_row
from bench.processes import REPO_ROOT
from bench.report import (
    calls_line,
    machine,
    machine_line,
    read_baseline,
    table,
    verdict_lines,
    write_json,
)
from bench.runner import FULL, QUICK, RunResult, run_once
from bench.targets import context_lines, judge, median_figures

BASELINE = REPO_ROOT / "bench" / "baseline.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Berth against its floors and check its performance targets.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--runs", type=int, default=None, help="runs to take medians of (3)")
    parser.add_argument("--endpoint", help="AWS endpoint to use instead of starting a moto server")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "bench" / "results", help="results directory"
    )
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="figures to compare with")
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help="make this run the baseline (bench/baseline.json and bench/baseline.png)",
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every child process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING)
    # At C=32 boto3's pool of 10 connections overflows, in the scheduler as in the floors;
    # the same for both, so it is a finding (see README), not a line per call.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    mode = "quick" if args.quick else "full"
    scale = QUICK if args.quick else FULL
    runs = args.runs or 3
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir: Path = args.out / stamp
    info = machine()
    say(f"bench ({mode}, {runs} runs) on {machine_line(info)}; writing to {out_dir}")
    results: list[RunResult] = []
    for run in range(1, runs + 1):
        say(f"run {run} of {runs}")
        results.append(run_once(scale, out_dir / f"run-{run}", args.endpoint, say))
    rows = [
        median_row(list(per_phase)) for per_phase in zip(*(r.rows for r in results), strict=True)
    ]
    figures = median_figures([r.figures for r in results])
    baseline, compared = read_baseline(args.baseline, mode)
    verdicts = judge(figures, baseline)
    print(f"Berth bench, {mode}, median of {runs} run(s); {machine_line(info)}\n")
    print(table(rows))
    print("server = the scheduler process (for the echo floor, the echo server)\n")
    print("\n".join(verdict_lines(verdicts)))
    print("\n".join(context_lines(figures)))
    print(calls_line(results[len(results) // 2].calls))
    memory = results[0].memory
    print(
        f"queue memory: {memory.bytes_per_job:.0f} B per queued job of which "
        f"{memory.payload_bytes} B payload ({memory.jobs:,} jobs, tracemalloc)"
    )
    print(compared)
    document: dict[str, Any] = {
        "mode": mode,
        "runs": runs,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "median": {"rows": [row.to_json() for row in rows], "figures": figures},
        "per_run": [
            {
                "rows": [row.to_json() for row in r.rows],
                "figures": r.figures,
                "queue_memory_bytes_per_job": r.memory.bytes_per_job,
                "aws_calls_per_lifecycle": r.calls.per_lifecycle,
            }
            for r in results
        ],
        "targets": [
            {
                "key": v.target.key,
                "value": v.value,
                "limit": v.target.limit,
                "met": v.met,
                "baseline": v.baseline,
                "regressed": v.regressed,
            }
            for v in verdicts
        ],
    }
    bars, subtitle = bars_of(document), subtitle_of(document)
    write_json(out_dir / "results.json", document)
    bar_chart(bars, out_dir / "chart.png", subtitle=subtitle)
    print(f"written: {out_dir / 'results.json'}, {out_dir / 'chart.png'}")
    if args.write_baseline:
        write_json(args.baseline, document)
        bar_chart(bars, args.baseline.with_suffix(".png"), subtitle=subtitle)
        print(f"baseline written: {args.baseline}, {args.baseline.with_suffix('.png')}")
    failed = [v for v in verdicts if not v.met or v.regressed]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
