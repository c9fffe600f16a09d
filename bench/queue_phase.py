"""The scheduler's in-memory queue alone: push and pop cost by queue length, and memory.

Costs are timed one operation at a time at a steady length (each push is
followed by a pop), with the entries a replica holds for jobs it accepted:
uuid ids, a few owners, mixed roles and timeouts, and a payload each.
"""

from __future__ import annotations

import random
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from bench.measurements import Row, Usage, summarise
from scheduler.domain.jobs import Role
from scheduler.queue.job_queue import QueueEntry
from scheduler.queue.priority import PriorityPolicy
from scheduler.queue.queue_set import QueueSet

BACKEND = "qpu"
PAYLOAD_BYTES = 100
_ROLES = (Role.ADMIN, Role.DEVELOPER, Role.GUEST)


@dataclass(frozen=True)
class QueueMemory:
    jobs: int
    bytes_per_job: float
    payload_bytes: int

    @property
    def overhead_per_job(self) -> float:
        """What the queue spends on a job beyond the payload it must keep."""
        return self.bytes_per_job - self.payload_bytes


class EntryMaker:
    def __init__(self, seed: int = 6) -> None:
        self._rng = random.Random(seed)
        self._owners = [f"{self._rng.getrandbits(256):064x}" for _ in range(8)]
        self._now = time.time()

    def make(self) -> QueueEntry:
        rng = self._rng
        return QueueEntry(
            job_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            owner=rng.choice(self._owners),
            role=rng.choice(_ROLES),
            backend=BACKEND,
            timeout_s=float(rng.randint(1, 600)),
            queued_at=self._now - rng.uniform(0, 600),
            burst=rng.uniform(1.0, 5.0),
            size_bytes=PAYLOAD_BYTES + 200,
            payload=rng.randbytes(PAYLOAD_BYTES),
        )


def filled_queue(length: int, maker: EntryMaker) -> QueueSet:
    queues = QueueSet(PriorityPolicy(), max_bytes=2**62, unify_backends=False)
    for _ in range(length):
        entry = maker.make()
        queues.force_reserve(entry.size_bytes)
        queues.push(entry)
    return queues


def push_pop_rows(length: int, operations: int) -> list[Row]:
    """`queue push @n` and `queue pop @n`: per-operation cost with n jobs queued."""
    maker = EntryMaker()
    queues = filled_queue(length, maker)
    fresh = [maker.make() for _ in range(operations)]
    pushes: list[float] = []
    pops: list[float] = []
    now = time.time()
    clock = time.perf_counter
    for entry in fresh:
        queues.force_reserve(entry.size_bytes)
        began = clock()
        queues.push(entry)
        pushed = clock()
        popped = queues.pop(BACKEND, now)
        done = clock()
        assert popped is not None
        # Freed here, untimed: rebinding `popped` inside the timed call would
        # charge the pop with freeing the previous job (its id, payload and
        # numbers), work that belongs to whoever is done with the job.
        del popped
        pushes.append(pushed - began)
        pops.append(done - pushed)
    label = f"{length:,}"
    return [
        summarise(f"queue push @{label}", pushes, sum(pushes), Usage()),
        summarise(f"queue pop @{label}", pops, sum(pops), Usage()),
    ]


def queue_memory(jobs: int) -> QueueMemory:
    """Bytes per queued job, everything included: entry, id, payload, heaps and indexes."""
    maker = EntryMaker()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        queues = filled_queue(jobs, maker)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(queues) == jobs
    return QueueMemory(jobs, (after - before) / jobs, PAYLOAD_BYTES)


def queue_rows(lengths: Sequence[int], operations: int) -> list[Row]:
    rows: list[Row] = []
    for length in lengths:
        rows.extend(push_pop_rows(length, operations))
    return rows
