"""One backend's queue: true priority order at O(log n) per push and pop.

Two heaps over the same entries: by static key (see priority.py) for the
ordinary order, and by queued_at for the starvation rule. An entry taken out
through one heap stays behind in the other as a stale tuple and is skipped
when it reaches the top (it is recognised by its sequence number, so an entry
pushed again after a failed claim is never mistaken for its old self). Stale
tuples are compacted away once they outnumber the live ones.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from scheduler.domain.jobs import Role
from scheduler.queue.priority import PriorityPolicy

Exclude = Callable[["QueueEntry"], bool]


@dataclass(slots=True)
class QueueEntry:
    """What the queue holds of a QUEUED job: enough to order it and to hand it out.

    `payload` is kept when the job was submitted through this replica, so the
    assignment needs no S3 read; it is None for jobs restored from the table.
    """

    job_id: str
    owner: str
    role: Role
    backend: str
    timeout_s: float
    queued_at: float
    burst: float
    size_bytes: int
    payload: bytes | None = None
    seq: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        # Thousands of entries share a handful of owners and backends: one string each.
        self.owner = sys.intern(self.owner)
        self.backend = sys.intern(self.backend)


# (-static_key, queued_at, seq, entry) and (queued_at, seq, entry): seq is unique,
# so comparison never reaches the entry.
_ByPriority = tuple[float, float, int, QueueEntry]
_ByAge = tuple[float, int, QueueEntry]
_COMPACT_SLACK = 64


class JobQueue:
    def __init__(self, policy: PriorityPolicy) -> None:
        self.policy = policy
        self._entries: dict[str, QueueEntry] = {}
        self._by_priority: list[_ByPriority] = []
        self._by_age: list[_ByAge] = []
        self._next_seq = 0
        self._generation = 0
        self._ranks: dict[str, int] = {}
        self._ranks_generation = -1
        self._ranks_valid_until = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._entries

    def __iter__(self) -> Iterator[QueueEntry]:
        return iter(list(self._entries.values()))

    def push(self, entry: QueueEntry) -> None:
        if entry.job_id in self._entries:
            raise ValueError(f"job {entry.job_id} is already queued")
        self._next_seq += 1
        entry.seq = self._next_seq
        self._entries[entry.job_id] = entry
        key = self.policy.static_key(entry)
        heapq.heappush(self._by_priority, (-key, entry.queued_at, entry.seq, entry))
        heapq.heappush(self._by_age, (entry.queued_at, entry.seq, entry))
        self._generation += 1

    def remove(self, job_id: str) -> QueueEntry | None:
        entry = self._entries.pop(job_id, None)
        if entry is not None:
            self._generation += 1
            self._compact_if_needed()
        return entry

    def pop(self, now: float, exclude: Exclude | None = None) -> QueueEntry | None:
        """The highest-priority entry at `now` that `exclude` does not refuse."""
        entry = self._pop_starved(now, exclude)
        if entry is None:
            entry = self._pop_by_priority(now, exclude)
        if entry is not None:
            del self._entries[entry.job_id]
            self._generation += 1
            self._compact_if_needed()
        return entry

    def _live(self, seq: int, entry: QueueEntry) -> bool:
        current = self._entries.get(entry.job_id)
        return current is not None and current.seq == seq

    def _pop_starved(self, now: float, exclude: Exclude | None) -> QueueEntry | None:
        heap = self._by_age
        passed_over: list[_ByAge] = []
        chosen: QueueEntry | None = None
        while heap:
            queued_at, seq, entry = heap[0]
            if not self._live(seq, entry):
                heapq.heappop(heap)
                continue
            if now - queued_at < self.policy.max_wait_s:
                break
            item = heapq.heappop(heap)
            if exclude is not None and exclude(entry):
                passed_over.append(item)
                continue
            chosen = entry
            break
        for item in passed_over:
            heapq.heappush(heap, item)
        return chosen

    def _pop_by_priority(self, now: float, exclude: Exclude | None) -> QueueEntry | None:
        heap = self._by_priority
        passed_over: list[_ByPriority] = []
        chosen: QueueEntry | None = None
        while heap:
            item = heapq.heappop(heap)
            _, _, seq, entry = item
            if not self._live(seq, entry):
                continue
            # A starved entry here was refused by `exclude` in the first pass.
            if self.policy.is_starved(entry, now) or (exclude is not None and exclude(entry)):
                passed_over.append(item)
                continue
            chosen = entry
            break
        for item in passed_over:
            heapq.heappush(heap, item)
        return chosen

    def _compact_if_needed(self) -> None:
        live = len(self._entries)
        limit = 2 * live + _COMPACT_SLACK
        if len(self._by_priority) > limit:
            self._by_priority = [t for t in self._by_priority if self._live(t[2], t[3])]
            heapq.heapify(self._by_priority)
        if len(self._by_age) > limit:
            self._by_age = [t for t in self._by_age if self._live(t[1], t[2])]
            heapq.heapify(self._by_age)

    def _order_key(self, entry: QueueEntry, now: float) -> tuple[int, float, float, int]:
        if self.policy.is_starved(entry, now):
            return (0, entry.queued_at, 0.0, entry.seq)
        return (1, -self.policy.static_key(entry), entry.queued_at, entry.seq)

    def ordered(self, now: float) -> list[QueueEntry]:
        """Every entry in the order pop would return them at `now` (for positions and sprio)."""
        return sorted(self._entries.values(), key=lambda entry: self._order_key(entry, now))

    def position(self, job_id: str, now: float) -> int | None:
        """1-based place in pop order at `now`, or None when not queued here.

        The ranking is cached until the queue changes or the next job crosses
        into the starvation rule, so status polls of a quiet queue cost O(1).
        """
        if job_id not in self._entries:
            return None
        if self._ranks_generation != self._generation or now >= self._ranks_valid_until:
            order = self.ordered(now)
            self._ranks = {entry.job_id: rank for rank, entry in enumerate(order, start=1)}
            self._ranks_generation = self._generation
            waiting = [e.queued_at for e in order if not self.policy.is_starved(e, now)]
            self._ranks_valid_until = (
                min(waiting) + self.policy.max_wait_s if waiting else float("inf")
            )
        return self._ranks.get(job_id)
