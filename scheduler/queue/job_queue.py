"""One backend's queue: true priority order, pop cost nearly flat in the queue's length.

Two sorted sequences (see sorted_chunks.py) cover the queued jobs: by
static key (see priority.py), whose end is the highest priority among jobs
not yet starved, and by queued_at, whose start holds the starved jobs
oldest first. An ordinary pop takes the end of the first and only reads the
first key of the second.

What a pop does not do, because at a million jobs each would be a cache
miss or several: read the entry it returns (the row carries the job's size
and id hash), delete a key from a dict (slot_index.py), or update the age
order. Each job has a slot number; a pop clears the slot's byte in `_alive`
(one byte a job: it stays in cache), age rows of cleared slots are skipped
when read and dropped a chunk at a time, in C loops over numbers. Age rows
hold only the slot, so a popped job's memory is never kept.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.domain.jobs import Role
from scheduler.queue.priority import PriorityPolicy
from scheduler.queue.slot_index import LOW_32, SlotIndex
from scheduler.queue.sorted_chunks import DEFAULT_CHUNK, Position, SortedChunks

Exclude = Callable[["QueueEntry"], bool]


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
    save_job: bool = False  # for the lifecycle tags of the result and log it will upload
    payload: bytes | None = None

    def __post_init__(self) -> None:
        # Thousands of entries share a handful of owners and backends: one string each.
        object.__setattr__(self, "owner", sys.intern(self.owner))
        object.__setattr__(self, "backend", sys.intern(self.backend))


class JobQueue:
    def __init__(self, policy: PriorityPolicy, *, max_chunk: int = DEFAULT_CHUNK) -> None:
        self.policy = policy
        self.size_bytes = 0
        # Rows (entry, packed, size_bytes) by static key, where packed holds
        # the slot (low 32 bits) and the id hash's low 32 bits (high ones);
        # among equal keys the first pushed is taken first.
        self._by_priority = SortedChunks("OQq", new_ties_first=True, max_chunk=max_chunk)
        # Rows (slot,) by queued_at, oldest first, then in push order.
        self._by_age = SortedChunks("I", new_ties_first=False, max_chunk=max_chunk)
        self._index = SlotIndex()
        self._keys: array[float] = array("d")  # per slot: its static key, to find its row
        self._alive = bytearray()  # per slot: 1 while its entry is queued
        self._free_slots: array[int] = array("I")  # slots no age row refers to
        self._stale = 0  # age rows of entries popped by priority
        self._stale_slack = max_chunk
        self._sweep_at = 0  # the age chunk to clean next
        self._generation = 0
        self._ranks: dict[str, int] = {}
        self._ranks_generation = -1
        self._ranks_edge: tuple[float | None, float | None] = (None, None)

    def __len__(self) -> int:
        return self._index.live

    def __contains__(self, job_id: object) -> bool:
        return isinstance(job_id, str) and self._find_slot(job_id) is not None

    def job_ids(self) -> list[str]:
        return [entry.job_id for (entry,) in self._by_priority.descending(0)]

    def push(self, entry: QueueEntry) -> None:
        key = self.policy.static_key(entry)
        if not (math.isfinite(key) and math.isfinite(entry.queued_at)):
            raise ValueError(f"job {entry.job_id} has a non-finite timeout, burst or queued_at")
        slot = self._free_slots.pop() if self._free_slots else len(self._alive)
        id_hash = hash(entry.job_id)
        if not self._index.add(id_hash, slot, entry.job_id, self._holds):
            if slot < len(self._alive):
                self._free_slots.append(slot)
            raise ValueError(f"job {entry.job_id} is already queued")
        if slot < len(self._alive):
            self._alive[slot] = 1
            self._keys[slot] = key
        else:
            self._alive.append(1)
            self._keys.append(key)
        packed = slot | (id_hash & LOW_32) << 32
        self._by_priority.insert(key, (entry, packed, entry.size_bytes))
        self._by_age.insert(entry.queued_at, (slot,))
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
        # The row's values are taken with pop(), and the entry returned as
        # it comes off the row: unpacking, or naming the entry, would write
        # to its reference count, a cache miss on memory the queue need not read.
        size = row.pop()
        packed = row.pop()
        slot = packed & LOW_32
        self._index.discard(packed >> 32, slot)
        self._alive[slot] = 0
        self._stale += 1
        self._forget(size)
        if self._stale > (self._index.live >> 1) + self._stale_slack:
            self._sweep()
        return row.pop()  # type: ignore[no-any-return]  # the entry; cast() would touch it

    def remove(self, job_id: str) -> QueueEntry | None:
        slot = self._find_slot(job_id)
        if slot is None:
            return None
        row = self._by_priority.delete(self._locate(slot))
        entry: QueueEntry = row[0]
        self._by_age.delete(_found(self._by_age.find(entry.queued_at, 0, slot)))
        self._release(slot, row[1] >> 32, row[2])
        return entry

    def _find_slot(self, job_id: str) -> int | None:
        return self._index.find(hash(job_id), job_id, self._holds)

    def _holds(self, slot: int, job_id: str) -> bool:
        entry: QueueEntry = self._by_priority.row_at(self._locate(slot))[0]
        return entry.job_id == job_id

    def _pop_starved(self, now: float, exclude: Exclude | None) -> QueueEntry | None:
        self._drop_stale_front()
        age = self._by_age
        for at in age.positions():
            slot = age.row_at(at)[0]
            if not self._alive[slot]:
                continue
            if not self.policy.starved_at(age.key_at(at), now):
                return None
            found = self._locate(slot)
            entry: QueueEntry = self._by_priority.row_at(found)[0]
            if exclude is not None and exclude(entry):
                continue
            _, packed, size = self._by_priority.delete(found)
            age.delete(at)
            self._release(slot, packed >> 32, size)
            return entry
        return None

    def _sweep(self) -> None:
        """Drop the stale rows of one age chunk, the next in turn.

        A chunk at a time (tens of microseconds), never the whole order at
        once: at a million jobs that would stall the scheduler for a third
        of a second. Called while stale rows outnumber half the live ones,
        so they stay fewer than the live ones plus a little.
        """
        age = self._by_age
        if not age.chunk_count():
            return
        c = self._sweep_at % age.chunk_count()
        dropped = age.retain(c, 0, self._alive)
        self._free_slots.extend(dropped)
        self._stale -= len(dropped)
        self._sweep_at = c + 1
        self._index.tidy()

    def _drop_stale_front(self) -> None:
        """Drop the age rows of popped entries from the start, so the first key is a live one."""
        age = self._by_age
        while len(age) and not self._alive[age.row_at((0, 0))[0]]:
            self._free_slots.append(age.delete((0, 0))[0])
            self._stale -= 1

    def _locate(self, slot: int) -> Position:
        at = self._by_priority.find(self._keys[slot], 1, slot, mask=LOW_32)
        return _found(at)

    def _release(self, slot: int, id_hash: int, size: int) -> None:
        """Forget a job whose rows are both gone: its slot is free at once."""
        self._index.discard(id_hash, slot)
        self._alive[slot] = 0
        self._free_slots.append(slot)
        self._forget(size)

    def _forget(self, size: int) -> None:
        self.size_bytes -= size
        self._generation += 1

    def _starved_run(self, now: float) -> tuple[list[int], float | None]:
        """Slots of the starved entries, oldest first, and the next live queued_at."""
        age = self._by_age
        starved: list[int] = []
        for at in age.positions():
            slot = age.row_at(at)[0]
            if not self._alive[slot]:
                continue
            queued_at = age.key_at(at)
            if not self.policy.starved_at(queued_at, now):
                return starved, queued_at
            starved.append(slot)
        return starved, None

    def ordered(self, now: float) -> list[QueueEntry]:
        """Every entry in the order pop would return them at `now` (for positions and sprio)."""
        return self._ordered(self._starved_run(now)[0])

    def _ordered(self, starved: list[int]) -> list[QueueEntry]:
        rows = self._by_priority
        if not starved:
            return [entry for (entry,) in rows.descending(0)]
        first = [rows.row_at(self._locate(slot))[0] for slot in starved]
        taken = set(starved)
        rest = (e for e, packed in rows.descending(0, 1) if packed & LOW_32 not in taken)
        return [*first, *rest]

    def position(self, job_id: str, now: float) -> int | None:
        """1-based place in pop order at `now`, or None when not queued here.

        The ranking is cached until the queue changes or the set of starved
        entries does (checked exactly, on both sides of the edge of the
        starved run), so status polls of a quiet queue cost O(1).
        """
        if self._ranks_generation != self._generation or not self._same_starved_run(now):
            if job_id not in self:
                return None
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
