"""Concurrent closed-loop load: C workers, each issuing its next call when the last returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Operation = Callable[[int], object]  # what it returns is ignored


@dataclass(frozen=True)
class LoadResult:
    latencies_s: list[float]
    wall_s: float


def run_closed_loop(
    concurrency: int, total: int, make_operation: Callable[[int], Operation]
) -> LoadResult:
    """Run operations 0..total-1 over `concurrency` threads; each thread gets its own
    operation from `make_operation(worker)` (its own channel, like a separate client).

    The clock starts when every worker is ready, so connection set-up is not counted.
    The first failure stops all workers and is raised here.
    """
    operations = [make_operation(worker) for worker in range(concurrency)]
    lock = threading.Lock()
    next_index = 0
    latencies: list[float] = []
    failures: list[BaseException] = []
    start = threading.Barrier(concurrency + 1)

    def take() -> int | None:
        nonlocal next_index
        with lock:
            if failures or next_index >= total:
                return None
            next_index += 1
            return next_index - 1

    def work(operation: Operation) -> None:
        start.wait()
        mine: list[float] = []
        try:
            while (index := take()) is not None:
                began = time.perf_counter()
                operation(index)
                mine.append(time.perf_counter() - began)
        except BaseException as error:
            with lock:
                failures.append(error)
        with lock:
            latencies.extend(mine)

    threads = [
        threading.Thread(target=work, args=(op,), name=f"bench-worker-{i}", daemon=True)
        for i, op in enumerate(operations)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if failures:
        raise failures[0]
    return LoadResult(latencies, wall)
