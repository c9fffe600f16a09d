"""One run of every phase, floors interleaved with the phases they are compared with,
so a change in the machine's load between them moves both sides alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.api_calls import LifecycleCalls, lifecycle_calls
from bench.array_phase import array_phase
from bench.dashboard_phase import dashboard_rows
from bench.floors import Floors, echo_floor
from bench.measurements import Row
from bench.queue_phase import QueueMemory, queue_memory, queue_rows
from bench.restart_phase import RestartFigures, restart_phase
from bench.service_phases import (
    LARGE_PAYLOAD,
    SMALL_PAYLOAD,
    dispatch_phase,
    execute_phase,
    status_phase,
    submit_phase,
    warm,
)
from bench.stack import BenchStack
from bench.targets import run_figures

SUBMIT_CONCURRENCY = (1, 8, 32)
STATUS_CONCURRENCY = 8
EXECUTE_AGENTS = (1, 4)


@dataclass(frozen=True)
class Scale:
    submit_jobs: int  # per concurrency, ~100 B payload (and each naive-floor row)
    large_jobs: int  # per concurrency, 100 KiB payload
    floor_calls: int
    execute_jobs: int
    status_calls: int
    status_mix: int
    dispatch_jobs: int
    lifecycles: int
    queue_lengths: tuple[int, ...]
    queue_operations: int
    memory_jobs: int
    dashboard_pages: int = 20
    restart_queue: int = 10_000


QUICK = Scale(
    submit_jobs=40,
    large_jobs=16,
    floor_calls=40,
    execute_jobs=24,
    status_calls=200,
    status_mix=15,
    dispatch_jobs=10,
    lifecycles=3,
    queue_lengths=(100, 10_000),
    queue_operations=2_000,
    memory_jobs=10_000,
    restart_queue=500,
)
FULL = Scale(
    submit_jobs=400,
    large_jobs=120,
    floor_calls=400,
    execute_jobs=200,
    status_calls=2_000,
    status_mix=60,
    dispatch_jobs=60,
    lifecycles=10,
    queue_lengths=(100, 10_000, 100_000, 1_000_000),
    queue_operations=20_000,
    memory_jobs=100_000,
    dashboard_pages=100,
    restart_queue=10_000,
)


@dataclass(frozen=True)
class RunResult:
    rows: list[Row]
    memory: QueueMemory
    calls: LifecycleCalls
    figures: dict[str, float]
    restart: RestartFigures


def run_once(
    scale: Scale, out_dir: Path, endpoint: str | None, say: Callable[[str], None]
) -> RunResult:
    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)
        say(f"  {row.phase:<28} {row.rate_per_s:>10.1f}/s  p50 {row.p50_ms:.3g} ms")

    def on_fresh_scheduler(phase: Callable[..., Row], *args: object) -> None:
        stack.fresh_scheduler()
        warm(stack)
        add(phase(stack, *args))

    stack = BenchStack(out_dir, endpoint)
    try:
        stack.start()
        say(f"  emulator {stack.endpoint}")
        floors = Floors(stack)
        add(echo_floor(out_dir, SMALL_PAYLOAD, 8, scale.floor_calls))
        for c in SUBMIT_CONCURRENCY:
            add(floors.naive_submit(SMALL_PAYLOAD, c, scale.submit_jobs))
            on_fresh_scheduler(submit_phase, SMALL_PAYLOAD, "100 B", c, scale.submit_jobs)
        on_fresh_scheduler(array_phase, max(2, scale.submit_jobs // 10))
        add(floors.put_object(LARGE_PAYLOAD, 8, scale.large_jobs))
        for c in SUBMIT_CONCURRENCY:
            on_fresh_scheduler(submit_phase, LARGE_PAYLOAD, "100 KiB", c, scale.large_jobs)
        add(floors.put_item(8, scale.floor_calls))
        add(floors.update_item(4, scale.floor_calls))
        add(floors.execute_storage(4, scale.execute_jobs))
        for agent_count in EXECUTE_AGENTS:
            on_fresh_scheduler(execute_phase, agent_count, scale.execute_jobs)
        add(floors.get_item(STATUS_CONCURRENCY, scale.status_calls))
        on_fresh_scheduler(status_phase, STATUS_CONCURRENCY, scale.status_calls, scale.status_mix)
        on_fresh_scheduler(dispatch_phase, scale.dispatch_jobs)
        stack.fresh_scheduler()
        warm(stack)
        for row in dashboard_rows(stack, scale.dashboard_pages):
            add(row)
        calls, lifecycle_row = lifecycle_calls(stack.endpoint, scale.lifecycles)
        add(lifecycle_row)
        restart = restart_phase(stack, scale.restart_queue)
        say(f"  {restart.line()}")
    finally:
        stack.stop()
    say("  queue (in process)")
    for row in queue_rows(scale.queue_lengths, scale.queue_operations):
        add(row)
    memory = queue_memory(scale.memory_jobs)
    figures = run_figures(rows, scale.queue_lengths, memory.overhead_per_job, calls.total)
    return RunResult(rows, memory, calls, figures, restart)
