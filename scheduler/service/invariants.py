"""What must hold of a replica's in-memory picture between two transitions.

Written once, here, beside the one object that changes that picture
(job_lifecycle.py); the state-machine test checks them after every step.
A transition in flight (a claim between its pop and its write, a submission
between its reservation and its record) may break them for its duration.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from scheduler.queue.queue_set import QueueSet
from scheduler.service.job_reads import FinishedJobs
from scheduler.service.token_usage import TokenUsage
from scheduler.service.tracked_jobs import RunningJob


def violations(
    queues: QueueSet,
    running: Mapping[str, RunningJob],
    usage: TokenUsage,
    finished: FinishedJobs,
    now: float,
    moved_elsewhere: Collection[str] = (),
    *,
    waiting: Mapping[str, str],
) -> list[str]:
    """Each broken invariant, described; empty when all hold.

    - bytes reserved = bytes of the queued jobs, queue by queue and in total
      (a job `waiting` on dependencies, job id -> owner, takes none);
    - per owner, the usage counted = its queued + running + waiting jobs, except
      jobs `moved_elsewhere`: another replica claimed or ended them since this one
      last synced, and they stay counted until it does (the limit holds across replicas);
    - a job is in at most one of: a queue, the running set, the waiting jobs, the
      finished cache (a HELD job is in none of them, and not counted: holds.py says why);
    - (array_throttle.py) a throttled array counts exactly its members in the running set.
    """
    found: list[str] = []
    queued: dict[str, tuple[str, int]] = {}  # job id -> (owner, bytes)
    total = 0
    for key in queues.backends():
        entries = queues.ordered(key, now)
        held = sum(entry.size_bytes for entry in entries)
        if held != queues.queued_bytes(key):
            found.append(f"queue {key!r} counts {queues.queued_bytes(key)} bytes, holds {held}")
        total += held
        for entry in entries:
            if entry.job_id in queued:
                found.append(f"job {entry.job_id} is queued twice")
            queued[entry.job_id] = (entry.owner, entry.size_bytes)
    if queues.used_bytes != total:
        found.append(f"{queues.used_bytes} bytes reserved, {total} bytes queued")
    found.extend(_overlaps(queued, running, waiting, finished))
    expected = {(owner, job_id) for job_id, (owner, _) in queued.items()}
    expected.update((job.owner, job_id) for job_id, job in running.items())
    expected.update((owner, job_id) for job_id, owner in waiting.items())
    counted = {(owner, job_id) for owner, job_id, _ in usage.counted()}
    found.extend(
        f"usage counts {owner}'s job {job_id}, neither queued, running nor waiting"
        for owner, job_id in sorted(counted - expected)
        if job_id not in moved_elsewhere
    )
    found.extend(
        f"usage misses {owner}'s job {job_id}" for owner, job_id in sorted(expected - counted)
    )
    return found


def _overlaps(
    queued: Iterable[str],
    running: Mapping[str, RunningJob],
    waiting: Mapping[str, str],
    finished: FinishedJobs,
) -> list[str]:
    found = [f"job {job_id} is both queued and running" for job_id in queued if job_id in running]
    found.extend(f"job {job_id} is queued yet waiting" for job_id in queued if job_id in waiting)
    found.extend(f"job {job_id} is running yet waiting" for job_id in running if job_id in waiting)
    found.extend(
        f"job {job_id} is finished yet still tracked"
        for job_id in [*queued, *running, *waiting]
        if job_id in finished
    )
    return found
