"""The queue pops in exactly the order of the priority formula, over all queued jobs.

A brute-force model evaluates DESIGN.md's formula term by term for every
queued job at the moment of each pop; the real queue (sorted chunks, a
static key, a slot index) must agree with it, including the starvation rule,
exclusions (a requeued job kept from the agent that lost it), removals,
requeues of the same entry and positions. The queue runs with tiny chunks so
that a few dozen jobs reach every split, join and chunk boundary; the two
structures under it are also checked alone against plain models.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from scheduler.domain.jobs import Role
from scheduler.queue.fair_share import FairShareTracker
from scheduler.queue.job_queue import JobQueue, QueueEntry
from scheduler.queue.priority import PriorityPolicy
from scheduler.queue.queue_set import QueueSet
from scheduler.queue.slot_index import SlotIndex
from scheduler.queue.sorted_chunks import SortedChunks

POLICY = PriorityPolicy()
TOLERANCE = 1e-6  # the static key and the literal formula differ only by float rounding


@dataclass(frozen=True)
class ModelJob:
    entry: QueueEntry
    order: int  # push order: the final tie-break


def model_rank_key(job: ModelJob, now: float) -> tuple[int, float, float, int]:
    """Smaller is earlier: starved jobs oldest first, then by the formula, highest first."""
    breakdown = POLICY.breakdown(job.entry, now)
    if breakdown.starved:
        return (0, job.entry.queued_at, 0.0, job.order)
    return (1, -breakdown.priority, job.entry.queued_at, job.order)


def no_later_than(a: ModelJob, b: ModelJob, now: float) -> bool:
    """a may come before b: strictly better, or tied within rounding."""
    ka, kb = model_rank_key(a, now), model_rank_key(b, now)
    if ka[0] != kb[0]:
        return ka[0] < kb[0]
    if ka[0] == 0:
        return ka <= kb
    return ka[1] <= kb[1] + TOLERANCE


def make_entry(n: int, role: Role, timeout_s: float, queued_at: float, burst: float) -> QueueEntry:
    return QueueEntry(
        job_id=f"job-{n}",
        owner=f"owner-{n % 3}",
        role=role,
        backend="qpu",
        timeout_s=timeout_s,
        queued_at=queued_at,
        burst=burst,
        size_bytes=100,
    )


class QueueMatchesFormula(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.queue = JobQueue(POLICY, max_chunk=4)
        self.model: dict[str, ModelJob] = {}
        self.now = 1_000_000.0
        self.pushed = 0
        self.popped: list[QueueEntry] = []

    @rule(
        role=st.sampled_from([Role.ADMIN, Role.DEVELOPER, Role.GUEST]),
        timeout_s=st.sampled_from([1.0, 30.0, 60.0, 299.0, 300.0, 600.0, 3600.0, 7200.0])
        | st.floats(0.5, 5000.0),
        age_s=st.sampled_from([0, 1799, 1800, 1801]) | st.integers(0, 4000),
        burst=st.floats(1.0, 40.0),
    )
    def push(self, role: Role, timeout_s: float, age_s: int, burst: float) -> None:
        # Restored and requeued jobs keep an old queued_at: pushes are not in age order.
        self.pushed += 1
        entry = make_entry(self.pushed, role, timeout_s, self.now - age_s, burst)
        self.queue.push(entry)
        self.model[entry.job_id] = ModelJob(entry, self.pushed)

    @rule(seconds=st.sampled_from([0.0, 1.0, 60.0, 600.0, 1799.0, 1800.0, 1801.0, 3600.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule(data=st.data())
    def pop(self, data: st.DataObject) -> None:
        excluded = set(data.draw(st.sets(st.sampled_from(sorted(self.model) or ["none"]))))
        popped = self.queue.pop(self.now, exclude=lambda entry: entry.job_id in excluded)
        candidates = [job for job_id, job in self.model.items() if job_id not in excluded]
        if not candidates:
            assert popped is None
            return
        assert popped is not None and popped.job_id not in excluded
        chosen = self.model.pop(popped.job_id)
        for other in candidates:
            assert no_later_than(chosen, other, self.now), (chosen, other, self.now)
        assert popped.job_id not in self.queue
        self.popped.append(popped)

    @precondition(lambda self: bool(self.popped))
    @rule()
    def requeue(self) -> None:
        # A failed claim pushes the very entry back, old queued_at and all.
        entry = self.popped.pop()
        self.pushed += 1
        self.queue.push(entry)
        self.model[entry.job_id] = ModelJob(entry, self.pushed)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.model)))
        removed = self.queue.remove(job_id)
        assert removed is not None and removed.job_id == job_id
        del self.model[job_id]
        assert self.queue.remove(job_id) is None

    @invariant()
    def same_jobs_and_order(self) -> None:
        assert len(self.queue) == len(self.model)
        assert sorted(self.queue.job_ids()) == sorted(self.model)
        assert all(job_id in self.queue for job_id in self.model)
        assert "job-0" not in self.queue and self.queue.position("job-0", self.now) is None
        ordered = self.queue.ordered(self.now)
        assert {entry.job_id for entry in ordered} == set(self.model)
        for earlier, later in itertools.pairwise(ordered):
            assert no_later_than(self.model[earlier.job_id], self.model[later.job_id], self.now)
        for rank, entry in enumerate(ordered, start=1):
            assert self.queue.position(entry.job_id, self.now) == rank


# Enough runs to catch an order or bookkeeping slip within the first few dozen examples.
QueueMatchesFormula.TestCase.settings = settings(
    max_examples=50, stateful_step_count=50, deadline=None
)
TestQueueMatchesFormula = QueueMatchesFormula.TestCase


def test_starved_job_goes_before_any_priority() -> None:
    queue = JobQueue(POLICY)
    now = 10_000.0
    # A guest's long job that has waited 31 minutes beats an admin's instant fresh job.
    old = make_entry(1, Role.GUEST, 300.0, now - 31 * 60, burst=30.0)
    fresh = make_entry(2, Role.ADMIN, 0.5, now, burst=1.0)
    queue.push(fresh)
    queue.push(old)
    assert queue.pop(now) is old
    assert queue.pop(now) is fresh


def test_short_jobs_and_quiet_tokens_come_first() -> None:
    queue = JobQueue(POLICY)
    now = 10_000.0
    long_job = make_entry(1, Role.DEVELOPER, 600.0, now, burst=1.0)
    short_job = make_entry(2, Role.DEVELOPER, 10.0, now, burst=1.0)
    short_but_bursty = make_entry(3, Role.DEVELOPER, 10.0, now, burst=9.0)
    for entry in (long_job, short_but_bursty, short_job):
        queue.push(entry)
    assert [queue.pop(now) for _ in range(3)] == [short_job, short_but_bursty, long_job]


def test_an_entry_pushed_back_after_a_failed_claim_is_not_duplicated() -> None:
    queue = JobQueue(POLICY)
    entry = make_entry(1, Role.GUEST, 10.0, 0.0, 1.0)
    queue.push(entry)
    assert queue.pop(0.0) is entry
    queue.push(entry)
    assert queue.pop(5000.0) is entry  # starved now: taken through the other heap
    assert queue.pop(5000.0) is None
    assert len(queue) == 0


def test_popped_and_removed_jobs_leave_nothing_behind() -> None:
    # Pops leave age rows behind on purpose; they must not pile up, nor keep slots.
    queue = JobQueue(POLICY, max_chunk=16)
    for n in range(5000):
        queue.push(make_entry(n, Role.GUEST, 10.0, float(n % 7), 1.0))
        queue.push(make_entry(n + 10_000, Role.GUEST, 10.0, float(n % 5), 1.0))
        assert queue.pop(100.0) is not None
        assert queue.remove(f"job-{n + 10_000}") is not None or f"job-{n}" in queue
        while len(queue) > 3:
            assert queue.pop(100.0) is not None
    assert len(queue._by_age) <= len(queue) + 2 * 2 * 16
    assert len(queue._alive) < 128  # slots are reused, not grown per job


def test_queue_set_accounts_bytes_per_reservation_and_release() -> None:
    queues = QueueSet(POLICY, max_bytes=250, unify_backends=False)
    assert queues.try_reserve(100) and queues.try_reserve(100)
    assert not queues.try_reserve(100)  # 300 > 250: refused, nothing reserved
    assert queues.used_bytes == 200
    queues.push(make_entry(1, Role.GUEST, 10.0, 0.0, 1.0))
    queues.push(make_entry(2, Role.GUEST, 10.0, 0.0, 1.0))
    assert queues.pop("qpu", 1.0) is not None
    assert queues.used_bytes == 100
    assert queues.remove("job-2") is not None and queues.used_bytes == 0
    assert queues.length("qpu") == 0 and list(queues.backends()) == []


def test_backends_have_separate_queues_unless_unified() -> None:
    entry = make_entry(1, Role.GUEST, 10.0, 0.0, 1.0)
    separate = QueueSet(POLICY, max_bytes=1000, unify_backends=False)
    separate.push(entry)
    assert separate.pop("emulator", 1.0) is None
    assert separate.length("qpu") == 1 and separate.position("job-1", 1.0) == 1

    unified = QueueSet(POLICY, max_bytes=1000, unify_backends=True)
    unified.push(make_entry(1, Role.GUEST, 10.0, 0.0, 1.0))
    assert unified.length("emulator") == 1
    popped = unified.pop("emulator", 1.0)
    assert popped is not None and popped.backend == "qpu"


@given(gaps=st.lists(st.floats(0.0, 600.0), min_size=1, max_size=30))
def test_fair_share_burst_decays_with_its_half_life(gaps: list[float]) -> None:
    tracker = FairShareTracker(half_life_s=60.0)
    now, expected = 0.0, 0.0
    for gap in gaps:
        now += gap
        expected = expected * 0.5 ** (gap / 60.0) + 1.0
        burst = tracker.record_submission("owner", now)
        assert abs(burst - expected) < 1e-9 * max(expected, 1.0)
    assert tracker.record_submission("someone else", now) == 1.0


def test_fair_share_factor_matches_the_formula() -> None:
    assert POLICY.fair_share_factor(0.2) == 1.0  # at most one recent job: full share
    assert POLICY.fair_share_factor(1.0) == 1.0
    assert abs(POLICY.fair_share_factor(3.0) - 0.5) < 1e-12
    assert POLICY.timeout_factor(Role.GUEST, 600.0) == 0.0  # above the role's max
    assert POLICY.timeout_factor(Role.ADMIN, 1800.0) == 0.5


class ChunksMatchSortedList(RuleBasedStateMachine):
    """SortedChunks against a list kept sorted by (key, tie order), with tiny chunks."""

    def __init__(self) -> None:
        super().__init__()
        self.newest_first = False
        self.chunks = SortedChunks("IO", new_ties_first=self.newest_first, max_chunk=3)
        self.model: list[tuple[float, int, int]] = []  # (key, tie rank, id)
        self.inserted = 0

    def tie_rank(self) -> int:
        return -self.inserted if self.newest_first else self.inserted

    @rule(key=st.sampled_from([0.0, 1.0, 1.5, 2.0, -3.0]))
    def insert(self, key: float) -> None:
        self.inserted += 1
        self.chunks.insert(key, (self.inserted, f"row-{self.inserted}"))
        self.model.append((key, self.tie_rank(), self.inserted))
        self.model.sort()

    @rule(data=st.data())
    def take_last(self, data: st.DataObject) -> None:
        refused = data.draw(st.sets(st.sampled_from([row[2] for row in self.model] or [0])))
        row = self.chunks.take_last(lambda ident: ident not in refused)
        expected = [r for r in self.model if r[2] not in refused]
        if not expected:
            assert row is None
            return
        assert row is not None and row[0] == expected[-1][2]
        self.model.remove(expected[-1])

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete_found(self, data: st.DataObject) -> None:
        key, rank, ident = data.draw(st.sampled_from(self.model))
        at = self.chunks.find(key, 0, ident)
        assert at is not None and self.chunks.row_at(at)[0] == ident
        assert self.chunks.find(key + 0.25, 0, ident) is None
        self.chunks.delete(at)
        self.model.remove((key, rank, ident))

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def retain(self, data: st.DataObject) -> None:
        c = data.draw(st.integers(0, self.chunks.chunk_count() - 1))
        size = self.inserted + 1
        alive = bytearray(data.draw(st.lists(st.booleans(), min_size=size, max_size=size)))
        in_chunk = {self.chunks.row_at(at)[0] for at in self.chunks.positions() if at[0] == c}
        dropped = self.chunks.retain(c, 0, alive)
        assert sorted(dropped) == sorted(i for i in in_chunk if not alive[i])
        self.model = [r for r in self.model if r[2] not in set(dropped)]

    @invariant()
    def same_rows_in_order(self) -> None:
        assert len(self.chunks) == len(self.model)
        rows = [(self.chunks.key_at(at), self.chunks.row_at(at)) for at in self.chunks.positions()]
        assert rows == [(key, [ident, f"row-{ident}"]) for key, _, ident in self.model]
        assert list(self.chunks.descending(0)) == [(ident,) for _, _, ident in reversed(self.model)]
        assert self.chunks.first_key() == (self.model[0][0] if self.model else None)


class NewestTiesFirst(ChunksMatchSortedList):
    def __init__(self) -> None:
        super().__init__()
        self.newest_first = True
        self.chunks = SortedChunks("IO", new_ties_first=True, max_chunk=3)


for machine in (ChunksMatchSortedList, NewestTiesFirst):
    machine.TestCase.settings = settings(max_examples=40, stateful_step_count=50, deadline=None)
TestChunksMatchSortedList = ChunksMatchSortedList.TestCase
TestNewestTiesFirst = NewestTiesFirst.TestCase


@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "discard", "find", "tidy"]), st.integers(0, 40)),
        max_size=120,
    )
)
def test_slot_index_finds_what_was_added_even_when_hashes_collide(
    ops: list[tuple[str, int]],
) -> None:
    index = SlotIndex()
    model: dict[str, int] = {}  # job id -> slot
    ids_of_slot: dict[int, str] = {}

    def hash_of(job_id: str) -> int:
        return int(job_id[4:]) % 5 - 2  # five hashes for all ids: runs wrap and collide

    def holds(slot: int, job_id: str) -> bool:
        return ids_of_slot.get(slot) == job_id

    for op, n in ops:
        job_id = f"job-{n}"
        if op == "add":
            slot = len(ids_of_slot) + 100
            added = index.add(hash_of(job_id), slot, job_id, holds)
            assert added == (job_id not in model)
            if added:
                model[job_id] = slot
                ids_of_slot[slot] = job_id
        elif op == "discard" and job_id in model:
            index.discard(hash_of(job_id), model.pop(job_id))
        elif op == "tidy":
            index.tidy()
        assert index.find(hash_of(job_id), job_id, holds) == model.get(job_id)
        assert index.live == len(model)
    for job_id, slot in model.items():
        assert index.find(hash_of(job_id), job_id, holds) == slot


def test_slot_index_shrinks_after_draining_and_keeps_room_to_probe() -> None:
    """A drained queue's index shrinks, yet stays sparse: a full table would never end a probe."""
    index = SlotIndex()
    ids = {slot: f"job-{slot}" for slot in range(2000)}

    def holds(slot: int, job_id: str) -> bool:
        return ids.get(slot) == job_id

    for slot, job_id in ids.items():
        assert index.add(hash(job_id), slot, job_id, holds)
    grown = len(index._cells)
    for slot in range(5, 2000):
        index.discard(hash(ids.pop(slot)), slot)
    index.tidy()
    assert len(index._cells) < grown / 16, "the table shrank"
    assert 5 * index.live <= 2 * len(index._cells), "at most 40% full after shrinking"
    for slot, job_id in ids.items():
        assert index.find(hash(job_id), job_id, holds) == slot
    assert index.find(hash("job-absent"), "job-absent", holds) is None
