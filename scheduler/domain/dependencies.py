"""When a job waiting on others may run: judged from how those jobs ended, nothing else.

A job names only its owner's existing jobs, so no cycle can form. A
terminal status never changes, so a verdict other than WAITING is final; a
dependency whose record is gone (expired by the table's TTL) has ended with
an outcome nobody knows any more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from scheduler.domain.jobs import JobStatus

MAX_DEPENDENCIES = 1000  # jobs one job may depend on
_SHOWN = 3  # ids a "waiting for ..." detail names


class Condition(StrEnum):
    AFTER_OK = "afterok"  # every dependency COMPLETED
    AFTER_ANY = "afterany"  # every dependency ended, however
    AFTER_NOT_OK = "afternotok"  # any dependency ended other than COMPLETED


_NEEDS = {
    Condition.AFTER_OK: "afterok needs every dependency COMPLETED",
    Condition.AFTER_ANY: "afterany needs every dependency ended",
    Condition.AFTER_NOT_OK: "afternotok needs one that ended other than COMPLETED",
}


class Outcome(StrEnum):
    ELIGIBLE = "eligible"  # the condition holds: the job may queue
    WAITING = "waiting"  # undecided while some dependencies run
    IMPOSSIBLE = "impossible"  # the condition can never hold: the job ends


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    pending: tuple[str, ...] = ()  # the dependencies not ended yet, in the job's order
    total: int = 0
    reason: str = ""  # IMPOSSIBLE: which dependency decided it, and why that ends the job

    def waiting_detail(self) -> str:
        shown = ", ".join(self.pending[:_SHOWN]) + (", ..." if len(self.pending) > _SHOWN else "")
        return f"waiting for {len(self.pending)} of {self.total} jobs: {shown}"


def judge(condition: Condition, states: Mapping[str, JobStatus | None]) -> Verdict:
    """The verdict for a job whose dependencies now stand as `states` (None: record gone),
    in the job's order of its dependencies (the first deciding one is named)."""
    pending = tuple(job_id for job_id, status in states.items() if _running(status))
    total = len(states)
    needs = _NEEDS[condition]
    ended = [(job_id, status) for job_id, status in states.items() if not _running(status)]
    if condition is Condition.AFTER_NOT_OK:
        if any(status not in (None, JobStatus.COMPLETED) for _, status in ended):
            return Verdict(Outcome.ELIGIBLE, pending, total)
        if pending:  # one of them may still end otherwise
            return Verdict(Outcome.WAITING, pending, total)
        gone = [job_id for job_id, status in ended if status is None]
        if gone:
            return Verdict(Outcome.IMPOSSIBLE, pending, total, _gone(gone[0], needs))
        reason = f"job {ended[-1][0]} ended COMPLETED, as did every other; {needs}"
        return Verdict(Outcome.IMPOSSIBLE, pending, total, reason)
    if condition is Condition.AFTER_OK:
        for job_id, status in ended:
            if status is None:
                return Verdict(Outcome.IMPOSSIBLE, pending, total, _gone(job_id, needs))
            if status is not JobStatus.COMPLETED:
                reason = f"job {job_id} ended {status.value}; {needs}"
                return Verdict(Outcome.IMPOSSIBLE, pending, total, reason)
    return Verdict(Outcome.WAITING if pending else Outcome.ELIGIBLE, pending, total)


def _running(status: JobStatus | None) -> bool:
    return status is not None and not status.terminal


def _gone(job_id: str, needs: str) -> str:
    return f"job {job_id} is gone (its record expired), so how it ended is unknown; {needs}"
