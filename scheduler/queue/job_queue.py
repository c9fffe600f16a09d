"""One backend's queue: true priority order, pop cost nearly flat in the queue's length.

Two sorted sequences (see sorted_chunks.py) cover the queued jobs: by
static key (see priority.py), whose end is the highest priority among jobs
not yet starved, and by queued_at, whose start holds the starved jobs
oldest first. An ordinary pop takes the end of the first and only reads the
first key of the second.

Why the age order forgets lazily: updating it at each pop would be a
bisect into a random chunk, several cache misses at a million jobs, for a
row that is only ever needed if the job starves. Instead each job has a
slot number, and a pop clears the slot's byte in `_alive` (one byte per
job: it stays in cache). Age rows of cleared slots are skipped when read,
and dropped all at once, in C loops over numbers, when they outnumber the
live ones. Age rows hold the slot and the priority key, not the entry, so a
popped job's memory is never kept.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.domain.jobs import Role
from scheduler.queue.priority import PriorityPolicy
from scheduler.queue.sorted_chunks import DEFAULT_CHUNK, Position, SortedChunks

Exclude = Callable[["QueueEntry"], bool]

_COMPACT_SLACK = 1024


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """What the queue holds of a QUEUED job: enough to order it and to hand it out.

    `payload` is kept when the job was submitted through this replica, so the
    assignment needs no S3 read; it is None for jobs restored from the table.
    Frozen because the queue files an entry under keys computed from its
    fields at push: a field changed while queued would lose the entry.
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

    def __post_init__(self) -> None:
        # Thousands of entries share a handful of owners and backends: one string each.
        object.__setattr__(self, "owner", sys.intern(self.owner))
        object.__setattr__(self, "backend", sys.intern(self.backend))


class JobQueue:
    def __init__(self, policy: PriorityPolicy, *, max_chunk: int = DEFAULT_CHUNK) -> None:
        self.policy = policy
        self.size_bytes = 0
        self._entries: dict[str, QueueEntry] = {}
        # Rows (entry, slot, size_bytes) by static key; among equal keys the
        # first pushed is taken first.
        self._by_priority = SortedChunks("OIqO", new_ties_first=True, max_chunk=max_chunk)
        # Rows (slot, static key) by queued_at, oldest first, then in push order.
        self._by_age = SortedChunks("Id", new_ties_first=False, max_chunk=max_chunk)
        self._alive = bytearray()  # per slot: 1 while its entry is queued
        self._free_slots: array[int] = array("I")  # slots no age row refers to
        self._stale = 0  # age rows of entries popped by priority
        self._generation = 0
        self._ranks: dict[str, int] = {}
        self._ranks_generation = -1
        self._ranks_edge: tuple[float | None, float | None] = (None, None)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._entries

    def job_ids(self) -> list[str]:
        return list(self._entries)

    def push(self, entry: QueueEntry) -> None:
        if entry.job_id in self._entries:
            raise ValueError(f"job {entry.job_id} is already queued")
        key = self.policy.static_key(entry)
        if not (math.isfinite(key) and math.isfinite(entry.queued_at)):
            raise ValueError(f"job {entry.job_id} has a non-finite timeout, burst or queued_at")
        if self._free_slots:
            slot = self._free_slots.pop()
            self._alive[slot] = 1
        else:
            slot = len(self._alive)
            self._alive.append(1)
        self._entries[entry.job_id] = entry
        self._by_priority.insert(key, (entry, slot, entry.size_bytes, entry.job_id))
        self._by_age.insert(entry.queued_at, (slot, key))
        self.size_bytes += entry.size_bytes
        self._generation += 1

    def pop(self, now: float, exclude: Exclude | None = None) -> QueueEntry | None:
        """The highest-priority entry at `now` that `exclude` does not refuse.

        Entries `exclude` refuses stay queued where they were.
        """
        oldest = self._by_age.first_key()
        if oldest is not None and self.policy.starved_at(oldest, now):
            entry = self._pop_starved(now, exclude)
            if entry is not None:
                return entry
        # Any starved entry left here was refused by `exclude` above.
        accept = None if exclude is None else _negate(exclude)
        row = self._by_priority.take_last(accept)
        if row is None:
            return None
        entry, slot, size, job_id = row
        self._alive[slot] = 0
        self._stale += 1
        self._forget(job_id, size)
        if self._stale > len(self._entries) + _COMPACT_SLACK:
            self._free_slots.extend(self._by_age.retain(0, self._alive))
            self._stale = 0
        return entry

    def remove(self, job_id: str) -> QueueEntry | None:
        entry = self._entries.get(job_id)
        if entry is None:
            return None
        at = self._by_priority.find(self.policy.static_key(entry), 0, entry)
        _, slot, size, _ = self._by_priority.delete(_found(at))
        self._by_age.delete(_found(self._by_age.find(entry.queued_at, 0, slot)))
        self._release(slot)
        self._forget(job_id, size)
        return entry

    def _pop_starved(self, now: float, exclude: Exclude | None) -> QueueEntry | None:
        self._drop_stale_front()
        for at in self._by_age.positions():
            slot, key = self._by_age.row_at(at)
            if not self._alive[slot]:
                continue
            if not self.policy.starved_at(self._by_age.key_at(at), now):
                return None
            found = self._locate(key, slot)
            entry: QueueEntry = self._by_priority.row_at(found)[0]
            if exclude is not None and exclude(entry):
                continue
            size = self._by_priority.delete(found)[2]
            self._by_age.delete(at)
            self._release(slot)
            self._forget(entry.job_id, size)
            return entry
        return None

    def _drop_stale_front(self) -> None:
        """Drop the age rows of popped entries from the start, so the first key is a live one."""
        age = self._by_age
        while len(age) and not self._alive[age.row_at((0, 0))[0]]:
            self._free_slots.append(age.delete((0, 0))[0])
            self._stale -= 1

    def _locate(self, key: float, slot: int) -> Position:
        return _found(self._by_priority.find(key, 1, slot))

    def _release(self, slot: int) -> None:
        self._alive[slot] = 0
        self._free_slots.append(slot)

    def _forget(self, job_id: str, size: int) -> None:
        del self._entries[job_id]
        self.size_bytes -= size
        self._generation += 1

    def _starved_run(self, now: float) -> tuple[list[tuple[int, float]], float | None]:
        """(slot, static key) of the starved entries, oldest first, and the next queued_at."""
        starved: list[tuple[int, float]] = []
        for at in self._by_age.positions():
            slot, key = self._by_age.row_at(at)
            if not self._alive[slot]:
                continue
            queued_at = self._by_age.key_at(at)
            if not self.policy.starved_at(queued_at, now):
                return starved, queued_at
            starved.append((slot, key))
        return starved, None

    def ordered(self, now: float) -> list[QueueEntry]:
        """Every entry in the order pop would return them at `now` (for positions and sprio)."""
        return self._ordered(self._starved_run(now)[0])

    def _ordered(self, starved: list[tuple[int, float]]) -> list[QueueEntry]:
        by_priority = self._by_priority
        if not starved:
            return [entry for (entry,) in by_priority.descending(0)]
        first = [by_priority.row_at(self._locate(key, slot))[0] for slot, key in starved]
        taken = {slot for slot, _ in starved}
        rest = (entry for entry, slot in by_priority.descending(0, 1) if slot not in taken)
        return [*first, *rest]

    def position(self, job_id: str, now: float) -> int | None:
        """1-based place in pop order at `now`, or None when not queued here.

        The ranking is cached until the queue changes or the set of starved
        entries does (checked exactly, on both sides of the edge of the
        starved run), so status polls of a quiet queue cost O(1).
        """
        if job_id not in self._entries:
            return None
        if self._ranks_generation != self._generation or not self._same_starved_run(now):
            starved, first_waiting = self._starved_run(now)
            order = self._ordered(starved)
            self._ranks = {entry.job_id: rank for rank, entry in enumerate(order, start=1)}
            self._ranks_generation = self._generation
            last_starved = order[len(starved) - 1].queued_at if starved else None
            self._ranks_edge = (last_starved, first_waiting)
        return self._ranks.get(job_id)

    def _same_starved_run(self, now: float) -> bool:
        last_starved, first_waiting = self._ranks_edge
        starved_at = self.policy.starved_at
        return (last_starved is None or starved_at(last_starved, now)) and (
            first_waiting is None or not starved_at(first_waiting, now)
        )


def _found(at: Position | None) -> Position:
    if at is None:
        raise RuntimeError("queue indexes out of step: an entry is missing from its order")
    return at


def _negate(exclude: Exclude) -> Exclude:
    return lambda entry: not exclude(entry)
