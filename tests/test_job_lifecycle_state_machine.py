"""Random transitions on two replicas' lifecycles over one job table, checked at every step.

Two `JobLifecycle`s share a real store (DynamoDB in moto) and a manual clock,
as two scheduler replicas would; one replica's jobs reach the other only
through its replica sync. After every step: each replica's invariants hold
(invariants.py), every job's stored status is the one a brute-force model
predicts, and a replica's memory agrees with the model for every job it
cannot have missed a change of (it made the last change, or synced since).

Jobs may wait on others (dependencies.py). Which replica judges a waiting job
first is the replicas' race, so the model follows the table there, checking
that each promotion or ending is the verdict on the dependencies as stored,
and that after a replica's sync no waiting job is left whose verdict is decided.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from moto import mock_aws

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import ensure_bucket
from scheduler.aws.table_definitions import jobs_table_definition
from scheduler.blob_store.blob_store import BlobStore, lifecycle_tags
from scheduler.blob_store.memory_blob_store import MemoryBlobStore
from scheduler.blob_store.s3_blob_store import S3BlobStore
from scheduler.config import SchedulerConfig
from scheduler.domain.dependencies import Condition, Outcome, Verdict, judge
from scheduler.domain.errors import ResourceExhausted
from scheduler.domain.jobs import JobRecord, JobStatus, Role
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.job_store.job_store import JobStore
from scheduler.job_store.memory_job_store import MemoryJobStore
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.queue.priority import PriorityPolicy
from scheduler.queue.queue_set import QueueSet
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_events import JobEvents, QueueSignals
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.job_reads import FinishedJobs
from scheduler.service.lease_monitor import LeaseMonitor
from scheduler.service.replica_sync import ReplicaSync
from scheduler.service.tracked_jobs import LifecyclePorts
from tests.service_harness import completion_at
from tests.token_database_helpers import ManualClock

T = TypeVar("T")
LEASE_S = 30.0
TIMEOUT_S = 50.0
MAX_ATTEMPTS = 2
LIMIT = 3  # jobs queued or running per developer token
MAX_QUEUE_BYTES = 1000
OWNERS = ("alice", "bob")
AGENTS = ("agent-1", "agent-2")
BACKENDS = ("qpu", "sim")
NOT_STARTED = (JobStatus.QUEUED, JobStatus.HELD, JobStatus.WAITING)
COUNTED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING)
RELEASED_AS = {
    Outcome.ELIGIBLE: JobStatus.QUEUED,
    Outcome.WAITING: JobStatus.WAITING,
    Outcome.IMPOSSIBLE: JobStatus.CANCELLED,
}
CONFIG = replace(
    SchedulerConfig(),
    lease_seconds=LEASE_S,
    max_attempts=MAX_ATTEMPTS,
    max_concurrent_jobs={Role.ADMIN: 100, Role.DEVELOPER: LIMIT, Role.GUEST: 1},
    max_queue_bytes=MAX_QUEUE_BYTES,
    finished_job_cache_entries=10_000,
)


@dataclass
class Expected:
    """What the model says the job table holds for one job."""

    owner: str
    status: JobStatus = JobStatus.QUEUED
    attempt: int = 0
    holder: str = ""
    lease_expires_at: float = 0.0
    deadline: float = 0.0
    cancel_requested: bool = False
    array_id: str = ""
    max_running: int = 0
    max_attempts: int = 0  # the job's own limit; 0: MAX_ATTEMPTS
    retry_on_failure: bool = False
    depends_on: list[str] = field(default_factory=list)
    condition: Condition = Condition.AFTER_OK

    @property
    def attempts_allowed(self) -> int:
        return self.max_attempts or MAX_ATTEMPTS


@dataclass
class Replica:
    lifecycle: JobLifecycle
    finished: FinishedJobs
    sync: ReplicaSync
    monitor: LeaseMonitor
    current: set[str] = field(default_factory=set)  # jobs it cannot have missed a change of
    known: set[str] = field(default_factory=set)  # jobs it held in memory (HELD ones it drops)


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.io = BlockingIo(2, "state-machine")
        self.clock = ManualClock()
        self.store, self.blobs = self.make_stores()
        self.replicas = [self._replica() for _ in range(2)]
        self.model: dict[str, Expected] = {}
        self.touched: set[str] = set()  # jobs a step may have written: checked after it
        self.followed = True  # the model has taken the waiting jobs' changes from the table

    def make_stores(self) -> tuple[JobStore, BlobStore]:
        """Fresh and empty for each example."""
        return MemoryJobStore(clock=self.clock), MemoryBlobStore(clock=self.clock)

    def _replica(self) -> Replica:
        queues = QueueSet(PriorityPolicy(), CONFIG.max_queue_bytes, unify_backends=False)
        finished = FinishedJobs(CONFIG.finished_job_cache_entries, self.clock)
        lifecycle = JobLifecycle(
            CONFIG,
            self.store,
            self.blobs,
            queues,
            LifecyclePorts(self.io, self.io),
            events=JobEvents(),
            signals=QueueSignals(),
            finished=finished,
            metrics=SchedulerMetrics(),
            clock=self.clock,
        )
        lifecycle.mark_restored()  # the table starts empty: nothing to restore
        sync = ReplicaSync(lifecycle, self.store, self.io, 3600.0, clock=self.clock)
        monitor = LeaseMonitor(lifecycle, LEASE_S, self.clock)
        return Replica(lifecycle, finished, sync, monitor)

    def teardown(self) -> None:
        self.follow_waiting()
        self._check_store(set(self.model))
        self.loop.close()
        self.io.shutdown()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one transition, then the judgements of waiting jobs it set off."""
        result = self.loop.run_until_complete(coroutine)
        for replica in self.replicas:
            self.loop.run_until_complete(replica.lifecycle.dependencies_settled())
        self.followed = False  # once the step has told the model what it did itself
        return result

    def verdict(self, expected: Expected) -> Verdict:
        """The verdict on a job's dependencies as the model (= the table) has them."""
        return judge(expected.condition, {d: self.model[d].status for d in expected.depends_on})

    def follow_waiting(self) -> None:
        """Take each waiting job's promotion or ending from the table, checking it is the
        verdict on its dependencies; either replica may have made it."""
        if self.followed:
            return
        self.followed = True
        for job_id, expected in self.model.items():
            if expected.status is not JobStatus.WAITING:
                continue
            stored = self.store.get(job_id)
            assert stored is not None, job_id
            if stored.status is JobStatus.WAITING:
                continue
            verdict = self.verdict(expected)
            if stored.status is JobStatus.QUEUED:
                assert verdict.outcome is Outcome.ELIGIBLE, (job_id, verdict)
            else:
                assert stored.status is JobStatus.CANCELLED, (job_id, stored.status)
                assert verdict.outcome is Outcome.IMPOSSIBLE, (job_id, verdict)
                # It names a dependency that decided it (which one, when several did, is
                # the judge's order at the moment it looked).
                named = [d for d in expected.depends_on if f"dependency job {d} " in stored.detail]
                assert named and self.model[named[0]].status.terminal, (job_id, stored.detail)
                assert expected.condition.value in stored.detail, job_id
            expected.status = stored.status
            self.touched.add(job_id)
            for replica in self.replicas:
                replica.current.discard(job_id)

    def changed_by(self, index: int, job_id: str) -> None:
        """Replica `index` made the job's last change; the other may have missed it."""
        self.replicas[index].current.add(job_id)
        self.replicas[index].known.add(job_id)
        self.replicas[1 - index].current.discard(job_id)

    def pick(self, choice: int) -> str:
        job_id = sorted(self.model)[choice % len(self.model)]
        self.touched.add(job_id)
        return job_id

    # --- a client's transitions ----------------------------------------------------

    @rule(
        index=st.integers(0, 1),
        owner=st.sampled_from(OWNERS),
        backend=st.sampled_from(BACKENDS),
        size=st.sampled_from([100, 250, 400]),
        keyed=st.booleans(),
        max_attempts=st.sampled_from([0, 1, 2]),
        retry_on_failure=st.booleans(),
    )
    def submit(
        self,
        index: int,
        owner: str,
        backend: str,
        size: int,
        keyed: bool,
        max_attempts: int,
        retry_on_failure: bool,
    ) -> None:
        lifecycle = self.replicas[index].lifecycle
        job_id = f"job-{len(self.model):03d}"
        payload = b"x" * size

        async def prepare() -> tuple[JobRecord, bytes]:
            job = self.record(job_id, owner, backend, size, lifecycle, keyed=keyed)
            job.max_attempts, job.retry_on_failure = max_attempts, retry_on_failure
            tags = lifecycle_tags(Role.DEVELOPER, False)
            await self.io.run(self.blobs.put_input, job_id, payload, tags)
            return job, payload

        jobs = lifecycle.jobs
        reserved = sum(jobs.queued_bytes(key) for key in jobs.queue_keys())
        try:
            assert self.run(lifecycle.create(owner, Role.DEVELOPER, job_id, size, prepare))
        except ResourceExhausted:
            assert jobs.active_jobs(owner) >= LIMIT or reserved + size > MAX_QUEUE_BYTES
            return
        self.model[job_id] = Expected(
            owner, max_attempts=max_attempts, retry_on_failure=retry_on_failure
        )
        self.touched.add(job_id)
        self.changed_by(index, job_id)

    @rule(
        index=st.integers(0, 1),
        owner=st.sampled_from(OWNERS),
        backend=st.sampled_from(BACKENDS),
        count=st.integers(1, 3),
        max_running=st.integers(0, 2),
        keyed=st.booleans(),
    )
    def submit_array(
        self, index: int, owner: str, backend: str, count: int, max_running: int, keyed: bool
    ) -> None:
        """An array's jobs are admitted together or not at all."""
        lifecycle = self.replicas[index].lifecycle
        array_id = f"array-{len(self.model):03d}"
        job_ids = [f"job-{len(self.model) + n:03d}" for n in range(count)]
        size = 100

        async def prepare() -> tuple[list[JobRecord], bytes]:
            jobs = []
            for n, job_id in enumerate(job_ids):
                job = self.record(job_id, owner, backend, size, lifecycle, keyed=keyed)
                jobs.append(
                    replace(
                        job,
                        array_id=array_id,
                        array_index=n,
                        array_size=count,
                        array_max_running=max_running,
                    )
                )
                tags = lifecycle_tags(Role.DEVELOPER, False)
                await self.io.run(self.blobs.put_input, job_id, b"x" * size, tags)
            return jobs, b"x" * size

        jobs = lifecycle.jobs
        reserved = sum(jobs.queued_bytes(key) for key in jobs.queue_keys())
        members = [(job_id, size) for job_id in job_ids]
        try:
            created = self.run(
                lifecycle.create_array(owner, Role.DEVELOPER, members, prepare, keyed=keyed)
            )
        except ResourceExhausted:
            over_limit = jobs.active_jobs(owner) + count > LIMIT
            assert over_limit or reserved + size * count > MAX_QUEUE_BYTES
            assert self.store.get_many(job_ids) == {}  # nothing stored
            return
        assert created
        for job_id in job_ids:
            self.model[job_id] = Expected(owner, array_id=array_id, max_running=max_running)
            self.touched.add(job_id)
            self.changed_by(index, job_id)

    def record(
        self,
        job_id: str,
        owner: str,
        backend: str,
        size: int,
        lifecycle: JobLifecycle,
        *,
        keyed: bool,
    ) -> JobRecord:
        now = self.clock()
        return JobRecord(
            job_id=job_id,
            owner=owner,
            owner_name=owner,
            role=Role.DEVELOPER,
            backend=backend,
            status=JobStatus.QUEUED,
            format="qasm3",
            n_shots=10,
            timeout_s=TIMEOUT_S,
            parameters={},
            size_bytes=size,
            payload_bytes=size,
            save_job=False,
            submitted_at=now,
            queued_at=now,
            burst=0.0,
            job_expiry=lifecycle.job_expiry(now),
            scheduler_version="test",
            idempotency_key=f"key-{job_id}" if keyed else "",
        )

    @precondition(lambda self: self.model)
    @rule(
        index=st.integers(0, 1),
        owner=st.sampled_from(OWNERS),
        choices=st.lists(st.integers(0, 100), min_size=1, max_size=3),
        condition=st.sampled_from(Condition),
    )
    def submit_after(
        self, index: int, owner: str, choices: list[int], condition: Condition
    ) -> None:
        """A job depending on some of its owner's jobs: queued, waiting, or refused at submit."""
        own = sorted(job_id for job_id, e in self.model.items() if e.owner == owner)
        if not own:
            return
        depends_on = list(dict.fromkeys(own[choice % len(own)] for choice in choices))
        expected = Expected(owner, depends_on=depends_on, condition=condition)
        verdict = self.verdict(expected)
        if verdict.outcome is Outcome.IMPOSSIBLE:
            return  # refused before anything is admitted (submissions.py)
        waits = verdict.outcome is Outcome.WAITING
        lifecycle = self.replicas[index].lifecycle
        job_id = f"job-{len(self.model):03d}"
        size = 100

        async def prepare() -> tuple[JobRecord, bytes]:
            job = self.record(job_id, owner, "qpu", size, lifecycle, keyed=False)
            job.depends_on, job.dependency = depends_on, condition.value
            if waits:
                job.status, job.detail = JobStatus.WAITING, verdict.waiting_detail()
            tags = lifecycle_tags(Role.DEVELOPER, False)
            await self.io.run(self.blobs.put_input, job_id, b"x" * size, tags)
            return job, b"x" * size

        jobs = lifecycle.jobs
        reserved = sum(jobs.queued_bytes(key) for key in jobs.queue_keys())
        waiting_on = verdict.pending if waits else None
        create = lifecycle.create(
            owner, Role.DEVELOPER, job_id, size, prepare, waiting_on=waiting_on
        )
        try:
            assert self.run(create)
        except ResourceExhausted:
            over_bytes = not waits and reserved + size > MAX_QUEUE_BYTES
            assert jobs.active_jobs(owner) >= LIMIT or over_bytes
            return
        expected.status = JobStatus.WAITING if waits else JobStatus.QUEUED
        self.model[job_id] = expected
        self.touched.add(job_id)
        self.changed_by(index, job_id)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 1), choice=st.integers(0, 100))
    def cancel(self, index: int, choice: int) -> None:
        lifecycle, job_id = self.replicas[index].lifecycle, self.pick(choice)
        expected = self.model[job_id]
        if expected.status is JobStatus.RUNNING:
            requested = self.run(lifecycle.request_cancel(job_id))
            assert requested is not None and requested.cancel_requested
            expected.cancel_requested = True
            return
        cancelled = self.run(lifecycle.cancel_queued(job_id, "cancelled by its owner"))
        assert (cancelled is not None) == (expected.status in NOT_STARTED)
        if cancelled is not None:
            expected.status = JobStatus.CANCELLED
            self.changed_by(index, job_id)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 1), choice=st.integers(0, 100))
    def hold(self, index: int, choice: int) -> None:
        job_id = self.pick(choice)
        expected = self.model[job_id]
        held = self.run(self.replicas[index].lifecycle.hold(job_id, "held by its owner"))
        assert (held is not None) == (expected.status in (JobStatus.QUEUED, JobStatus.WAITING))
        if held is not None:
            expected.status = JobStatus.HELD
            self.changed_by(index, job_id)
            self.replicas[index].known.discard(job_id)  # nothing of it stays in memory

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 1), choice=st.integers(0, 100), forced=st.booleans())
    def release(self, index: int, choice: int, forced: bool) -> None:
        """By the owner (limit and queue budget apply) or by an admin (`forced`)."""
        job_id = self.pick(choice)
        expected, record = self.model[job_id], self.store.get(job_id)
        assert record is not None
        lifecycle = self.replicas[index].lifecycle
        jobs = lifecycle.jobs
        reserved = sum(jobs.queued_bytes(key) for key in jobs.queue_keys())
        try:
            released = self.run(lifecycle.release(record, "", forced=forced))
        except ResourceExhausted:
            assert not forced
            over_bytes = not record.depends_on and reserved + record.size_bytes > MAX_QUEUE_BYTES
            assert jobs.active_jobs(expected.owner) >= LIMIT or over_bytes
            return
        assert (released is not None) == (expected.status is JobStatus.HELD)
        if released is not None:
            if expected.depends_on:  # waiting again, and judged at once
                outcome = self.verdict(expected).outcome
                assert released.status is RELEASED_AS[outcome], (job_id, outcome)
            else:
                assert released.status is JobStatus.QUEUED
            expected.status = released.status
            self.changed_by(index, job_id)

    # --- an agent's transitions ---------------------------------------------------

    @rule(index=st.integers(0, 1), backend=st.sampled_from(BACKENDS), agent=st.sampled_from(AGENTS))
    def claim(self, index: int, backend: str, agent: str) -> None:
        lifecycle = self.replicas[index].lifecycle
        entry = lifecycle.next_queued(backend, agent)
        if entry is None:
            return
        expected = self.model[entry.job_id]
        self.touched.add(entry.job_id)
        claimed = self.run(lifecycle.claim(entry, agent))
        if claimed is None:  # moved through the other replica: this one's entry was stale
            assert expected.status is not JobStatus.QUEUED
            assert entry.job_id not in self.replicas[index].current
            return
        assert expected.status is JobStatus.QUEUED
        assert claimed.payload == b"x" * entry.size_bytes
        now = self.clock()
        expected.status, expected.holder = JobStatus.RUNNING, agent
        expected.attempt += 1
        expected.lease_expires_at = now + LEASE_S
        expected.deadline = now + TIMEOUT_S + LEASE_S
        assert claimed.job.attempt == expected.attempt
        self.changed_by(index, entry.job_id)
        if expected.max_running:  # this replica never runs more of the array than that
            array = [j for j, e in self.model.items() if e.array_id == expected.array_id]
            here = [j for j in array if lifecycle.jobs.tracked(j) is not None]
            assert len(here) <= expected.max_running, here

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 1), choice=st.integers(0, 100), holder=st.booleans())
    def heartbeat(self, index: int, choice: int, holder: bool) -> None:
        job_id = self.pick(choice)
        expected = self.model[job_id]
        agent = expected.holder if holder else "agent-stranger"
        renewed = self.run(self.replicas[index].lifecycle.renew(job_id, agent))
        holds = expected.status is JobStatus.RUNNING and expected.holder == agent
        assert (renewed is not None) == holds
        if renewed is not None:
            expected.lease_expires_at = self.clock() + LEASE_S

    @precondition(lambda self: self.model)
    @rule(
        index=st.integers(0, 1),
        choice=st.integers(0, 100),
        holder=st.booleans(),
        outcome=st.sampled_from([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED]),
    )
    def finish(self, index: int, choice: int, holder: bool, outcome: JobStatus) -> None:
        job_id = self.pick(choice)
        expected = self.model[job_id]
        agent = expected.holder if holder else "agent-stranger"
        completion = completion_at(self.clock(), outcome)
        finished = self.run(self.replicas[index].lifecycle.finish(job_id, agent, completion))
        holds = expected.status is JobStatus.RUNNING and expected.holder == agent
        assert (finished is not None) == holds
        if finished is not None:
            retried = (
                outcome is JobStatus.FAILED
                and expected.retry_on_failure
                and not expected.cancel_requested
                and expected.attempt < expected.attempts_allowed
            )
            expected.status = JobStatus.QUEUED if retried else outcome
            expected.holder = ""
            if retried:
                expected.cancel_requested = False
            assert finished.status is expected.status
            self.changed_by(index, job_id)

    # --- an operator's transitions ------------------------------------------------

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 1), choice=st.integers(0, 100))
    def admin_requeue(self, index: int, choice: int) -> None:
        job_id = self.pick(choice)
        expected, record = self.model[job_id], self.store.get(job_id)
        assert record is not None
        requeued = self.run(self.replicas[index].lifecycle.requeue(record, "requeued by admin"))
        movable = expected.status is JobStatus.RUNNING and not expected.cancel_requested
        assert (requeued is not None) == movable
        if requeued is not None:
            expected.status, expected.holder = JobStatus.QUEUED, ""
            self.changed_by(index, job_id)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 1), choice=st.integers(0, 100))
    def admin_fail(self, index: int, choice: int) -> None:
        job_id = self.pick(choice)
        expected, record = self.model[job_id], self.store.get(job_id)
        assert record is not None
        if record.status.terminal:
            return  # refused before any transition (administration.py)
        failed = self.run(self.replicas[index].lifecycle.fail(record, "failed by admin"))
        assert failed is not None and failed.status is JobStatus.FAILED
        expected.status, expected.holder = JobStatus.FAILED, ""
        self.changed_by(index, job_id)

    # --- the scheduler's own: time passes, replicas sync --------------------------

    @rule(index=st.integers(0, 1), seconds=st.sampled_from([5.0, 20.0, 31.0]))
    def time_passes(self, index: int, seconds: float) -> None:
        """The clock moves and replica `index`'s lease monitor runs once."""
        self.clock.advance(seconds)
        now = self.clock()
        for tracked in self.replicas[index].lifecycle.jobs.running_jobs():
            self.touched.add(tracked.job_id)
            expected = self.model[tracked.job_id]
            same = expected.status is JobStatus.RUNNING and expected.attempt == tracked.attempt
            lapsed = same and expected.lease_expires_at < now
            if now > tracked.deadline:
                ends_as = JobStatus.TIMEOUT if same else None
            elif now > tracked.lease_expires_at and lapsed:
                more = tracked.attempt < expected.attempts_allowed
                ends_as = JobStatus.QUEUED if more else JobStatus.FAILED
            else:
                ends_as = None
            if ends_as is not None:
                expected.status, expected.holder = ends_as, ""
                expected.cancel_requested = False
                self.changed_by(index, tracked.job_id)
        self.run(self.replicas[index].monitor.check_once())

    @rule(index=st.integers(0, 1))
    def sync(self, index: int) -> None:
        """Replica `index` reads the table: it learns what the other one did."""
        self.clock.advance(1.0)  # as in production, counted before the sync started
        self.run(self.replicas[index].sync.sync_once())
        replica = self.replicas[index]
        self.follow_waiting()  # what its sync decided, before it counts as current
        replica.current = set(self.model)
        for job_id, expected in self.model.items():  # every decided one was judged
            if expected.status is JobStatus.WAITING:
                assert self.verdict(expected).outcome is Outcome.WAITING, job_id
        replica.known.update(j for j, e in self.model.items() if not e.status.terminal)
        replica.known -= {j for j, e in self.model.items() if e.status is JobStatus.HELD}

    # --- after every step ---------------------------------------------------------

    @invariant()
    def store_holds_the_model(self) -> None:
        """Each job a step may have written (moto's batch read is too slow for all each time)."""
        self.follow_waiting()
        self._check_store(self.touched)
        self.touched.clear()

    def _check_store(self, job_ids: set[str]) -> None:
        for job_id in job_ids:
            expected, job = self.model[job_id], self.store.get(job_id)
            assert job is not None, job_id
            assert (job.status, job.attempt) == (expected.status, expected.attempt), job_id
            if not job.status.terminal:
                assert job.cancel_requested == expected.cancel_requested, job_id

    @invariant()
    def replicas_hold_their_invariants(self) -> None:
        self.follow_waiting()
        for replica in self.replicas:
            missed = set(self.model) - replica.current
            assert replica.lifecycle.jobs.check_invariants(missed) == []

    @invariant()
    def replicas_agree_with_the_model(self) -> None:
        self.follow_waiting()
        for replica in self.replicas:
            jobs = replica.lifecycle.jobs
            counted = {job_id for _, job_id, _ in jobs.usage_counted()}
            for job_id in replica.current:
                status = self.model[job_id].status
                tracked = jobs.tracked(job_id)
                assert jobs.is_queued(job_id) == (status is JobStatus.QUEUED), job_id
                assert (tracked is not None) == (status is JobStatus.RUNNING), job_id
                if tracked is not None:
                    assert tracked.attempt == self.model[job_id].attempt, job_id
                assert jobs.is_waiting(job_id) == (status is JobStatus.WAITING), job_id
                counts = status in COUNTED  # a HELD job does not
                assert (job_id in counted) == counts, job_id
                if status.terminal and job_id in replica.known:
                    assert job_id in replica.finished, job_id


def test_job_lifecycle_on_the_memory_stores() -> None:
    run_state_machine_as_test(LifecycleMachine, settings=SETTINGS)


def test_job_lifecycle_over_dynamodb() -> None:
    """A few examples over DynamoDB (moto): its conditional writes decide as the memory store's."""
    with mock_aws():
        settings = AwsSettings()
        dynamodb, s3 = make_client("dynamodb", settings), make_client("s3", settings)
        ensure_bucket(s3, "jobs")

        class OverDynamoDb(LifecycleMachine):
            def make_stores(self) -> tuple[JobStore, BlobStore]:
                table = f"jobs-{uuid.uuid4().hex[:8]}"  # a fresh table: no other example's jobs
                dynamodb.create_table(**jobs_table_definition(table))  # ACTIVE at once in moto
                return DynamoDbJobStore(dynamodb, table), S3BlobStore(s3, "jobs")

        run_state_machine_as_test(OverDynamoDb, settings=AWS_SETTINGS)


SETTINGS = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # Without "explain": its tracing makes a failure take minutes to report, not seconds.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
AWS_SETTINGS = settings(SETTINGS, max_examples=4, stateful_step_count=30)
