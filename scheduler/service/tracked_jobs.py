"""What a replica keeps in memory of the jobs it tracks (see job_lifecycle.py).

Plain records, no behaviour: the lifecycle is their only writer.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.jobs import JobRecord
from scheduler.queue.job_queue import QueueEntry
from scheduler.service.blocking_io import BlockingIo

# ~2 KB each: bounds that memory at a few MB, whatever the queue's length. Jobs
# claimed soon after they are queued (a short queue: where dispatch latency shows)
# are the ones found here.
QUEUED_RECORDS = 4096
# A counted job with no record may be a submission still writing it; one that
# has had no record for this long is not (its two bounded AWS calls are over).
PENDING_SUBMISSION_S = 120.0


@dataclass(frozen=True)
class LifecyclePorts:
    """The thread pools of the two ports: each transition runs on its caller's side."""

    submission: BlockingIo
    execution: BlockingIo


@dataclass
class RunningJob:
    job_id: str
    owner: str
    backend: str
    attempt: int
    lease_expires_at: float
    deadline: float  # dequeued_at + timeout + one lease: past it the scheduler ends the job
    # The record as this replica last saw it RUNNING (without its input), so that the
    # finish need not read it back (see JobStore.finish); the store checks it is current.
    record: JobRecord | None = None
    max_attempts: int = 0  # the job's own limit on attempts; 0: SCHEDULER_MAX_ATTEMPTS


@dataclass
class Deferral:
    """A requeued job waits this long for an agent that has not tried it yet."""

    tried_agents: frozenset[str]
    until: float


@dataclass
class SyncCounts:
    """What one replica sync changed here."""

    queued_added: int = 0
    running_added: int = 0
    waiting_added: int = 0
    moved: int = 0  # claimed, requeued or ended through another replica
    over_budget: int = 0  # queued past SCHEDULER_MAX_QUEUE_BYTES (they exist: never dropped)


@dataclass(frozen=True)
class Claimed:
    """A job this replica just moved QUEUED -> RUNNING, with what its agent needs."""

    job: JobRecord
    payload: bytes
    lease_expires_at: float
    waited_s: float


def queue_entry(job: JobRecord, payload: bytes | None) -> QueueEntry:
    """The queue's entry for a QUEUED record; `payload` None: the inline input, if any."""
    return QueueEntry(
        job_id=job.job_id,
        owner=job.owner,
        role=job.role,
        backend=job.backend,
        timeout_s=job.timeout_s,
        queued_at=job.queued_at,
        burst=job.burst,
        size_bytes=job.size_bytes,
        save_job=job.save_job,
        payload=payload if payload is not None else job.inline_input,
    )
