"""The queue pops in exactly the order of the priority formula, over all queued jobs.

A brute-force model evaluates DESIGN.md's formula term by term for every
queued job at the moment of each pop; the real queue (two heaps and a static
key) must agree with it, including the starvation rule, exclusions (a
requeued job kept from the agent that lost it), removals and positions.
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
        self.queue = JobQueue(POLICY)
        self.model: dict[str, ModelJob] = {}
        self.now = 1_000_000.0
        self.pushed = 0

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
        ordered = self.queue.ordered(self.now)
        assert {entry.job_id for entry in ordered} == set(self.model)
        for earlier, later in itertools.pairwise(ordered):
            assert no_later_than(self.model[earlier.job_id], self.model[later.job_id], self.now)
        for rank, entry in enumerate(ordered, start=1):
            assert self.queue.position(entry.job_id, self.now) == rank


QueueMatchesFormula.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
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


def test_many_removals_do_not_leave_the_heaps_growing() -> None:
    queue = JobQueue(POLICY)
    for n in range(5000):
        queue.push(make_entry(n, Role.GUEST, 10.0, float(n), 1.0))
        queue.remove(f"job-{n}")
    assert len(queue) == 0
    assert len(queue._by_priority) < 200 and len(queue._by_age) < 200


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
