"""Phases that drive the scheduler process over gRPC: submit, execute, status, dispatch."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bench.measurements import Row, summarise
from bench.process_meter import measure_usage
from bench.rpc_clients import Agent, Client
from bench.stack import SystemUnderTest
from bench.workers import LoadResult, Operation, run_closed_loop
from scheduler.domain.jobs import Role

SMALL_PAYLOAD = (  # 98 B
    b'OPENQASM 3.0; include "stdgates.inc"; qubit[2] q; bit[2] c;'
    b" h q[0]; cx q[0], q[1]; c = measure q;\n"
)
LARGE_PAYLOAD = bytes(range(256)) * 400  # 100 KiB (102,400 B)
# An idle agent's long-poll must be registered before the job arrives; nothing
# observable says it is, so the submitter leaves it this long to get there.
DISPATCH_SETTLE_S = 0.05
WARM_BACKEND = "bench-warm"


@contextmanager
def clients(stack: SystemUnderTest, count: int) -> Iterator[list[Client]]:
    opened = [Client(stack.submission_address, stack.tokens[Role.ADMIN]) for _ in range(count)]
    try:
        yield opened
    finally:
        for client in opened:
            client.close()


@contextmanager
def agents(stack: SystemUnderTest, count: int, name: str) -> Iterator[list[Agent]]:
    token = stack.tokens[Role.EXECUTOR]
    opened = [Agent(stack.execution_address, token, f"{name}-{i}") for i in range(count)]
    try:
        yield opened
    finally:
        for agent in opened:
            agent.close()


def measured(
    stack: SystemUnderTest,
    phase: str,
    concurrency: int,
    total: int,
    make: Callable[[int], Operation],
) -> Row:
    with measure_usage(stack.scheduler_meter, stack.emulator_meter) as window:
        load: LoadResult = run_closed_loop(concurrency, total, make)
    return summarise(phase, load.latencies_s, load.wall_s, window.usage)


def fill_queue(stack: SystemUnderTest, backend: str, jobs: int, concurrency: int = 8) -> list[str]:
    """Submit jobs outside any measurement; returns their ids in submission order."""
    ids: list[str | None] = [None] * jobs
    with clients(stack, concurrency) as pool:

        def make(worker: int) -> Operation:
            def submit(index: int) -> None:
                ids[index] = pool[worker].submit(SMALL_PAYLOAD, backend)

            return submit

        run_closed_loop(concurrency, jobs, make)
    return [job_id for job_id in ids if job_id is not None]


def warm(stack: SystemUnderTest) -> None:
    """A new scheduler's first calls verify tokens and open connections: not measured."""
    fill_queue(stack, WARM_BACKEND, 4, concurrency=2)
    with agents(stack, 1, WARM_BACKEND) as (agent,):
        agent.assign(WARM_BACKEND, wait_s=0.0)


def submit_phase(
    stack: SystemUnderTest, payload: bytes, label: str, concurrency: int, jobs: int
) -> Row:
    with clients(stack, concurrency) as pool:
        return measured(
            stack,
            f"submit {label} C={concurrency}",
            concurrency,
            jobs,
            lambda worker: lambda _: pool[worker].submit(payload, "bench-submit"),
        )


def execute_phase(
    stack: SystemUnderTest, agent_count: int, jobs: int, backend: str | None = None
) -> Row:
    """E agents drain a queue of `jobs`: each cycle is assign, PUT the result, report."""
    backend = backend or f"bench-exec{agent_count}"
    fill_queue(stack, backend, jobs)
    with agents(stack, agent_count, backend) as pool:

        def make(worker: int) -> Operation:
            agent = pool[worker]

            def cycle(_: int) -> None:
                assigned = agent.assign(backend, wait_s=10.0)
                if assigned is None:
                    raise RuntimeError(f"queue {backend} ran dry before {jobs} jobs")
                agent.complete(assigned)

            return cycle

        return measured(stack, f"execute E={agent_count}", agent_count, jobs, make)


def status_phase(
    stack: SystemUnderTest, concurrency: int, calls: int, mix: int, backend: str = "bench-status"
) -> Row:
    """GetJobStatus over a third each of queued, running and finished jobs."""
    ids = fill_queue(stack, backend, mix)
    with agents(stack, 1, backend) as (agent,):
        for index in range(2 * mix // 3):
            assigned = agent.assign(backend, wait_s=10.0)
            assert assigned is not None, "the status mix queue ran dry"
            if index % 2:
                agent.complete(assigned)
    with clients(stack, concurrency) as pool:
        return measured(
            stack,
            f"status C={concurrency}",
            concurrency,
            calls,
            lambda worker: lambda i: pool[worker].status(ids[i % len(ids)]),
        )


def dispatch_phase(stack: SystemUnderTest, jobs: int) -> Row:
    """From SubmitJob returning to an idle long-polling agent holding the job."""
    backend = "bench-dispatch"
    polling = threading.Event()
    received: queue.Queue[float] = queue.Queue()
    failures: list[BaseException] = []

    def agent_loop(agent: Agent) -> None:
        try:
            for _ in range(jobs):
                polling.set()
                while agent.assign(backend, wait_s=30.0) is None:
                    pass
                received.put(time.perf_counter())
        except BaseException as error:
            failures.append(error)
            received.put(float("nan"))

    latencies: list[float] = []
    with agents(stack, 1, backend) as (agent,), clients(stack, 1) as (client,):
        thread = threading.Thread(target=agent_loop, args=(agent,), daemon=True)
        with measure_usage(stack.scheduler_meter, stack.emulator_meter) as window:
            began = time.perf_counter()
            thread.start()
            for _ in range(jobs):
                if not polling.wait(60):
                    raise RuntimeError("the dispatch agent never started polling")
                polling.clear()
                time.sleep(DISPATCH_SETTLE_S)
                client.submit(SMALL_PAYLOAD, backend)
                submitted = time.perf_counter()
                held = received.get(timeout=60)
                if failures:
                    raise failures[0]
                # The reply to the agent can overtake the one to the client: count that as 0.
                latencies.append(max(held - submitted, 0.0))
            wall = time.perf_counter() - began
        thread.join(10)
    return summarise("dispatch (paced)", latencies, wall, window.usage)
